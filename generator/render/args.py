"""Every component's process command line and environment, and the web.config auth files they read.

The single source for both runtimes: compose puts `command()` into a service's `command:` (the image's
entrypoint stays), the local runtime prepends the binary it found on PATH. Paths come from the
`Target`, so one function serves both. Secret values never appear here: secret environment variables
go into `Tree.env` (see `render`) and secret files into `Tree.secrets`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

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
# How often Alertmanager snapshots silences and the notification log to disk (its default is 15m). It
# also writes one on a clean shutdown, but a crash (kill -9, OOM) loses whatever changed since the last
# snapshot: a silence created less than this long before a crash is gone after the restart. Kept short
# because a snapshot is small; the flag exists since 0.25 (Debian) and in 0.33 (pinned).
ALERTMANAGER_MAINTENANCE = "10s"
DEMO_SCRIPT = "app.py"
EXPAND_EXTERNAL_LABELS = "expand-external-labels"
DINGTALK_CONFIG = "config.yml"
BLACKBOX_CONFIG = "blackbox.yml"

# how each component checks who asks comes from its catalog entry (`auth:`, docs/compat.md §4): an
# exporter-toolkit --web.config.file, its own flags or settings (redis_exporter, Grafana), or nothing
# at all (cAdvisor: validation refuses `auth` and `expose` for it, so its auth is never pretended)
WEB_CONFIG_COMPONENTS = frozenset(n for n, e in catalog.entries().items() if e.auth == "web-config")
SUPPORTS_AUTH = frozenset(n for n in catalog.entries() if catalog.enforces_auth(n))


def admin_password(grafana: Component) -> SecretRef:
    """Grafana's admin password: the spec's reference, else one promstack generates once and keeps.

    Never Grafana's built-in admin/admin: without a password setting Grafana would create the admin user
    with that on its first start, and anyone reaching it could log in."""
    return grafana.secrets.get(ADMIN_PASSWORD) or SecretRef(generated=f"grafana/{ADMIN_PASSWORD}")


def _user_flag(component: Component, flag: str) -> bool:
    """Whether the spec's own `args` set `flag` already (kingpin refuses a flag given twice)."""
    return any(str(arg).split("=", 1)[0] == flag for arg in component.options.get("args", ()))


def listen(component: Component, target: Target) -> str:
    """The address a component's HTTP server binds: every interface inside its container, loopback locally."""
    if target.runtime == "compose":
        return f":{component.container_port}"
    return f"127.0.0.1:{component.port}"


def uses_tls(component: Component) -> bool:
    return component.auth is not None and component.auth.tls is not None and component.name in SUPPORTS_AUTH


def scheme(component: Component) -> str:
    return "https" if uses_tls(component) else "http"


def protected(component: Component) -> bool:
    """Whether clients (Prometheus, healthchecks) must send basic-auth credentials to this component."""
    return component.auth is not None and component.auth.basic is not None and component.name in SUPPORTS_AUTH


def server_name(component: Component) -> str:
    """The name the component's certificate is issued for: the host of the URL people reach it at."""
    return urlsplit(component.url).hostname or component.name


def _data(name: str, target: Target, data_dir: str | None) -> str:
    if target.runtime == "compose":
        path = catalog.entry(name).data
        assert path is not None, f"catalog entry {name} has no data directory"
        return path
    if data_dir is None:
        raise ValueError(f"the local runtime must pass the data directory of {name}")
    return data_dir


def _web_config_flag(component: Component, target: Target) -> list[str]:
    if component.auth is None or component.name not in WEB_CONFIG_COMPONENTS:
        return []
    return [f"--web.config.file={target.secret_path(component.name, WEB_CONFIG)}"]


