"""The component catalog: `compose/`, `rules/`, `dashboards/` folders, found in a checkout or installed."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import yaml

_HERE = Path(__file__).resolve().parent


def folder(name: str) -> Path:
    """A catalog folder: shipped as `generator/_catalog/<name>` in a wheel, top-level in a checkout."""
    for candidate in (_HERE / "_catalog" / name, _HERE.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"catalog folder {name!r} is missing from the installation")


@dataclass(frozen=True)
class Entry:
    """One `compose/<name>.yaml` file: how a component runs."""

    name: str
    image: str | None  # None: nothing to run (scraped only, e.g. rabbitmq's built-in endpoint)
    tag: str | None
    port: int
    user: str | None = None
    data: str | None = None  # data directory inside the container (a named volume)
    config: str | None = None  # where the component's rendered folder is mounted
    memory: str = "256m"
    read_only: bool = True
    health: str | None = "/metrics"  # HTTP path that answers 200 when healthy
    metrics_path: str = "/metrics"
    binaries: tuple[str, ...] = ()  # local runtime: names to look for on PATH, in order
    package: str | None = None  # Debian package that provides the binary
    # how its HTTP server checks who asks: web-config (exporter-toolkit --web.config.file), flags (its
    # own TLS/basic-auth options), login (its own login; settings protect /metrics), none (it cannot)
    auth: str = "none"
    # arguments that make the binary print its version, for components whose configs depend on it
    version_args: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)


@cache
def entries() -> dict[str, Entry]:
    result: dict[str, Entry] = {}
    for path in sorted(folder("compose").glob("*.yaml")):
        data = yaml.safe_load(path.read_text())
        local = data.get("local", {})
        result[data["name"]] = Entry(
            name=data["name"],
            image=data.get("image"),
            tag=data.get("tag"),
            port=int(data["port"]),
            user=data.get("user"),
            data=data.get("data"),
            config=data.get("config"),
            memory=data.get("memory", "256m"),
            read_only=bool(data.get("read_only", True)),
            health=data.get("health", "/metrics"),
            metrics_path=data.get("metrics_path", "/metrics"),
            binaries=tuple(local.get("binaries", ())),
            package=local.get("package"),
            auth=_auth(path, data.get("auth", "none")),
            version_args=tuple(local.get("version", ())),
            raw=data,
        )
    return result


AUTH_KINDS = frozenset({"web-config", "flags", "login", "none"})


def _auth(path: Path, kind: str) -> str:
    if kind not in AUTH_KINDS:
        raise ValueError(f"{path}: auth must be one of {', '.join(sorted(AUTH_KINDS))}, not {kind!r}")
    return kind


def enforces_auth(name: str) -> bool:
    """Whether component `name` can refuse a request without credentials (else it is never exposed)."""
    return entry(name).auth != "none"


def tag_version(tag: str | None) -> tuple[int, int] | None:
    """(major, minor) of an image tag (v0.33.1 -> (0, 33)), or None when the tag does not say."""
    found = re.match(r"v?(\d+)\.(\d+)", tag or "")
    return (int(found[1]), int(found[2])) if found else None


def image_tag(image: str) -> str:
    """The tag of an image reference (registry:5000/name:tag -> tag), empty when it has none."""
    return image.rsplit("/", 1)[-1].partition(":")[2]


def entry(name: str) -> Entry:
    return entries()[name]
