"""A component the local runtime cannot run here (cAdvisor: Debian packages none) is left out with its alerts and
dashboard by `generate --runtime local` and `up` alike, and `check` says so; the compose rendering keeps it.

PATH is set to a folder holding only the tools the checks run and the core servers (whose versions the local
rendering asks), so no cAdvisor is found whatever the machine has. The live `up` is in test_runtime_local.py.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import skip_or_fail
from typer.testing import CliRunner

from generator import pipeline
from generator.cli import app

TOOLS = ("promtool", "amtool", "prometheus", "prometheus-alertmanager", "alertmanager", "python3")
LINE = "left out on the local runtime, with its alerts and dashboard: cadvisor is not installed"


@pytest.fixture
def no_cadvisor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "bin"
    folder.mkdir()
    for name in TOOLS:
        found = shutil.which(name)
        if found:
            (folder / name).symlink_to(found)
    monkeypatch.setenv("PATH", str(folder))
    return folder


SPEC: dict[str, Any] = {
    "components": {"grafana": {"port": 3300}},
    "exporters": {"node": {}, "cadvisor": {}},
}


def test_local_rendering_leaves_cadvisor_out_with_its_rules_and_dashboard(
    no_cadvisor: Path, write_spec: Callable[..., Path]
) -> None:
    (no_cadvisor / "grafana").symlink_to("/bin/true")  # a Grafana binary, so its dashboards are rendered
    spec = write_spec(**SPEC)
    local = pipeline.render_spec(spec, "local", leave_out=True)
    compose = pipeline.render_spec(spec, "compose", leave_out=True)
    assert not pipeline.render_spec(spec, "local").left_out  # the rendering the checks prove is whole
    assert set(local.left_out) == {"cadvisor"} and not compose.left_out
    assert local.left_out["cadvisor"].startswith("cadvisor is not installed: none of cadvisor is on PATH")
    assert "prometheus/rules/cadvisor.yml" in compose.tree.files
    assert "prometheus/rules/cadvisor.yml" not in local.tree.files
    assert "job_name: cadvisor" in compose.tree.files["prometheus/prometheus.yml"]
    assert "job_name: cadvisor" not in local.tree.files["prometheus/prometheus.yml"]
    assert "promstack-containers" in compose.tree.dashboards and "promstack-containers" not in local.tree.dashboards
    assert "promstack-node" in local.tree.dashboards  # the rest of the stack is whole


def test_generate_and_check_say_what_the_local_runtime_leaves_out(
    no_cadvisor: Path, write_spec: Callable[..., Path], tmp_path: Path
) -> None:
    if not (no_cadvisor / "promtool").exists() or not (no_cadvisor / "amtool").exists():
        skip_or_fail("needs promtool and amtool (Debian packages prometheus and prometheus-alertmanager)")
    spec = write_spec(**{**SPEC, "components": {"grafana": {"enabled": False}}})
    generated = CliRunner(env={"HOOK_URL": "http://127.0.0.1:9/hook"}).invoke(
        app, ["generate", str(spec), "-o", str(tmp_path / "out"), "--runtime", "local"]
    )
    assert generated.exit_code == 0, generated.output
    assert f"note: {LINE}" in generated.stderr
    assert not (tmp_path / "out" / "prometheus" / "rules" / "cadvisor.yml").exists()
    checked = CliRunner().invoke(app, ["check", str(spec)])
    assert checked.exit_code == 0, checked.output
    # check proves the whole spec (cAdvisor's rules too: promtool needs no cAdvisor) and says what `up` would do
    assert f"note: [local] {LINE}" in checked.stdout
    assert "dashboards/lint" in checked.stdout and "rules/lint" in checked.stdout
