"""Check `compose/config`: the compose rendering is accepted by the installed Compose client.

`docker compose config -q` (v2) or `docker-compose config -q` (v1) on the compose tree written to a
temporary folder, with every secret variable set to a placeholder (values are never needed to parse).
Skipped, with a note, only when neither client is installed.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from generator import conventions
from generator.checks import CheckContext
from generator.render import Target, render
from generator.render.compose import secret_variable
from generator.write import PLACEHOLDER, Secrets, materialize

NAME = "compose/config"


def client() -> list[str] | None:
    """The Compose command line to use: v2 plugin first, then the v1 binary; None when neither exists."""
    docker = shutil.which("docker")
    if docker is not None:
        probe = subprocess.run([docker, "compose", "version"], capture_output=True, text=True, timeout=30, check=False)
        if probe.returncode == 0:
            return [docker, "compose"]
    legacy = shutil.which("docker-compose")
    return [legacy] if legacy is not None else None


def run(ctx: CheckContext) -> list[str]:
    command = client()
    if command is None:
        ctx.passed.append(f"{NAME}: skipped, neither `docker compose` nor `docker-compose` is installed")
        return []
    label = " ".join([Path(command[0]).name, *command[1:]])
    tree = ctx.compose_tree or render(ctx.stack, Target("compose"))
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
