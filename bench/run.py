#!/usr/bin/env python3
"""promstack benchmarks (run on demand, not part of the test suite): `make bench` or `python bench/run.py`.

Per runtime (local host processes; compose too where a Docker engine answers):
  cold up     `promstack up` on an empty state dir until every component is healthy (checks included)
  rule change a new alert rule in the spec -> `up` -> the rule is loaded in Prometheus (test intervals only)
  blips       the Pushgateway refuses one scrape, then answers again (ten times): no TargetDown
              notification, no evaluation that fired (two consecutive failed scrapes make a page)
  alert       a Pushgateway fault -> TargetDown notification received by a webhook, next to the worst
              case the configured timers allow (generator.render.rules.notification_delay)
  crash       SIGKILL to Alertmanager's, then Prometheus' process -> a new process answers /-/ready
Two sets of intervals: `--intervals test` (1s scrape, evaluation and group_wait: fast figures) and
`--intervals example` (the timers of stack/stack.yaml exactly: its scrape and evaluation intervals, its
routes and promstack's notification defaults). Prints the figures and their ratios; see bench/README.md.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # helpers shared with the tests

from docker_bridge import bridge_gateway
from harness import (
    FAULTS,
    Bench,
    Blips,
    RuleWatch,
    Webhook,
    compose_images,
    docker_answers,
)
from port_registry import free_port

from generator.alerting import routing
from generator.alerting.delay import Delay
from generator.model import Stack
from generator.render import alertmanager_routes
from generator.render.rules import notification_delay
from generator.spec import load_stack
from generator.units import Duration

EXAMPLE = Path(__file__).resolve().parent.parent / "stack" / "stack.yaml"
# the example's timing keys, copied as they are (absent ones keep promstack's defaults, as in the example)
EXAMPLE_TIMING = ("scrape_interval", "scrape_timeout", "evaluation_interval")
EXAMPLE_ROUTING = (
    "default_receiver",
    "routes",
    "group_by",
    "group_wait",
    "group_interval",
    "repeat_interval",
    "time_intervals",
    "escalations",
    "copy_to",
    "inhibit",
    "tests",
)


def _notifications(args: argparse.Namespace) -> dict[str, Any]:
    if args.intervals == "test":
        return {
            "receivers": [{"name": "bench", "webhook": {"url": {"env": "HOOK_URL"}}}],
            "default_receiver": "bench",
            "group_wait": args.group_wait,
            "group_interval": "1s",
            "repeat_interval": "1h",
        }
    # the example's routing tree, every receiver replaced by the bench's webhook
    example = yaml.safe_load(EXAMPLE.read_text())["notifications"]
    receivers = [{"name": r["name"], "webhook": {"url": {"env": "HOOK_URL"}}} for r in example["receivers"]]
    return {"receivers": receivers, **{k: example[k] for k in EXAMPLE_ROUTING if k in example}}


def spec(name: str, ports: dict[str, int], args: argparse.Namespace, images: dict[str, str] | None) -> dict[str, Any]:
    data: dict[str, Any] = {"version": 1, "name": name}
    if args.intervals == "test":
        data.update({"scrape_interval": args.scrape, "evaluation_interval": args.eval})
    else:
        example = yaml.safe_load(EXAMPLE.read_text())
        data.update({k: example[k] for k in EXAMPLE_TIMING if k in example})
    data.update(
        {
            "components": {
                "prometheus": {"port": ports["prometheus"]},
                "alertmanager": {"port": ports["alertmanager"]},
                "grafana": {"enabled": False},  # no Grafana binary or image on the reference machine
            },
            # the fault is a Pushgateway: TargetDown (a stopped node exporter is HostDown instead)
            "exporters": {"node": {"port": ports["node"]}, "pushgateway": {"port": ports["pushgateway"]}},
            "alerts": {"overrides": {"Watchdog": {"enabled": False}}},
            "notifications": _notifications(args),
        }
    )
    if images:
        data["components"]["prometheus"]["image"] = images["prometheus"]
        data["components"]["alertmanager"]["image"] = images["alertmanager"]
        data["exporters"]["node"]["image"] = images["node-exporter"]
        data["exporters"]["pushgateway"]["image"] = images["pushgateway"]
    return data


def _receivers(stack: Stack) -> tuple[str | None, str | None]:
    """Where a Pushgateway TargetDown page goes, and its copy (copy_to), by the route model."""
    config = {"route": alertmanager_routes.route_tree(stack)}
    labels = {"alertname": "TargetDown", "severity": "critical", "job": "pushgateway"}
    found = routing.deliveries(config, labels)
    copies = alertmanager_routes.copy_positions(stack)
    pages = [d.receiver for d in found if not (d.path[:1] and d.path[0] in copies)]
    copied = [d.receiver for d in found if d.path[:1] and d.path[0] in copies]
    return (pages[0] if pages else None), (copied[0] if copied else None)


def _bound(delay: Delay, fault: str) -> Decimal:
    """The worst case of either fault: the confirming window waits out a scrape timeout even when the
    port refuses at once (generator/alerting/delay.py)."""
    return delay.worst


def _rule_changes(bench: Bench, args: argparse.Namespace, cold: float) -> str:
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
    return (
        f"spec change -> rule on  {active:6.2f}s  median of {args.repeat} (checks "
        f"{statistics.median(c[2] for c in changes):.2f}s before it; `up` returns after "
        f"{statistics.median(c[1] for c in changes):.2f}s, verified; applied by {changes[-1][3]}); "
        f"{active / cold:.2f} x cold up"
    )


class Printed(list[str]):
    """The figures, each printed as soon as it is known (a long run that fails late keeps what it measured)."""

    def __init__(self, first: list[str]) -> None:
        super().__init__()
        for line in first:
            self.append(line)

    def append(self, line: str) -> None:
        print(line, flush=True)
        super().append(line)


def run_runtime(runtime: str, args: argparse.Namespace, work: Path) -> list[str]:
    images = compose_images() if runtime == "compose" else None
    host = bridge_gateway() if runtime == "compose" else "127.0.0.1"
    hook = Webhook(host)
    ports = {name: free_port() for name in ("prometheus", "alertmanager", "node", "pushgateway")}
    bench = Bench(runtime, work / runtime, spec(f"bench{runtime}", ports, args, images), ports, hook.url)
    lines = Printed([f"== {runtime}, {args.intervals} intervals"])
    try:
        cold = bench.up()
        lines.append(
            f"cold up to healthy      {cold.total:6.2f}s  (checks {cold.checks:.2f}s, "
            f"deploy+health {cold.total - cold.checks:.2f}s)"
        )
        if args.intervals == "test":
            lines.append(_rule_changes(bench, args, cold.total))

        delay = notification_delay(load_stack(bench.spec), "TargetDown", "pushgateway")
        lines.append(f"TargetDown timers        {delay.terms()}")
        if "blip" in args.faults:
            tried, failed, notified, fired, span = Blips(bench).run(hook, args.blips, float(delay.worst) + 2)
            lines.append(
                f"blips                    {args.blips} single-scrape blips ({tried} tried, {failed} failed scrapes in "
                f"Prometheus' record over {span:.0f}s): {notified} TargetDown notifications, {fired} evaluations "
                f"that fired{'  PAGED FOR A BLIP' if notified or fired else ''}"
            )
        # a random phase over a whole scrape interval, so the runs sample every position against the ticks
        phase = float(delay.scrape)
        page, copy = _receivers(load_stack(bench.spec))
        for fault in (f for f in args.faults if f in FAULTS):
            timed = [bench.time_to_alert(hook, fault, phase, page, copy) for _ in range(args.repeat)]
            alerts = [t[0] for t in timed]
            median, bound = statistics.median(alerts), float(_bound(delay, fault))
            lines.append(
                f"{fault:6} -> notification  {median:6.2f}s  median of {args.repeat} (min {min(alerts):.2f}s, "
                f"max {max(alerts):.2f}s; all: {', '.join(f'{a:.2f}' for a in alerts)})"
            )
            lines.append(
                f"  worst case {bound:6.2f}s  -> median is {median / bound:.2f} x, max {max(alerts) / bound:.2f} x "
                f"the bound{'  EXCEEDED' if max(alerts) > bound + 1 else ''}"
            )
            lags = [c - a for a, c in timed if c is not None]
            if lags:
                lines.append(
                    f"  copy to {copy}: {max(abs(x) for x in lags):.2f}s apart from the page at most "
                    f"(all: {', '.join(f'{x:+.2f}' for x in lags)}): the copy keeps the page's timers"
                )
        # last: a crash may cost Prometheus the samples of its last moments
        crashes = (("alertmanager", bench.alertmanager), ("prometheus", bench.prometheus)) if args.crash else ()
        for component, base in crashes:
            try:
                backs = [bench.crash_to_ready(component, base) for _ in range(args.repeat)]
            except TimeoutError as exc:
                lines.append(f"{component} crash -> ready  {exc}")
                continue
            lines.append(
                f"{component} crash -> ready {statistics.median(backs):5.2f}s  median of {args.repeat} "
                f"(max {max(backs):.2f}s; SIGKILL to a new process answering /-/ready)"
            )
    finally:
        bench.down()
        hook.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runtime", choices=["local", "compose", "both"], default="both")
    parser.add_argument("--intervals", choices=["test", "example"], default="test")
    parser.add_argument("--scrape", default="1s", help="scrape interval of the bench stack (test intervals)")
    parser.add_argument("--eval", default="1s", help="evaluation interval of the bench stack (test intervals)")
    parser.add_argument("--group-wait", default="1s", help="Alertmanager group_wait (test intervals)")
    parser.add_argument(
        "--fault",
        choices=[*FAULTS, "blip", "both", "all"],
        help="how the Pushgateway fails: stop (refused), freeze (hangs until the scrape timeout), blip (refuses "
        "one scrape, then answers again: must never page); both: stop and freeze; all: blip, stop and freeze; "
        "default: stop with test intervals, all with the example's",
    )
    parser.add_argument("--blips", type=int, default=10, help="single-scrape blips to make (fault blip)")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--no-crash", dest="crash", action="store_false", help="skip the crash -> ready figures (the slowest part)"
    )
    args = parser.parse_args()
    fault = args.fault or ("stop" if args.intervals == "test" else "all")
    args.faults = {"both": list(FAULTS), "all": ["blip", *FAULTS]}.get(fault, [fault])
    if "blip" in args.faults and args.intervals == "test" and Duration(args.scrape).ms < 5000:
        parser.error("a blip needs scrapes at least 5s apart (stop and start take a second or two): --scrape 5s")
    runtimes = ["local", "compose"] if args.runtime == "both" else [args.runtime]
    if args.runtime == "both" and not docker_answers():
        print("compose: skipped, no Docker engine answers")
        runtimes = ["local"]
    with tempfile.TemporaryDirectory(prefix="promstack-bench-") as work:
        for runtime in runtimes:
            run_runtime(runtime, args, Path(work))
    return 0


if __name__ == "__main__":
    sys.exit(main())
