"""prometheus/prometheus.yml: jobs, labels, auth, timing; proven with promtool and a real Prometheus 2.42."""

from __future__ import annotations

import fnmatch
import json
import shutil
import subprocess
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator.checks import CheckContext, prometheus_config
from generator.model import Stack
from generator.render import Target, render
from generator.render.args import command
from generator.render.prometheus import HOST_REGEX
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


def build(**spec: Any) -> Stack:
    return stack_from_text(yaml.safe_dump({**BASE, **spec}, sort_keys=False))


def config(stack: Stack, target: Target = COMPOSE) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(render(stack, target).files["prometheus/prometheus.yml"])
    return data


def jobs(stack: Stack, target: Target = COMPOSE) -> dict[str, dict[str, Any]]:
    return {job["job_name"]: job for job in config(stack, target)["scrape_configs"]}


FULL: dict[str, Any] = {
    "exporters": {
        "node": {},
        "blackbox": {"probes": [{"name": "site", "module": "tcp_connect", "targets": ["db:5432"]}]},
        "redis": {"targets": ["redis-a:6379", "redis-b:6379"]},
        "pushgateway": {},
        "rabbitmq": {"targets": ["rabbit:15692"]},
    },
    "services": [{"name": "api", "targets": ["api:8000"], "labels": {"team": "backend"}}],
    "demo": {"enabled": True},
}


def test_jobs_come_in_the_fixed_order() -> None:
    names = list(jobs(build(**FULL)))
    assert names == [
        "prometheus",
        "alertmanager",
        "grafana",
        "node-exporter",
        "blackbox-exporter",
        "blackbox-site",
        "pushgateway",
        "redis-exporter",
        "rabbitmq",
        "api",
        "demo",
    ]


def test_global_section_and_alerting() -> None:
    data = config(build(scrape_interval="30s", evaluation_interval="1m", external_labels={"region": "eu"}))
    assert data["global"] == {
        "scrape_interval": "30s",
        "scrape_timeout": "10s",
        "evaluation_interval": "1m",
        "external_labels": {"stack": "t", "env": "production", "region": "eu"},
    }
    # a wildcard in the last part only (Prometheus refuses others): the per-service folders are named
    assert data["rule_files"] == ["rules/*.yml", "rules/service/*.yml", "rules/slo/*.yml"]
    assert data["alerting"]["alertmanagers"] == [
        {"api_version": "v2", "static_configs": [{"targets": ["alertmanager:9093"]}]}
    ]


def test_prometheus_loads_every_rendered_rule_file() -> None:
    """Each rule file (a service's and an SLO's in their folders) matches a rule_files pattern."""
    http = {"requests": "http_requests_total"}
    stack = build(
        services=[{"name": "api", "targets": ["api:80"], "http": http, "slos": [{"name": "a", "objective": 99}]}]
    )
    tree = render(stack, COMPOSE)
    patterns = [f"prometheus/{p}" for p in yaml.safe_load(tree.files["prometheus/prometheus.yml"])["rule_files"]]
    rule_files = [p for p in tree.files if p.startswith("prometheus/rules/")]
    assert {"prometheus/rules/service/api.yml", "prometheus/rules/slo/api.yml"} <= set(rule_files)
    for path in rule_files:
        assert any(fnmatch.fnmatch(path, p) and p.count("/") == path.count("/") for p in patterns), path


def test_timeouts_never_exceed_the_interval() -> None:
    stack = build(scrape_interval="5s", exporters={"node": {"interval": "3s"}})
    data = config(stack)
    assert data["global"]["scrape_timeout"] == "5s"
    node = {j["job_name"]: j for j in data["scrape_configs"]}["node-exporter"]
    assert (node["scrape_interval"], node["scrape_timeout"]) == ("3s", "3s")


def test_every_job_labels_the_host_first() -> None:
    for job in jobs(build(**FULL)).values():
        first = job["relabel_configs"][0]
        assert first == {"source_labels": ["__address__"], "regex": HOST_REGEX, "target_label": "host"}


def test_multi_target_exporters_rewrite_the_address() -> None:
    found = jobs(build(**FULL))
    redis = found["redis-exporter"]
    assert redis["metrics_path"] == "/scrape"
    assert redis["static_configs"] == [{"targets": ["redis-a:6379", "redis-b:6379"]}]
    assert redis["relabel_configs"][1:] == [
        {"source_labels": ["__address__"], "target_label": "__param_target", "replacement": "redis://$1"},
        {"source_labels": ["__address__"], "target_label": "instance"},
        {"target_label": "__address__", "replacement": "redis-exporter:9121"},
    ]
    probe = found["blackbox-site"]
    assert probe["params"] == {"module": ["tcp_connect"]} and probe["metrics_path"] == "/probe"
    assert probe["static_configs"] == [{"targets": ["db:5432"], "labels": {"probe": "site"}}]
    assert probe["relabel_configs"][-1] == {"target_label": "__address__", "replacement": "blackbox-exporter:9115"}


