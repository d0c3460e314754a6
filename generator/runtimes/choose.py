"""Stage `deploy`: which runtime runs a stack, and its backend.

`auto` picks compose where a Docker engine answers, a compose client is installed and the stack's
images can be had, else local; a stack already deployed stays on the runtime it runs on. A runtime
that cannot run an optional component here (Grafana or cAdvisor without a binary) runs the stack
without it, its alerts and its dashboards.
"""

from __future__ import annotations

from generator.errors import DeployError, UsageError
from generator.model import Stack
from generator.runtimes.apply import Backend, Progress
from generator.runtimes.state import Record, State
from generator.write import Secrets

RUNTIMES = ("auto", "compose", "local")


def choose(runtime: str, record: Record | None) -> str:
    if runtime not in RUNTIMES:
        raise UsageError(f"--runtime must be one of {', '.join(RUNTIMES)}, not {runtime!r}")
    if record is not None:
        if runtime not in ("auto", record.runtime):
            raise UsageError(
                f"stack {record.project!r} runs on the {record.runtime} runtime; "
                f"`promstack down` it before switching to {runtime}"
            )
        return record.runtime
    if runtime != "auto":
        return runtime
    from generator.runtimes import compose  # imports the docker SDK: only when needed

    try:
        compose.compose_command()
    except DeployError:
        return "local"
    return "compose" if compose.engine_answers() else "local"


def compose_or_local(stack: Stack, out: Progress) -> str:
    """`auto` on a new stack: compose only if its images can be had (an air-gapped engine cannot pull)."""
    from generator.runtimes import compose

    missing = compose.unavailable_images(stack, out)
    if not missing:
        return "compose"
    out(
        f"  the Docker engine answers, but {len(missing)} image(s) cannot be had (e.g. {missing[0]}); "
        "running the stack as host processes instead (--runtime compose to insist)"
    )
    return "local"


def backend(runtime: str, state: State, stack: Stack, secrets: Secrets, out: Progress) -> Backend:
    if runtime == "compose":
        from generator.runtimes.compose import ComposeBackend

        return ComposeBackend(state, stack, secrets, out)
    from generator.runtimes.local import LocalBackend

    return LocalBackend(state, stack, secrets, out)


def runnable(runner: Backend, stack: Stack) -> tuple[Stack, dict[str, str]]:
    """The stack without the optional components this runtime cannot run here (Grafana or cAdvisor without
    a binary): nothing is deployed for them, not a scrape job that would only page about them, nor their
    alerts or dashboards (`Stack.without`)."""
    skipped = runner.skips()
    if skipped:
        stack = stack.without(skipped)
        runner.stack = stack
    return stack, skipped
