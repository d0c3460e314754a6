"""The Kubernetes export (`generate --runtime kubernetes`): prometheus-operator resources and core objects
that validate against their schemas (the operator's CRDs, vendored, strict; Kubernetes' own through
kubernetes-validate), rule groups promtool accepts, an Alertmanager config amtool accepts, and the same
alerts, routes and dashboards as compose and local.

No Kubernetes API server exists here: nothing is applied to a cluster. What a cluster would refuse at
admission (the schemas) and what Prometheus and Alertmanager would refuse at load (promtool, amtool) is
proven offline, on the resources themselves.
"""

from __future__ import annotations

import json
import shutil
import string
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from conftest import skip_or_fail
from typer.testing import CliRunner

from generator import catalog, conventions, pipeline, rules_catalog
from generator.checks import alertmanager_config
from generator.cli import app
from generator.errors import PromstackError
from generator.kubernetes import names, unpack, validate
from generator.model import Stack
from generator.render import Target, Tree, render
from generator.render.kubernetes_scrape import scrape_config
from generator.spec import load_stack

ROOT = Path(__file__).resolve().parent.parent
CLUSTER = ROOT / "stack" / "examples" / "kubernetes" / "cluster.yaml"
SPECS = {
    "example": ROOT / "stack" / "stack.yaml",
    "large": ROOT / "stack" / "examples" / "large.yaml",
    "cluster": CLUSTER,
}
# the specs that also run on compose and local (cluster.yaml only renders for Kubernetes)
EVERYWHERE = ["example", "large"]


def kubernetes(spec: Path) -> tuple[Stack, Tree]:
    stack = load_stack(spec, runtime=names.RUNTIME)
    return stack, render(stack, Target(names.RUNTIME, "/promstack"))


def resources(tree: Tree, kind: str | None = None) -> list[dict[str, Any]]:
    return [obj for _, obj in unpack.objects(tree) if kind is None or obj["kind"] == kind]


def one(tree: Tree, kind: str, name: str) -> dict[str, Any]:
    (found,) = [obj for obj in resources(tree, kind) if obj["metadata"]["name"] == name]
    return found


# ---- every resource is schema-valid --------------------------------------------------------------


@pytest.mark.parametrize("case", sorted(SPECS))
def test_every_resource_validates_against_the_operator_and_kubernetes_schemas(case: str) -> None:
    core = validate.CoreSchemas()
    if core.missing:
        skip_or_fail(core.missing)
    _, tree = kubernetes(SPECS[case])
    objects = resources(tree)
    problems = [problem for obj in objects for problem in validate.problems(obj, core)]
    assert problems == []
    kinds = {obj["kind"] for obj in objects}
    assert {"Namespace", "Prometheus", "Alertmanager", "ServiceMonitor", "PrometheusRule", "ConfigMap"} <= kinds
    assert {"Service", "Secret", "ServiceAccount", "ClusterRole", "ClusterRoleBinding"} <= kinds
    assert {"Probe", "ScrapeConfig"} <= kinds
    # every namespaced object is in the stack's namespace
    cluster_wide = {"Namespace", "ClusterRole", "ClusterRoleBinding"}
    spaces = {obj["metadata"].get("namespace") for obj in objects if obj["kind"] not in cluster_wide}
    assert spaces == {load_stack(SPECS[case], runtime=names.RUNTIME).kubernetes.namespace}


