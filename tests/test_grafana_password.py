"""Grafana's admin password is never admin/admin: the spec's secret, or one generated once and kept.

`generate` keeps the generated password of the output folder it replaces (same spec, same bytes);
`up` keeps it in the state dir (it outlives `down`, like the Grafana data that depends on it), says
where it is and never prints it.

No Grafana binary or image exists here, so the live test runs a stand-in `grafana` on PATH (below): a
small HTTP server that reads what Grafana reads (GF_SERVER_HTTP_ADDR/PORT, GF_SECURITY_ADMIN_USER and
GF_SECURITY_ADMIN_PASSWORD__FILE) and, like Grafana, refuses its admin API without that login. What is
tested is promstack: the file it hands over, the login it uses for the provisioning reload, what it prints.
"""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from test_runtime_local import Deployment, base_spec, deployment_factory, free_ports, need_binaries
from typer.testing import CliRunner

from generator.cli import app

SECRET = Path("secrets/grafana/admin_password")
SPEC = """\
version: 1
name: shop
components:
  grafana: {}
alerts: {packs: none}
notifications:
  receivers: [{name: team, email: {to: ops@example.com}}]
  smtp: {smarthost: "smtp.example.com:587", from: alerts@example.com}
  default_receiver: team
"""

STAND_IN = """\
#!{python}
# Stand-in for the Grafana server (none is installed here): health, metrics and the admin API behind
# the admin login Grafana would create from GF_SECURITY_ADMIN_USER / GF_SECURITY_ADMIN_PASSWORD__FILE.
import base64, json, os
from http.server import BaseHTTPRequestHandler, HTTPServer

USER = os.environ["GF_SECURITY_ADMIN_USER"]
with open(os.environ["GF_SECURITY_ADMIN_PASSWORD__FILE"]) as f:
    PASSWORD = f.read()
LOGIN = "Basic " + base64.b64encode(f"{{USER}}:{{PASSWORD}}".encode()).decode()


class Handler(BaseHTTPRequestHandler):
    def answer(self, code, body, kind="application/json"):
        data = body.encode()
        self.send_response(code)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path == "/api/health":
            self.answer(200, json.dumps({{"database": "ok", "version": "stand-in"}}))
        elif self.path == "/metrics":
            self.answer(200, 'grafana_build_info{{version="stand-in"}} 1\\n', "text/plain; version=0.0.4")
        else:
            self.answer(404, "{{}}")

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if not self.path.startswith("/api/admin/"):
            self.answer(404, "{{}}")
        elif self.headers.get("Authorization") != LOGIN:
            self.answer(401, json.dumps({{"message": "invalid username or password"}}))
        else:
            self.answer(200, json.dumps({{"message": "reloaded"}}))

    def log_message(self, *args):
        pass


address = (os.environ.get("GF_SERVER_HTTP_ADDR", "0.0.0.0"), int(os.environ["GF_SERVER_HTTP_PORT"]))
HTTPServer(address, Handler).serve_forever()
"""


def generate(spec: Path, out: Path, **env: str) -> tuple[int, str]:
    result = CliRunner(env=env).invoke(app, ["generate", str(spec), "-o", str(out)])
    return result.exit_code, result.output


