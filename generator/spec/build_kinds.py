"""Stage `build` for alert kinds: an `alerts.rules[]` entry with `kind:` becomes an ordinary AlertRule
whose expression, annotations, baselines and promtool tests generator/kinds compiled."""

from __future__ import annotations

from typing import Any

from generator import conventions
from generator.kinds import compile_rule
from generator.kinds import metrics as kind_metrics
from generator.model import AlertRule, RecordingRule, RuleTest
from generator.spec.loader import Document
from generator.units import Duration


def kind_rule(doc: Document, rule: dict[str, Any], source: str) -> AlertRule:
    data: dict[str, Any] = doc.data
    metric = kind_metrics.known(data)[rule["metric"]]
    evaluation = Duration(data.get("evaluation_interval", conventions.DEFAULT_EVALUATION_INTERVAL))
    # promtool evaluates a stack's tests once a minute, or at the stack's own pace when that is slower
    every_ms = max(conventions.TEST_INTERVAL.ms, evaluation.ms)
    compiled = compile_rule(rule, metric, every_ms)
    return AlertRule(
        alert=rule["alert"],
        expr=compiled.expr,
        severity=rule["severity"],
        summary=rule.get("summary") or compiled.summary,
        for_=Duration(compiled.for_),
        keep_firing_for=Duration(rule["keep_firing_for"]) if rule.get("keep_firing_for") else None,
        description=rule.get("description") or compiled.description,
        runbook=rule.get("runbook", ""),
        # a service's metric is plotted on the services dashboard (its declared metrics' row): link there
        dashboard=rule.get("dashboard") or ("service" if "service" in metric.target_labels else ""),
        labels=dict(rule.get("labels", {})),
        tests=tuple(
            RuleTest(dict(c.series), c.fires, Duration(c.eval_time), dict(c.labels), Duration(c.interval), c.name)
            for c in compiled.cases
        ),
        source=source,
        kind=str(rule["kind"]),
        recording=tuple(RecordingRule(record, expr, {}, source) for record, expr in compiled.recording),
        test_every=Duration(compiled.every),
    )
