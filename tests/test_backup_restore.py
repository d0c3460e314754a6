"""`promstack backup` and `restore`, live on both runtimes: samples scraped from a real node exporter and a
silence made through Alertmanager's API v2 are backed up, the stack is taken down with its data
(`down --volumes`), restored, brought up again, and both are back: the same number of samples at the same
instant, the same silence. Also: what a restore refuses (a running stack, data already there), and that
an exposed Prometheus (no admin API) is copied paused instead of by snapshot.
"""

from __future__ import annotations

import json
import os
import signal
import stat
import subprocess
import sys
import tarfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_runtime_compose import compose_spec, docker_images_or_skip, volumes
from test_runtime_local import (
    PROMSTACK,
    Deployment,
    add_silence,
    base_spec,
    deployment_factory,
    free_ports,
    need_binaries,
    query,
    silences,
    wait_for,
)


@pytest.fixture(scope="session")
def docker_images() -> dict[str, str]:
    return docker_images_or_skip()


@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


def _count(stack: Deployment, at: float) -> dict[str, str]:
    """Samples of `up` per job in the 10 minutes before `at`: what must be the same after the restore."""
    found = query(stack.prometheus, "count_over_time(up[10m])", at=at)
    return {r["metric"]["job"]: r["value"][1] for r in found}


def _round_trip(stack: Deployment, archive: Path) -> dict[str, str]:
    """Up, scrape, silence, back up, down --volumes, restore, up; return the backup's summary lines."""
    stack.up()
    wait_for("5 scrapes of the node exporter", lambda: float(_count(stack, time.time()).get("node-exporter", 0)) >= 5)
    at = time.time()
    before = _count(stack, at)
    silence = add_silence(stack.alertmanager)  # made just before: the backup must wait for its snapshot

    made = stack.run("--debug", "backup", str(stack.spec), "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert not list(archive.parent.glob(".*partial"))
    with tarfile.open(archive) as tar:
        names = tar.getnames()
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
    assert names[-1] == "MANIFEST.json"
    assert {"data/prometheus", "data/alertmanager/silences", "config/.promstack.json"} <= set(names)
    assert manifest["runtime"] == stack.runtime and manifest["include_secrets"] is False

    down = stack.run("down", str(stack.spec), "--volumes")
    assert down.returncode == 0, down.stderr
    restored = stack.run("--debug", "restore", str(stack.spec), str(archive))
    assert restored.returncode == 0, restored.stderr
    assert f"--runtime {stack.runtime}" in restored.stdout
    assert not (stack.root / "restore").exists()
    stack.up()
    assert _count(stack, at) == before and before["node-exporter"]
    assert silence in silences(stack.alertmanager)
    return {n: m["method"] for n, m in manifest["components"].items()}


pytestmark = pytest.mark.xdist_group("runtime-local")


@pytest.mark.live
def test_backup_restore_local(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment], tmp_path: Path
) -> None:
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "bklocal")), "local", ports)
    methods = _round_trip(stack, tmp_path / "local.tar.gz")
    assert methods == {"prometheus": "snapshot", "alertmanager": "files"}
    # no snapshot is left behind in the data (hard links would keep deleted blocks alive)
    assert not any((stack.root / "data" / "prometheus" / "snapshots").glob("*"))

    # a running stack is refused, and so is data already there without --replace
    refused = stack.run("restore", str(stack.spec), str(tmp_path / "local.tar.gz"))
    assert refused.returncode == 1 and "`promstack down` it first" in refused.stderr
    assert stack.run("down", str(stack.spec)).returncode == 0
    kept = stack.run("restore", str(stack.spec), str(tmp_path / "local.tar.gz"))
    assert kept.returncode == 1 and "has data already (alertmanager, prometheus)" in kept.stderr
    replaced = stack.run("restore", str(stack.spec), str(tmp_path / "local.tar.gz"), "--replace")
    assert replaced.returncode == 0, replaced.stderr

    # a second backup never overwrites the first
    again = stack.run("backup", str(stack.spec), "-o", str(tmp_path / "local.tar.gz"))
    assert again.returncode != 0


