"""compose.yaml, component command lines (args) and exporter files; proven with docker-compose, the real
exporters' config checks, and the Debian binaries started from the rendered command lines."""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import binaries, catalog
from generator.checks import CheckContext, compose_config
from generator.model import Stack
from generator.render import Target, Tree, render
from generator.render.args import command, environment
from generator.render.compose import SECRETS_MOUNT
from generator.spec import stack_from_text
from generator.write import Secrets, write_tree

BASE: dict[str, Any] = {
    "version": 1,
    "name": "t",
    "notifications": {
        "receivers": [{"name": "team", "webhook": {"url": {"env": "HOOK_URL"}}}],
        "default_receiver": "team",
    },
}
COMPOSE = Target("compose", "/promstack")
EVERYTHING: dict[str, Any] = {
    "exporters": {
        "node": {},
        "cadvisor": {},
        "blackbox": {"probes": [{"name": "ping", "module": "icmp", "targets": ["10.0.0.1"]}]},
        "pushgateway": {},
        "redis": {"targets": ["redis:6379"], "password": {"env": "REDIS_PW"}},
        "postgres": {"dsn": {"env": "PG_DSN"}},
        "mysqld": {"address": "mysql:3306", "user": "exp", "password": {"env": "MYSQL_PW"}},
        "rabbitmq": {"targets": ["rabbit:15692"]},
    },
    "demo": {"enabled": True},
}


def build(**spec: Any) -> Stack:
    return stack_from_text(yaml.safe_dump({**BASE, **spec}, sort_keys=False))


def services(stack: Stack) -> dict[str, dict[str, Any]]:
    data = yaml.safe_load(render(stack, COMPOSE).files["compose.yaml"])
    assert "version" not in data and "name" not in data  # docker-compose 1.29 rejects a top-level name
    result: dict[str, dict[str, Any]] = data["services"]
    return result


def test_one_hardened_service_per_running_component() -> None:
    found = services(build(**EVERYTHING))
    assert list(found) == [
        "prometheus",
        "alertmanager",
        "grafana",
        "node-exporter",
        "cadvisor",
        "blackbox-exporter",
        "pushgateway",
        "redis-exporter",
        "postgres-exporter",
        "mysqld-exporter",
        "demo",
    ]
    for name, svc in found.items():
        assert svc["restart"] == "unless-stopped" and svc["security_opt"] == ["no-new-privileges:true"]
        assert svc["networks"] == ["promstack"]
        assert svc["labels"]["promstack.stack"] == "t" and svc["labels"]["promstack.component"] == name
        assert len(svc["labels"]["promstack.config-hash"]) == 16
        assert svc["ports"] == [f"127.0.0.1:{catalog.entry(name).port}:{catalog.entry(name).port}"]
        assert svc.get("read_only", False) == catalog.entry(name).read_only
        assert svc["healthcheck"]["test"][:2] == ["CMD", "wget"]
    assert found["prometheus"]["mem_limit"] == "1g" and found["prometheus"]["user"] == "65534:65534"
    assert found["blackbox-exporter"]["user"] == "6170:0"
    assert found["blackbox-exporter"]["sysctls"] == {"net.ipv4.ping_group_range": "0 2147483647"}
    assert found["demo"]["entrypoint"] == ["python3"]
    assert found["demo"]["command"][:2] == ["/app/app.py", "--listen"]


