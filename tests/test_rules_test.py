"""The `rules/test` check at scale: a test file per service reading only its rules, promtool run in batches
over many files at once, failures named by file and test, and passes remembered by content (the cache
`up` keeps in its state directory), so only what changed is run again. Real promtool throughout."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

from generator import pipeline
from generator.checks import CheckContext, cache, rules_test
from generator.render import Target, Tree, dump_yaml, render, rule_tests
from generator.render import TestFile as RuleTestFile  # not `Test*`: pytest would try to collect it
from generator.spec import load_stack

needs_promtool = pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool (Debian: prometheus) missing")
HTTP = {"requests": "http_requests_total", "duration": "http_request_duration_seconds"}


def _services(count: int, slos: bool = True) -> list[dict[str, Any]]:
    return [
        {
            "name": f"svc{i}",
            "targets": [f"svc{i}:80"],
            "http": HTTP,
            **({"slos": [{"name": "availability", "objective": 99.9}]} if slos else {}),
        }
        for i in range(count)
    ]


def test_services_are_tested_in_batches_against_their_own_rules(
    write_spec: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """promtool evaluates every rule of a test file's rule files at every step of each of its tests, and
    spends a fixed time on each test: the services' tests share files and groups by batches, each file
    reading its services' rules only, so the cost grows with the services and no faster."""
    monkeypatch.setattr(rule_tests, "BATCH", 2)
    tree = render(load_stack(write_spec(services=_services(3))))
    for folder in ("service", "slo"):
        first = yaml.safe_load(tree.files[f"prometheus/tests/{folder}/svc0.yml"])
        assert first["rule_files"] == [f"../../rules/{folder}/svc0.yml", f"../../rules/{folder}/svc1.yml"]
        last = yaml.safe_load(tree.files[f"prometheus/tests/{folder}/svc2.yml"])
        assert last["rule_files"] == [f"../../rules/{folder}/svc2.yml"]
        assert f"prometheus/tests/{folder}/svc1.yml" not in tree.files
        for group in first["tests"]:  # both services in each group, each expecting its own alerts only
            jobs = {s["series"].split('job="')[1].split('"')[0] for s in group["input_series"]}
            assert jobs == {"svc0", "svc1"}, group["name"]
            for case in group["alert_rule_test"]:
                services = {a["exp_labels"]["service"] for a in case["exp_alerts"]}
                assert services in (set(), {"svc0", "svc1"}), group["name"]
        assert all("(and alike for 1 more services)" in g["name"] for g in first["tests"])
    for i in range(3):
        rules = yaml.safe_load(tree.files[f"prometheus/rules/slo/svc{i}.yml"])
        assert {r["labels"]["service"] for g in rules["groups"] for r in g["rules"] if "alert" in r} == {f"svc{i}"}


