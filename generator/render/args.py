"""Every component's process command line and environment, and the web.config auth files they read.

The single source for both runtimes: compose puts `command()` into a service's `command:` (the image's
entrypoint stays), the local runtime prepends the binary it found on PATH. Paths come from the
`Target`, so one function serves both. Secret values never appear here: secret environment variables
go into `Tree.env` (see `render`) and secret files into `Tree.secrets`.

What runs comes from the catalog (`compose/<name>.yaml`): `command` and `environment` are Jinja2
templates that see `stack`, `component`, `options` (the component's spec options), `compose`, `kubernetes`
and `local` (the runtime), `container` (compose or kubernetes: it runs in a container), `listen` (the
address to bind), `own_port`, `tls`, `basic_auth`, `data_dir`, and the
functions `data()` (its data directory), `config(file)` and `secret(file)` (where it reads its rendered
and secret files) and `user_flag(flag)` (the spec's `args` set it). What renders empty is left out.
"""

from __future__ import annotations

from functools import cache
from typing import Any
from urllib.parse import urlsplit

import jinja2

from generator import catalog, conventions
from generator.model import Component, SecretRef, Stack
from generator.render import SecretFile, Target, Tree, dump_yaml

WEB_CONFIG = "web-config.yml"
TLS_CERT = "tls.crt"
TLS_KEY = "tls.key"
# the plain password a component's own healthcheck sends (compose healthchecks run inside the container)
WEB_PASSWORD = "web-password"
MY_CNF = "my.cnf"
ADMIN_PASSWORD = "admin_password"  # Grafana's: the spec key and the secret file's name
DEMO_SCRIPT = "app.py"
DINGTALK_SCRIPT = "adapter.py"
DINGTALK_CONFIG = "config.json"
BLACKBOX_CONFIG = "blackbox.yml"
BASIC_AUTH_PASSWORD = "auth.basic.password"  # a catalog `secret_env` source besides the spec's secret keys

# the catalog's command and environment templates: text in, text out, and an unknown name is an error
_JINJA = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def login_password(component: Component) -> SecretRef:
    """The admin password of a component with a login of its own (catalog `login`, Grafana): the spec's
    reference, else one promstack generates once and keeps.

    Never Grafana's built-in admin/admin: without a password setting Grafana would create the admin user
    with that on its first start, and anyone reaching it could log in."""
    key = catalog.entry(component.name).login["password"]
    return component.secrets.get(key) or SecretRef(generated=f"{component.name}/{key}")


def _user_flag(component: Component, flag: str) -> bool:
    """Whether the spec's own `args` set `flag` already (kingpin refuses a flag given twice)."""
    return any(str(arg).split("=", 1)[0] == flag for arg in component.options.get("args", ()))


def listen(component: Component, target: Target) -> str:
    """The address a component's HTTP server binds: every interface inside its container, loopback locally."""
    if target.container:
        return f":{component.container_port}"
    return f"127.0.0.1:{component.port}"


def uses_tls(component: Component) -> bool:
    return component.auth is not None and component.auth.tls is not None and catalog.entry(component.name).supports_auth


def scheme(component: Component) -> str:
    return "https" if uses_tls(component) else "http"


def protected(component: Component) -> bool:
    """Whether clients (Prometheus, healthchecks) must send basic-auth credentials to this component."""
    return (
        component.auth is not None and component.auth.basic is not None and catalog.entry(component.name).supports_auth
    )


def server_name(component: Component) -> str:
    """The name the component's certificate is issued for: the host of the URL people reach it at."""
    return urlsplit(component.url).hostname or component.name


def _data(name: str, target: Target, data_dir: str | None) -> str:
    if target.container:
        path = catalog.entry(name).data
        assert path is not None, f"catalog entry {name} has no data directory"
        return path
    if data_dir is None:
        raise ValueError(f"the local runtime must pass the data directory of {name}")
    return data_dir


def _web_config_flag(component: Component, target: Target) -> list[str]:
    if component.auth is None or not catalog.entry(component.name).web_config:
        return []
    return [f"--web.config.file={target.secret_path(component.name, WEB_CONFIG)}"]