def test_mounts_data_volumes_and_host_views() -> None:
    spec = {
        **EVERYTHING,
        "exporters": {
            **EVERYTHING["exporters"],
            "pushgateway": {"auth": {"basic": {"username": "u", "password": {"env": "PW"}}}},
        },
    }
    stack = build(**spec)
    found = services(stack)
    # Prometheus gets a secrets folder because it holds the pushgateway's password
    assert found["prometheus"]["volumes"] == [
        "prometheus-data:/prometheus",
        "./prometheus:/etc/prometheus:ro",
        f"./secrets/prometheus:{SECRETS_MOUNT}:ro",
    ]
    assert "./blackbox-exporter:/etc/blackbox_exporter:ro" in found["blackbox-exporter"]["volumes"]
    assert found["mysqld-exporter"]["volumes"] == [f"./secrets/mysqld-exporter:{SECRETS_MOUNT}:ro"]
    assert found["pushgateway"]["volumes"] == [
        "pushgateway-data:/pushgateway",
        f"./secrets/pushgateway:{SECRETS_MOUNT}:ro",
    ]
    assert found["node-exporter"].get("volumes", [])[:1] == ["/proc:/host/proc:ro"]  # nothing rendered, nothing mounted
    assert found["node-exporter"]["volumes"] == ["/proc:/host/proc:ro", "/sys:/host/sys:ro", "/:/rootfs:ro"]
    assert found["node-exporter"]["pid"] == "host"
    assert "/var/lib/docker/:/var/lib/docker:ro" in found["cadvisor"]["volumes"]
    for name, svc in found.items():
        host = [v for v in svc.get("volumes", []) if v.startswith("/")]
        assert not host or name in ("node-exporter", "cadvisor")
        assert "pid" not in svc or name == "node-exporter"
    data = yaml.safe_load(render(stack, COMPOSE).files["compose.yaml"])
    assert data["volumes"] == {
        "prometheus-data": {},
        "alertmanager-data": {},
        "grafana-data": {},
        "pushgateway-data": {},
    }


def test_secret_environment_is_only_referenced() -> None:
    stack = build(**EVERYTHING)
    found = services(stack)
    assert found["postgres-exporter"]["environment"] == {"DATA_SOURCE_NAME": "${DATA_SOURCE_NAME}"}
    assert found["redis-exporter"]["environment"] == {"REDIS_PASSWORD": "${REDIS_PASSWORD}"}
    tree = render(stack, COMPOSE)
    assert tree.env["postgres-exporter"]["DATA_SOURCE_NAME"].env == "PG_DSN"
    assert "PG_DSN" not in tree.files["compose.yaml"]
    cnf = tree.secrets["secrets/mysqld-exporter/my.cnf"]
    assert cnf.template == "[client]\nuser=`exp`\npassword=`${password}`\nhost=mysql\nport=3306\n"
    assert cnf.values["password"].env == "MYSQL_PW"


def test_exposed_and_protected_component() -> None:
    stack = build(
        components={
            "prometheus": {
                "expose": True,
                "port": 19090,
                "url": "https://p.example.com/prom",
                "auth": {
                    "basic": {"username": "o'p$", "password": {"env": "PW"}},
                    "tls": {"cert": {"file": "c"}, "key": {"file": "k"}},
                },
            }
        }
    )
    svc = services(stack)["prometheus"]
    assert svc["ports"] == ["19090:9090"]
    assert "--web.config.file=/run/secrets/promstack/web-config.yml" in svc["command"]
    assert "--web.external-url=https://p.example.com/prom" in svc["command"]
    test = svc["healthcheck"]["test"]
    assert test[0] == "CMD-SHELL" and "https://127.0.0.1:9090/-/healthy" in test[1]
    assert "'o'\\''p$$'" in test[1]  # shell-quoted, and `$` escaped from compose interpolation
    tree = render(stack, COMPOSE)
    web = tree.secrets["secrets/prometheus/web-config.yml"]
    assert yaml.safe_load(web.template.replace("$$", "$")) == {
        "tls_server_config": {
            "cert_file": "/run/secrets/promstack/tls.crt",
            "key_file": "/run/secrets/promstack/tls.key",
        },
        "basic_auth_users": {"o'p$": "${password}"},
    }
    assert web.bcrypt == frozenset({"password"})


def test_config_hash_follows_the_component_files() -> None:
    before = services(build(exporters={"node": {}}))
    after = services(build(exporters={"node": {}}, services=[{"name": "api", "targets": ["api:1"]}]))
    label = "promstack.config-hash"
    assert before["prometheus"]["labels"][label] != after["prometheus"]["labels"][label]
    assert before["node-exporter"]["labels"][label] == after["node-exporter"]["labels"][label]


def test_compose_only_for_the_compose_target_and_project_name() -> None:
    stack = build()
    assert "compose.yaml" not in render(stack, Target("local", "/srv")).files
    assert render(stack, COMPOSE).files[".env"].endswith("\nCOMPOSE_PROJECT_NAME=t\n")


