"""Service: the RED method (rate, errors, duration) for the services of the spec with HTTP metrics, and
"Business metrics" rows with the panels of the metrics services declare (by type, see
generator/dashboard_metrics.py).

The `$service` variable lists the services Prometheus scrapes (a query, so the dashboard does not list
them); every panel shows the services picked there, a line each. Services that name their metrics
alike share one query (generator/dashboard_groups.py), so the dashboard is as large for a thousand
copies of a service as for one. Declared metrics get a row per set of services declaring the same
metrics: its panels read those services only.
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboard_groups, dashboard_metrics, slo_math
from generator import dashboards as g
from generator.model import Service, Stack

SERVICE = "{{service}}"


def _business(shown: list[Service]) -> list[g.Row]:
    """A row per set of services declaring the same metrics, reading those services only (named: a
    service that declares nothing is not shown there, whatever it exposes)."""
    rows = []
    for found in dashboard_groups.group([s for s in shown if s.metrics], lambda s: s.metrics, lambda s: None):
        sel = dashboard_metrics.selector(found.names, dashboard_groups.VARIABLE)
        cells = dashboard_metrics.cells(found.first, sel, by_service=len(found.services) > 1)
        rows.append(g.Row(f"Business metrics: {found.title()}", cells))
    return rows


def dashboard(stack: Stack) -> g.Board | None:
    shown = [s for s in stack.services if s.http is not None or s.metrics]
    if not shown:
        return None
    business = _business(shown)
    groups = dashboard_groups.http_groups(shown)
    if not groups:
        return _board([], business)
    rate, errors, codes, latency, apdex = [], [], [], [], []
    for found in groups:
        http, sel = found.first.http, found.sel
        assert http is not None
        rate.append(g.q(g.rate(http.requests, sel, "service"), SERVICE))
        errors.append(g.q(g.ratio(http.requests, sel, http.errors, "service"), SERVICE))
        codes.append(g.q(g.rate(http.requests, sel, "service, code"), f"{SERVICE} {{{{code}}}}"))
        if http.duration:
            for quant in (0.5, 0.95, 0.99):
                latency.append(
                    g.q(g.quantile(quant, http.duration, sel, "service"), f"{SERVICE} p{round(quant * 100)}")
                )
    for service in (s for s in shown if s.http is not None and s.http.duration):
        limit = next((s.threshold_seconds for s in service.slos if s.threshold_seconds), None)
        if limit is not None and service.http is not None and service.http.duration:
            apdex.append((service, limit))
    error_steps = g.percent_alert(stack, "ServiceHighErrorRatio")
    latency_steps = g.alert_steps(stack, "ServiceHighLatency")
    cells = [
        g.timeseries("Request rate", *rate, unit="reqps", description="Requests per second, per service (rate)."),
        g.timeseries(
            "Error ratio",
            *errors,
            unit="percentunit",
            lo=0,
            steps=error_steps,
            description="Share of requests failing, by each service's `errors` matcher; the dashed line is the "
            "ServiceHighErrorRatio alert's threshold.",
        ),
        g.timeseries(
            "Requests by status code",
            *codes,
            unit="reqps",
            stacked=True,
            w=24,
            description="Requests per second by response code (needs a `code` label on the metric).",
        ),
    ]
    if latency:
        cells.append(
            g.timeseries(
                "Latency percentiles",
                *latency,
                unit="s",
                w=24 if not apdex else 12,
                steps=latency_steps,
                description="Request duration percentiles from the duration histograms; the dashed line is the "
                "ServiceHighLatency alert's threshold (on the 99th percentile).",
            )
        )
    if apdex:
        cells.append(_within_slo(stack, [s for s, _ in apdex]))
    return _board(groups, [g.Row("RED", cells), *business])


def _within_slo(stack: Stack, services: list[Service]) -> g.Cell:
    """Share of requests within the latency SLO's threshold: services with the same histogram and
    threshold share a query."""

    def key(service: Service) -> tuple[str, str]:
        assert service.http is not None and service.http.duration
        limit = next(s.threshold_seconds for s in service.slos if s.threshold_seconds)
        return service.http.duration, slo_math.le_matcher(limit)

    targets = []
    for found in dashboard_groups.group(services, key, lambda s: key(s)[0]):
        histogram, le = key(found.first)
        good = g.rate(histogram + "_bucket", f"{found.sel},{le}", "service")
        targets.append(g.q(f"{good} / {g.rate(histogram + '_count', found.sel, 'service')}", SERVICE))
    return g.timeseries(
        "Requests within the latency SLO",
        *targets,
        unit="percentunit",
        lo=0,
        hi=1,
        description="Share of requests faster than the service's latency SLO threshold "
        "(the threshold must be a histogram bucket).",
    )


def _board(groups: list[dashboard_groups.Group], rows: list[g.Row]) -> g.Board:
    return g.Board(
        uid=c.DASHBOARD_UIDS["service"],
        title="Services",
        tags=("service",),
        description="Rate, errors and duration of the services declared in the spec, and the metrics they declare.",
        variables=[g.query_var("service", f'label_values(up{{{c.LABEL_SERVICE}!=""}}, {c.LABEL_SERVICE})', "Service")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["slo"], c.DASHBOARD_UIDS["alerts"]),
    )
