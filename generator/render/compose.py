"""Renderer: compose.yaml (and .env) — one hardened service per running component of the stack, and per
copy of a component that runs several (`replicas`: `prometheus`, `prometheus-2`, ... each with its own
port and data volume, all reading the component's one config folder).

Accepted by docker-compose 1.29 and docker compose v2. 1.29 rejects the top-level `name:` key, so
the project name is set by `.env` (COMPOSE_PROJECT_NAME, read by both clients from the project
folder); runtimes pass `-p` as well. Secret environment variables appear only as `${VAR}`
references whose values the runtime passes at deploy time (`secret_variable` names them).

Mounts and config hashes depend on what the *other* renderers produce (rules, Alertmanager and
Grafana files, secret files), so it is an assembler: `render_after` sees the merged first phase.
"""

from __future__ import annotations

import hashlib
from typing import Any

from generator import catalog, conventions
from generator.model import Component, Instance, Stack
from generator.render import Target, Tree, dump_yaml, header
from generator.render import args as cmdline

NETWORK = "promstack"
SECRETS_MOUNT = "/run/secrets/promstack"  # Target.secret_path for compose
ENV_FILE = ".env"
LABEL_STACK = "promstack.stack"
LABEL_COMPONENT = "promstack.component"
LABEL_CONFIG_HASH = "promstack.config-hash"
LABEL_REPLICA = "promstack.replica"  # which copy of its component a service is, where it has several


def secret_variable(component: str, var: str) -> str:
    """Name of the deploy-time variable that carries secret env `var` of `component` into compose.

    The container's own variable name: the runtime passes one flat environment to the compose client,
    and no two components use the same secret variable (DATA_SOURCE_NAME, REDIS_PASSWORD, ...).
    """
    return var


def escape(text: str) -> str:
    """Compose interpolates `$` everywhere; a literal one is written `$$`."""
    return text.replace("$", "$$")


def _owned(tree: Tree, prefix: str) -> tuple[list[str], list[str]]:
    """Paths rendered into the folder `prefix` (plain files or files holding secrets, e.g. a config with an
    inlined webhook URL), and the component's private secret files under secrets/."""
    files = sorted([p for p in tree.files if p.startswith(prefix)] + [p for p in tree.secrets if p.startswith(prefix)])
    secrets = sorted(p for p in tree.secrets if p.startswith(f"{conventions.SECRETS_DIR}/{prefix}"))
    return files, secrets


def config_hash(tree: Tree, name: str) -> str:
    """Digest of everything rendered for `name` (files, secret templates and references, not values)."""
    files, secrets = _owned(tree, f"{name}/")
    digest = hashlib.sha256()
    for path in files:
        if path in tree.files:
            digest.update(f"{path}\0{tree.files[path]}\0".encode())
    for path in [*files, *secrets]:
        if path not in tree.secrets:
            continue
        secret = tree.secrets[path]
        refs = sorted((k, v.env or "", v.file or "", v.generated or "") for k, v in secret.values.items())
        digest.update(f"{path}\0{secret.template}\0{refs}\0{sorted(secret.bcrypt)}\0".encode())
    return digest.hexdigest()[:16]


def _healthcheck(component: Component, health: str) -> dict[str, Any]:
    url = f"{cmdline.scheme(component)}://127.0.0.1:{component.container_port}{health}"
    insecure = ["--no-check-certificate"] if cmdline.uses_tls(component) else []  # the cert names the public host
    if cmdline.protected(component) and catalog.entry(component.name).health_auth:
        assert component.auth is not None and component.auth.basic is not None
        # basic auth from the password file (busybox wget has no --user); the password never enters this file
        user = escape(component.auth.basic.username.replace("'", "'\\''"))
        password = f'"$$(cat {SECRETS_MOUNT}/{cmdline.WEB_PASSWORD})"'
        credentials = f"$$(printf '%s:%s' '{user}' {password} | base64 | tr -d '\\n')"
        words = ["wget", "-q", "-O", "/dev/null", *insecure, "--header", f'"Authorization: Basic {credentials}"', url]
        test = ["CMD-SHELL", " ".join(words)]
    else:
        test = ["CMD", "wget", "-q", "-O", "/dev/null", *insecure, url]
    return {"test": test, "interval": "10s", "timeout": "5s", "retries": 6, "start_period": "20s"}


