"""SLOs: objective, error budget left over the period, burn rate per alerting tier, and the time left until
the budget is spent at the current rate, for the services and SLOs picked in `$service` and `$slo`.

A row per kind of SLO (its name, objective, period and threshold, and the metrics of the services that
have it): services with the same SLO share its queries, a line or a number each, so the dashboard does
not grow with the services (generator/dashboard_groups.py). Burn rates read the SLO recording rules
(generator/slo_math.py); the period's ratio is computed with the rules' own expression (they stop at 3d),
but for an SLO measured by a probe: its probe's series carry no service, so its period's ratio is the mean
of the recorded 5m ratios (exact, since probe results come at a fixed pace; it counts from when the SLO
was declared).
"""

from __future__ import annotations

from collections.abc import Hashable
from functools import partial

from generator import conventions as c
from generator import dashboard_groups, slo_math
from generator import dashboards as g
from generator.model import SLO, Service, Stack
from generator.rules_catalog import plain

SERVICE = "{{service}}"
RECORDED = slo_math.record_name("5m")


def _row(found: dashboard_groups.Group, slo: SLO) -> g.Row:
    service, sel = found.first, found.sel
    budget = slo_math.budget(slo)
    period = slo.period.seconds
    records = f'{sel},{c.LABEL_SLO}="{slo.name}",{c.LABEL_SLO}=~"$slo"'

    def burn(window: str) -> str:
        return f"sum by ({c.LABEL_SERVICE}) ({slo_math.record_name(window)}{{{records}}}) / {plain(budget)}"

    bad = {"latency": f"requests slower than {slo.threshold}", "probe": "failed probe results"}.get(
        slo.kind, "failed requests"
    )
    tiers = [
        g.q(burn(t.long), f"{SERVICE} {t.name}: {t.long} (alert above {plain(slo_math.burn_factor(slo, t))})")
        for t in slo_math.TIERS
    ]
    if slo.probe is None:
        ratio = slo_math.ratio_by_service(service, slo, slo.period, sel)
    else:  # probe results come at a fixed pace: the mean of the recorded 5m ratios is the period's ratio
        ratio = f"avg by ({c.LABEL_SERVICE}) (avg_over_time({RECORDED}{{{records}}}[{slo.period}]))"
    left = f"1 - ({ratio}) / {plain(budget)}"
    return g.Row(
        f"{slo.name}: {plain(slo.objective)}% over {slo.period} ({found.title()})",
        [
            g.stat(
                "Objective",
                g.q(f"vector({plain(slo.objective / 100)})"),
                unit="percentunit",
                graph=False,
                decimals=3,
                w=4,
                description=f"{slo.description or 'Target share of good events'} ({bad} are bad).",
            ),
            g.stat(
                "Achieved",
                g.q(f"1 - ({ratio})", SERVICE),
                unit="percentunit",
                decimals=3,
                steps=(("red", None), ("green", slo.objective / 100)),
                w=4,
                description=f"Share of good events over the last {slo.period}, per service.",
            ),
            g.stat(
                "Error budget left",
                g.q(left, SERVICE),
                unit="percentunit",
                steps=(("red", None), ("orange", 0.25), ("green", 0.5)),
                w=4,
                description=f"Share of the {slo.period} error budget ({plain(budget * 100)}% of events) not yet "
                "spent, per service.",
            ),
            g.stat(
                "Budget exhausted in",
                g.q(f"clamp_min({left}, 0) * {plain(period)} / on ({c.LABEL_SERVICE}) ({burn('1h')} > 0)", SERVICE),
                unit="s",
                graph=False,
                steps=(("red", None), ("orange", 3 * 86400), ("green", period / 2)),
                w=4,
                quiet="no event was bad in the last hour, so the budget is not being spent",
                description="Time until the budget left is spent at the burn rate of the last hour, per service.",
            ),
            g.timeseries(
                "Burn rate per alert tier",
                *tiers,
                steps=(("green", None), ("red", 1)),
                w=8,
                description="Bad-event ratio divided by the error budget over each tier's long window: 1 spends "
                "exactly the budget over the period. The SLO alert fires when both the long and the "
                "short window burn faster than the tier's factor.",
            ),
        ],
    )


def dashboard(stack: Stack) -> g.Board | None:
    pairs = [(service, slo) for service in stack.services if service.http for slo in service.slos if not slo.probe]
    # an SLO measured by a probe reads its probe's series, not the service's: its rows read the recorded
    # ratios (labelled with the service), so services with the same probe SLO share a row too
    probed = [(service, slo) for service in stack.services for slo in service.slos if slo.probe]
    if not pairs and not probed:
        return None
    kinds: dict[Hashable, SLO] = {}
    for _, slo in pairs:
        kinds.setdefault(_slo_key(slo), slo)
    rows = []
    for slo_key, slo in kinds.items():
        # every service with HTTP metrics is grouped, so that those without this SLO are told apart
        having = {s.name for s, other in pairs if _slo_key(other) == slo_key}
        groups = dashboard_groups.http_groups(stack.services, within=lambda s, having=having: s.name in having)
        rows.extend(_row(found, slo) for found in groups if found.first.name in having)
    probe_kinds: dict[Hashable, SLO] = {}
    for _, slo in probed:
        probe_kinds.setdefault(_slo_key(slo), slo)
    for slo_key, slo in probe_kinds.items():
        # the recorded ratios of every service with an SLO of this name, told apart by the rest of the SLO
        named = [s for s in stack.services if any(o.name == slo.name for o in s.slos)]
        key = partial(_key_of, slo.name)
        groups = dashboard_groups.group(named, key, lambda s, name=slo.name: name)
        rows.extend(_row(found, slo) for found in groups if key(found.first) == slo_key)
    service_values = f"label_values({RECORDED}, {c.LABEL_SERVICE})"
    slo_values = f'label_values({RECORDED}{{{c.LABEL_SERVICE}=~"$service"}}, {c.LABEL_SLO})'
    return g.Board(
        uid=c.DASHBOARD_UIDS["slo"],
        title="SLOs",
        tags=("slo",),
        description="Service level objectives: budget left, burn rates and the multi-window alert tiers.",
        variables=[g.query_var("service", service_values, "Service"), g.query_var("slo", slo_values, "SLO")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["service"], c.DASHBOARD_UIDS["alerts"]),
    )


def _key_of(name: str, service: Service) -> Hashable:
    return next(_slo_key(slo) for slo in service.slos if slo.name == name)


def _slo_key(slo: SLO) -> Hashable:
    """What an SLO's panels depend on, its services' metrics aside."""
    return (slo.name, slo.kind, slo.objective, slo.period, slo.threshold_seconds, slo.description)
