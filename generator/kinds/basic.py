"""Alert kinds on a value: threshold, ratio, latency, absent (see generator/kinds)."""

from __future__ import annotations

from decimal import Decimal

from generator.kinds import DEFAULT_MIN_EVENTS, STALE_MS, Compiled, Plan, bound_of, decimal, matchers, near, quote
from generator.kinds.series import Level, Rate, counter, gauge, plain
from generator.units import Duration, format_duration


# --- threshold ------------------------------------------------------------------------------------------
def _threshold(p: Plan) -> Compiled:
    op, bound = bound_of(p)
    counter_metric = p.metric.type == "counter"
    default = "sum" if counter_metric else ("max" if op == ">" else "min")
    aggregate = str(p.rule.get("aggregate") or default)
    value = f"rate({p.selector()}[{p.window}])" if counter_metric else p.selector()
    expr = f"{aggregate} by ({p.grouping}) ({value}) {op} {plain(bound)}"
    what = f"the rate of {p.metric.name} (per second)" if counter_metric else p.metric.name
    words = "above" if op == ">" else "below"
    normal, breach = near(op, bound)
    if counter_metric:
        normal, breach = abs(normal), abs(breach)  # a rate is never negative
    lead = p.lead_ms()
    holds = lead + (p.window_ms + p.step_ms if counter_metric else 0)
    at = p.fire_time(holds)
    labels = p.series_labels()
    selector = f"{p.metric.name}{{{matchers(labels)}}}"

    def values(after: Decimal) -> str:
        if counter_metric:
            return counter([Rate(normal, p.samples(lead)), Rate(after, p.samples(at - lead) + 1)], p.step_s)
        return gauge([Level(normal, p.samples(lead)), Level(after, p.samples(at - lead) + 1)], p.step_s)

    cases = (
        p.case("a breach fires", {selector: values(breach)}, True, at, p.alert_labels(labels)),
        p.case("normal values stay silent", {selector: values(normal)}, False, at, {}),
    )
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"{what} is {words} {plain(bound)}",
        f"{what} has been {words} {plain(bound)} for {format_duration(p.for_ms)}: {{{{ $value | humanize }}}}.",
        cases=cases,
    )


# --- ratio ------------------------------------------------------------------------------------------
def _ratio(p: Plan) -> Compiled:
    op, bound = bound_of(p)
    part = {str(k): str(v) for k, v in dict(p.rule.get("part") or {}).items()}  # type: ignore[call-overload]
    min_events = decimal(p.rule.get("min_events", DEFAULT_MIN_EVENTS))
    window, group = p.window, p.grouping
    whole = f"sum by ({group}) (rate({p.selector()}[{window}]))"
    share = f"sum by ({group}) (rate({p.selector(part)}[{window}]))"
    expr = (
        f"((({share}) or ({whole}) * 0) / ({whole}) * 100 {op} {plain(bound)})"
        f" and (sum by ({group}) (increase({p.selector()}[{window}])) >= {plain(min_events)})"
    )
    picked = ", ".join(f'{k}="{v}"' for k, v in part.items())
    words = "above" if op == ">" else "below"
    window_s = Decimal(p.window_ms) / 1000
    total = max(Decimal(1), min_events * 4 / window_s)  # events per second: four times the guard
    # shares close to the bound on either side (an edit of the bound by a fifth changes the outcome)
    if op == ">":
        normal, breach = bound / 2, min(bound * Decimal("1.5"), (bound + 100) / 2)
    else:
        normal, breach = (bound + 100) / 2, bound * Decimal("0.8")
    lead = p.lead_ms()
    at = p.fire_time(lead + p.window_ms + p.step_ms)
    recovered = p.recovered_at(at)
    base = p.series_labels()
    other = {k: f"not-{v}" for k, v in part.items()}
    matched, rest = (
        f"{p.metric.name}{{{matchers({**base, **part})}}}",
        f"{p.metric.name}{{{matchers({**base, **other})}}}",
    )

    def shares(rate: Decimal, *segments: tuple[Decimal, int]) -> dict[str, str]:
        """Both series at `rate` events per second, the matched share (percent) by segment (ms)."""
        counts = [p.samples(lead), *(p.samples(ms) + (i == 0) for i, (_, ms) in enumerate(segments))]
        percents = [normal, *(share for share, _ in segments)]
        return {
            matched: counter([Rate(rate * pc / 100, n) for pc, n in zip(percents, counts, strict=True)], p.step_s),
            rest: counter([Rate(rate - rate * pc / 100, n) for pc, n in zip(percents, counts, strict=True)], p.step_s),
        }

    breach_ms = at - lead
    quiet_rate = min_events / 4 / window_s  # a quarter of the guard: too little traffic to judge
    cases = (
        p.case("a breach fires", shares(total, (breach, breach_ms)), True, at, p.alert_labels(base)),
        p.case("a normal share stays silent", shares(total, (normal, breach_ms)), False, at, {}),
        p.case("too little traffic stays silent", shares(quiet_rate, (breach, breach_ms)), False, at, {}),
        p.case(
            "a breach that left the window stays silent",
            # an outright breach, so a longer window (a hand edit) would still see it and keep firing
            shares(total, (Decimal(100 if op == ">" else 0), breach_ms), (normal, recovered - at)),
            False,
            recovered,
            {},
        ),
    )
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"{'More' if op == '>' else 'Less'} than {plain(bound)}% of {p.metric.name} are {picked}",
        f"{{{{ $value | humanize }}}}% of {p.metric.name} over {window} is {picked} ({words} {plain(bound)}%).",
        cases=cases,
    )