@pytest.fixture
def spec(tmp_path: Path) -> Path:
    path = tmp_path / "stack.yaml"
    path.write_text(SPEC)
    return path


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_generated_once_then_kept(spec: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = generate(spec, out)
    assert code == 0, output
    password = (out / SECRET).read_text()
    assert len(password) == 32 and password != "admin"  # token_urlsafe(24): 192 random bits
    assert _mode(out / SECRET) == 0o600 and _mode(out / SECRET.parent) == 0o700
    assert password not in output

    code, output = generate(spec, out)  # the same folder again: the same password, the same bytes
    assert code == 0, output
    assert (out / SECRET).read_text() == password
    assert _mode(out / SECRET) == 0o600
    assert password not in output

    # nowhere else in the tree: compose.yaml only names the file Grafana reads it from
    for path in out.rglob("*"):
        if path.is_file() and path != out / SECRET:
            assert password not in path.read_text(errors="replace"), path
    compose = (out / "compose.yaml").read_text()
    assert "GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/promstack/admin_password" in compose

    # a new folder is a new stack: a new password, not one derived from the spec
    code, _ = generate(spec, tmp_path / "elsewhere")
    assert code == 0
    assert (tmp_path / "elsewhere" / SECRET).read_text() != password


def test_the_spec_password_is_used(spec: Path, tmp_path: Path) -> None:
    spec.write_text(SPEC.replace("grafana: {}", "grafana: {admin_password: {env: GF_ADMIN_PW}}"))
    out = tmp_path / "out"
    code, output = generate(spec, out, GF_ADMIN_PW="pw-from-the-environment")
    assert code == 0, output
    assert (out / SECRET).read_text() == "pw-from-the-environment"
    assert _mode(out / SECRET) == 0o600
    assert "pw-from-the-environment" not in output
    assert generate(spec, out, GF_ADMIN_PW="second")[0] == 0
    assert (out / SECRET).read_text() == "second"
    # without one in the spec, the output's password stays what it was (Grafana applies an admin password
    # only when it creates its database, so a new one would no longer match the running Grafana)
    spec.write_text(SPEC)
    assert generate(spec, out)[0] == 0
    assert (out / SECRET).read_text() == "second"


def test_check_needs_no_password(spec: Path, tmp_path: Path) -> None:
    """`check` renders with placeholders: it generates nothing and leaves nothing behind."""
    result = CliRunner().invoke(app, ["check", str(spec)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["stack.yaml"]


# --- live: `up` on the local runtime with the stand-in ------------------------------------------------------
@pytest.fixture
def deployments(tmp_path: Path) -> Iterator[Callable[..., Deployment]]:
    yield from deployment_factory(tmp_path)


@pytest.mark.live
@pytest.mark.xdist_group("runtime-local")
def test_up_generates_keeps_and_tells_where(
    write_spec: Callable[..., Path],
    port: Callable[[], int],
    tmp_path: Path,
    deployments: Callable[..., Deployment],
) -> None:
    need_binaries()
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    grafana = bin_dir / "grafana"
    grafana.write_text(STAND_IN.format(python=sys.executable))
    grafana.chmod(0o755)

    ports = free_ports(port, "prometheus", "alertmanager", "node", "grafana")
    spec = base_spec(ports, "gfpw")
    spec["components"]["grafana"] = {"port": ports["grafana"]}
    path = write_spec(spec)
    stack = deployments(path, "local", ports, PATH=f"{bin_dir}{os.pathsep}{os.environ['PATH']}")

    result = stack.up()
    kept = stack.root / "generated" / "grafana" / "admin_password"
    assert f"Grafana login user 'admin', password in {kept} (generated once, owner-only)" in result.stdout
    password = kept.read_text().strip()
    assert len(password) == 32
    assert _mode(kept) == 0o600 and _mode(kept.parent) == 0o700
    # Grafana reads the same value from its secret file in the live tree
    assert (stack.root / "tree" / SECRET).read_text() == password
    outputs = [result.stdout + result.stderr]

    # a change Grafana reloads: the reload goes through the admin API with that login (else: 401, up fails)
    spec["dashboards"] = {"folder": "Renamed"}
    write_spec(spec)
    result = stack.up()
    assert "reload grafana" in result.stdout
    outputs.append(result.stdout + result.stderr)
    report = stack.status()
    assert report["components"]["grafana"]["health"] == "healthy"
    assert report["components"]["grafana"]["version"] == "stand-in"

    # down keeps it (Grafana's data, which holds the admin user, is kept too); --volumes removes it
    down = stack.run("down", str(path))
    assert down.returncode == 0, down.stderr
    outputs.append(down.stdout + down.stderr)
    result = stack.up()
    outputs.append(result.stdout + result.stderr)
    assert kept.read_text().strip() == password
    assert (stack.root / "tree" / SECRET).read_text() == password
    assert all(password not in text for text in outputs)
    stack.close()
    assert not kept.exists()
