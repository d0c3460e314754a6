"""Stage `build`, storage part: `storage.remote_write[]` -> RemoteWrite (defaults applied here). A store
promstack runs itself (`storage.victoriametrics`) is a catalog component, built with the others."""

from __future__ import annotations

from typing import Any

from generator import conventions
from generator.model import BasicAuth, Relabel, RemoteWrite, SecretRef, Storage
from generator.units import Duration


def secret(value: dict[str, str] | None) -> SecretRef | None:
    return SecretRef(env=value.get("env"), file=value.get("file")) if value else None


def duration(value: str | None) -> Duration | None:
    return Duration(value) if value is not None else None


def _relabel(spec: dict[str, Any]) -> Relabel:
    return Relabel(
        action=spec.get("action", conventions.DEFAULT_RELABEL_ACTION),
        source_labels=tuple(spec.get("source_labels", ())),
        separator=spec.get("separator"),
        regex=spec.get("regex"),
        target_label=spec.get("target_label"),
        replacement=spec.get("replacement"),
        modulus=spec.get("modulus"),
    )


def _remote_write(spec: dict[str, Any]) -> RemoteWrite:
    auth = spec.get("auth") or {}
    basic = auth.get("basic")
    queue = {k: (Duration(v) if isinstance(v, str) else int(v)) for k, v in (spec.get("queue") or {}).items()}
    return RemoteWrite(
        name=spec["name"],
        url=spec["url"],
        basic=BasicAuth(basic["username"], secret(basic["password"])) if basic else None,  # type: ignore[arg-type]
        bearer=secret(auth.get("bearer")),
        headers=dict(spec.get("headers") or {}),
        timeout=duration(spec.get("timeout")),
        queue=queue,
        write_relabel=tuple(_relabel(r) for r in spec.get("write_relabel") or ()),
    )


def storage(data: dict[str, Any] | None) -> Storage:
    return Storage(remote_write=tuple(_remote_write(r) for r in (data or {}).get("remote_write") or ()))