def volume(instance: str) -> str:
    """The named volume that keeps the data of a copy (`prometheus-data`, `prometheus-2-data`, ...)."""
    return f"{instance}-data"


def _volumes(stack: Stack, component: Component, instance: Instance, tree: Tree, target: Target) -> list[str]:
    name = component.name
    entry = catalog.entry(name)
    volumes: list[str] = []
    if entry.data:
        volumes.append(f"{volume(instance.name)}:{entry.data}")
    files, secrets = _owned(tree, f"{name}/")
    if entry.config_folders:  # only these subfolders: the image keeps its own files beside them
        for folder in entry.config_folders:
            if any(p.startswith(f"{name}/{folder}/") for p in files):
                volumes.append(f"./{name}/{folder}:{target.config_path(name, folder)}:ro")
    elif entry.config and files:
        # the whole folder, not single files: a file bind mount keeps the old inode after an update
        volumes.append(f"./{name}:{entry.config}:ro")
    if secrets:
        volumes.append(f"./{conventions.SECRETS_DIR}/{name}:{SECRETS_MOUNT}:ro")
    volumes.extend(entry.host_mounts)  # read-only host views: only the host-level collectors have any
    return volumes


def service(stack: Stack, component: Component, instance: Instance, tree: Tree, target: Target) -> dict[str, Any]:
    """The compose service of one copy of a running component; `tree` is the full rendering (mounts, hash)."""
    name = component.name
    entry = catalog.entry(name)
    svc: dict[str, Any] = {"image": component.image}
    if "entrypoint" in entry.compose:
        svc["entrypoint"] = entry.compose["entrypoint"]
    command = cmdline.command(stack, name, target, index=instance.index)
    if command:
        svc["command"] = [escape(arg) for arg in command]
    made = cmdline.environment(stack, name, target, index=instance.index)
    environment = {key: escape(value) for key, value in made.items()}
    for var in sorted(tree.env.get(name, {})):
        environment[var] = f"${{{secret_variable(name, var)}}}"
    if environment:
        svc["environment"] = environment
    if entry.user:
        svc["user"] = entry.user
    host = "" if component.expose else "127.0.0.1:"
    svc["ports"] = [f"{host}{instance.port}:{component.container_port}"]
    volumes = _volumes(stack, component, instance, tree, target)
    if volumes:
        svc["volumes"] = volumes
    if entry.read_only:
        svc["read_only"] = True
        svc["tmpfs"] = ["/tmp"]
    svc.update({key: value for key, value in entry.compose.items() if key != "entrypoint"})
    context = {"stack": stack, "component": component}
    for when in entry.compose_when:
        if cmdline.fill(str(when["if"]), context).strip() == "True":
            svc.update(when.get("set", {}))
            for key, more in when.get("add", {}).items():  # lists that grow: volumes
                svc[key] = [*svc.get(key, ()), *more]
    svc["mem_limit"] = component.memory
    svc["security_opt"] = ["no-new-privileges:true"]
    if entry.health:
        svc["healthcheck"] = _healthcheck(component, entry.health)
    svc["restart"] = "unless-stopped"
    svc["labels"] = {LABEL_STACK: stack.name, LABEL_COMPONENT: name, LABEL_CONFIG_HASH: config_hash(tree, name)}
    if entry.replication is not None:  # on the first copy too: adding copies leaves its definition as it was
        svc["labels"][LABEL_REPLICA] = str(instance.index)
    svc["networks"] = [NETWORK]
    return svc


def compose(stack: Stack, tree: Tree, target: Target) -> dict[str, Any]:
    """compose.yaml as data; `tree` is the rendering of every other renderer."""
    running = stack.running()
    volumes: dict[str, Any] = {volume(n): {} for n, (c, _) in running.items() if catalog.entry(c.name).data}
    data: dict[str, Any] = {"services": {n: service(stack, c, i, tree, target) for n, (c, i) in running.items()}}
    if volumes:
        data["volumes"] = volumes
    data["networks"] = {NETWORK: {}}
    return data


def render_after(stack: Stack, target: Target, full: Tree) -> Tree:
    """compose.yaml from everything the other renderers produced (mounts, config hashes)."""
    if target.runtime != "compose":
        return Tree()
    text = dump_yaml(compose(stack, full, target), stack)
    env = f"# {header(stack)}\nCOMPOSE_PROJECT_NAME={stack.name}\n"
    return Tree(files={conventions.COMPOSE_FILE: text, ENV_FILE: env})