def test_command_lines_per_runtime() -> None:
    stack = build(**EVERYTHING, retention={"time": "30d", "size": "5GB"})
    assert command(stack, "prometheus", COMPOSE) == [
        "--config.file=/etc/prometheus/prometheus.yml",
        "--storage.tsdb.path=/prometheus",
        "--storage.tsdb.retention.time=30d",
        "--storage.tsdb.retention.size=5GB",
        "--web.enable-lifecycle",
        "--web.enable-admin-api",
        "--enable-feature=expand-external-labels",
        "--web.listen-address=:9090",
        "--web.external-url=http://localhost:9090",
        "--web.route-prefix=/",
    ]
    local = Target("local", "/srv/t")
    assert command(stack, "alertmanager", local, data_dir="/var/am") == [
        "--config.file=/srv/t/alertmanager/alertmanager.yml",
        "--storage.path=/var/am",
        "--web.listen-address=127.0.0.1:9093",
        "--web.external-url=http://localhost:9093",
        "--web.route-prefix=/",
        "--cluster.listen-address=",
        "--data.maintenance-interval=10s",
    ]
    assert command(stack, "node-exporter", local) == ["--web.listen-address=127.0.0.1:9100", "--no-collector.systemd"]
    assert "--path.rootfs=/rootfs" in command(stack, "node-exporter", COMPOSE)
    assert command(stack, "mysqld-exporter", local)[0] == "--config.my-cnf=/srv/t/secrets/mysqld-exporter/my.cnf"
    assert command(stack, "redis-exporter", COMPOSE)[0] == "--redis.addr="
    assert command(stack, "demo", local) == [
        "/srv/t/demo/app.py",
        "--listen",
        "127.0.0.1:8000",
        "--error-ratio",
        "0.02",
    ]
    with pytest.raises(ValueError, match="data directory of pushgateway"):
        command(stack, "pushgateway", local)
    env = environment(stack, "grafana", local, data_dir="/var/gf")
    assert env["GF_PATHS_PROVISIONING"] == "/srv/t/grafana/provisioning" and env["GF_PATHS_DATA"] == "/var/gf"
    assert env["GF_SERVER_HTTP_ADDR"] == "127.0.0.1" and env["GF_AUTH_ANONYMOUS_ENABLED"] == "false"


def test_the_admin_api_only_where_prometheus_is_on_loopback_alone() -> None:
    """TSDB snapshots (`promstack backup`) need the admin API, which also deletes series: never on a port the
    network reaches. An exposed Prometheus on compose goes without; the local runtime binds 127.0.0.1 always."""
    exposed = build(
        components={"prometheus": {"expose": True, "auth": {"basic": {"username": "ops", "password": {"env": "P"}}}}}
    )
    assert "--web.enable-admin-api" not in command(exposed, "prometheus", COMPOSE)
    assert "--web.enable-admin-api" in command(exposed, "prometheus", Target("local", "/srv/t"), data_dir="/d")
    assert "--web.enable-admin-api" in command(build(), "prometheus", COMPOSE)


