#!/usr/bin/env python3
"""promstack benchmarks (run on demand, not part of the test suite): `make bench` or `python bench/run.py`.

Per runtime (local host processes; compose too where a Docker engine answers):
  cold up     `promstack up` on an empty state dir until every component is healthy (checks included)
  rule change a new alert rule in the spec -> `up` -> the rule is loaded in Prometheus
  alert       Pushgateway stopped -> TargetDown notification received by a webhook, next to the
              fastest and slowest times the configured intervals allow
Prints the figures and their ratios; see bench/README.md for how to read them.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import (
    Bench,
    RuleWatch,
    Webhook,
    bridge_gateway,
    compose_images,
    docker_answers,
    free_port,
    seconds,
)


def spec(name: str, ports: dict[str, int], args: argparse.Namespace, images: dict[str, str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "version": 1,
        "name": name,
        "scrape_interval": args.scrape,
        "evaluation_interval": args.eval,
        "components": {
            "prometheus": {"port": ports["prometheus"]},
            "alertmanager": {"port": ports["alertmanager"]},
            "grafana": {"enabled": False},  # no Grafana binary or image on the reference machine
        },
        # the fault is a stopped Pushgateway: TargetDown (a stopped node exporter is HostDown instead)
        "exporters": {"node": {"port": ports["node"]}, "pushgateway": {"port": ports["pushgateway"]}},
        "alerts": {"overrides": {"Watchdog": {"enabled": False}}},
        "notifications": {
            "receivers": [{"name": "bench", "webhook": {"url": {"env": "HOOK_URL"}}}],
            "default_receiver": "bench",
            "group_wait": args.group_wait,
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
    }
    if images:
        data["components"]["prometheus"]["image"] = images["prometheus"]
        data["components"]["alertmanager"]["image"] = images["alertmanager"]
        data["exporters"]["node"]["image"] = images["node-exporter"]
        data["exporters"]["pushgateway"]["image"] = images["pushgateway"]
    return data


def target_down_window(bench: Bench, args: argparse.Namespace) -> tuple[float, float]:
    """(nominal, worst) fault-to-notification the configuration gives TargetDown: nominal = its `for`
    plus group_wait (the fault lands just before a scrape and is evaluated at once); worst adds a whole
    scrape interval until the next scrape and a whole evaluation interval until the rule sees it."""
    rules = yaml.safe_load((bench.root / "tree" / "prometheus" / "rules" / "stack.yml").read_text())
    group = next(g for g in rules["groups"] if any(r.get("alert") == "TargetDown" for r in g["rules"]))
    rule = next(r for r in group["rules"] if r.get("alert") == "TargetDown")
    evaluation = seconds(group.get("interval", args.eval))
    pending = seconds(rule.get("for", "0s"))
    wait = seconds(args.group_wait)
    return pending + wait, seconds(args.scrape) + evaluation + pending + wait


def run_runtime(runtime: str, args: argparse.Namespace, work: Path) -> list[str]:
    images = compose_images() if runtime == "compose" else None
    host = bridge_gateway() if runtime == "compose" else "127.0.0.1"
    hook = Webhook(host)
    ports = {name: free_port() for name in ("prometheus", "alertmanager", "node", "pushgateway")}
    bench = Bench(runtime, work / runtime, spec(f"bench{runtime}", ports, args, images), ports, hook.url)
    lines = [f"== {runtime} (scrape {args.scrape}, evaluation {args.eval}, group_wait {args.group_wait})"]
    try:
        cold = bench.up()
        lines.append(
            f"cold up to healthy      {cold.total:6.2f}s  (checks {cold.checks:.2f}s, "
            f"deploy+health {cold.total - cold.checks:.2f}s)"
        )

        changes = []
        for i in range(args.repeat):
            series = f'bench_probe{{attempt="{i}"}}'
            tests = [
                {"series": {series: "1x20"}, "fires": True, "labels": {"attempt": str(i)}},
                {"series": {series: "0x20"}, "fires": False},
            ]
            bench.data["alerts"]["rules"] = [
                {
                    "alert": f"BenchRule{i}",
                    "expr": f"{series} > 0",
                    "severity": "info",
                    "summary": "A bench rule.",
                    "tests": tests,
                }
            ]
            began = time.monotonic()
            watcher = RuleWatch(bench.prometheus, f"BenchRule{i}", began)  # polls while `up` runs
            applied = bench.up()
            changes.append((watcher.result(), applied.total, applied.checks, applied.plan))
        active = statistics.median(c[0] for c in changes)
        lines.append(
            f"spec change -> rule on  {active:6.2f}s  median of {args.repeat} (checks "
            f"{statistics.median(c[2] for c in changes):.2f}s before it; `up` returns after "
            f"{statistics.median(c[1] for c in changes):.2f}s, verified; applied by {changes[-1][3]}); "
            f"{active / cold.total:.2f} x cold up"
        )

        nominal, worst = target_down_window(bench, args)
        alerts = [bench.time_to_alert(hook) for _ in range(args.repeat)]
        median = statistics.median(alerts)
        lines.append(
            f"fault -> notification   {median:6.2f}s  median of {args.repeat} "
            f"(min {min(alerts):.2f}s, max {max(alerts):.2f}s; all: {', '.join(f'{a:.2f}' for a in alerts)})"
        )
        lines.append(
            f"  configured window     {nominal:6.2f}s nominal .. {worst:.2f}s worst  -> median is "
            f"{median / nominal if nominal else float('inf'):.2f} x nominal, {median / worst:.2f} x worst"
        )
    finally:
        bench.down()
        hook.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", choices=["local", "compose", "both"], default="both")
    parser.add_argument("--scrape", default="1s", help="scrape interval of the bench stack")
    parser.add_argument("--eval", default="1s", help="evaluation interval of the bench stack")
    parser.add_argument("--group-wait", default="1s", help="Alertmanager group_wait")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    runtimes = ["local", "compose"] if args.runtime == "both" else [args.runtime]
    if args.runtime == "both" and not docker_answers():
        print("compose: skipped, no Docker engine answers")
        runtimes = ["local"]
    with tempfile.TemporaryDirectory(prefix="promstack-bench-") as work:
        for runtime in runtimes:
            for line in run_runtime(runtime, args, Path(work)):
                print(line, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
