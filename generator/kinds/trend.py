"""Alert kinds over time: change against the past, forecast, anomaly (see generator/kinds)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from generator.kinds import DEFAULT_MIN_CHANGE, DEFAULT_Z, SEASONS, Compiled, Plan, bound_of, decimal, matchers, snake
from generator.kinds.series import Level, Rate, counter, gauge, plain
from generator.units import Duration, format_duration


# --- change -----------------------------------------------------------------------------------------
def _change(p: Plan) -> Compiled:
    against = str(p.rule.get("against") or "1d")
    against_ms = Duration(against).ms
    op, percent = ("<", decimal(p.rule["below"])) if "below" in p.rule else (">", decimal(p.rule["above"]))
    floor = decimal(p.rule.get("floor", 0))
    counter_metric = p.metric.type == "counter"
    reader = "rate" if counter_metric else "avg_over_time"
    agg = "sum" if counter_metric else "avg"
    now = f"{agg} by ({p.grouping}) ({reader}({p.selector()}[{p.window}]))"
    then = f"{agg} by ({p.grouping}) ({reader}({p.selector()}[{p.window}] offset {against}))"
    expr = f"(({now}) or ({then}) * 0) {op} ({then}) * {plain(percent / 100)} and ({then}) >= {plain(floor)}"
    words = "fell below" if op == "<" else "rose above"
    level = floor * 4 if floor else Decimal(1)  # an edit of the floor by a factor of 4 changes the outcome
    normal = percent / 100 * (Decimal("1.25") if op == "<" else Decimal("0.8")) * level
    breach = percent / 100 * (Decimal("0.8") if op == "<" else Decimal("1.25")) * level
    changed_at = against_ms + p.window_ms  # the `then` window of every check lies before it
    at = p.fire_time(changed_at + p.window_ms + p.step_ms)
    base = p.series_labels()
    selector = f"{p.metric.name}{{{matchers(base)}}}"

    def values(before: Decimal, after: Decimal) -> dict[str, str]:
        n, a = p.samples(changed_at), p.samples(at - changed_at) + 1
        if counter_metric:
            return {selector: counter([Rate(before, n), Rate(after, a)], p.step_s)}
        return {selector: gauge([Level(before, n), Level(after, a)], p.step_s)}

    quiet = floor / 2 if floor else None
    cases = [
        p.case(f"a change against {against} earlier fires", values(level, breach), True, at, p.alert_labels(base)),
        p.case("a normal change stays silent", values(level, normal), False, at, {}),
    ]
    if quiet is not None:
        scaled = quiet / level
        cases.append(p.case("under the floor stays silent", values(quiet, breach * scaled), False, at, {}))
    what = f"the rate of {p.metric.name}" if counter_metric else p.metric.name
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"{what} {words} {plain(percent)}% of {against} earlier",
        f"Over the last {p.window}, {what} {words} {plain(percent)}% of the same window {against} earlier.",
        cases=tuple(cases),
    )


# --- forecast ---------------------------------------------------------------------------------------
def _forecast(p: Plan) -> Compiled:
    op, bound = bound_of(p)
    horizon = str(p.rule["horizon"])
    horizon_s = Decimal(Duration(horizon).ms) / 1000
    agg = "max" if op == ">" else "min"
    expr = (
        f"{agg} by ({p.grouping}) (predict_linear({p.selector()}[{p.window}], {plain(horizon_s)})) {op} {plain(bound)}"
    )
    d = max(abs(bound), Decimal(1))
    sign = 1 if op == ">" else -1
    start, target = bound - sign * d / 2, bound + sign * d / 5
    lead = p.lead_ms()
    holds = lead + p.window_ms + p.step_ms
    # a ramp whose prediction reaches `target` once the window holds nothing but the ramp
    slope = (target - start) / (Decimal(p.window_ms + p.step_ms) / 1000 + horizon_s)
    at = p.fire_time(holds)
    base = p.series_labels()
    selector = f"{p.metric.name}{{{matchers(base)}}}"
    n, a = p.samples(lead), p.samples(at - lead) + 1
    rising = gauge([Level(start, n), Level(start + slope * p.step_s, a, slope=slope)], p.step_s)
    flat = gauge([Level(start, n), Level(start, a)], p.step_s)
    words = "above" if op == ">" else "below"
    cases = (
        p.case("a trend towards the bound fires", {selector: rising}, True, at, p.alert_labels(base)),
        p.case("a steady value stays silent", {selector: flat}, False, at, {}),
    )
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"{p.metric.name} is predicted {words} {plain(bound)} within {horizon}",
        f"At the trend of the last {p.window}, {p.metric.name} will be {{{{ $value | humanize }}}} in {horizon} "
        f"({words} {plain(bound)}).",
        cases=cases,
    )


# --- anomaly ----------------------------------------------------------------------------------------
def anomaly_records(rule: Mapping[str, object]) -> tuple[str, str, str]:
    """The recording rules of an anomaly alert: its value, the baseline's mean and standard deviation."""
    base = f"anomaly:{snake(str(rule['alert']))}"
    return f"{base}:value", f"{base}:baseline_mean", f"{base}:baseline_stddev"