def test_the_schemas_are_strict_and_name_what_is_wrong() -> None:
    core = validate.CoreSchemas()
    if core.missing:
        skip_or_fail(core.missing)
    _, tree = kubernetes(SPECS["example"])
    prometheus = one(tree, "Prometheus", "shop")
    prometheus["spec"]["scrapeIntervall"] = "15s"  # a typo the API server would drop without a word
    prometheus["spec"]["retention"] = "30 days"
    assert validate.problems(prometheus, core) == [
        "Prometheus shop: .spec: Additional properties are not allowed ('scrapeIntervall' was unexpected)",
        "Prometheus shop: .spec.retention: '30 days' does not match "
        "'^(0|(([0-9]+)y)?(([0-9]+)w)?(([0-9]+)d)?(([0-9]+)h)?(([0-9]+)m)?(([0-9]+)s)?(([0-9]+)ms)?)$'",
    ]
    monitor = one(tree, "ServiceMonitor", "node-exporter")
    monitor["spec"]["endpoints"][0]["relabelings"][0]["target_label"] = "host"  # prometheus.yml's spelling
    assert validate.problems(monitor, core) == [
        "ServiceMonitor node-exporter: .spec.endpoints[0].relabelings[0]: Additional properties are not allowed "
        "('target_label' was unexpected)"
    ]
    daemonset = one(tree, "DaemonSet", "node-exporter")
    daemonset["spec"]["template"]["spec"]["containers"][0]["imagePullPolicy"] = "Sometimes"
    daemonset["spec"]["template"]["spec"]["hostNetwrok"] = True
    found = validate.problems(daemonset, core)
    assert len(found) == 1 and found[0].startswith("DaemonSet node-exporter: ")
    assert "hostNetwrok" in found[0] or "Sometimes" in found[0]
    unknown = {"apiVersion": "monitoring.coreos.com/v1", "kind": "PodMonitor", "metadata": {"name": "x"}}
    assert validate.problems(unknown, core) == [
        "PodMonitor x: no vendored schema for monitoring.coreos.com/v1 PodMonitor"
    ]


# ---- what the resources hold passes the real tools ------------------------------------------------


@pytest.mark.parametrize("case", sorted(SPECS))
def test_promtool_accepts_the_groups_of_each_prometheus_rule(case: str, tmp_path: Path) -> None:
    if shutil.which("promtool") is None:
        skip_or_fail("promtool is not installed (Debian package prometheus)")
    _, tree = kubernetes(SPECS[case])
    rules = resources(tree, "PrometheusRule")
    assert len(rules) >= 5
    for rule in rules:
        path = tmp_path / f"{rule['metadata']['name']}.yml"
        path.write_text(yaml.safe_dump({"groups": rule["spec"]["groups"]}, sort_keys=False))
        done = subprocess.run(["promtool", "check", "rules", str(path)], capture_output=True, text=True, check=False)
        assert done.returncode == 0, (rule["metadata"]["name"], done.stdout + done.stderr)


SNAKE = {"sourceLabels": "source_labels", "targetLabel": "target_label"}