def command(stack: Stack, name: str, target: Target, data_dir: str | None = None) -> list[str]:
    """Flags (without the binary) that run component `name` on `target`; `data_dir` is required locally
    for components that keep data (prometheus, alertmanager, pushgateway)."""
    component = stack.components[name]
    addr = listen(component, target)
    args: list[str]
    if name == "prometheus":
        args = [
            f"--config.file={target.config_path(name, 'prometheus.yml')}",
            f"--storage.tsdb.path={_data(name, target, data_dir)}",
            f"--storage.tsdb.retention.time={stack.retention_time}",
            *([f"--storage.tsdb.retention.size={stack.retention_size}"] if stack.retention_size else []),
            "--web.enable-lifecycle",
            # 2.x: read $$ in external labels as $, as 3.x always does (3.x logs the flag as unknown)
            f"--enable-feature={EXPAND_EXTERNAL_LABELS}",
            f"--web.listen-address={addr}",
            f"--web.external-url={component.url}",
            # serve at / even when the external URL has a path: a reverse proxy strips it
            "--web.route-prefix=/",
            *_web_config_flag(component, target),
            *component.options.get("args", ()),
        ]
    elif name == "alertmanager":
        args = [
            f"--config.file={target.config_path(name, 'alertmanager.yml')}",
            f"--storage.path={_data(name, target, data_dir)}",
            f"--web.listen-address={addr}",
            f"--web.external-url={component.url}",
            "--web.route-prefix=/",
            # a single instance: an empty address turns gossip clustering off
            "--cluster.listen-address=",
            *(
                []
                if _user_flag(component, "--data.maintenance-interval")
                else [f"--data.maintenance-interval={ALERTMANAGER_MAINTENANCE}"]
            ),
            *_web_config_flag(component, target),
            *component.options.get("args", ()),
        ]
    elif name == "node-exporter":
        args = [f"--web.listen-address={addr}"]
        if target.runtime == "compose":
            args += ["--path.procfs=/host/proc", "--path.sysfs=/host/sys", "--path.rootfs=/rootfs"]
        # Debian's 1.5 enables the systemd collector (no dbus here: errors only); upstream has it off, and
        # the negated flag is an ordinary kingpin boolean there too
        args += ["--no-collector.systemd", *_web_config_flag(component, target)]
    elif name == "blackbox-exporter":
        args = [
            f"--config.file={target.config_path(name, BLACKBOX_CONFIG)}",
            f"--web.listen-address={addr}",
            *_web_config_flag(component, target),
        ]
    elif name == "pushgateway":
        args = [
            f"--persistence.file={_data(name, target, data_dir)}/metrics",
            f"--web.listen-address={addr}",
            *_web_config_flag(component, target),
        ]
    elif name == "redis-exporter":
        # multi-target: no default instance, Prometheus names the Redis per scrape via /scrape?target=
        args = ["--redis.addr=", f"--web.listen-address={addr}"]
        if uses_tls(component):
            args += [
                f"--tls-server-cert-file={target.secret_path(name, TLS_CERT)}",
                f"--tls-server-key-file={target.secret_path(name, TLS_KEY)}",
            ]
    elif name == "postgres-exporter":
        args = [f"--web.listen-address={addr}", *_web_config_flag(component, target)]
    elif name == "mysqld-exporter":
        args = [
            f"--config.my-cnf={target.secret_path(name, MY_CNF)}",
            f"--web.listen-address={addr}",
            *_web_config_flag(component, target),
        ]
    elif name == "cadvisor":
        args = [
            f"--port={component.container_port if target.runtime == 'compose' else component.port}",
            "--docker_only=true",
        ]
        if target.runtime == "local":
            args.append("--listen_ip=127.0.0.1")
    elif name == "dingtalk":
        args = [f"--config.file={target.config_path(name, DINGTALK_CONFIG)}", f"--web.listen-address={addr}"]
    elif name == "demo":
        ratio = component.options.get("error_ratio", stack.demo.error_ratio)
        args = [target.config_path(name, DEMO_SCRIPT), "--listen", addr, "--error-ratio", str(ratio)]
    else:  # grafana is configured through its environment only
        args = []
    return args