def _anomaly(p: Plan) -> Compiled:
    z = decimal(p.rule.get("z", DEFAULT_Z))
    seasonal = str(p.rule.get("seasonal") or "none")
    baseline = str(p.rule.get("baseline") or ("1d" if seasonal == "none" else "1h"))
    baseline_ms = Duration(baseline).ms
    min_change = decimal(p.rule.get("min_change", DEFAULT_MIN_CHANGE)) / 100
    counter_metric = p.metric.type == "counter"
    value, mean, stddev = anomaly_records(p.rule)
    if counter_metric:
        measured = f"sum by ({p.grouping}) (rate({p.selector()}[{p.window}]))"
    else:
        measured = f"avg by ({p.grouping}) (avg_over_time({p.selector()}[{p.window}]))"
    period = SEASONS.get(seasonal)
    # seasonal: the same stretch one period back, centred on now; else the last `baseline`
    offset = f" offset {format_duration(period - baseline_ms // 2)}" if period else ""
    recording = (
        (value, measured),
        (mean, f"avg_over_time({value}[{baseline}]{offset})"),
        (stddev, f"stddev_over_time({value}[{baseline}]{offset})"),
    )
    deviation = f"abs({value} - {mean})"
    expr = f"{deviation} > {plain(z)} * {stddev} and {deviation} > {plain(min_change)} * abs({mean})"
    base = p.series_labels()
    selector = f"{p.metric.name}{{{matchers(base)}}}"
    level = Decimal(10)

    def values(segments: list[tuple[Decimal, int]]) -> dict[str, str]:
        if counter_metric:
            return {selector: counter([Rate(v, p.samples(ms)) for v, ms in segments], p.step_s)}
        return {selector: gauge([Level(v, p.samples(ms)) for v, ms in segments], p.step_s)}

    if period:
        half = period // 2 if seasonal == "day" else 12 * 3600_000  # a daily cycle: low half, high half
        cycle = [(level, half), (2 * level, half)] * (period // (2 * half))
        spike_at = period + half + half // 2  # in the high half of the second period
        at = p.fire_time(spike_at + p.window_ms + p.step_ms)
        quiet_at = p.fire_time(period + half + p.window_ms + p.step_ms)  # just after the cycle's rise
        rest = at - spike_at
        spiked = [*cycle, (level, half), (2 * level, spike_at - period - half), (5 * level, rest + p.step_ms)]
        normal = [*cycle, (level, half), (2 * level, at - period - half + p.step_ms)]
        cases = (
            p.case("a spike against the cycle fires", values(spiked), True, at, p.alert_labels(base)),
            p.case("a regular cycle stays silent", values(normal), False, quiet_at, {}),
        )
    else:
        spike_at = baseline_ms + p.lead_ms()
        at = p.fire_time(spike_at + p.window_ms + p.step_ms)
        spiked = [(level, spike_at), (3 * level, at - spike_at + p.step_ms)]
        cases = (
            p.case("a spike fires", values(spiked), True, at, p.alert_labels(base)),
            p.case("steady values stay silent", values([(level, at + p.step_ms)]), False, at, {}),
        )
    what = f"the rate of {p.metric.name}" if counter_metric else p.metric.name
    against = f"the same time one {seasonal} earlier" if period else f"the last {baseline}"
    return Compiled(
        expr,
        format_duration(p.for_ms),
        f"{what} is unusual",
        f"{what} is {{{{ $value | humanize }}}} away from its baseline ({against}): more than {plain(z)} standard "
        "deviations.",
        recording=recording,
        cases=cases,
    )


COMPILERS = {"change": _change, "forecast": _forecast, "anomaly": _anomaly}
