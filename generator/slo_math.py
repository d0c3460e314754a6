"""SLO arithmetic and the PromQL of an SLO's error ratio, shared by the SLO rules and the dashboards.

The SLO renderer (render/slo.py) records `service_slo:sli_error:ratio_rate<window>{service, slo}` for
every window of `conventions.SLO_TIERS` and alerts on them; the SLO, service and overview dashboards
read the same records and thresholds. Keeping both sides on these functions means a panel's line
is the alert's threshold, and neither side imports the other. Every constant is an exact Decimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, localcontext

from generator import conventions
from generator.model import SLO, Service
from generator.rules_catalog import plain
from generator.units import Duration

RECORD = "service_slo:sli_error:ratio_rate{window}"
PERIOD_30D_MS = 30 * 86400_000


@dataclass(frozen=True)
class Tier:
    name: str
    factor: Decimal  # burn rate for a 30-day period
    long: Duration
    short: Duration
    severity: str


TIERS = tuple(
    Tier(n, Decimal(f), Duration(long), Duration(short), sev) for n, f, long, short, sev in conventions.SLO_TIERS
)


def windows() -> list[Duration]:
    found = {w for t in TIERS for w in (t.long, t.short)}
    return sorted(found, key=lambda w: w.ms)


def record_name(window: str) -> str:
    return RECORD.format(window=window)


def record_matchers(service: str, slo: SLO) -> str:
    """The matchers that pick one SLO's series out of the recording rules' output."""
    return f'{conventions.LABEL_SERVICE}="{service}",{conventions.LABEL_SLO}="{slo.name}"'


def sli_error(service: str, slo: SLO, window: str) -> str:
    """The SLO's share of bad events over `window`, as recorded by the SLO recording rules."""
    return f"{record_name(window)}{{{record_matchers(service, slo)}}}"


def budget(slo: SLO) -> Decimal:
    return 1 - slo.objective / 100


def _scale(slo: SLO) -> Decimal:
    return Decimal(slo.period.ms) / PERIOD_30D_MS


def burn_factor(slo: SLO, tier: Tier) -> Decimal:
    return _exact(tier.factor * _scale(slo))


def threshold(slo: SLO, tier: Tier) -> Decimal:
    """Error ratio above which `tier` fires: burn factor x error budget (rounded once, at the end)."""
    return _exact(tier.factor * _scale(slo) * budget(slo))


def _exact(value: Decimal) -> Decimal:
    """Round a non-terminating quotient (e.g. a 28-day period) to 12 significant digits."""
    with localcontext() as ctx:
        ctx.prec = 12
        return +value


def le_matcher(seconds: Decimal) -> str:
    """The histogram bucket at the threshold. Integer bounds are exposed as "1" by Go clients and
    Prometheus 2 but stored as "1.0" by Prometheus 3 (and Python clients): match both."""
    text = plain(seconds)
    return f'le=~"{text}|{text}\\\\.0"' if "." not in text else f'le="{text}"'


def _probe_selector(slo: SLO) -> str:
    assert slo.probe is not None
    return f'{slo.probe.metric}{{job="{slo.probe.job}"}}'


def selectors(service: Service, slo: SLO) -> tuple[str, str]:
    """(bad-or-good events, all events) selectors of an SLO measured by requests."""
    assert service.http is not None
    job = f'job="{service.name}"'
    if slo.kind == "latency":
        assert service.http.duration and slo.threshold_seconds is not None
        good = f"{service.http.duration}_bucket{{{job},{le_matcher(slo.threshold_seconds)}}}"
        return good, f"{service.http.duration}_count{{{job}}}"
    return f"{service.http.requests}{{{job},{service.http.errors}}}", f"{service.http.requests}{{{job}}}"


def events(service: Service, slo: SLO, window: str) -> str:
    """How many events (requests, or probe results) the SLO counted over `window`."""
    if slo.kind == "probe":
        return f"sum(count_over_time({_probe_selector(slo)}[{window}]))"
    return f"sum(increase({selectors(service, slo)[1]}[{window}]))"


def error_ratio(service: Service, slo: SLO, window: str) -> str:
    if slo.kind == "probe":
        # a probe result is 1 (success) or 0: the share of failures is 1 - successes / results
        selector = _probe_selector(slo)
        return f"1 - sum(sum_over_time({selector}[{window}])) / sum(count_over_time({selector}[{window}]))"
    counted, total = selectors(service, slo)
    if slo.kind == "latency":
        return f"1 - sum(rate({counted}[{window}])) / sum(rate({total}[{window}]))"
    # no error series at all means no errors, not "no data"
    return f"(sum(rate({counted}[{window}])) or vector(0)) / sum(rate({total}[{window}]))"


def budget_left(service: Service, slo: SLO, window: str | None = None) -> str:
    """Share of the SLO's error budget left over its period (or `window`: a report's span). The recording
    rules stop at the longest alert window (3d), so the period's ratio is computed here, with the rules'
    own expression."""
    return f"1 - ({error_ratio(service, slo, window or str(slo.period))}) / {budget(slo)}"
