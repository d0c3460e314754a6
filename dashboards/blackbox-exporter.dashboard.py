"""Probes: blackbox exporter results per probe and endpoint (success, duration, HTTP status, TLS expiry)."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

SEL = 'probe=~"$probe",instance=~"$instance"'
DAY = 86400  # the certificate alert's threshold is in days, the panel in seconds


def dashboard(stack: Stack) -> g.Board | None:
    if not stack.has("blackbox-exporter"):
        return None
    rows = [
        g.Row(
            "Results",
            [
                g.up(
                    "Probe success",
                    g.q(f"probe_success{{{SEL}}}", "{{instance}}"),
                    description="1 when the last probe of the endpoint succeeded (the ProbeFailed alert).",
                    w=12,
                ),
                g.up(
                    "Exporter up",
                    g.q('up{job="blackbox-exporter"}'),
                    description="1 when the blackbox exporter itself answers.",
                    w=12,
                ),
                g.timeseries(
                    "Probe duration",
                    g.q(f"probe_duration_seconds{{{SEL}}}", "{{instance}}"),
                    unit="s",
                    steps=g.alert_steps(stack, "BlackboxSlowProbe"),
                    description="How long each probe took, end to end; the line is the BlackboxSlowProbe alert's "
                    "threshold (which it compares with the 5-minute average).",
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
                    steps=g.alert_steps(stack, "BlackboxTLSCertificateExpiring", lambda days: days * DAY, below=True),
                    quiet="only HTTPS endpoints have certificates",
                    description="Time until the earliest certificate in the chain expires; red below the "
                    "BlackboxTLSCertificateExpiring alert's threshold.",
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