def environment(stack: Stack, name: str, target: Target, data_dir: str | None = None) -> dict[str, str]:
    """Non-secret environment of component `name`; secret variables are declared in `Tree.env`."""
    component = stack.components[name]
    env: dict[str, str] = {}
    if name == "grafana":
        env = {
            "GF_SERVER_HTTP_PORT": str(component.container_port if target.runtime == "compose" else component.port),
            "GF_SERVER_ROOT_URL": component.url,
            "GF_PATHS_PROVISIONING": target.config_path(name, "provisioning"),
            "GF_SECURITY_ADMIN_USER": str(component.options.get("admin_user", "admin")),
            "GF_AUTH_ANONYMOUS_ENABLED": "false",
            "GF_USERS_ALLOW_SIGN_UP": "false",
            "GF_SECURITY_DISABLE_GRAVATAR": "true",
            "GF_ANALYTICS_REPORTING_ENABLED": "false",
            "GF_ANALYTICS_CHECK_FOR_UPDATES": "false",
            "GF_ANALYTICS_CHECK_FOR_PLUGIN_UPDATES": "false",
        }
        # always a password file (the spec's secret, or a generated one): never admin/admin
        env["GF_SECURITY_ADMIN_PASSWORD__FILE"] = target.secret_path(name, ADMIN_PASSWORD)
        if target.runtime == "local":
            env["GF_SERVER_HTTP_ADDR"] = "127.0.0.1"
            if data_dir is not None:
                env["GF_PATHS_DATA"] = data_dir
        if uses_tls(component):
            env.update(
                {
                    "GF_SERVER_PROTOCOL": "https",
                    "GF_SERVER_CERT_FILE": target.secret_path(name, TLS_CERT),
                    "GF_SERVER_CERT_KEY": target.secret_path(name, TLS_KEY),
                }
            )
        if component.auth is not None and component.auth.basic is not None:
            # Grafana has its own login; `auth.basic` protects its /metrics endpoint
            env.update(
                {
                    "GF_METRICS_BASIC_AUTH_USERNAME": component.auth.basic.username,
                    "GF_METRICS_BASIC_AUTH_PASSWORD__FILE": target.secret_path(name, WEB_PASSWORD),
                }
            )
    elif name == "redis-exporter" and component.auth is not None and component.auth.basic is not None:
        # flags Debian's 1.45 lacks would stop it; these variables are read by upstream (>= 1.4x) only
        env["REDIS_EXPORTER_BASIC_AUTH_USERNAME"] = component.auth.basic.username
    return env


def secret_environment(component: Component) -> dict[str, SecretRef]:
    """Secret environment variables of a component, passed at deploy time (never written to a file)."""
    env: dict[str, SecretRef] = {}
    if component.name == "postgres-exporter" and "dsn" in component.secrets:
        env["DATA_SOURCE_NAME"] = component.secrets["dsn"]
    if component.name == "redis-exporter":
        if "password" in component.secrets:
            env["REDIS_PASSWORD"] = component.secrets["password"]
        if component.auth is not None and component.auth.basic is not None:
            env["REDIS_EXPORTER_BASIC_AUTH_PASSWORD"] = component.auth.basic.password
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
        if name in WEB_CONFIG_COMPONENTS:
            tree.secrets[f"{base}/{WEB_CONFIG}"] = web_config(component, target)
        if uses_tls(component) and component.auth.tls is not None:
            tree.secrets[f"{base}/{TLS_CERT}"] = SecretFile.single(component.auth.tls.cert)
            tree.secrets[f"{base}/{TLS_KEY}"] = SecretFile.single(component.auth.tls.key)
        if component.auth.basic is not None and protected(component):
            tree.secrets[f"{base}/{WEB_PASSWORD}"] = SecretFile.single(component.auth.basic.password)
    return tree
