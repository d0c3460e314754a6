"""Runtime `compose`: which containers, volumes and networks of a compose project are promstack's.

A compose project is no more than a label (`com.docker.compose.project`) that `docker compose -p NAME`
puts on whatever it creates, so a user's own application may carry the name a stack deploys as (the
example stack is called `shop`). promstack stops, removes or deletes only what proves to be its own: the
containers carrying its component label (every container it ever rendered has one), the volumes of its
components' data (`<component>-data`) and its network. `up` refuses a project that holds containers of
anything else, before anything starts; `down` leaves them, and their volumes and networks, alone.
"""

from __future__ import annotations

from typing import Any

from generator import catalog
from generator.errors import DeployError
from generator.output import names
from generator.render.compose import LABEL_COMPONENT, NETWORK

PROJECT_LABEL = "com.docker.compose.project"
SERVICE_LABEL = "com.docker.compose.service"
_VOLUME_LABEL = "com.docker.compose.volume"
_NETWORK_LABEL = "com.docker.compose.network"


def ours(project: str, service: str | None = None) -> dict[str, list[str]]:
    """A docker filter for this project's containers that promstack created (of one service)."""
    labels = [f"{PROJECT_LABEL}={project}", LABEL_COMPONENT]
    if service:
        labels.append(f"{SERVICE_LABEL}={service}")
    return {"label": labels}


def _project(project: str) -> dict[str, list[str]]:
    return {"label": [f"{PROJECT_LABEL}={project}"]}


def foreign(client: Any, project: str) -> list[str]:
    """Names of the containers of `project` that promstack did not create."""
    found = client.containers.list(all=True, filters=_project(project))
    return sorted(c.name for c in found if LABEL_COMPONENT not in (c.labels or {}))


def refuse_foreign(client: Any, project: str) -> None:
    """DeployError if `project` holds containers promstack did not create: it is another application's."""
    theirs = foreign(client, project)
    if theirs:
        raise DeployError(
            f"compose project {project!r} already has containers promstack did not create: {names(theirs)}; "
            "nothing was started. promstack never stops or removes what it did not create: choose another "
            "--project-name (or PROMSTACK_PROJECT) for this stack."
        )


def volumes(client: Any, project: str) -> list[Any]:
    """The data volumes of promstack's components in `project` (a user's own volumes there are not listed)."""
    keys = {f"{name}-data" for name, entry in catalog.entries().items() if entry.data}
    return [
        v
        for v in client.volumes.list(filters=_project(project))
        if (v.attrs.get("Labels") or {}).get(_VOLUME_LABEL) in keys
    ]


def networks(client: Any, project: str) -> list[Any]:
    """promstack's network in `project` (a user's own networks there are not listed)."""
    return [
        n
        for n in client.networks.list(filters=_project(project))
        if (n.attrs.get("Labels") or {}).get(_NETWORK_LABEL) == NETWORK
    ]