# --- latency ----------------------------------------------------------------------------------------
def _latency(p: Plan) -> Compiled:
    quantile = decimal(p.rule["quantile"])
    limit = Decimal(Duration(str(p.rule["above"])).ms) / 1000
    percent = plain(quantile * 100)
    lead = p.lead_ms()
    base = p.series_labels()
    if p.metric.type == "summary":
        expr = f"max by ({p.grouping}) ({p.selector({'quantile': plain(quantile)})}) > {plain(limit)}"
        selector = f"{p.metric.name}{{{matchers({**base, 'quantile': plain(quantile)})}}}"
        at = p.fire_time(lead)

        def summary(after: Decimal) -> dict[str, str]:
            return {
                selector: gauge([Level(limit / 2, p.samples(lead)), Level(after, p.samples(at - lead) + 1)], p.step_s)
            }

        cases = (
            p.case("slow requests fire", summary(limit * Decimal("1.5")), True, at, p.alert_labels(base)),
            p.case("fast requests stay silent", summary(limit * Decimal("0.8")), False, at, {}),
        )
    else:
        expr = (
            f"histogram_quantile({plain(quantile)}, sum by (le, {p.grouping}) "
            f"(rate({p.selector(suffix='_bucket')}[{p.window}]))) > {plain(limit)}"
        )
        at = p.fire_time(lead + p.window_ms + p.step_ms)
        # buckets around the limit; per second: `fast` puts every request at or under the limit (the
        # quantile between limit/2 and the limit), `slow` leaves only half the quantile's share under it
        bounds = (limit / 2, limit, limit * 2)
        fast = (Decimal(0), Decimal(10), Decimal(10))
        slow = (Decimal(0), 10 * quantile / 2, Decimal(10))

        def histogram(after: tuple[Decimal, ...]) -> dict[str, str]:
            found = {}
            n, a = p.samples(lead), p.samples(at - lead) + 1
            every = Decimal(10)  # requests per second, all under +Inf
            les = (*map(plain, bounds), "+Inf")
            for le, before, now in zip(les, (*fast, every), (*after, every), strict=True):
                bucket = matchers({**base, "le": le})
                found[f"{p.metric.name}_bucket{{{bucket}}}"] = counter([Rate(before, n), Rate(now, a)], p.step_s)
            return found

        cases = (
            p.case("slow requests fire", histogram(slow), True, at, p.alert_labels(base)),
            p.case("fast requests stay silent", histogram(fast), False, at, {}),
        )
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"p{percent} of {p.metric.name} is above {p.rule['above']}",
        f"The {percent}th percentile of {p.metric.name} is {{{{ $value | humanizeDuration }}}} "
        f"(limit {p.rule['above']}).",
        cases=cases,
    )


# --- absent -----------------------------------------------------------------------------------------
def _absent(p: Plan) -> Compiled:
    up = f'up{{job="{quote(p.metric.job)}"}}'
    expr = f"{up} == 1 unless on (job, instance) group by (job, instance) ({p.selector()})"
    lead = p.for_ms + 2 * p.every_ms
    at = p.fire_time(lead + STALE_MS + p.step_ms)
    target = {"job": p.metric.job, "instance": f"{p.metric.job}:9000", **p.metric.target_labels}
    metric_labels = p.series_labels()
    up_selector = f"up{{{matchers(target)}}}"
    selector = f"{p.metric.name}{{{matchers(metric_labels)}}}"
    n, a = p.samples(lead), p.samples(at - lead) + 1

    def present(stops: bool) -> str:
        return gauge([Level(Decimal(1), n), Level(Decimal(1), a, missing=stops)], p.step_s)

    up_down = gauge([Level(Decimal(1), n), Level(Decimal(0), a)], p.step_s)
    cases = (
        p.case("a metric that stops fires", {up_selector: present(False), selector: present(True)}, True, at, target),
        p.case(
            "a reported metric stays silent", {up_selector: present(False), selector: present(False)}, False, at, {}
        ),
        p.case("a target that is down stays silent", {up_selector: up_down, selector: present(True)}, False, at, {}),
    )
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"{p.metric.name} is no longer reported by {{{{ $labels.instance }}}}",
        f"{{{{ $labels.instance }}}} of {p.metric.job} is up but has not reported {p.metric.name} for "
        f"{format_duration(p.for_ms)}: the code that updates it stopped, or it was renamed.",
        cases=cases,
    )


COMPILERS = {"threshold": _threshold, "ratio": _ratio, "latency": _latency, "absent": _absent}
