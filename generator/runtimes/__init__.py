"""Stage `deploy`: `up`, `down`, `status` and `diff` on a runtime (compose or local host processes).

One module a job: `options` (the options and the project name), `choose` (which runtime, its backend),
`deploy` (`up`), `teardown` (`down`), `inspect` (`status`, `diff`), `access` (URLs and logins), `report`
(what each command prints), `silences` (`ack`, `unack`: acknowledgements as Alertmanager silences).
Only this package imports `docker` or starts processes.
"""

from __future__ import annotations

from generator.runtimes.choose import RUNTIMES
from generator.runtimes.deploy import Outcome, up
from generator.runtimes.inspect import Difference, diff, status
from generator.runtimes.options import Options
from generator.runtimes.report import diff_lines, status_lines, summary
from generator.runtimes.silences import Acknowledged, Silence, ack, active, unack
from generator.runtimes.teardown import down

# what the CLI uses; the report lines live in `report`
__all__ = [
    "RUNTIMES",
    "Acknowledged",
    "Difference",
    "Options",
    "Outcome",
    "Silence",
    "ack",
    "active",
    "diff",
    "diff_lines",
    "down",
    "status",
    "status_lines",
    "summary",
    "unack",
    "up",
]
