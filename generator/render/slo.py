"""SLO rules (prometheus/rules/slo/<service>.yml, written by the `rules` renderer) and the promtool tests
that prove them (prometheus/tests/slo/<service>.yml, which read that service's rules only).

Per SLO: the error ratio over every window of `conventions.SLO_TIERS`, recorded as
`service_slo:sli_error:ratio_rate<window>{service, slo}`, and one multi-window multi-burn-rate alert
(`conventions.SLO_ALERT`) per tier (Google SRE workbook, ch. 5). Burn-rate factors are for a 30-day
period and scale with the SLO's period so that each tier spends the same share of the budget in its
long window. Every constant is computed from Decimals and rendered exactly (generator.slo_math,
which the dashboards read too).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from itertools import pairwise
from typing import Any

from generator import conventions
from generator.model import SLO, Service, Stack
from generator.render._alerting import (
    Group,
    Rule,
    RuleFile,
    alert_annotations,
    alert_data,
    expected_alert,
    literal_labels,
    matcher_examples,
    test_evaluation_interval,
    test_group,
    test_timing,
)
from generator.render._memo import per_stack
from generator.rules_catalog import between, enabled, humanize_percentage, plain
from generator.slo_math import (
    TIERS,
    Tier,
    budget,
    burn_factor,
    error_ratio,
    events,
    record_name,
    sli_error,
    threshold,
    windows,
)
from generator.units import Duration

FOLDER = conventions.PER_SERVICE_RULES[1]  # prometheus/rules/slo/<service>.yml

# Traffic guard: a tier fires only when its short window saw at least this many requests (or probe
# results), so one failed request at 3 a.m. on an idle service does not page anyone. A probe that runs
# less often than every 30s therefore never feeds the 1h tier (5m short window): the 6h tier pages.
MIN_REQUESTS = 10
# the short window already debounces; `for` rides out one bad eval
FOR = {"critical": Duration("2m"), "warning": Duration("15m")}


def _what(slo: SLO) -> str:
    """What the bad events of the SLO were, after "{{ $value }} of ..." in its alert's description."""
    if slo.probe is not None:
        return f"the results of the {slo.probe.probe} probe of {{{{ $labels.service }}}} were failures"
    return "the requests to {{ $labels.service }} " + (
        f"were slower than {slo.threshold}" if slo.kind == "latency" else "failed"
    )