def test_services_pushgateway_rabbitmq_and_demo() -> None:
    found = jobs(build(**FULL))
    assert found["api"]["static_configs"] == [
        {"targets": ["api:8000"], "labels": {"team": "backend", "service": "api"}}
    ]
    assert found["demo"]["static_configs"][0]["targets"] == ["demo:8000"]
    assert found["pushgateway"]["honor_labels"] is True
    assert found["rabbitmq"]["static_configs"] == [{"targets": ["rabbit:15692"]}]
    local = jobs(build(**FULL), Target("local", "/srv/t"))
    assert local["demo"]["static_configs"][0]["targets"] == ["127.0.0.1:8000"]
    assert local["redis-exporter"]["relabel_configs"][-1]["replacement"] == "127.0.0.1:9121"


def test_service_path_scheme_and_interval() -> None:
    stack = build(
        services=[{"name": "pay", "targets": ["pay:443"], "metrics_path": "/m", "scheme": "https", "interval": "1m"}]
    )
    job = jobs(stack)["pay"]
    assert (job["metrics_path"], job["scheme"], job["scrape_interval"]) == ("/m", "https", "1m")


AUTH: dict[str, Any] = {
    "components": {
        "prometheus": {
            "expose": True,
            "url": "https://prom.example.com",
            "auth": {
                "basic": {"username": "ops", "password": {"env": "PROM_PW"}},
                "tls": {"cert": {"file": "c.pem"}, "key": {"file": "k.pem"}},
            },
        },
        "alertmanager": {"auth": {"basic": {"username": "am", "password": {"env": "AM_PW"}}}},
    },
    "exporters": {"cadvisor": {}},  # it takes no auth: validation refuses it (tests/test_exposure.py)
}


def test_protected_components_are_scraped_with_credentials() -> None:
    stack = build(**AUTH)
    data = config(stack)
    found = {j["job_name"]: j for j in data["scrape_configs"]}
    assert found["prometheus"]["scheme"] == "https"
    assert found["prometheus"]["tls_config"] == {
        "ca_file": "/run/secrets/promstack/prometheus-ca.crt",
        "server_name": "prom.example.com",
    }
    assert found["prometheus"]["basic_auth"] == {
        "username": "ops",
        "password_file": "/run/secrets/promstack/prometheus-password",
    }
    assert data["alerting"]["alertmanagers"][0]["basic_auth"]["username"] == "am"
    assert "basic_auth" not in found["cadvisor"]  # cAdvisor cannot check credentials: none are sent to it
    tree = render(stack, COMPOSE)
    assert tree.secrets["secrets/prometheus/prometheus-password"].values["value"].env == "PROM_PW"
    assert tree.secrets["secrets/prometheus/alertmanager-password"].values["value"].env == "AM_PW"
    assert tree.secrets["secrets/prometheus/prometheus-ca.crt"].values["value"].file == "c.pem"


