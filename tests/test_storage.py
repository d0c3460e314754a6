"""Long-term storage rendered: remote_write targets (Thanos Receive, Mimir) with their tenant headers and
credentials read from files, proven with promtool; the VictoriaMetrics the stack runs (its command line,
relabelling, Prometheus' remote_write to it, Grafana's datasource and the dashboards' `$datasource`)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from test_kubernetes import kubernetes, one
from test_render_prometheus import COMPOSE, build

from generator import dashboard_json, pipeline
from generator.model import Stack
from generator.render import Target, render
from generator.render.args import command, environment
from generator.spec import load_stack
from generator.write import Secrets, write_tree

ROOT = Path(__file__).resolve().parent.parent
MIMIR = {
    "name": "mimir",
    "url": "https://mimir.example.com/api/v1/push",
    "headers": {"X-Scope-OrgID": "team-a"},
    "auth": {"basic": {"username": "promstack", "password": {"env": "MIMIR_PASSWORD"}}},
    "queue": {"capacity": 20000, "max_shards": 30, "batch_send_deadline": "10s"},
    "write_relabel": [{"action": "drop", "source_labels": ["__name__"], "regex": "go_.*"}],
}
THANOS = {
    "name": "thanos",
    "url": "http://thanos-receive.example.com:19291/api/v1/receive",
    "headers": {"THANOS-TENANT": "team-a"},
    "auth": {"bearer": {"env": "THANOS_TOKEN"}},
    "timeout": "30s",
}


def prometheus_yml(stack: Stack, target: Target = COMPOSE, copy: str = "prometheus") -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(render(stack, target).files[f"prometheus/{copy}.yml"])
    return data


def test_thanos_receive_and_mimir_get_their_tenant_headers_and_credentials_from_files() -> None:
    stack = build(storage={"remote_write": [MIMIR, THANOS]})
    mimir, thanos = prometheus_yml(stack)["remote_write"]
    assert mimir == {
        "name": "mimir",
        "url": "https://mimir.example.com/api/v1/push",
        "headers": {"X-Scope-OrgID": "team-a"},
        "basic_auth": {
            "username": "promstack",
            "password_file": "/run/secrets/promstack/remote-write-mimir-password",
        },
        "write_relabel_configs": [{"action": "drop", "source_labels": ["__name__"], "regex": "go_.*"}],
        "queue_config": {"capacity": 20000, "max_shards": 30, "batch_send_deadline": "10s"},
    }
    assert thanos == {
        "name": "thanos",
        "url": "http://thanos-receive.example.com:19291/api/v1/receive",
        "remote_timeout": "30s",
        "headers": {"THANOS-TENANT": "team-a"},
        "authorization": {"type": "Bearer", "credentials_file": "/run/secrets/promstack/remote-write-thanos-token"},
    }
    secrets = render(stack, COMPOSE).secrets
    assert secrets["secrets/prometheus/remote-write-mimir-password"].values["value"].env == "MIMIR_PASSWORD"
    assert secrets["secrets/prometheus/remote-write-thanos-token"].values["value"].env == "THANOS_TOKEN"


def test_promtool_accepts_every_copys_remote_write_and_no_secret_is_in_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    monkeypatch.setenv("MIMIR_PASSWORD", "mimir-Sup3r-password")
    monkeypatch.setenv("THANOS_TOKEN", "thanos-Sup3r-token")
    monkeypatch.setenv("HOOK_URL", "http://127.0.0.1:9/hook")
    stack = build(
        components={"prometheus": {"replicas": 2}},
        storage={"victoriametrics": {}, "remote_write": [MIMIR, THANOS]},
    )
    root = tmp_path / "tree"
    write_tree(render(stack, Target("local", str(root))), root, Secrets(tmp_path), salt="t")
    for copy in ("prometheus", "prometheus-2"):
        config = root / f"prometheus/{copy}.yml"
        done = subprocess.run([promtool, "check", "config", str(config)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, done.stdout + done.stderr
        text = config.read_text()
        assert "mimir-Sup3r-password" not in text and "thanos-Sup3r-token" not in text
        assert [w["name"] for w in yaml.safe_load(text)["remote_write"]] == ["victoriametrics", "mimir", "thanos"]
    password = root / "secrets/prometheus/remote-write-mimir-password"
    assert password.read_text() == "mimir-Sup3r-password" and password.stat().st_mode & 0o077 == 0


def test_victoriametrics_runs_with_its_retention_deduplication_and_no_replica_label() -> None:
    stack = build(
        scrape_interval="30s",
        components={"prometheus": {"replicas": 2}},
        exporters={"node": {"interval": "10s"}},
        storage={"victoriametrics": {"retention": "90d"}},
    )
    flags = command(stack, "victoriametrics", COMPOSE)
    assert flags == [
        "-storageDataPath=/storage",
        "-httpListenAddr=:8428",
        "-retentionPeriod=2160h",
        "-dedup.minScrapeInterval=10000ms",  # the shortest scrape interval: node's
        "-relabelConfig=/etc/victoriametrics/relabel.yml",
    ]
    files = render(stack, COMPOSE).files
    assert yaml.safe_load(files["victoriametrics/relabel.yml"]) == [{"action": "labeldrop", "regex": "replica"}]
    for copy in ("prometheus", "prometheus-2"):
        written = prometheus_yml(stack, copy=copy)["remote_write"]
        assert written == [{"name": "victoriametrics", "url": "http://victoriametrics:8428/api/v1/write"}]
    local = Target("local", "/srv/t")
    assert prometheus_yml(stack, local)["remote_write"][0]["url"] == "http://127.0.0.1:8428/api/v1/write"
    assert "-retentionPeriod=8760h" in command(build(storage={"victoriametrics": {}}), "victoriametrics", COMPOSE)
    service = yaml.safe_load(files["compose.yaml"])["services"]["victoriametrics"]
    assert "victoriametrics-data:/storage" in service["volumes"] and service["cap_drop"] == ["ALL"]


def test_a_protected_victoriametrics_is_written_to_and_read_with_its_credentials() -> None:
    auth = {"basic": {"username": "vm", "password": {"env": "VM_PASSWORD"}}}
    stack = build(storage={"victoriametrics": {"auth": auth}})
    assert "-envflag.enable" in command(stack, "victoriametrics", COMPOSE)
    assert environment(stack, "victoriametrics", COMPOSE) == {"httpAuth_username": "vm"}
    tree = render(stack, COMPOSE)
    assert tree.env["victoriametrics"]["httpAuth_password"].env == "VM_PASSWORD"  # never in a file
    written = prometheus_yml(stack)["remote_write"][0]
    assert written["basic_auth"] == {
        "username": "vm",
        "password_file": "/run/secrets/promstack/victoriametrics-password",
    }
    sources = yaml.safe_load(tree.files["grafana/provisioning/datasources/promstack.yaml"])["datasources"]
    store = next(s for s in sources if s["uid"] == "promstack-victoriametrics")
    assert store["basicAuth"] is True and store["basicAuthUser"] == "vm"
    assert store["secureJsonData"]["basicAuthPassword"].startswith("$__file{")


def test_dashboards_switch_between_prometheus_and_the_long_term_store() -> None:
    """With a store, every dashboard queries `$datasource`, which offers Prometheus (the default) and the
    store; without one, dashboards stay on Prometheus' uid. The dashboard lint accepts both."""
    plain = render(build(exporters={"node": {}}), COMPOSE).files
    node = json.loads(plain["grafana/dashboards/promstack/promstack-node.json"])
    assert "datasource" not in [v["name"] for v in node["templating"]["list"]]
    stored = render(build(exporters={"node": {}}, storage={"victoriametrics": {}}), COMPOSE).files
    sources = yaml.safe_load(stored["grafana/provisioning/datasources/promstack.yaml"])["datasources"]
    store = next(s for s in sources if s["name"] == "VictoriaMetrics")
    assert store["uid"] == "promstack-victoriametrics" and store["url"] == "http://victoriametrics:8428"
    assert store["type"] == "prometheus" and store["isDefault"] is False
    boards = {
        p: json.loads(t) for p, t in stored.items() if p.startswith("grafana/dashboards/") and p.endswith(".json")
    }
    assert "grafana/dashboards/promstack/promstack-victoriametrics.json" in boards
    queried = {p: b for p, b in boards.items() if any(True for _ in dashboard_json.queries(b))}
    assert set(boards) - set(queried) == {"grafana/dashboards/promstack/promstack-runbooks.json"}  # text only
    for path, board in queried.items():
        choice = board["templating"]["list"][0]
        assert choice["type"] == "datasource" and choice["name"] == "datasource", path
        assert choice["current"]["value"] == "promstack-prometheus"
        assert re.fullmatch(choice["regex"].strip("/"), "VictoriaMetrics") and re.fullmatch(
            choice["regex"].strip("/"), "Prometheus"
        )
        uids = {t["datasource"]["uid"] for p in board["panels"] if p["type"] != "row" for t in p["targets"]}
        assert uids == {"${datasource}"}, path


