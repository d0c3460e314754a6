"""Alerts: what is firing and pending now, since when, and whether notifications go out.

Built from Prometheus' own ALERTS and ALERTS_FOR_STATE series, so it works without the Grafana
alerting UI; the Watchdog (always firing by design) proves the alerting path is alive.
"""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

REAL = f'alertname!="{c.ALERT_WATCHDOG}"'
NONE_FIRING = "no alert is firing"
P = 'job="prometheus"'
A = 'job="alertmanager"'


def dashboard(stack: Stack) -> g.Board:
    now = g.Row(
        "Now",
        [
            g.stat(
                "Firing",
                g.q(f'count(ALERTS{{alertstate="firing",{REAL}}})'),
                graph=False,
                steps=(("green", None), ("red", 1)),
                quiet=NONE_FIRING,
                description="Alerts firing now (the Watchdog excepted).",
            ),
            g.stat(
                "Pending",
                g.q(f'count(ALERTS{{alertstate="pending",{REAL}}})'),
                graph=False,
                steps=(("green", None), ("orange", 1)),
                quiet="no alert condition is true",
                description="Alerts whose condition holds but not yet for their `for` duration.",
            ),
            g.stat(
                "Watchdog",
                g.q(f'count(ALERTS{{alertname="{c.ALERT_WATCHDOG}",alertstate="firing"}})'),
                graph=False,
                steps=g.UP_STEPS,
                description="Always firing on purpose: when it stops, rule evaluation or alerting is broken.",
            ),
            g.stat(
                "Firing by severity",
                g.q(f'sum by (severity) (ALERTS{{alertstate="firing",{REAL}}})', "{{severity}}"),
                graph=False,
                steps=(("green", None), ("red", 1)),
                quiet=NONE_FIRING,
                description="Firing alerts per severity label.",
            ),
            g.table(
                "Firing alerts",
                g.q(f'ALERTS{{alertstate="firing",{REAL}}}', table=True),
                hidden=("Time", "Value", "__name__", "alertstate"),
                quiet=NONE_FIRING,
                description="Every firing alert with its labels.",
            ),
            g.table(
                "Active for",
                g.q(f"time() - ALERTS_FOR_STATE{{{REAL}}}", table=True),
                hidden=("Time", "__name__"),
                quiet="no alert with a `for` duration is pending or firing",
                description="Seconds since each pending or firing alert (with a `for` clause) became active.",
            ),
        ],
    )
    history = g.Row(
        "History",
        [
            g.timeseries(
                "Firing alerts by name",
                g.q(
                    f'sum by (alertname, severity) (ALERTS{{alertstate="firing",{REAL}}})',
                    "{{alertname}} ({{severity}})",
                ),
                stacked=True,
                quiet=NONE_FIRING,
                w=24,
                description="Firing alerts over time.",
            ),
        ],
    )
    notify = g.Row(
        "Notifications",
        [
            g.timeseries(
                "Alerts sent to Alertmanager",
                g.q('sum(rate(prometheus_notifications_sent_total{job="prometheus"}[$__rate_interval]))', "sent"),
                g.q('sum(rate(prometheus_notifications_errors_total{job="prometheus"}[$__rate_interval]))', "errors"),
                g.q('sum(rate(prometheus_notifications_dropped_total{job="prometheus"}[$__rate_interval]))', "dropped"),
                unit="ops",
                description="Alerts Prometheus sent to Alertmanager per second, and failures.",
            ),
            g.timeseries(
                "Notifications by integration",
                g.q(
                    'sum by (integration) (rate(alertmanager_notifications_total{job="alertmanager"}'
                    "[$__rate_interval]))",
                    "{{integration}}",
                ),
                g.q(
                    'sum by (integration) (rate(alertmanager_notifications_failed_total{job="alertmanager"}'
                    "[$__rate_interval]))",
                    "failed {{integration}}",
                ),
                unit="ops",
                description="Notifications Alertmanager delivered (and failed) per second.",
            ),
            g.timeseries(
                "Alerts to Alertmanager failing",
                g.q(
                    f"{g.rate('prometheus_notifications_errors_total', P)} / "
                    f"({g.rate('prometheus_notifications_sent_total', P)} > 0)",
                    "failed",
                ),
                unit="percentunit",
                lo=0,
                steps=g.percent_alert(stack, "PrometheusNotificationsFailing"),
                quiet="Prometheus sent no alert in the window",
                description="Share of the alerts Prometheus failed to deliver to Alertmanager; the line is the "
                "PrometheusNotificationsFailing alert's threshold.",
            ),
            g.timeseries(
                "Notifications failing by integration",
                g.q(
                    f"{g.rate('alertmanager_notifications_failed_total', A, 'integration')} / "
                    f"({g.rate('alertmanager_notifications_total', A, 'integration')} > 0)",
                    "{{integration}}",
                ),
                unit="percentunit",
                lo=0,
                steps=g.percent_alert(stack, "AlertmanagerNotificationsFailing"),
                quiet="Alertmanager sent no notification in the window",
                description="Share of each integration's notifications that failed; the line is the "
                "AlertmanagerNotificationsFailing alert's threshold.",
            ),
        ],
    )
    return g.Board(
        uid=c.DASHBOARD_UIDS["alerts"],
        title="Alerts",
        tags=("alerts",),
        description="Firing and pending alerts, their history, and the notification path.",
        rows=[now, history, notify],
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["prometheus"]),
    )