def test_local_rendering_is_accepted_by_promtool(tmp_path: Path) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    stack = build(**{**FULL, **AUTH, "exporters": {**FULL["exporters"], **AUTH["exporters"]}})
    root = tmp_path / "tree"
    write_tree(render(stack, Target("local", str(root))), root, Secrets(tmp_path, placeholders=True), salt="t")
    result = subprocess.run(
        [promtool, "check", "config", str(root / "prometheus/prometheus.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    web = subprocess.run(
        [promtool, "check", "web-config", str(root / "secrets/alertmanager/web-config.yml")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert web.returncode == 0, web.stderr


def test_promtool_rejects_what_the_check_would_catch(tmp_path: Path) -> None:
    """The prometheus/config check reports promtool's own words as a sentence."""
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (Debian package prometheus)")
    stack = build()
    (tmp_path / "prometheus").mkdir()
    (tmp_path / "prometheus/prometheus.yml").write_text("global:\n  scrape_interval: 15s\n  bogus_key: 1\n")
    ctx = CheckContext(stack, render(stack, Target("local", str(tmp_path))), tmp_path, Target("local", str(tmp_path)))
    failures = [p.message for p in prometheus_config.run(ctx)]
    assert len(failures) == 1
    assert failures[0].startswith("promtool check config rejected prometheus/prometheus.yml: ")
    assert "bogus_key" in failures[0] and failures[0].endswith(".")


def test_replicas_label_what_they_send_and_drop_it_from_alerts(tmp_path: Path) -> None:
    """Prometheus copies differ only in their `replica` external label; their alerts drop it (Alertmanager
    then merges the copies' alerts into one), and they send to every Alertmanager copy."""
    single = config(build())
    assert "replica" not in single["global"]["external_labels"] and "alert_relabel_configs" not in single["alerting"]
    stack = build(components={"prometheus": {"replicas": 2}, "alertmanager": {"replicas": 3}})
    files = render(stack, COMPOSE).files
    first, second = (yaml.safe_load(files[f"prometheus/{n}.yml"]) for n in ("prometheus", "prometheus-2"))
    assert first["global"]["external_labels"] == {"stack": "t", "env": "production", "replica": "prometheus"}
    assert second["global"]["external_labels"]["replica"] == "prometheus-2"
    second["global"]["external_labels"]["replica"] = "prometheus"
    assert first == second
    assert first["alerting"]["alert_relabel_configs"] == [{"action": "labeldrop", "regex": "replica"}]
    targets = ["alertmanager:9093", "alertmanager-2:9093", "alertmanager-3:9093"]
    assert first["alerting"]["alertmanagers"][0]["static_configs"] == [{"targets": targets}]
    scraped = {job["job_name"]: job["static_configs"][0]["targets"] for job in first["scrape_configs"]}
    assert scraped["prometheus"] == ["prometheus:9090", "prometheus-2:9090"] and scraped["alertmanager"] == targets
    if shutil.which("promtool") is None:
        return
    # the check runs promtool on every copy's config, and names the one it rejects
    target = Target("local", str(tmp_path))
    tree = render(stack, target)
    write_tree(tree, tmp_path, Secrets(tmp_path, placeholders=True), salt="t")
    ctx = CheckContext(stack, tree, tmp_path, target)
    assert prometheus_config.run(ctx) == []
    (tmp_path / "prometheus/prometheus-2.yml").write_text("global:\n  bogus_key: 1\n")
    failures = [p.message for p in prometheus_config.run(ctx)]
    assert len(failures) == 1 and failures[0].startswith("promtool check config rejected prometheus/prometheus-2.yml")


@pytest.fixture
def prometheus_process(tmp_path: Path, port: Callable[[], int]) -> Iterator[tuple[str, Path]]:
    """A real Prometheus (Debian 2.42) started from the local rendering with `command()`."""
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    spec = {
        **FULL,
        "components": {"prometheus": {"port": port()}, "alertmanager": {"port": port()}, "grafana": {"enabled": False}},
        "exporters": {**FULL["exporters"], "node": {"port": port()}},
        "services": [{"name": "api", "targets": ["api.internal:8000"]}, {"name": "v6", "targets": ["[::1]:8001"]}],
    }
    spec["exporters"]["blackbox"] = {
        "port": port(),
        "probes": [{"name": "site", "module": "http_2xx", "targets": ["https://user@www.example.com:8443/health?x=1"]}],
    }
    spec["exporters"]["redis"] = {"port": port(), "targets": ["redis-a:6379"]}
    spec["exporters"]["pushgateway"] = {"port": port()}
    stack = build(**spec)
    root = tmp_path / "tree"
    target = Target("local", str(root))
    write_tree(render(stack, target), root, Secrets(tmp_path, placeholders=True), salt="t")
    flags = command(stack, "prometheus", target, data_dir=str(tmp_path / "data"))
    process = subprocess.Popen([binary, *flags], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield f"http://127.0.0.1:{stack.components['prometheus'].port}", root
    finally:
        process.terminate()
        process.wait(timeout=20)


@pytest.mark.live
def test_real_prometheus_applies_the_relabelling(prometheus_process: tuple[str, Path]) -> None:
    url, _ = prometheus_process
    deadline = time.monotonic() + 30
    targets: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/targets", timeout=2) as response:
                targets = json.load(response)["data"]["activeTargets"]
        except OSError:
            targets = []
        if len(targets) >= 9:
            break
        time.sleep(0.3)
    labels = {t["labels"]["job"]: (t["labels"], t["scrapeUrl"]) for t in targets}
    assert labels["prometheus"][0]["host"] == "127.0.0.1"
    assert labels["api"][0]["host"] == "api.internal" and labels["api"][0]["service"] == "api"
    assert labels["v6"][0]["host"] == "[::1]"
    probe, probe_url = labels["blackbox-site"]
    assert probe["host"] == "www.example.com" and probe["probe"] == "site"
    assert probe["instance"] == "https://user@www.example.com:8443/health?x=1"
    assert "/probe?module=http_2xx&target=https" in probe_url
    redis, redis_url = labels["redis-exporter"]
    assert (redis["host"], redis["instance"]) == ("redis-a", "redis-a:6379")
    assert redis_url.endswith("/scrape?target=redis%3A%2F%2Fredis-a%3A6379")
    assert labels["demo"][0]["service"] == "demo"