def _alert(stack: Stack, service: Service, slo: SLO, tier: Tier, served: Mapping[str, str]) -> dict[str, Any]:
    limit = plain(threshold(slo, tier))
    long, short = (sli_error(service.name, slo, window) for window in (tier.long, tier.short))
    traffic = events(service, slo, tier.short)
    expr = f"{long} > {limit}\nand\n{short} > {limit}\nand on()\n{traffic} >= {MIN_REQUESTS}"
    factor = plain(burn_factor(slo, tier))
    gone = Duration.of_ms(int(Decimal(slo.period.ms) / burn_factor(slo, tier)) // 60_000 * 60_000)
    summary = (
        f"{{{{ $labels.service }}}}: the {{{{ $labels.slo }}}} error budget burns {factor}x too fast ({tier.name})."
    )
    description = (
        f"{{{{ $value | humanizePercentage }}}} of {_what(slo)} over the "
        f"last {tier.long} (and still over the last {tier.short}). The {plain(slo.objective)}% objective over "
        f"{slo.period} allows {plain(budget(slo) * 100)}%; at this rate the whole error budget is gone in {gone}."
    )
    return alert_data(
        conventions.SLO_ALERT,
        expr,
        FOR.get(tier.severity),
        None,
        _labels(stack, service, slo, tier),
        alert_annotations(
            stack, conventions.SLO_ALERT, {"summary": summary, "description": description}, "slo", served
        ),
    )


def _labels(stack: Stack, service: Service, slo: SLO, tier: Tier) -> dict[str, str]:
    override = stack.alerts.overrides.get(conventions.SLO_ALERT)
    return {
        **literal_labels(service.labels),
        **(override.labels if override else {}),
        conventions.LABEL_SERVICE: service.name,
        conventions.LABEL_SLO: slo.name,
        conventions.LABEL_SLO_TIER: tier.name,
        conventions.LABEL_SEVERITY: tier.severity,
    }


def _interval(service: Service, slo: SLO) -> Duration:
    """How often the SLO's events are sampled: the service's scrape, or its probe's."""
    return slo.probe.interval if slo.probe is not None else service.interval


@per_stack
def slo_rule_files(stack: Stack, served: Mapping[str, str]) -> list[RuleFile]:
    """One rule file per service with SLOs (`slo/<service>`)."""
    files = []
    for service in stack.services:
        if not service.slos:
            continue
        rules: list[Rule] = []
        source = f"SLOs of service {service.name}"
        for slo in service.slos:
            labels = {conventions.LABEL_SERVICE: service.name, conventions.LABEL_SLO: slo.name}
            rules.extend(
                Rule(
                    {"record": record_name(w), "expr": error_ratio(service, slo, w), "labels": labels},
                    source,
                    _interval(service, slo),
                    "slo",
                )
                for w in windows()
            )
        if enabled(stack, conventions.SLO_ALERT):
            rules.extend(
                Rule(
                    _alert(stack, service, slo, tier, served),
                    f"SLO {service.name}/{slo.name}",
                    _interval(service, slo),
                    "slo",
                )
                for slo in service.slos
                for tier in TIERS
            )
        files.append(RuleFile(f"{FOLDER}/{service.name}", (Group(f"slo-{service.name}", tuple(rules)),)))
    return files


# ---- tests --------------------------------------------------------------------------------------

TEST_REQUESTS = Decimal(100)  # requests per minute in the busy cases
TEST_PROBES = Decimal(4)  # probe results per minute in the busy cases of an SLO measured by a probe
LOW_TRAFFIC = Decimal(1)  # requests (results) per minute in the near-zero traffic case: too few for 5m


# promtool evaluates every rule of a test's rule files at each step: the SLO tests, whose inputs are
# constant, step every 5 minutes rather than every one, which proves the same thresholds and tiers at a
# fifth of the cost (it was most of `check`'s time on a stack of many services with SLOs)
TEST_EVERY = Duration("5m")


def test_every(stack: Stack) -> Duration:
    """The evaluation interval of the SLO tests: TEST_EVERY, or the stack's own when it is slower."""
    own = test_evaluation_interval(stack)
    return own if own.ms > TEST_EVERY.ms else TEST_EVERY


def eval_minutes(stack: Stack) -> int:
    """When the cases are checked: the near-zero-traffic case has seen MIN_REQUESTS requests (its
    guard holds from then on), then every tier's `for` has passed at the pace promtool evaluates
    (`test_timing`), and one minute more, rounded up to an evaluation. The long windows are not full
    by then, but the error ratio of a constant input is the same over any window."""
    every = test_every(stack)
    guard = math.ceil(MIN_REQUESTS / LOW_TRAFFIC)
    at = guard + max(int(test_timing(stack, f, every)["for_m"]) for f in FOR.values()) + 1
    step = max(1, every.ms // 60_000)
    return -(-at // step) * step


def _traffic(stack: Stack, tier: Tier, per_minute: Decimal) -> Decimal:
    """Requests in the tier's short window at `eval_minutes()`: a window longer than the test sees
    only the test's minutes."""
    return per_minute * min(Decimal(tier.short.ms) / 60_000, Decimal(eval_minutes(stack)))


def _points(limits: list[Decimal]) -> list[Decimal]:
    """Error ratios to test: just below the lowest threshold, and just above each one (within 10%,
    below the next), so a threshold 10% too high, or a tier firing early, fails a test."""
    ordered = sorted(set(limits))
    points = [between(ordered[0] * Decimal("0.9"), ordered[0])]
    for low, high in pairwise([*ordered, Decimal(1)]):
        points.append(between(low, min(high, low * Decimal("1.1"))))
    return points


def _series(
    service: Service, slo: SLO, ratio: Decimal, per_minute: Decimal, le: str | None, steps: int
) -> list[dict[str, str]]:
    if slo.probe is not None:
        # one result every 60/per_minute seconds (the group's interval: `_sampling`); a value between 0
        # and 1 stands for that share of successful results, exactly, in every window
        labels = f'job="{slo.probe.job}",instance="http://{service.name}/",probe="{slo.probe.probe}"'
        values = f"{plain(1 - ratio)}x{steps * int(per_minute)}"
        return [{"series": f"{slo.probe.metric}{{{labels}}}", "values": values}]
    assert service.http is not None
    base = f'job="{service.name}",instance="{service.name}:8000"'
    if slo.kind == "latency":
        good = plain(per_minute * (1 - ratio))
        return [
            {"series": f'{service.http.duration}_bucket{{{base},le="{le}"}}', "values": f"0+{good}x{steps}"},
            {"series": f"{service.http.duration}_count{{{base}}}", "values": f"0+{plain(per_minute)}x{steps}"},
        ]
    bad = _label_example(service.http.errors)
    ok_labels = f"{base},{bad[1]}" if bad[1] else base
    series = [
        {"series": f"{service.http.requests}{{{ok_labels}}}", "values": f"0+{plain(per_minute * (1 - ratio))}x{steps}"}
    ]
    if ratio > 0:
        series.append(
            {
                "series": f"{service.http.requests}{{{base},{bad[0]}}}",
                "values": f"0+{plain(per_minute * ratio)}x{steps}",
            }
        )
    return series


def _label_example(errors: str) -> tuple[str, str]:
    """Labels that select (and do not select) the failed requests of a matcher like code=~"5.."."""
    examples = matcher_examples(errors)
    if examples is None:
        raise ValueError(f"cannot build test series for the errors matcher {errors}")
    return examples


def _family(service: Service, slo: SLO) -> list[SLO]:
    return [
        s
        for s in service.slos
        if s.kind == slo.kind and s.threshold_seconds == slo.threshold_seconds and s.probe == slo.probe
    ]


def slo_test_groups(stack: Stack, service: Service, served: Mapping[str, str]) -> list[dict[str, Any]]:
    """Groups proving every tier of every SLO of `service`: one case between each pair of thresholds,
    one below all, one near-zero-traffic case, and for integer latency bounds both `le` spellings."""
    groups: list[dict[str, Any]] = []
    if not enabled(stack, conventions.SLO_ALERT):
        return groups
    done: set[tuple[str, Decimal | None, str]] = set()
    for slo in service.slos:
        key = (slo.kind, slo.threshold_seconds, slo.probe.probe if slo.probe else "")
        if key in done:
            continue
        done.add(key)
        family = _family(service, slo)
        les: list[str | None] = [None]
        if slo.kind == "latency" and slo.threshold_seconds is not None:
            text = plain(slo.threshold_seconds)
            les = [text, f"{text}.0"] if "." not in text else [text]
        limits = [threshold(s, t) for s in family for t in TIERS]
        busy = TEST_PROBES if slo.probe is not None else TEST_REQUESTS
        cases = [(r, busy, les[0]) for r in _points(limits)]
        cases += [(Decimal(1), LOW_TRAFFIC, les[0])] + [(_points(limits)[-1], TEST_REQUESTS, le) for le in les[1:]]
        try:
            groups.extend(
                _case(stack, service, family, ratio, per_minute, le, served) for ratio, per_minute, le in cases
            )
        except ValueError:
            continue  # no test series for an unusual errors matcher: the lint reports the missing test
    return groups


def _case(
    stack: Stack,
    service: Service,
    family: list[SLO],
    ratio: Decimal,
    per_minute: Decimal,
    le: str | None,
    served: Mapping[str, str],
) -> dict[str, Any]:
    expected = []
    for slo in family:
        for tier in TIERS:
            traffic = _traffic(stack, tier, per_minute)
            assert not MIN_REQUESTS * Decimal("0.7") < traffic < MIN_REQUESTS * Decimal("1.3"), "guard too close"
            if ratio > threshold(slo, tier) and traffic >= MIN_REQUESTS:
                data = _alert(stack, service, slo, tier, served)
                shown = {"service": service.name, "slo": slo.name}
                notes = {
                    k: v.replace("{{ $value | humanizePercentage }}", humanize_percentage(ratio))
                    .replace("{{ $labels.service }}", service.name)
                    .replace("{{ $labels.slo }}", slo.name)
                    for k, v in data["annotations"].items()
                }
                expected.append(expected_alert(shown, data["labels"], notes))
    kind = family[0].kind + (f" le={le}" if le else "")
    what = "probe results" if family[0].probe is not None else "requests"
    name = (
        f"SLO {service.name}/{'+'.join(s.name for s in family)} ({kind}): error ratio {plain(ratio)} "
        f"at {plain(per_minute)} {what}/min fires {len(expected)} tier alert(s)"
    )
    at = eval_minutes(stack)
    series = _series(service, family[0], ratio, per_minute, le, at + 5)
    case = {"eval_time": f"{at}m", "alertname": conventions.SLO_ALERT, "exp_alerts": expected}
    group = test_group(stack, name, series, [case])
    if family[0].probe is not None:
        group["interval"] = Duration.of_ms(60_000 // int(per_minute))  # per_minute results a minute
    return group