@pytest.mark.live
@pytest.mark.docker
def test_backup_restore_compose(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    docker_images: dict[str, str],
    compose_client: str,
    deployments: Callable[..., Deployment],
) -> None:
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(compose_spec(ports, "bkcompose", docker_images)), "compose", ports)
    methods = _round_trip(stack, tmp_path / "compose.tar.gz")
    assert methods == {"prometheus": "snapshot", "alertmanager": "files"}
    assert f"{stack.project}_prometheus-data" in volumes(stack.project)


@pytest.mark.live
@pytest.mark.docker
def test_exposed_prometheus_is_copied_paused(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    docker_images: dict[str, str],
    deployments: Callable[..., Deployment],
) -> None:
    """An exposed Prometheus gets no admin API (it would be on the network): backup pauses it instead."""
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    spec = compose_spec(ports, "bkexposed", docker_images)
    spec["components"]["prometheus"].update(
        expose=True, auth={"basic": {"username": "ops", "password": {"env": "PROM_PASSWORD"}}}
    )
    stack = deployments(write_spec(spec), "compose", ports, PROM_PASSWORD="s3cret-backup-pw")
    stack.up()
    archive = tmp_path / "exposed.tar.gz"
    made = stack.run("backup", str(stack.spec), "-o", str(archive))
    assert made.returncode == 0, made.stderr
    assert "copying its data paused, since --web.enable-admin-api is off" in made.stderr
    assert "s3cret-backup-pw" not in made.stdout + made.stderr
    with tarfile.open(archive) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
        names = tar.getnames()
    assert manifest["components"]["prometheus"]["method"] == "freeze"
    assert any(n.startswith("data/prometheus/wal/") for n in names)
    # secrets: the web config's password hash and the password file stay out without --include-secrets
    assert not [n for n in names if n.startswith("config/secrets/")]
    assert any(item["path"].startswith("config/secrets/prometheus/") for item in manifest["left_out"])
    # and the paused Prometheus runs on
    assert stack.status()["components"]["prometheus"]["state"] == "running"


