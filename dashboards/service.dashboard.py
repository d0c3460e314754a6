"""Service: the RED method (rate, errors, duration) for every service of the spec with HTTP metrics,
and a "Business metrics" row per service with the panels of the metrics it declares (by type, see
generator/dashboard_metrics.py).

Services name their own metrics, so each panel has one query per service, each restricted twice on
the `service` label: to its own service and to the `$service` variable (a custom variable over the
services of the spec). Picking a service in the variable leaves only its lines.
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboard_metrics, slo_math
from generator import dashboards as g
from generator.model import Service, Stack


def _sel(service: Service) -> str:
    return f'{c.LABEL_SERVICE}="{service.name}",{c.LABEL_SERVICE}=~"$service"'


def dashboard(stack: Stack) -> g.Board | None:
    shown = [s for s in stack.services if s.http is not None or s.metrics]
    if not shown:
        return None
    business = [
        g.Row(f"Business metrics: {s.name}", dashboard_metrics.cells(s, f'{c.LABEL_SERVICE}=~"$service"'))
        for s in shown
        if s.metrics
    ]
    services = [s for s in shown if s.http is not None]
    if not services:
        return _board(shown, business)
    rate, errors, codes, latency, apdex = [], [], [], [], []
    for service in services:
        assert service.http is not None
        http, sel, name = service.http, _sel(service), service.name
        rate.append(g.q(g.rate(http.requests, sel), name))
        errors.append(g.q(g.ratio(http.requests, sel, http.errors), name))
        codes.append(g.q(g.rate(http.requests, sel, "code"), f"{name} {{{{code}}}}"))
        if http.duration:
            for quant in (0.5, 0.95, 0.99):
                latency.append(g.q(g.quantile(quant, http.duration, sel), f"{name} p{round(quant * 100)}"))
            limit = next((s.threshold_seconds for s in service.slos if s.threshold_seconds), None)
            if limit is not None:
                good = g.rate(http.duration + "_bucket", f"{sel},{slo_math.le_matcher(limit)}")
                apdex.append(g.q(f"{good} / {g.rate(http.duration + '_count', sel)}", name))
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
        cells.append(
            g.timeseries(
                "Requests within the latency SLO",
                *apdex,
                unit="percentunit",
                lo=0,
                hi=1,
                description="Share of requests faster than the service's latency SLO threshold "
                "(the threshold must be a histogram bucket).",
            )
        )
    return _board(shown, [g.Row("RED", cells), *business])


def _board(services: list[Service], rows: list[g.Row]) -> g.Board:
    return g.Board(
        uid=c.DASHBOARD_UIDS["service"],
        title="Services",
        tags=("service",),
        description="Rate, errors and duration of the services declared in the spec, and the metrics they declare.",
        variables=[g.custom_var("service", [s.name for s in services], "Service")],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["slo"], c.DASHBOARD_UIDS["alerts"]),
    )
