"""Stage `build` output, long-term storage part (`storage:`): the remote_write targets of every
Prometheus copy. Re-exported by `generator.model`, which the rest of the code imports them from."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from generator.units import Duration

if TYPE_CHECKING:  # generator.model imports this module
    from generator.model import BasicAuth, SecretRef


@dataclass(frozen=True)
class Relabel:
    """A relabelling rule (Prometheus relabel_config); None: Prometheus' default for that field."""

    action: str  # replace, keep, drop, labelmap, labeldrop, labelkeep, lowercase, uppercase, hashmod
    source_labels: tuple[str, ...] = ()
    separator: str | None = None
    regex: str | None = None
    target_label: str | None = None
    replacement: str | None = None
    modulus: int | None = None


@dataclass(frozen=True)
class RemoteWrite:
    """A remote_write target (`storage.remote_write[]`): Thanos Receive, Mimir, any remote-write receiver.

    `queue`: Prometheus' queue_config keys as the spec gives them (ints, or durations); secrets go
    through files Prometheus reads (basic auth password_file, bearer credentials_file)."""

    name: str
    url: str
    basic: BasicAuth | None = None
    bearer: SecretRef | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    timeout: Duration | None = None
    queue: Mapping[str, int | Duration] = field(default_factory=dict)
    write_relabel: tuple[Relabel, ...] = ()


@dataclass(frozen=True)
class Storage:
    """Long-term storage (`storage:`): where Prometheus also writes its samples. A store promstack runs
    itself (VictoriaMetrics, `storage.victoriametrics`) is a component; see `Stack.components`."""

    remote_write: tuple[RemoteWrite, ...] = ()
