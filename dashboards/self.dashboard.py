"""Self-monitoring: Prometheus (scrapes, storage, rules, notifications) and Alertmanager themselves."""

from __future__ import annotations

from generator import conventions as c
from generator import dashboards as g
from generator.model import Stack

P = 'job="prometheus"'
A = 'job="alertmanager"'


def _prometheus() -> list[g.Row]:
    return [
        g.Row(
            "Prometheus",
            [
                g.stat(
                    "Up",
                    g.q(f"up{{{P}}}", "{{instance}}"),
                    steps=g.UP_STEPS,
                    graph=False,
                    w=4,
                    description="1 when Prometheus scrapes itself.",
                ),
                g.stat(
                    "Config reloaded",
                    g.q(f"prometheus_config_last_reload_successful{{{P}}}"),
                    steps=g.UP_STEPS,
                    graph=False,
                    w=4,
                    mappings=[g.BOOLEAN_OK],
                    description="0 when the last configuration reload failed.",
                ),
                g.stat(
                    "Head series",
                    g.q(f"prometheus_tsdb_head_series{{{P}}}"),
                    w=4,
                    description="Series in the in-memory head block.",
                ),
                g.stat(
                    "Samples appended",
                    g.q(f"rate(prometheus_tsdb_head_samples_appended_total{{{P}}}[$__rate_interval])"),
                    unit="ops",
                    w=4,
                    description="Samples ingested per second.",
                ),
                g.stat(
                    "Storage",
                    g.q(f"prometheus_tsdb_storage_blocks_bytes{{{P}}}"),
                    unit="bytes",
                    w=4,
                    description="Bytes of persisted blocks (the WAL and head are extra).",
                ),
                g.stat(
                    "Memory",
                    g.q(f"process_resident_memory_bytes{{{P}}}"),
                    unit="bytes",
                    w=4,
                    description="Resident memory of the Prometheus process.",
                ),
            ],
        ),
        g.Row(
            "Scrapes",
            [
                g.timeseries(
                    "Scrape duration by job",
                    g.q("max by (job) (scrape_duration_seconds)", "{{job}}"),
                    unit="s",
                    description="Slowest scrape of each job; near the scrape timeout, targets start to fail.",
                ),
                g.timeseries(
                    "Samples scraped by job",
                    g.q("sum by (job) (scrape_samples_scraped)", "{{job}}"),
                    description="Samples per scrape of each job: a jump is a cardinality change.",
                ),
            ],
        ),
        g.Row(
            "Rules",
            [
                g.timeseries(
                    "Rule evaluation failures",
                    g.q(
                        f"sum by (rule_group) (rate(prometheus_rule_evaluation_failures_total{{{P}}}"
                        "[$__rate_interval]))",
                        "{{rule_group}}",
                    ),
                    unit="ops",
                    steps=(("green", None), ("red", 0.0001)),
                    description="Rule evaluations that failed per second, per group (should stay 0).",
                ),
                g.timeseries(
                    "Rule group duration / interval",
                    g.q(
                        f"prometheus_rule_group_last_duration_seconds{{{P}}} / "
                        f"prometheus_rule_group_interval_seconds{{{P}}}",
                        "{{rule_group}}",
                    ),
                    unit="percentunit",
                    steps=(("green", None), ("red", 1)),
                    description="Share of its interval each rule group needs; above 1, evaluations are missed.",
                ),
            ],
        ),
    ]


def _alertmanager() -> g.Row:
    return g.Row(
        "Alertmanager",
        [
            g.stat(
                "Up",
                g.q(f"up{{{A}}}", "{{instance}}"),
                steps=g.UP_STEPS,
                graph=False,
                w=4,
                description="1 when Prometheus can scrape Alertmanager.",
            ),
            g.stat(
                "Config reloaded",
                g.q(f"alertmanager_config_last_reload_successful{{{A}}}"),
                steps=g.UP_STEPS,
                graph=False,
                mappings=[g.BOOLEAN_OK],
                w=4,
                description="0 when the last configuration reload failed.",
            ),
            g.stat(
                "Alertmanagers discovered",
                g.q(f"prometheus_notifications_alertmanagers_discovered{{{P}}}"),
                steps=g.UP_STEPS,
                graph=False,
                w=4,
                description="Alertmanagers Prometheus sends alerts to.",
            ),
            g.stat(
                "Active silences",
                g.q(f'alertmanager_silences{{{A},state="active"}}'),
                graph=False,
                w=4,
                description="Silences in effect now.",
            ),
            g.timeseries(
                "Alerts in Alertmanager",
                g.q(f"sum by (state) (alertmanager_alerts{{{A}}})", "{{state}}"),
                w=8,
                description="Alerts Alertmanager holds, active or suppressed (silenced or inhibited).",
            ),
        ],
    )


def dashboard(stack: Stack) -> g.Board:
    return g.Board(
        uid=c.DASHBOARD_UIDS["prometheus"],
        title="Prometheus & Alertmanager",
        tags=("prometheus", "alertmanager"),
        description="The monitoring stack watching itself: ingestion, storage, rules, scrapes and alert delivery.",
        rows=[*_prometheus(), _alertmanager()],
        links=(c.DASHBOARD_UIDS["overview"], c.DASHBOARD_UIDS["alerts"]),
    )