@needs_promtool
def test_services_whose_slos_read_one_probe_are_batched_apart(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two services' SLOs measured by the same probe read the same series: in one test file, each one's
    rules would fire on the other's input. They go to different files; the others still share."""
    monkeypatch.setattr(rule_tests, "BATCH", 3)
    services = _services(4)
    for service in services[:2]:
        service["slos"] = [{"name": "health", "objective": 99.5, "probe": "home"}]
    probes = {"probes": [{"name": "home", "module": "http_2xx", "targets": ["http://home:80/"]}]}
    spec = write_spec(services=services, exporters={"blackbox": probes})
    ctx = _context(spec, tmp_path, cache.CheckCache())
    slo_files = {
        path: yaml.safe_load(text)["rule_files"]
        for path, text in ctx.tree.files.items()
        if path.startswith("prometheus/tests/slo/")
    }
    assert slo_files == {
        "prometheus/tests/slo/svc0.yml": [f"../../rules/slo/svc{i}.yml" for i in (0, 2, 3)],
        "prometheus/tests/slo/svc1.yml": ["../../rules/slo/svc1.yml"],
    }
    assert not [p.message for p in rules_test.run(ctx) if p.severity == "error"]


def test_a_spec_rule_reading_an_slo_ratio_is_tested_with_the_slo_rules(write_spec: Callable[..., Path]) -> None:
    rule = {
        "alert": "BurnSeen",
        "expr": 'service_slo:sli_error:ratio_rate5m{service="svc0"} > 0.5',
        "severity": "warning",
        "summary": "burning",
        "tests": [{"series": {"up": "1x10"}, "eval_time": "5m", "fires": False}],
    }
    plain = render(load_stack(write_spec(services=_services(2)))).files
    reading = render(load_stack(write_spec(services=_services(2), alerts={"rules": [rule]}))).files
    assert "prometheus/tests/custom.yml" not in plain
    files = yaml.safe_load(reading["prometheus/tests/custom.yml"])["rule_files"]
    assert files == ["fixtures/custom.yml", "../rules/slo/svc0.yml", "../rules/slo/svc1.yml"]


def test_a_test_files_cost_counts_promtools_work_not_its_bytes(write_spec: Callable[..., Path]) -> None:
    """promtool evaluates every rule of a test file's rule files at every step up to a group's last
    eval_time: a short test reading many rules for a day costs more than a long one reading one rule for
    minutes. The batches are balanced by this estimate."""
    stack = load_stack(write_spec())
    rules = "groups:\n- name: g\n  rules:\n" + "".join(f"  - record: r{i}\n    expr: up\n" for i in range(20))
    one_rule = "groups:\n- name: g\n  rules:\n  - alert: A\n    expr: up == 0\n"

    def group(eval_time: str, padding: int = 0) -> dict[str, Any]:
        return {
            "interval": "1m",
            "input_series": [{"series": "up", "values": "1x10", "padding": "x" * padding}],
            "alert_rule_test": [{"eval_time": eval_time, "alertname": "A", "exp_alerts": []}],
        }

    day = RuleTestFile("day", ("../rules/many.yml",), (group("1d"),))
    long = RuleTestFile("long", ("../rules/one.yml",), tuple(group("10m", 500) for _ in range(5)))
    files = {"prometheus/rules/many.yml": rules, "prometheus/rules/one.yml": one_rule}
    files |= {t.path: dump_yaml(t.data(stack)) for t in (day, long)}
    tree = Tree(files=files, rule_tests=[day, long])
    ctx = CheckContext(stack, tree, Path("/nonexistent"), Target("local"))
    assert len(files[long.path]) > len(files[day.path])
    assert rules_test.cost(ctx, day) > 10 * rules_test.cost(ctx, long)
    # one step per minute of a day, for each of the 20 rules, outweighs five groups of ten minutes
    assert rules_test.cost(ctx, day) >= 20 * (24 * 60 + 1)


def test_batches_are_balanced_and_bounded() -> None:
    files = [(f"f{i}", 1000 - i) for i in range(450)]
    work = rules_test.batches(files, 2)
    assert len(work) == 3  # at most 200 per promtool run
    assert sorted(f for batch in work for f in batch) == sorted(f for f, _ in files)
    assert all(len(batch) <= 200 for batch in work)
    sizes = [sum(1000 - int(f[1:]) for f in batch) for batch in work]
    assert max(sizes) - min(sizes) <= 1000
    assert rules_test.batches([("one", 5)], 2) == [["one"]]


def _context(spec: Path, tmp_path: Path, kept: cache.CheckCache) -> CheckContext:
    stack = load_stack(spec)
    with pipeline.scratch(stack) as target:
        tree = render(stack, target)
    root = tmp_path / "tree"
    for path, text in tree.files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    return CheckContext(stack, tree, root, target, cache=kept)


@needs_promtool
def test_a_failure_among_many_files_is_named_by_file_and_test(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rules_test, "_BATCH", 2)  # several files per promtool run, several runs
    monkeypatch.setattr(rule_tests, "BATCH", 1)  # a test file per service
    ctx = _context(write_spec(services=_services(4, slos=False)), tmp_path, cache.CheckCache())
    broken = ctx.root / "prometheus/rules/service/svc2.yml"
    broken.write_text(broken.read_text().replace("> 0.05", "> 0.5"))  # the error-ratio alert fires too late
    failures = [p.message for p in rules_test.run(ctx) if p.severity == "error"]
    assert failures and all(
        f.startswith("prometheus/tests/service/svc2.yml: test 'service: ServiceHighError") for f in failures
    )
    assert "[svc2]" in failures[0]


@needs_promtool
def test_passes_are_remembered_by_content_and_a_change_runs_its_files_only(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = write_spec(services=_services(3))
    kept = cache.CheckCache(tmp_path / "check-cache.json")
    ran: list[str] = []
    batch = rules_test._batch
    monkeypatch.setattr(rules_test, "_batch", lambda tool, root, rels: (ran.extend(rels), batch(tool, root, rels))[1])
    first = _context(spec, tmp_path / "one", kept)
    assert not [p for p in rules_test.run(first) if p.severity == "error"]
    assert sorted(ran) == sorted(t.path for t in first.tree.rule_tests)
    kept.save()

    ran.clear()
    again = cache.CheckCache(tmp_path / "check-cache.json")  # as the next `up` reads it
    assert not [p for p in rules_test.run(_context(spec, tmp_path / "two", again)) if p.severity == "error"]
    assert ran == []  # nothing changed: nothing runs

    changed = write_spec(services=[*_services(3)[:2], {**_services(3)[2], "slos": [{"name": "a", "objective": 99}]}])
    assert not [p for p in rules_test.run(_context(changed, tmp_path / "three", again)) if p.severity == "error"]
    assert ran == ["prometheus/tests/slo/svc0.yml"]  # the three services' SLO tests share a file


@needs_promtool
def test_a_failure_is_never_remembered(write_spec: Callable[..., Path], tmp_path: Path) -> None:
    kept = cache.CheckCache(tmp_path / "check-cache.json")
    ctx = _context(write_spec(services=_services(1, slos=False)), tmp_path / "one", kept)
    rule = ctx.root / "prometheus/rules/service/svc0.yml"
    rule.write_text(rule.read_text().replace("> 0.05", "> 0.5"))
    assert [p for p in rules_test.run(ctx) if p.severity == "error"]
    assert [p for p in rules_test.run(ctx) if p.severity == "error"], "run again, and failed again"


@needs_promtool
def test_check_runs_every_services_tests(write_spec: Callable[..., Path]) -> None:
    report = pipeline.check_spec(write_spec(services=_services(3)), only=["rules/test"])
    assert report.passed == ["rules/test"]
    note = next(p.message for p in report.problems if p.severity == "info")
    assert note.endswith(
        "in 6 files"
    )  # the stack, Prometheus and Alertmanager packs; failed scrapes; the services, SLOs