def test_blackbox_config_is_accepted_by_blackbox_exporter(tmp_path: Path) -> None:
    binary = shutil.which("prometheus-blackbox-exporter") or shutil.which("blackbox_exporter")
    if binary is None:
        pytest.skip("blackbox_exporter is not installed (Debian package prometheus-blackbox-exporter)")
    path = tmp_path / "blackbox.yml"
    path.write_text(render(build(**EVERYTHING), COMPOSE).files["blackbox-exporter/blackbox.yml"])
    ok = subprocess.run([binary, "--config.check", f"--config.file={path}"], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    path.write_text(path.read_text().replace("prober: tcp", "prober: tcp\n    bogus: 1"))
    bad = subprocess.run([binary, "--config.check", f"--config.file={path}"], capture_output=True, text=True)
    assert bad.returncode != 0  # the check is strict, so the pass above means something


def _context(stack: Stack, tree: Tree, tmp_path: Path) -> CheckContext:
    return CheckContext(stack, tree, tmp_path, Target("local", str(tmp_path)), compose_tree=tree)


def test_compose_file_is_accepted_by_the_compose_client(tmp_path: Path) -> None:
    if compose_config.client() is None:
        pytest.skip("neither docker compose nor docker-compose is installed")
    stack = build(**EVERYTHING)
    ctx = _context(stack, render(stack, COMPOSE), tmp_path)
    assert compose_config.run(ctx) == []
    broken = render(stack, COMPOSE)
    broken.files["compose.yaml"] = broken.files["compose.yaml"].replace("mem_limit:", "mem_limimt:", 1)
    failures = [p.message for p in compose_config.run(_context(stack, broken, tmp_path))]
    assert len(failures) == 1 and "config rejected compose.yaml: " in failures[0]
    assert "mem_limimt" in failures[0]


def _binary(name: str) -> str | None:
    return next((p for b in catalog.entry(name).binaries if (p := shutil.which(b))), None)


def _wait(url: str, headers: dict[str, str] | None = None, timeout: float = 20) -> int:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2) as response:
                return int(response.status)
        except urllib.error.HTTPError as error:
            return error.code
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.live
def test_debian_binaries_run_the_rendered_command_lines(tmp_path: Path, port: Callable[[], int]) -> None:
    names = [
        "alertmanager",
        "node-exporter",
        "blackbox-exporter",
        "pushgateway",
        "redis-exporter",
        "postgres-exporter",
        "mysqld-exporter",
    ]
    missing = [n for n in names if _binary(n) is None]
    if missing or shutil.which("openssl") is None:
        pytest.skip(f"not installed: {', '.join(missing) or 'openssl'}")
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            str(tmp_path / "k.pem"),
            "-out",
            str(tmp_path / "c.pem"),
            "-days",
            "1",
            "-subj",
            "/CN=node.example.com",
        ],
        check=True,
        capture_output=True,
    )
    auth = {
        "basic": {"username": "ops", "password": {"env": "NODE_PW"}},
        "tls": {"cert": {"file": "c.pem"}, "key": {"file": "k.pem"}},
    }
    spec = {**EVERYTHING, "demo": {"enabled": False}, "components": {"alertmanager": {"port": port()}}}
    spec["exporters"] = {
        key: {**value, "port": port()}
        for key, value in EVERYTHING["exporters"].items()
        if key not in ("cadvisor", "rabbitmq")
    }
    spec["exporters"]["node"]["auth"] = auth
    stack = build(**spec)
    root = tmp_path / "tree"
    target = Target("local", str(root), binaries.versions(stack))  # rendered for the binaries that run it
    tree = render(stack, target)
    environ = {
        "HOOK_URL": "http://127.0.0.1:9/hook",
        "REDIS_PW": "r",
        "PG_DSN": "postgresql://u:p@127.0.0.1:9/d",
        "MYSQL_PW": "m",
        "NODE_PW": "pa:ss w$rd",
    }
    secrets = Secrets(tmp_path, environ=environ)
    write_tree(tree, root, secrets, salt="t")
    processes = []
    try:
        for name in names:
            data = tmp_path / "data" / name
            data.mkdir(parents=True)
            env = {**os.environ, **environment(stack, name, target, data_dir=str(data))}
            env.update({var: secrets.value(ref) for var, ref in tree.env.get(name, {}).items()})
            flags = command(stack, name, target, data_dir=str(data))
            processes.append(
                subprocess.Popen(
                    [str(_binary(name)), *flags],
                    env=env,
                    cwd=data,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        for name in names:
            component = stack.components[name]
            if name == "node-exporter":
                continue
            assert _wait(f"http://127.0.0.1:{component.port}{catalog.entry(name).health}") == 200, name
        node = stack.components["node-exporter"]
        # the node exporter is protected: the compose healthcheck command, run here, must get in
        context = ssl.create_default_context(cafile=str(tmp_path / "c.pem"))
        context.check_hostname = False
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(f"https://127.0.0.1:{node.port}/metrics", context=context, timeout=2)
                raise AssertionError("the node exporter answered without credentials")
            except urllib.error.HTTPError as error:
                assert error.code == 401
                break
            except OSError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        check = yaml.safe_load(render(stack, COMPOSE).files["compose.yaml"])["services"]["node-exporter"]
        shell = check["healthcheck"]["test"][1].replace("$$", "$")
        shell = shell.replace(SECRETS_MOUNT, str(root / "secrets/node-exporter"))
        shell = shell.replace("127.0.0.1:9100", f"127.0.0.1:{node.port}").replace("wget", "busybox wget", 1)
        if shutil.which("busybox") is None:
            pytest.skip("busybox is not installed (Debian package busybox-static)")
        result = subprocess.run(["sh", "-c", shell], capture_output=True, text=True, timeout=20)
        assert result.returncode == 0, result.stderr
        wrong = subprocess.run(["sh", "-c", shell.replace("'ops'", "'intruder'")], capture_output=True, text=True)
        assert wrong.returncode != 0
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=20)