@pytest.mark.parametrize("case", sorted(SPECS))
def test_promtool_accepts_the_relabelling_of_every_monitor_and_probe(case: str, tmp_path: Path) -> None:
    """The relabel rules of ServiceMonitors and Probes (ScrapeConfigs are prometheus.yml's own jobs), as the
    operator writes them into prometheus.yml; in static jobs: Debian's promtool has no Kubernetes discovery."""
    if shutil.which("promtool") is None:
        skip_or_fail("promtool is not installed (Debian package prometheus)")
    _, tree = kubernetes(SPECS[case])
    jobs = []
    for obj in resources(tree, "ServiceMonitor") + resources(tree, "Probe"):
        if obj["kind"] == "Probe":
            rules = obj["spec"]["targets"]["staticConfig"]["relabelingConfigs"]
        else:
            (endpoint,) = obj["spec"]["endpoints"]
            rules = endpoint["relabelings"]
        relabel = [{SNAKE.get(k, k): v for k, v in rule.items()} for rule in rules]
        name = f"{obj['kind']}-{obj['metadata']['name']}"
        jobs.append({"job_name": name, "static_configs": [{"targets": ["x:1"]}], "relabel_configs": relabel})
    assert len(jobs) >= 4
    config = tmp_path / "prometheus.yml"
    config.write_text(yaml.safe_dump({"scrape_configs": jobs}, sort_keys=False))
    done = subprocess.run(["promtool", "check", "config", str(config)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("case", sorted(SPECS))
def test_check_runtime_kubernetes_proves_the_resources_and_what_they_hold(case: str) -> None:
    """The resources against their schemas; promtool on the PrometheusRules' groups and their unit tests; amtool
    on the config Secret's alertmanager.yaml (check-config, every route test, the templates); both lints."""
    if shutil.which("promtool") is None or shutil.which("amtool") is None:
        skip_or_fail("promtool and amtool are needed (Debian packages prometheus, prometheus-alertmanager)")
    report = pipeline.check_spec(SPECS[case], runtime=names.RUNTIME)
    wanted = {"kubernetes/resources", "rules/check", "rules/test", "rules/lint", "alertmanager/config", "routes/test"}
    assert wanted | {"routes/inhibit", "dashboards/lint"} <= set(report.passed)
    # nothing compose- or host-specific runs on a Kubernetes tree, and nothing is quietly skipped
    assert not {"prometheus/config", "compose/config"} & (set(report.passed) | set(report.skipped))
    assert set(report.skipped) <= {"dashboards/live"}
    # an amtool older than the Alertmanager that runs reads a file field it predates inline, and says so
    version = alertmanager_config.amtool_version(shutil.which("amtool") or "amtool")
    notes = [p.message for p in report.problems if p.check == "alertmanager/config" and p.severity == "info"]
    if case == "large" and version is not None and version < (0, 26):
        assert notes == [
            f"amtool {version[0]}.{version[1]} predates payments: webhook_configs.url_file: checked with that "
            "secret inline as a placeholder; the Alertmanager that runs reads it from the file"
        ]
    elif case != "large":
        assert notes == []


def test_a_broken_resource_fails_the_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """The check reads the rendered resources: one the schema refuses is an error naming file and path."""
    from generator.render import kubernetes_operator

    original = kubernetes_operator.prometheus

    def broken(stack: Stack, target: Target) -> list[dict[str, Any]]:
        found = original(stack, target)
        found[0]["spec"]["evaluationIntervall"] = "15s"
        return found

    monkeypatch.setattr("generator.render.kubernetes.prometheus", broken)
    with pytest.raises(PromstackError) as caught:
        pipeline.check_spec(SPECS["example"], runtime=names.RUNTIME, only=["kubernetes/resources"])
    assert "kubernetes/10-prometheus.yaml: Prometheus shop: .spec: Additional properties are not allowed" in str(
        caught.value
    )


# ---- the same alerts, routes and dashboards on every target -----------------------------------------


def _rules(tree: Tree) -> dict[str, Any]:
    prefix = f"{conventions.PROMETHEUS_RULES_DIR}/"
    return {p: yaml.safe_load(t) for p, t in tree.files.items() if p.startswith(prefix) and "/" not in p[len(prefix) :]}


def _without(rules: dict[str, Any], alerts: set[str]) -> dict[str, Any]:
    return {
        path: {
            "groups": [{**g, "rules": [r for r in g["rules"] if r.get("alert") not in alerts]} for g in data["groups"]]
        }
        for path, data in rules.items()
    }


def _alertnames(rules: dict[str, Any]) -> set[str]:
    return {r["alert"] for data in rules.values() for g in data["groups"] for r in g["rules"] if "alert" in r}


def _alertmanager(stack: Stack, tree: Tree, target: Target) -> dict[str, Any]:
    """alertmanager.yml modulo secret references and addresses: a `*_file` field and an inline secret both
    read `<secret>` under the inline field's name; each component's address reads `<name>`; the templates are
    compared by content, not by where they are mounted."""
    if conventions.ALERTMANAGER_CONFIG in tree.files:
        text = tree.files[conventions.ALERTMANAGER_CONFIG]
    else:  # an Alertmanager that reads some receiver secrets only inline: a secret file with placeholders
        secret = tree.secrets[conventions.ALERTMANAGER_CONFIG]
        text = string.Template(secret.template).substitute(dict.fromkeys(secret.values, "<secret>"))
    for name in stack.components:
        text = text.replace(target.address(stack, name), f"<{name}>")

    def normal(value: Any) -> Any:
        if isinstance(value, dict):
            return {
                (k.removesuffix("_file") if k.endswith("_file") else k): "<secret>"
                if k.endswith("_file")
                else normal(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [normal(v) for v in value]
        return value

    data = normal(yaml.safe_load(text))
    data.pop("templates")
    return data


def _dashboards(tree: Tree) -> dict[str, Any]:
    prefix = f"{conventions.GRAFANA_DASHBOARDS_DIR}/"
    return {p: json.loads(t) for p, t in tree.files.items() if p.startswith(prefix)}


@pytest.mark.parametrize("case", EVERYWHERE)
def test_the_same_spec_gives_the_same_alerts_routes_and_dashboards_on_every_target(case: str) -> None:
    spec = SPECS[case]
    trees: dict[str, tuple[Stack, Tree, Target]] = {}
    for runtime, versions in (("compose", {}), ("local", {"alertmanager": (0, 25)}), (names.RUNTIME, {})):
        target = Target(runtime, "/promstack", versions)
        stack = load_stack(spec, runtime=runtime)
        tree = render(stack, target)
        trees[runtime] = (stack, unpack.unpack(stack, tree) if runtime == names.RUNTIME else tree, target)
    # the rule groups: identical, but for the pack alerts a pack keeps off some runtimes (and says why)
    restricted = {r.name: r.runtimes for r in rules_catalog.alert_index().values() if r.runtimes}
    rules = {runtime: _rules(tree) for runtime, (_, tree, _) in trees.items()}
    assert len({json.dumps(_without(found, set(restricted)), sort_keys=True) for found in rules.values()}) == 1
    for runtime, found in rules.items():
        present = _alertnames(found) & set(restricted)
        expected = {a for a, where in restricted.items() if runtime in where} & _alertnames(rules["local"])
        assert present == expected, runtime
    # the routing tree, inhibitions, time intervals and receivers (modulo secret references), the templates
    routing = {runtime: _alertmanager(*trees[runtime]) for runtime in trees}
    assert routing["compose"] == routing["local"] == routing[names.RUNTIME]
    assert routing["compose"]["route"]["routes"] and routing["compose"]["receivers"]
    templates = {
        tree.files[f"{conventions.ALERTMANAGER_TEMPLATES_DIR}/promstack.tmpl"] for _, tree, _ in trees.values()
    }
    assert len(templates) == 1
    # the dashboards, as JSON
    dashboards = {runtime: _dashboards(tree) for runtime, (_, tree, _) in trees.items()}
    assert dashboards["compose"] and dashboards["compose"] == dashboards["local"] == dashboards[names.RUNTIME]


# ---- the resources say what the spec says ---------------------------------------------------------


def test_prometheus_and_alertmanager_carry_the_spec() -> None:
    _, tree = kubernetes(SPECS["large"])
    spec = one(tree, "Prometheus", "platform")["spec"]
    assert spec["image"] == "mirror.example.com:5000/prom/prometheus:v3.13.2" and spec["version"] == "v3.13.2"
    assert (spec["retention"], spec["retentionSize"]) == ("90d", "100GB")
    assert spec["storage"]["volumeClaimTemplate"]["spec"]["resources"]["requests"]["storage"] == "125Gi"
    assert spec["externalLabels"] == {"stack": "platform", "env": "staging", "region": "eu-west-1", "cluster": "blue"}
    # no operator labels on alerts: they route as on compose and local
    assert spec["prometheusExternalLabelName"] == spec["replicaExternalLabelName"] == ""
    assert (spec["scrapeInterval"], spec["scrapeTimeout"], spec["evaluationInterval"]) == ("30s", "10s", "30s")
    assert spec["resources"]["limits"]["memory"] == "2Gi" and spec["replicas"] == 1
    assert spec["additionalArgs"] == [{"name": "query.max-samples", "value": "20000000"}]
    selector = {"matchLabels": {names.LABEL_STACK: "platform"}}
    assert all(spec[k] == selector for k in ("serviceMonitorSelector", "probeSelector", "scrapeConfigSelector"))
    assert spec["ruleSelector"] == selector
    assert spec["alerting"]["alertmanagers"] == [
        {"namespace": "platform", "name": "alertmanager", "port": "http", "apiVersion": "v2"}
    ]
    manager = one(tree, "Alertmanager", "platform")["spec"]
    assert manager["configSecret"] == "alertmanager-platform" and manager["secrets"] == ["platform-secrets"]
    config = one(tree, "Secret", "alertmanager-platform")["stringData"]
    assert set(config) == {"alertmanager.yaml", "templates-promstack.tmpl"}
    parsed = yaml.safe_load(config["alertmanager.yaml"])
    assert parsed["templates"] == ["/etc/alertmanager/config/templates-*.tmpl"]
    oncall = next(r for r in parsed["receivers"] if r["name"] == "oncall")
    assert oncall["pagerduty_configs"][0]["routing_key_file"] == (
        "/etc/alertmanager/secrets/platform-secrets/PAGERDUTY_ROUTING_KEY"
    )
    # every label selector of the Prometheus finds what the stack renders
    for kind in ("ServiceMonitor", "Probe", "ScrapeConfig", "PrometheusRule"):
        assert all(o["metadata"]["labels"][names.LABEL_STACK] == "platform" for o in resources(tree, kind)), kind


def test_a_service_names_its_kubernetes_service_or_is_scraped_at_its_targets() -> None:
    _, tree = kubernetes(CLUSTER)
    endpoint = one(tree, "ServiceMonitor", "api")["spec"]
    assert endpoint["namespaceSelector"] == {"matchNames": ["storefront"]}
    (api,) = endpoint["endpoints"]
    assert api["port"] == "http-metrics" and "targetPort" not in api
    assert api["relabelings"][0] == {
        "action": "keep",
        "sourceLabels": ["__meta_kubernetes_service_name"],
        "regex": "api",
    }
    assert {"targetLabel": "job", "replacement": "api"} in api["relabelings"]
    assert {"targetLabel": "service", "replacement": "api"} in api["relabelings"]
    (worker,) = one(tree, "ServiceMonitor", "worker")["spec"]["endpoints"]
    assert worker["targetPort"] == 9102 and "port" not in worker
    outside = one(tree, "ScrapeConfig", "payments-gateway")["spec"]
    assert outside["staticConfigs"] == [
        {
            "targets": ["payments.internal.example.com:9100"],
            "labels": {"team": "payments", "service": "payments-gateway"},
        }
    ]
    assert outside["scheme"] == "https" and outside["jobName"] == "payments-gateway"


def test_scrape_configs_are_the_compose_jobs_translated_key_by_key() -> None:
    """A ScrapeConfig holds the prometheus.yml job: its targets, labels, path, parameters and relabelling."""
    stack, tree = kubernetes(SPECS["large"])
    compose = yaml.safe_load(render(load_stack(SPECS["large"]), Target("compose")).files[conventions.PROMETHEUS_CONFIG])
    jobs = {job["job_name"]: job for job in compose["scrape_configs"]}
    checked = 0
    for config in resources(tree, "ScrapeConfig"):
        spec = config["spec"]
        job = jobs[spec["jobName"]]
        assert spec["staticConfigs"] == job["static_configs"]
        assert spec.get("metricsPath") == job.get("metrics_path") and spec.get("scheme") == job.get("scheme")
        for ours, theirs in zip(spec["relabelings"], job["relabel_configs"], strict=True):
            # the address of an exporter is its Service's, not its compose service's
            theirs = {**theirs, "replacement": theirs.get("replacement", "").replace(":9121", "")}
            ours = {**ours, "replacement": ours.get("replacement", "").replace(".platform.svc:9121", "")}
            assert ours == {
                {"source_labels": "sourceLabels", "target_label": "targetLabel"}.get(k, k): v for k, v in theirs.items()
            }
        checked += 1
    assert checked >= 5
    with pytest.raises(RuntimeError, match="no ScrapeConfig spelling"):
        scrape_config(stack, "x", {"job_name": "x", "static_configs": [], "sample_limit": 10})


def test_exporters_run_in_the_cluster_from_their_catalog_entries() -> None:
    _, tree = kubernetes(SPECS["large"])
    node = one(tree, "DaemonSet", "node-exporter")["spec"]["template"]["spec"]
    assert node["hostNetwork"] and node["hostPID"] and node["tolerations"] == [{"operator": "Exists"}]
    assert "--path.procfs=/host/proc" in node["containers"][0]["args"]
    postgres = one(tree, "Deployment", "postgres-exporter")["spec"]["template"]["spec"]["containers"][0]
    assert postgres["env"] == [
        {"name": "DATA_SOURCE_NAME", "valueFrom": {"secretKeyRef": {"name": "platform-secrets", "key": "PG_DSN"}}}
    ]
    mysqld = one(tree, "Deployment", "mysqld-exporter")["spec"]["template"]["spec"]
    assert "--config.my-cnf=/run/secrets/promstack/my.cnf" in mysqld["containers"][0]["args"]
    secrets = next(v for v in mysqld["volumes"] if v["name"] == "secrets")["secret"]
    assert secrets["items"] == [{"key": "mysqld-exporter.my.cnf", "path": "my.cnf"}]
    pushgateway = one(tree, "Deployment", "pushgateway")["spec"]
    assert pushgateway["strategy"] == {"type": "Recreate"}
    assert one(tree, "PersistentVolumeClaim", "pushgateway-data")
    blackbox = one(tree, "ConfigMap", "blackbox-exporter-config")["data"]
    assert "http_2xx" in yaml.safe_load(blackbox["blackbox.yml"])["modules"]
    probe = one(tree, "Probe", "blackbox-website")["spec"]
    assert probe["prober"] == {"url": "blackbox-exporter.platform.svc:9115", "path": "/probe"}
    assert probe["module"] == "http_2xx" and probe["targets"]["staticConfig"]["labels"] == {"probe": "website"}
    # Grafana is the cluster's: its dashboards are ConfigMaps for the sidecar, nothing runs it
    assert not [
        o for o in resources(tree) if o["kind"] in ("Deployment", "Service") and o["metadata"]["name"] == "grafana"
    ]
    board = one(tree, "ConfigMap", "dashboard-promstack-node")
    assert board["metadata"]["labels"]["grafana_dashboard"] == "1"
    assert board["metadata"]["annotations"]["grafana_folder"] == "promstack"
    sources = yaml.safe_load(one(tree, "ConfigMap", "grafana-datasources")["data"]["promstack-datasources.yaml"])
    assert {s["uid"]: (s["url"], s["isDefault"]) for s in sources["datasources"]} == {
        "promstack-prometheus": ("http://prometheus.platform.svc:9090", False),
        "promstack-alertmanager": ("http://alertmanager.platform.svc:9093", False),
    }


def test_kube_state_metrics_runs_on_kubernetes_and_is_scraped_at_its_targets_elsewhere(
    write_spec: Callable[..., Path],
) -> None:
    running = write_spec(exporters={"kube_state_metrics": {}})
    _, tree = kubernetes(running)
    deployment = one(tree, "Deployment", "kube-state-metrics")["spec"]["template"]["spec"]
    assert deployment["serviceAccountName"] == "kube-state-metrics"
    role = one(tree, "ClusterRole", "promstack-t-kube-state-metrics")
    assert {"pods", "nodes", "namespaces"} <= {r for rule in role["rules"] for r in rule["resources"]}
    assert not any("secrets" in rule["resources"] for rule in role["rules"])  # it never reads a secret
    (endpoint,) = one(tree, "ServiceMonitor", "kube-state-metrics")["spec"]["endpoints"]
    assert endpoint["honorLabels"] is True  # the objects' namespace and pod labels stay theirs
    assert one(tree, "PrometheusRule", "kube-state-metrics")
    assert one(tree, "ConfigMap", "dashboard-promstack-kubernetes")
    # given targets, it is scraped there on every runtime and run on none
    scraped = write_spec(exporters={"kube_state_metrics": {"targets": ["ksm.kube-system.svc:8080"]}}, name="s.yaml")
    _, tree = kubernetes(scraped)
    assert one(tree, "ScrapeConfig", "kube-state-metrics")["spec"]["honorLabels"] is True
    assert not [o for o in resources(tree, "Deployment") if o["metadata"]["name"] == "kube-state-metrics"]
    compose = render(load_stack(scraped), Target("compose"))
    jobs = yaml.safe_load(compose.files[conventions.PROMETHEUS_CONFIG])["scrape_configs"]
    job = next(j for j in jobs if j["job_name"] == "kube-state-metrics")
    assert job["static_configs"][0]["targets"] == ["ksm.kube-system.svc:8080"]
    assert "kube-state-metrics" not in yaml.safe_load(compose.files[conventions.COMPOSE_FILE])["services"]
    assert catalog.entry("kube-state-metrics").kubernetes.only


def test_an_alertmanager_that_reads_receiver_secrets_only_inline_is_refused(write_spec: Callable[..., Path]) -> None:
    """Kubernetes resources never hold a secret value, and Alertmanager 0.25 reads a webhook URL only inline."""
    spec = write_spec(components={"alertmanager": {"version": "v0.25.0"}})
    with pytest.raises(PromstackError, match=r"reads some receiver secrets only inline \(webhook of receiver team\)"):
        kubernetes(spec)


# ---- the output -----------------------------------------------------------------------------------


def test_generate_writes_resources_only_and_no_secret_value(tmp_path: Path) -> None:
    """`kubectl apply -f DIR/kubernetes` reads every .yaml/.yml/.json there: each is resources and nothing else;
    and no secret is read to generate them (the environment's values appear nowhere)."""
    values = {
        "PAGERDUTY_ROUTING_KEY": "pdKubeQx1",
        "SLACK_WEBHOOK_URL": "https://hooks.test/slackKubeQx1",
        "PAYMENTS_WEBHOOK_URL": "https://hooks.test/payKubeQx1",
        "SMTP_PASSWORD": "smtpKubeQx1",
        "PG_DSN": "postgresql://u:pgKubeQx1@db/x",
        "REDIS_PASSWORD": "redisKubeQx1",
        "MYSQL_EXPORTER_PASSWORD": "mysqlKubeQx1",
    }
    out = tmp_path / "out"
    result = CliRunner(env=values).invoke(
        app, ["generate", str(SPECS["large"]), "--runtime", "kubernetes", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    assert "kubectl apply -f" in result.stdout
    written = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert written[0] == conventions.MANIFEST and all(p.startswith("kubernetes/") for p in written[1:])
    for path in out.rglob("*"):
        if path.is_file():
            assert not any(v in path.read_text() for v in values.values()), path
    applied = [p for p in (out / "kubernetes").iterdir() if p.suffix in (".yaml", ".yml", ".json")]
    assert len(applied) == len(written) - 2  # all but the manifest and README.md
    for path in applied:
        documents = [d for d in yaml.safe_load_all(path.read_text()) if d is not None]
        assert documents and all({"apiVersion", "kind", "metadata"} <= set(d) for d in documents), path
    notes = (out / "kubernetes" / "README.md").read_text()
    for key in ("PAGERDUTY_ROUTING_KEY", "PG_DSN", "mysqld-exporter.my.cnf", "DINGTALK_WEBHOOK_URL", "DINGTALK_SECRET"):
        assert f"`{key}`" in notes
    # generating needs no secret at all
    again = CliRunner(env=dict.fromkeys(values)).invoke(
        app, ["generate", str(SPECS["large"]), "--runtime", "kubernetes", "-o", str(tmp_path / "bare")]
    )
    assert again.exit_code == 0, again.output


@pytest.mark.parametrize("command", ["up", "down", "diff"])
def test_deploy_commands_refuse_the_kubernetes_runtime(
    command: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, [command, str(CLUSTER), "--runtime", "kubernetes"])
    assert result.exit_code == 2
    assert result.stderr.startswith(
        f"error: promstack {command} --runtime kubernetes: the kubernetes runtime only generates"
    )
    assert "kubectl apply -f DIR/kubernetes" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_each_environment_of_the_spec_has_a_namespace_of_its_own() -> None:
    base = load_stack(SPECS["example"], runtime=names.RUNTIME)
    staging = load_stack(SPECS["example"], "staging", runtime=names.RUNTIME)
    assert (base.kubernetes.namespace, staging.kubernetes.namespace) == ("shop", "shop-staging")
    tree = render(staging, Target(names.RUNTIME, "/promstack"))
    assert {o["metadata"].get("namespace") for o in resources(tree, "Prometheus")} == {"shop-staging"}


def test_cluster_example_renders_only_for_kubernetes() -> None:
    with pytest.raises(PromstackError) as caught:
        load_stack(CLUSTER)
    text = str(caught.value)
    assert "$.exporters.kube_state_metrics: kube-state-metrics runs only on Kubernetes" in text
    assert "$.services[0].kubernetes: service 'api' has no targets" in text