def test_check_passes_with_every_long_term_target(write_spec: Any) -> None:
    spec = write_spec(
        components={"prometheus": {"replicas": 2}, "alertmanager": {"replicas": 3}},
        storage={"victoriametrics": {"retention": "400d"}, "remote_write": [MIMIR, THANOS]},
    )
    report = pipeline.check_spec(spec)
    assert {"prometheus/config", "rules/test", "dashboards/lint"} <= set(report.passed), report


def test_the_readme_examples_are_valid_specs(write_spec: Any) -> None:
    """The High availability and Long-term storage blocks of README.md, as a user would paste them."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## High availability and long-term storage", 1)[1].split("\n## ", 1)[0]
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", section, re.S)]
    assert [list(b) for b in blocks] == [["components"], ["storage"]]
    stack = load_stack(write_spec(**blocks[0], **blocks[1]))
    assert stack.components["alertmanager"].replicas == 3
    assert [w.name for w in stack.storage.remote_write] == ["mimir", "thanos"]
    assert stack.storage.remote_write[1].headers == {"THANOS-TENANT": "team-a"}


def test_kubernetes_takes_the_copies_and_the_remote_write_targets_from_the_model(write_spec: Any) -> None:
    """On Kubernetes the operator runs the copies (`replicas`, Prometheus' replica label, which it drops
    from alerts) and writes where prometheus.yml does: the VictoriaMetrics workload at its Service, the
    spec's targets with the same headers, queue and relabelling, credentials as keys of the stack's
    Secret; the operator wants a username from a Secret too, so they get one of their own."""
    spec = write_spec(
        components={"prometheus": {"replicas": 2}, "alertmanager": {"replicas": 3}},
        storage={"victoriametrics": {}, "remote_write": [MIMIR, THANOS]},
    )
    _, tree = kubernetes(spec)
    prom = one(tree, "Prometheus", "t")["spec"]
    assert prom["replicas"] == 2 and prom["replicaExternalLabelName"] == "replica"
    assert one(tree, "Alertmanager", "t")["spec"]["replicas"] == 3
    assert prom["remoteWrite"] == [
        {"name": "victoriametrics", "url": "http://victoriametrics.t.svc:8428/api/v1/write"},
        {
            "name": "mimir",
            "url": "https://mimir.example.com/api/v1/push",
            "headers": {"X-Scope-OrgID": "team-a"},
            "basicAuth": {
                "username": {"name": "t-remote-write-usernames", "key": "mimir-username"},
                "password": {"name": "t-secrets", "key": "MIMIR_PASSWORD"},
            },
            "writeRelabelConfigs": [{"action": "drop", "sourceLabels": ["__name__"], "regex": "go_.*"}],
            "queueConfig": {"capacity": 20000, "maxShards": 30, "batchSendDeadline": "10s"},
        },
        {
            "name": "thanos",
            "url": "http://thanos-receive.example.com:19291/api/v1/receive",
            "remoteTimeout": "30s",
            "headers": {"THANOS-TENANT": "team-a"},
            "authorization": {"type": "Bearer", "credentials": {"name": "t-secrets", "key": "THANOS_TOKEN"}},
        },
    ]
    assert one(tree, "Secret", "t-remote-write-usernames")["stringData"] == {"mimir-username": "promstack"}
    assert one(tree, "Deployment", "victoriametrics")["spec"]["replicas"] == 1
    notes = tree.files["kubernetes/README.md"]
    assert "MIMIR_PASSWORD" in notes and "THANOS_TOKEN" in notes  # the keys to create
    single = one(kubernetes(write_spec({"name": "u"}, name="single.yaml"))[1], "Prometheus", "u")["spec"]
    assert single["replicas"] == 1 and single["replicaExternalLabelName"] == "" and "remoteWrite" not in single
