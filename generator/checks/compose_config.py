"""Check `compose/config`: the compose rendering is accepted by the installed Compose client.

`docker compose config -q` (v2) or `docker-compose config -q` (v1) on the compose tree written to a
temporary folder, with every secret variable set to a placeholder (values are never needed to parse).
Skipped, with a note, only when neither client is installed. `client()` is also how the compose runtime
picks its client: $PROMSTACK_COMPOSE (`v2` or `v1`) forces one, and then its absence is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from generator import conventions
from generator.checks import CheckContext, CheckProblem, errors
from generator.errors import UsageError
from generator.render.compose import secret_variable
from generator.write import PLACEHOLDER, Secrets, materialize

RUNTIMES = ("compose", "local")  # a Kubernetes tree is no compose project
NAME = "compose/config"


CLIENT_ENV = "PROMSTACK_COMPOSE"
# each client as $PROMSTACK_COMPOSE names it, and what provides it where it is missing
CLIENTS = {
    "v2": "`docker compose` (v2: the Docker CLI plugin, e.g. package docker-compose-plugin)",
    "v1": "`docker-compose` (v1: Debian package docker-compose)",
}


def wanted() -> str:
    """$PROMSTACK_COMPOSE: `v2`, `v1`, or `auto` (unset or empty: v2 where the plugin answers, else v1)."""
    choice = os.environ.get(CLIENT_ENV, "").strip() or "auto"
    if choice not in ("auto", *CLIENTS):
        raise UsageError(f"{CLIENT_ENV} must be v2, v1 or auto, not {choice!r}")
    return choice


def _v2() -> list[str] | None:
    docker = shutil.which("docker")
    if docker is None:
        return None
    try:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return [docker, "compose"] if probe.returncode == 0 else None


def _v1() -> list[str] | None:
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def client() -> list[str] | None:
    """The Compose command line to use: $PROMSTACK_COMPOSE's client, else the v2 plugin where it answers,
    else the v1 binary; None when that client (or, unforced, either) is not installed."""
    choice = wanted()
    if choice == "v1":
        return _v1()
    found = _v2()
    return found if found is not None or choice == "v2" else _v1()


def missing() -> str:
    """Why `client()` found none: which client is not installed."""
    choice = wanted()
    if choice in CLIENTS:
        return f"{CLIENT_ENV}={choice} asks for {CLIENTS[choice]}, which is not installed"
    return f"neither {CLIENTS['v2']} nor {CLIENTS['v1']} is installed"


def _failures(ctx: CheckContext) -> list[str]:
    command = client()
    if command is None:
        if wanted() != "auto":
            return [f"{missing()}."]
        ctx.skipped[NAME] = "neither `docker compose` nor `docker-compose` is installed"
        return []
    label = " ".join([Path(command[0]).name, *command[1:]])
    tree = ctx.compose()  # rendered only now that a client can check it
    env = {k: v for k, v in os.environ.items() if not k.startswith("COMPOSE_")}
    env.update({secret_variable(c, var): PLACEHOLDER for c, variables in tree.env.items() for var in variables})
    with tempfile.TemporaryDirectory(prefix="promstack-compose-") as tmp:
        root = Path(tmp)
        materialize(tree, root, Secrets(root, placeholders=True), salt=ctx.stack.name)
        try:
            result = subprocess.run(
                [*command, "-f", conventions.COMPOSE_FILE, "config", "-q"],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
            )
        except subprocess.TimeoutExpired:
            return [f"{label} config did not finish within 120 seconds."]
    if result.returncode != 0:
        output = " ".join(line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip())
        return [f"{label} config rejected {conventions.COMPOSE_FILE}: {output.replace(tmp, '.') or 'no output'}."]
    return []


def run(ctx: CheckContext) -> list[CheckProblem]:
    return errors(NAME, _failures(ctx))
