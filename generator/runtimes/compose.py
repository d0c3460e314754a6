"""Runtime `compose`: the rendered tree run by `docker compose` (v2) or `docker-compose` (v1).

The compose client does create/recreate/remove; the docker SDK reads container state and health, checks
that every image is present (pulling a missing one with a bounded wait, so a registry that cannot be
reached is an error in seconds, not a hang) and sends signals. Secret environment variables go to the
compose process only, through its environment; compose.yaml refers to them by name.

Secret files stay 0600; a container running as another user (catalog `user`, e.g. 65534) can only read
them because promstack, when it runs as root, gives them to that user. Run as another user, promstack
cannot chown: it warns, and such a component fails to read its secrets (run `up` as root, or use the
local runtime).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import subprocess
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import docker  # type: ignore[import-untyped]
import docker.errors  # type: ignore[import-untyped]

from generator import catalog, conventions, yamlload
from generator.checks import compose_config
from generator.errors import DeployError
from generator.model import Stack
from generator.render import Tree
from generator.runtimes import compose_project, procs
from generator.runtimes.apply import Backend, Plan, Proc, Progress
from generator.runtimes.compose_project import PROJECT_LABEL, SERVICE_LABEL

PULL_TIMEOUT = 300.0
COMPOSE_TIMEOUT = 600.0
CONFIG_HASH_LABEL = "promstack.config-hash"


def compose_command() -> tuple[str, ...]:
    """The compose client (checks.compose_config.client): $PROMSTACK_COMPOSE's, else `docker compose` (v2)
    where the plugin answers, else `docker-compose` (v1)."""
    return _compose_command(compose_config.wanted(), os.environ.get("PATH", ""))


@cache
def _compose_command(choice: str, path: str) -> tuple[str, ...]:
    """Probed once per choice and PATH: every compose call of a run uses the same client."""
    command = compose_config.client()
    if command is None:
        raise DeployError(compose_config.missing())
    return tuple(command)


def engine(timeout: float = 10.0) -> docker.DockerClient:
    try:
        client = docker.from_env(timeout=int(timeout))
        client.ping()
    except docker.errors.DockerException as exc:
        raise DeployError(f"no Docker engine answers ({exc}); start it or use --runtime local") from None
    return client


def engine_answers() -> bool:
    try:
        engine(3.0)
    except DeployError:
        return False
    return True


def pull(image: str, out: Progress) -> str | None:
    """Pull `image` with a bounded wait; None when it worked, else why not (one line)."""
    out(f"  pulling {image}")
    cli = shutil.which("docker")
    if cli is None:
        return "the docker command line is not installed"
    try:
        result = subprocess.run(
            [cli, "pull", "--quiet", image], capture_output=True, text=True, timeout=PULL_TIMEOUT, check=False
        )
    except subprocess.TimeoutExpired:
        return f"no answer from the registry within {PULL_TIMEOUT:g}s"
    if result.returncode != 0:
        return ((result.stderr or result.stdout).strip().splitlines() or ["docker pull failed"])[-1][:300]
    return None


def unavailable_images(stack: Stack, out: Progress) -> list[str]:
    """Images of `stack` that are neither present nor pullable: `auto` then runs the stack as processes."""
    client = engine(3.0)
    missing = []
    for component in stack.components.values():
        if not component.runs or not component.image:
            continue
        try:
            client.images.get(component.image)
        except docker.errors.ImageNotFound:
            if pull(component.image, out) is not None:
                missing.append(component.image)
        except docker.errors.APIError:
            missing.append(component.image)
    return missing


def _user_ids(user: str | None) -> tuple[int, int] | None:
    if not user:
        return None
    uid, _, gid = user.partition(":")
    if not uid.isdigit() or (gid and not gid.isdigit()):
        return None  # a user name: resolved inside the image, not knowable here
    return int(uid), int(gid or uid)


def _started(text: str) -> float | None:
    if not text or text.startswith("0001-"):
        return None
    try:
        return datetime.fromisoformat(text[:26].rstrip("Z") + "+00:00" if "." in text else text).timestamp()
    except ValueError:
        return None


class ComposeBackend(Backend):
    name = "compose"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.env: dict[str, str] = {}  # variables compose.yaml interpolates: secret values
        self._client: docker.DockerClient | None = None
        self._warned_owner = False

    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            self._client = engine()
        return self._client

    @property
    def compose_file(self) -> Path:
        return self.state.tree / conventions.COMPOSE_FILE

    def services(self, text: str | None = None) -> dict[str, Any]:
        if text is None:
            try:
                text = self.compose_file.read_text()
            except OSError:
                return {}
        services = (yamlload.safe_load(text) or {}).get("services") or {}
        return dict(services)

    # -- preflight and definitions ------------------------------------------------------------------
    def preflight(self, tree: Tree) -> None:
        compose_command()
        text = tree.files.get(conventions.COMPOSE_FILE)
        if text is None:
            raise DeployError(f"the rendered tree has no {conventions.COMPOSE_FILE}; no compose renderer installed?")
        self._ports_free()
        missing = []
        for service, spec in sorted(self.services(text).items()):
            image = str((spec or {}).get("image", ""))
            if image and not self._image_present(image):
                problem = self._pull(image)
                if problem:
                    missing.append(
                        f"{service}: image {image} is not present locally and could not be pulled ({problem})"
                    )
        if missing:
            raise DeployError(
                "missing images (set components.<name>.image / exporters.<name>.image in the spec "
                "to an image you have, or make the registry reachable):\n  " + "\n  ".join(missing)
            )

    def refuse_foreign(self) -> None:
        compose_project.refuse_foreign(self.client, self.state.project)

    def _ports_free(self) -> None:
        """Refuse host ports another container publishes, or another program listens on (docker-proxy
        included: without it, a published port has no listener at all); this project's own are fine."""
        running = self.stack.running().items()
        wanted = {i.port: (name, "0.0.0.0" if c.expose else "127.0.0.1") for name, (c, i) in running}
        mine: set[int] = set()
        others: set[int] = set()
        problems = []
        for container in self.client.containers.list():
            project = container.labels.get(PROJECT_LABEL)
            published = (container.attrs.get("NetworkSettings") or {}).get("Ports") or {}
            ports = {int(b["HostPort"]) for bindings in published.values() for b in bindings or [] if b.get("HostPort")}
            if project == self.state.project:
                mine |= ports
                continue
            for port in sorted(ports & set(wanted)):
                others.add(port)
                of = f" of compose project {project}" if project else ""
                problems.append(f"port {port} ({wanted[port][0]}) is published by container {container.name}{of}")
        held = {port: why for port, why in wanted.items() if port not in mine | others}
        procs.refuse_taken(problems + procs.taken(held, lambda process: False))

    def _image_present(self, image: str) -> bool:
        try:
            self.client.images.get(image)
        except docker.errors.ImageNotFound:
            return False
        except docker.errors.APIError as exc:
            raise DeployError(f"cannot inspect image {image}: {exc.explanation}") from None
        return True

    def _pull(self, image: str) -> str | None:
        return pull(image, self.out)

    def definitions(self, tree: Tree, staging: Path, env: dict[str, dict[str, str]], run: list[str]) -> dict[str, str]:
        self.env = compose_environment(env)
        services = self.services((staging / conventions.COMPOSE_FILE).read_text())
        prints = {}
        for name in run:
            spec = services.get(name)
            if spec is None:
                continue
            image = str(spec.get("image", ""))
            image_id = self._image_id(image) if image else ""
            secret = json.dumps(env.get(self.stack.instance(name)[0].name, {}), sort_keys=True)
            # the renderer's config-hash label changes with every config file; the engine decides itself
            # whether a file change needs a reload or a restart, so it is not part of how a service runs
            labels = {k: v for k, v in (spec.get("labels") or {}).items() if k != CONFIG_HASH_LABEL}
            text = json.dumps({**spec, "labels": labels}, sort_keys=True, default=str)
            prints[name] = hashlib.sha256(f"{text}\0{image_id}\0{secret}".encode()).hexdigest()
        return prints

    def _image_id(self, image: str) -> str:
        try:
            return str(self.client.images.get(image).id)
        except docker.errors.ImageNotFound:
            return "missing"

    def owner(self, rel: str) -> tuple[int, int] | None:
        """Secret files (0600) must belong to the user the container runs as, or it cannot read them."""
        parts = rel.split("/")
        component = parts[1] if parts[0] == conventions.SECRETS_DIR and len(parts) > 2 else parts[0]
        if component not in self.stack.components:
            return None
        user = catalog.entry(component).user
        ids = _user_ids(user)
        if ids is None or ids == (os.geteuid(), os.getegid()):
            return None
        if os.geteuid() != 0:
            if not self._warned_owner:
                self._warned_owner = True
                self.out(
                    f"  warning: secret files are owned by uid {os.geteuid()} but {component} runs as "
                    f"{user}; it cannot read them unless promstack runs as root"
                )
            return None
        return ids

    # -- compose -------------------------------------------------------------------------------------
    def compose(self, *arguments: str, timeout: float = COMPOSE_TIMEOUT) -> str:
        command = [
            *compose_command(),
            "--project-name",
            self.state.project,
            "--file",
            str(self.compose_file),
            "--project-directory",
            str(self.state.tree),
            *arguments,
        ]
        environ = {**os.environ, **self.env}
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, env=environ, timeout=timeout, check=False, cwd=self.state.tree
            )
        except subprocess.TimeoutExpired:
            raise DeployError(f"`{' '.join(command[-len(arguments) :])}` did not finish within {timeout:g}s") from None
        if result.returncode != 0:
            tail = "\n    ".join((result.stderr or result.stdout).strip().splitlines()[-12:])
            raise DeployError(f"{' '.join(compose_command())} {arguments[0]} failed:\n    {tail}")
        return result.stdout

    def converge(self, plan: Plan) -> None:
        known = set(self.services())
        create = [name for name in plan.create if name in known]
        recreate = [name for name in plan.recreate if name in known]
        for name in plan.remove:
            self._remove(name)
        if create:
            # no --remove-orphans: it removes every container of the project that is not in compose.yaml, a
            # user's too; promstack's own that left the spec are in plan.remove
            self.compose("up", "--detach", "--no-deps", "--no-build", *create)
        if recreate:
            # --force-recreate also covers a restart for files the component cannot reload
            self.compose("up", "--detach", "--no-deps", "--force-recreate", "--no-build", *recreate)

    def _containers(self, service: str | None = None) -> list[Any]:
        """This project's containers that promstack created (compose_project): never a user's own."""
        return list(self.client.containers.list(all=True, filters=compose_project.ours(self.state.project, service)))

    def _remove(self, service: str) -> None:
        for container in self._containers(service):
            with contextlib.suppress(docker.errors.NotFound):
                container.stop(timeout=30)
                container.remove()

    def processes(self) -> dict[str, Proc]:
        found: dict[str, Proc] = {}
        for container in self._containers():
            service = container.labels.get(SERVICE_LABEL, container.name)
            attrs = container.attrs.get("State", {})
            status = str(attrs.get("Status", container.status))
            health = (attrs.get("Health") or {}).get("Status", "")
            found[service] = Proc(status, status == "running", _started(str(attrs.get("StartedAt", ""))), health)
        return found

    def gave_up(self, name: str) -> str | None:
        containers = self._containers(name)
        if not containers:
            return "its container does not exist"
        container = containers[0]
        container.reload()
        state = container.attrs.get("State", {})
        status = state.get("Status", "")
        restarts = int(container.attrs.get("RestartCount", 0))
        if status in ("exited", "dead") or (status == "restarting" and restarts >= 2):
            code = state.get("ExitCode")
            return f"container {status} (exit code {code}, {restarts} restarts); last log lines:\n" + "\n".join(
                f"    {line}" for line in self.logs(name)
            )
        return None

    def logs(self, component: str, lines: int = 15) -> list[str]:
        containers = self._containers(component)
        if not containers:
            return []
        raw = containers[0].logs(tail=lines)
        return [str(line) for line in raw.decode(errors="replace").splitlines()]

    def signal(self, component: str, signame: str) -> None:
        for container in self._containers(component):
            container.kill(signal=f"SIG{signame}")

    def stop(self, volumes: bool) -> None:
        project = self.state.project
        theirs = compose_project.foreign(self.client, project)
        if theirs:
            # `compose down` would stop a container of theirs that has one of our service names
            self.out(f"  left alone: {', '.join(theirs)} (compose project {project!r}; promstack did not create them)")
        elif self.compose_file.exists():
            # no --remove-orphans: it removes every container of the project, not only ours
            self.compose("down", "--timeout", "30", *(["--volumes"] if volumes else []))
        # also whatever compose no longer knows about (a lost tree, a renamed service): promstack's own only
        for container in self._containers():
            with contextlib.suppress(docker.errors.NotFound):
                container.stop(timeout=30)
                container.remove(force=True)
        for network in compose_project.networks(self.client, project):
            with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                network.remove()
        if volumes:
            for volume in compose_project.volumes(self.client, project):
                with contextlib.suppress(docker.errors.NotFound, docker.errors.APIError):
                    volume.remove(force=True)


def compose_environment(env: dict[str, dict[str, str]]) -> dict[str, str]:
    """The variables compose.yaml interpolates: `${VAR}` per component secret variable."""
    flat: dict[str, str] = {}
    for variables in env.values():
        flat.update(variables)
    return flat