def test_restore_refuses_a_state_folder_it_did_not_create(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    from test_runtime_local import promstack

    spec = write_spec(base_spec({"prometheus": 19990, "alertmanager": 19991, "node": 19992}, "foreign"))
    state = tmp_path / "state"
    (state / "foreign").mkdir(parents=True)
    (state / "foreign" / "notes.txt").write_text("mine\n")
    archive = tmp_path / "x.tar.gz"
    archive.write_bytes(b"")
    env = {**os.environ, "PROMSTACK_STATE_DIR": str(state)}
    result = promstack("restore", str(spec), str(archive), env=env)
    assert result.returncode == 1 and "was not created by promstack" in result.stderr
    assert sorted(p.name for p in (state / "foreign").iterdir()) == ["notes.txt"]


# Grafana: no binary or image here. The stand-in below does what matters to a backup: like Grafana, it
# creates its SQLite database in GF_PATHS_DATA on its first start, storing the admin password it was given
# then, and from then on accepts only that one on its admin API (Grafana applies the password setting only
# when it creates its database). What is tested is promstack's generic paused copy of a data folder and the
# generated password's round trip; SQLite's own recovery of a paused copy is SQLite's.
GRAFANA_STAND_IN = """\
#!{python}
import base64, json, os, sqlite3
from http.server import BaseHTTPRequestHandler, HTTPServer

db = sqlite3.connect(os.path.join(os.environ["GF_PATHS_DATA"], "grafana.db"))
db.execute("create table if not exists admin (password text)")
if not db.execute("select count(*) from admin").fetchone()[0]:
    with open(os.environ["GF_SECURITY_ADMIN_PASSWORD__FILE"]) as f:
        db.execute("insert into admin values (?)", (f.read(),))
    db.commit()
PASSWORD = db.execute("select password from admin").fetchone()[0]
LOGIN = "Basic " + base64.b64encode(("admin:" + PASSWORD).encode()).decode()


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/api/health":
            self.answer(200, {{"database": "ok", "version": "stand-in"}})
        elif self.path == "/metrics":
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b'grafana_build_info{{version="stand-in"}} 1\\n')
        else:
            self.answer(404, {{}})

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        ok = self.headers.get("Authorization") == LOGIN
        self.answer(200 if ok else 401, {{"message": "reloaded" if ok else "invalid username or password"}})

    def log_message(self, *args):
        pass


HTTPServer((os.environ["GF_SERVER_HTTP_ADDR"], int(os.environ["GF_SERVER_HTTP_PORT"])), Handler).serve_forever()
"""


@pytest.mark.live
def test_grafana_data_and_its_generated_password(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment], tmp_path: Path
) -> None:
    need_binaries()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "grafana").write_text(GRAFANA_STAND_IN.format(python=sys.executable))
    (bin_dir / "grafana").chmod(0o755)
    ports = free_ports(port, "prometheus", "alertmanager", "node", "grafana")
    spec = base_spec(ports, "bkgrafana")
    spec["components"]["grafana"] = {"port": ports["grafana"]}
    path = write_spec(spec)
    stack = deployments(path, "local", ports, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    stack.up()
    kept = stack.root / "generated" / "grafana" / "admin_password"
    password = kept.read_text()

    # without --include-secrets: neither the password nor the secret files; restore says what is missing
    plain = tmp_path / "plain.tar.gz"
    made = stack.run("backup", str(stack.spec), "-o", str(plain))
    assert made.returncode == 0, made.stderr
    assert password not in made.stdout + made.stderr
    with tarfile.open(plain) as tar:
        manifest = json.load(tar.extractfile("MANIFEST.json"))  # type: ignore[arg-type]
        assert "data/grafana/grafana.db" in tar.getnames()
        assert all(
            password.encode() not in tar.extractfile(m).read()
            for m in tar
            if m.isfile() and m.name != "data/grafana/grafana.db"
        )  # type: ignore[union-attr]
    assert manifest["components"]["grafana"]["method"] == "freeze"
    assert {"path": "generated/grafana/admin_password", "what": "a secret promstack generated"} in manifest["left_out"]
    assert "left out" in made.stdout and "generated/grafana/admin_password" in made.stdout

    # with it: the same password comes back with the database that expects it, and Grafana's reload works
    full = tmp_path / "full.tar.gz"
    assert stack.run("backup", str(stack.spec), "--include-secrets", "-o", str(full)).returncode == 0
    assert stack.run("down", str(stack.spec), "--volumes").returncode == 0
    missing = stack.run("restore", str(stack.spec), str(plain))
    assert missing.returncode == 0, missing.stderr
    assert "holds no generated password" in missing.stdout
    assert "generated secret grafana/admin_password (not in the backup" in missing.stdout
    again = stack.run("restore", str(stack.spec), str(full), "--replace")
    assert again.returncode == 0, again.stderr
    assert kept.read_text() == password and stat.S_IMODE(kept.stat().st_mode) == 0o600
    stack.up()
    spec["dashboards"] = {"folder": "Renamed"}  # a change Grafana reloads through its admin API
    write_spec(spec)
    assert "reload grafana" in stack.up().stdout


@pytest.mark.live
def test_an_interrupted_backup_leaves_no_file(
    write_spec: Callable[..., Path], port: Callable[[], int], deployments: Callable[..., Deployment], tmp_path: Path
) -> None:
    """SIGTERM once everything is written into the partial file, just before it would be renamed: no FILE,
    no partial file, and the backup says it was interrupted. (PROMSTACK_TEST_PAUSE_AT stops it there.)"""
    need_binaries()
    ports = free_ports(port, "prometheus", "alertmanager", "node")
    stack = deployments(write_spec(base_spec(ports, "bkstop")), "local", ports)
    stack.up()
    archive = tmp_path / "stopped.tar.gz"
    with subprocess.Popen(
        [PROMSTACK, "backup", str(stack.spec), "-o", str(archive)],
        env={**stack.env, "PROMSTACK_TEST_PAUSE_AT": "backup-written"},
        stderr=subprocess.PIPE,
        text=True,
    ) as backup:
        assert backup.stderr is not None
        for line in backup.stderr:
            if "paused at backup-written" in line:
                break
        partial = tmp_path / ".stopped.tar.gz.partial"
        assert partial.stat().st_size > 0 and stat.S_IMODE(partial.stat().st_mode) == 0o600
        backup.send_signal(signal.SIGTERM)
        assert backup.wait(timeout=60) == 143  # 128 + SIGTERM, unwound like Ctrl-C
        assert "interrupted" in backup.stderr.read()
    assert sorted(p.name for p in tmp_path.iterdir() if "stopped" in p.name) == []
    # and the snapshot it took is not left in Prometheus' data either
    assert not any((stack.root / "data" / "prometheus" / "snapshots").glob("*"))