def _context(stack: Stack, name: str, target: Target, data_dir: str | None) -> dict[str, Any]:
    """What a catalog template sees: the stack, the component and its options, where things are."""
    component = stack.components[name]
    return {
        "stack": stack,
        "component": component,
        "options": component.options,
        "compose": target.runtime == "compose",
        "kubernetes": target.runtime == "kubernetes",
        "container": target.container,
        "local": not target.container,
        "listen": listen(component, target),
        "own_port": component.container_port if target.container else component.port,
        "tls": uses_tls(component),
        "basic_auth": component.auth is not None and component.auth.basic is not None,
        "data_dir": data_dir,
        "data": lambda: _data(name, target, data_dir),
        "config": lambda rel: target.config_path(name, rel),
        "secret": lambda rel: target.secret_path(name, rel),
        "user_flag": lambda flag: _user_flag(component, flag),
    }


@cache
def _template(text: str) -> jinja2.Template:
    return _JINJA.from_string(text)


def fill(template: str, context: dict[str, Any]) -> str:
    return _template(template).render(context)


def command(stack: Stack, name: str, target: Target, data_dir: str | None = None) -> list[str]:
    """Flags (without the binary) that run component `name` on `target`: its catalog `command`, then
    the web.config flag where it checks credentials that way, then the spec's own `args`.
    `data_dir` is required locally for components that keep data (prometheus, alertmanager, ...)."""
    component = stack.components[name]
    context = _context(stack, name, target, data_dir)
    flags = [flag for flag in (fill(t, context) for t in catalog.entry(name).command) if flag]
    return [*flags, *_web_config_flag(component, target), *component.options.get("args", ())]


def environment(stack: Stack, name: str, target: Target, data_dir: str | None = None) -> dict[str, str]:
    """Non-secret environment of component `name`; secret variables are declared in `Tree.env`."""
    context = _context(stack, name, target, data_dir)
    filled = {var: fill(t, context) for var, t in catalog.entry(name).environment.items()}
    return {var: value for var, value in filled.items() if value}


def secret_environment(component: Component) -> dict[str, SecretRef]:
    """Secret environment variables of a component, passed at deploy time (never written to a file)."""
    env: dict[str, SecretRef] = {}
    for var, source in catalog.entry(component.name).secret_env.items():
        if source == BASIC_AUTH_PASSWORD:
            if component.auth is not None and component.auth.basic is not None:
                env[var] = component.auth.basic.password
        elif source in component.secrets:
            env[var] = component.secrets[source]
    return env


def dollar(text: str) -> str:
    """Escape `$` for string.Template, which the writer fills the secret templates with."""
    return text.replace("$", "$$")


def web_config(component: Component, target: Target) -> SecretFile:
    """exporter-toolkit web.config.file: bcrypt basic-auth users and TLS files (docs/compat.md §4)."""
    assert component.auth is not None
    data: dict[str, object] = {}
    values: dict[str, SecretRef] = {}
    if component.auth.tls is not None:
        data["tls_server_config"] = {
            "cert_file": dollar(target.secret_path(component.name, TLS_CERT)),
            "key_file": dollar(target.secret_path(component.name, TLS_KEY)),
        }
    if component.auth.basic is not None:
        data["basic_auth_users"] = {dollar(component.auth.basic.username): "${password}"}
        values["password"] = component.auth.basic.password
    return SecretFile(dump_yaml(data), values, bcrypt=frozenset(values))


def render(stack: Stack, target: Target) -> Tree:
    """The secret files and variables the command lines above refer to."""
    tree = Tree()
    for name, component in stack.components.items():
        if not component.runs:
            continue
        secret_env = secret_environment(component)
        if secret_env:
            tree.env[name] = secret_env
        if component.auth is None:
            continue
        base = f"{conventions.SECRETS_DIR}/{name}"
        if catalog.entry(name).web_config:
            tree.secrets[f"{base}/{WEB_CONFIG}"] = web_config(component, target)
        if uses_tls(component) and component.auth.tls is not None:
            tree.secrets[f"{base}/{TLS_CERT}"] = SecretFile.pem(component.auth.tls.cert)
            tree.secrets[f"{base}/{TLS_KEY}"] = SecretFile.pem(component.auth.tls.key)
        if component.auth.basic is not None and protected(component):
            tree.secrets[f"{base}/{WEB_PASSWORD}"] = SecretFile.single(component.auth.basic.password)
    return tree
