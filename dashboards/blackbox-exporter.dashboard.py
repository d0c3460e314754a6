"""Probes: blackbox exporter results per probe and endpoint (success, duration, HTTP status, TLS expiry)."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'probe=~"$probe",instance=~"$instance"'


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("blackbox-exporter"):
        return None
    rows = [
        g.Row(
            "Results",
            [
                g.stat(
                    "Probe success",
                    g.q(f"probe_success{{{SEL}}}", "{{instance}}"),
                    graph=False,
                    w=12,
                    steps=(("red", None), ("green", 1)),
                    mappings=[g.UP_DOWN],
                    description="1 when the last probe of the endpoint succeeded (the ProbeFailed alert).",
                ),
                g.stat(
                    "Exporter up",
                    g.q('up{job="blackbox-exporter"}'),
                    graph=False,
                    w=12,
                    mappings=[g.UP_DOWN],
                    steps=(("red", None), ("green", 1)),
                    description="1 when the blackbox exporter itself answers.",
                ),
                g.timeseries(
                    "Probe duration",
                    g.q(f"probe_duration_seconds{{{SEL}}}", "{{instance}}"),
                    unit="s",
                    description="How long each probe took, end to end.",
                ),
                g.timeseries(
                    "HTTP status code",
                    g.q(f"probe_http_status_code{{{SEL}}}", "{{instance}}"),
                    steps=(("green", None), ("orange", 300), ("red", 400)),
                    description="Status of the last response (0: no response).",
                ),
            ],
        ),
        g.Row(
            "Details",
            [
                g.timeseries(
                    "HTTP phases",
                    g.q(f"sum by (instance, phase) (probe_http_duration_seconds{{{SEL}}})", "{{instance}} {{phase}}"),
                    unit="s",
                    stacked=True,
                    description="Time per HTTP phase: resolve, connect, tls, processing, transfer.",
                ),
                g.timeseries(
                    "TLS certificate expires in",
                    g.q(f"probe_ssl_earliest_cert_expiry{{{SEL}}} - time()", "{{instance}}"),
                    unit="s",
                    steps=(("red", None), ("orange", 7 * 86400), ("green", 21 * 86400)),
                    quiet="only HTTPS endpoints have certificates",
                    description="Time until the earliest certificate in the chain expires.",
                ),
            ],
        ),
    ]
    return g.Board(
        uid=c.DASHBOARD_UIDS["blackbox-exporter"],
        title="Probes",
        tags=("blackbox-exporter",),
        description="Endpoints probed from outside by the blackbox exporter, one job per probe of the spec.",
        variables=[
            g.query_var("probe", "label_values(probe_success, probe)", "Probe"),
            g.query_var("instance", 'label_values(probe_success{probe=~"$probe"}, instance)', "Endpoint"),
        ],
        rows=rows,
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
