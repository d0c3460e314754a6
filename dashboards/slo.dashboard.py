"""SLOs: per service objective, error budget left over the period, burn rate per alerting tier, and the
time left until the budget is spent at the current rate. Burn rates read the SLO recording rules
(generator/slo_math.py); the period's ratio is computed with the rules' own expression (they stop at 3d).
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator import slo_math
from generator.model import SLO, Service, Stack
from generator.rules_catalog import plain


def _row(service: Service, slo: SLO) -> g.Row:
    budget = slo_math.budget(slo)
    period = slo.period.seconds

    def burn(window: str) -> str:
        return f"{slo_math.sli_error(service.name, slo, window)} / {plain(budget)}"

    bad = {"latency": f"requests slower than {slo.threshold}", "probe": "failed probe results"}.get(
        slo.kind, "failed requests"
    )
    tiers = [
        g.q(burn(t.long), f"{t.name}: {t.long} (alert above {plain(slo_math.burn_factor(slo, t))})")
        for t in slo_math.TIERS
    ]
    left = slo_math.budget_left(service, slo)
    return g.Row(
        f"{service.name} / {slo.name}: {plain(slo.objective)}% over {slo.period}",
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
                g.q(f"1 - ({slo_math.error_ratio(service, slo, slo.period)})"),
                unit="percentunit",
                decimals=3,
                steps=(("red", None), ("green", slo.objective / 100)),
                w=4,
                description=f"Share of good events over the last {slo.period}.",
            ),
            g.stat(
                "Error budget left",
                g.q(left),
                unit="percentunit",
                steps=(("red", None), ("orange", 0.25), ("green", 0.5)),
                w=4,
                description=f"Share of the {slo.period} error budget ({plain(budget * 100)}% of events) not yet spent.",
            ),
            g.stat(
                "Budget exhausted in",
                g.q(f"clamp_min({left}, 0) * {plain(period)} / ({burn('1h')} > 0)"),
                unit="s",
                graph=False,
                steps=(("red", None), ("orange", 3 * 86400), ("green", period / 2)),
                w=4,
                quiet="no event was bad in the last hour, so the budget is not being spent",
                description="Time until the budget left is spent at the burn rate of the last hour.",
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
    rows = [_row(service, slo) for service in stack.services for slo in service.slos]
    if not rows:
        return None
    return g.Board(
        uid=c.DASHBOARD_UIDS["slo"],
        title="SLOs",
        tags=("slo",),
        description="Service level objectives: budget left, burn rates and the multi-window alert tiers.",
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["service"], c.DASHBOARD_UIDS["alerts"]),
    )
