"""Fast at any size: generate and check of 10 to 10,000 services, against the bounds of issue 12.

    make bench-scale                                   # = .venv/bin/python bench/scale.py
    .venv/bin/python bench/scale.py --sizes 10,100,1000 --repeat 3 --check-max 1000
    .venv/bin/python bench/scale.py --no-up            # the sizes only, not the example's `up` figures

Each stack is the example (stack/stack.yaml) with its services replaced by N copies of its `api` service,
without SLOs and with its first SLO. Per size: `generate` (the pipeline's own time, and the whole process
with Python's start), the floor (parsing and re-emitting the same output with libyaml and json, the
least any generator of these bytes could spend), `check`, the largest file and dashboard, and the peak
RSS of each process. Then per-service slopes between sizes, the example's `check`, and (with the local
runtime's binaries) the example's `up`: cold, unchanged, and a spec change until the new rule is active.
Every figure is a median of `--repeat` runs, printed with the machine's load: two shared cores give noisy
wall times. The last lines say which bound of the issue each figure meets.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import itertools
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "stack" / "stack.yaml"
PROMSTACK = str(Path(sys.executable).parent / "promstack")
sys.path.insert(0, str(ROOT / "bench"))

# the pipeline's own time of `generate`, in a fresh process; its output: seconds
GENERATE = """
import sys, time
from pathlib import Path
from generator import pipeline
began = time.perf_counter()
pipeline.generate(Path(sys.argv[1]), Path(sys.argv[2]))
print(time.perf_counter() - began)
"""
# the floor: read every YAML and JSON file of the output and write it again with libyaml and json
FLOOR = """
import json, sys, time, yaml
from pathlib import Path
files = [(p, p.read_text()) for p in sorted(Path(sys.argv[1]).rglob("*")) if p.suffix in (".yml", ".yaml", ".json")]
began = time.perf_counter()
for path, text in files:
    if path.suffix == ".json":
        json.dumps(json.loads(text), indent=2, sort_keys=True)
    else:
        yaml.dump(yaml.load(text, Loader=yaml.CSafeLoader), Dumper=yaml.CSafeDumper, sort_keys=False,
                  default_flow_style=False, allow_unicode=True, width=120)
print(time.perf_counter() - began)
"""


@dataclass
class Run:
    seconds: float  # wall time of the process
    inner: float | None  # what the process measured itself (the pipeline without Python's start)
    rss_mb: float  # its peak resident memory
    code: int
    output: str
    cpu: float = 0.0  # user + system seconds of it and the tools it ran (steadier than wall time here)


def run(argv: list[str], env: dict[str, str] | None = None) -> Run:
    """Run `argv`, with its wall time and (through wait4) its own peak RSS."""
    began = time.perf_counter()
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, text=True)
    assert process.stdout is not None
    output = process.stdout.read()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - began
    process.returncode = os.waitstatus_to_exitcode(status)
    inner = None
    with contextlib.suppress(ValueError, IndexError):
        inner = float(output.strip().splitlines()[-1])
    cpu = usage.ru_utime + usage.ru_stime  # wait4: the child's and its own waited-for children's
    return Run(seconds, inner, usage.ru_maxrss / 1024, process.returncode, output, cpu)


def median_run(argv: list[str], repeat: int) -> Run:
    runs = [run(argv) for _ in range(repeat)]
    failed = [r for r in runs if r.code != 0]
    if failed:
        raise SystemExit(f"{' '.join(argv)} failed:\n{failed[0].output[-3000:]}")
    by_time = sorted(runs, key=lambda r: r.seconds)
    middle = by_time[len(by_time) // 2]
    inner = [r.inner for r in runs if r.inner is not None]
    cpu = statistics.median(r.cpu for r in runs)
    return Run(middle.seconds, statistics.median(inner) if inner else None, max(r.rss_mb for r in runs), 0, "", cpu)


def scaled_spec(count: int, slo: bool) -> dict[str, Any]:
    """The example with its services replaced by `count` copies of `api` (with its first SLO, or none: issue
    12 measures one SLO per service; the example's api has a second one, measured by its health probe)."""
    data = yaml.safe_load(EXAMPLE.read_text())
    api = next(s for s in data["services"] if s["name"] == "api")
    services = []
    for i in range(count):
        clone = copy.deepcopy(api)
        clone["name"] = f"api{i:05d}"
        clone["targets"] = [f"api{i:05d}:8000"]
        if slo:
            clone["slos"] = clone["slos"][:1]
        else:
            clone.pop("slos", None)
        services.append(clone)
    data["services"] = services
    return data


@dataclass
class Size:
    services: int
    slo: bool
    generate: Run
    floor: Run
    check: Run | None
    largest: tuple[str, int]
    dashboard: tuple[str, int]
    files: int


def largest(out: Path, under: str = "") -> tuple[str, int]:
    found = [(str(p.relative_to(out)), p.stat().st_size) for p in out.rglob("*") if p.is_file() and under in str(p)]
    return max(found, key=lambda f: f[1]) if found else ("-", 0)


def measure(count: int, slo: bool, work: Path, args: argparse.Namespace) -> Size:
    spec = work / f"n{count}-{'slo' if slo else 'noslo'}.yaml"
    spec.write_text(yaml.safe_dump(scaled_spec(count, slo), sort_keys=False))
    out = work / f"out-{spec.stem}"
    python = sys.executable
    generate = median_run([python, "-c", GENERATE, str(spec), str(out)], args.repeat)
    floor = median_run([python, "-c", FLOOR, str(out)], args.repeat)
    limit = args.check_max_slo if slo else args.check_max
    check = median_run([PROMSTACK, "check", str(spec)], args.check_repeat) if count <= limit else None
    files = sum(1 for p in out.rglob("*") if p.is_file())
    return Size(count, slo, generate, floor, check, largest(out), largest(out, "grafana/dashboards"), files)


def row(size: Size) -> str:
    gen, floor = size.generate, size.floor
    assert gen.inner is not None and floor.inner is not None
    check = (
        f"{size.check.seconds:8.2f}s {size.check.cpu:7.1f}s {size.check.rss_mb:6.0f}MB"
        if size.check
        else f"{'-':>9} {'-':>8} {'-':>8}"
    )
    return (
        f"{size.services:>6} {'1 SLO' if size.slo else 'none':>5} {gen.inner:8.2f}s {gen.seconds:7.2f}s "
        f"{floor.inner:7.2f}s {gen.inner / floor.inner:6.1f}x {gen.rss_mb:6.0f}MB {check} {size.files:>6} "
        f"{size.largest[1] / 1024:8.0f}KB {size.dashboard[1] / 1024:6.0f}KB  {size.largest[0]}"
    )


def _seconds(size: Size, what: str) -> float | None:
    if what == "generate":
        return size.generate.inner
    return size.check.seconds if size.check else None


def slopes(sizes: list[Size], what: str) -> list[str]:
    lines = []
    for slo in (False, True):
        found = [s for s in sizes if s.slo == slo]
        for low, high in itertools.pairwise(found):
            a, b = _seconds(low, what), _seconds(high, what)
            if a is None or b is None:
                continue
            per = (b - a) / (high.services - low.services) * 1000
            lines.append(
                f"  {what:<8} {'1 SLO' if slo else 'no SLO':<6} {low.services:>5} -> {high.services:>5}: "
                f"{per:7.3f} ms per service"
            )
    return lines


# ---- the example's `up` on the local runtime ------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class UpFigures:
    cold: float
    cold_checks: float
    unchanged: list[float] = field(default_factory=list)
    rule_on: list[float] = field(default_factory=list)
    returned: list[float] = field(default_factory=list)


def example_up(work: Path, repeat: int) -> UpFigures:
    """The example on the local runtime, on free ports, in a throw-away state dir: cold `up`, `up` with no
    change, and a new alert rule until Prometheus lists it (polled while `up` runs)."""
    from harness import Bench, RuleWatch, Webhook

    from generator.spec import schema as spec_schema

    data = yaml.safe_load(EXAMPLE.read_text())
    ports = {"prometheus": _free_port(), "alertmanager": _free_port()}
    for name in ("prometheus", "alertmanager", "grafana"):
        data["components"].setdefault(name, {})["port"] = ports.get(name) or _free_port()
    exporters = json.loads(spec_schema.text())["properties"]["exporters"]["properties"]
    for name, settings in data["exporters"].items():
        if "port" in exporters[name].get("properties", {}):  # not one that is only scraped (rabbitmq)
            settings["port"] = _free_port()
    data["demo"]["port"] = _free_port()
    hook = Webhook("127.0.0.1")
    bench = Bench("local", work / "up", data, ports, hook.url)
    try:
        cold = bench.up()
        figures = UpFigures(cold.total, cold.checks)
        for _ in range(repeat):
            figures.unchanged.append(bench.up().total)
        for i in range(repeat):
            series = f'scale_probe{{attempt="{i}"}}'
            tests = [
                {"series": {series: "1x20"}, "fires": True, "labels": {"attempt": str(i)}},
                {"series": {series: "0x20"}, "fires": False},
            ]
            rule = {"alert": f"ScaleRule{i}", "expr": f"{series} > 0", "severity": "info", "summary": "A rule."}
            bench.data["alerts"]["rules"] = [*data["alerts"]["rules"][:1], {**rule, "tests": tests}]
            began = time.monotonic()
            watch = RuleWatch(bench.prometheus, f"ScaleRule{i}", began)
            applied = bench.up()
            figures.rule_on.append(watch.result())
            figures.returned.append(applied.total)
        return figures
    finally:
        bench.down()
        hook.close()


# ---- report -----------------------------------------------------------------------------------------


def verdict(ok: bool, text: str) -> str:
    return f"  {'meets ' if ok else 'MISSES'} {text}"


def bounds(sizes: list[Size], example_check: float, up: UpFigures | None) -> list[str]:
    def at(count: int, slo: bool) -> Size | None:
        return next((s for s in sizes if s.services == count and s.slo == slo), None)

    lines = []
    thousand = at(1000, False)
    if thousand and thousand.generate.inner is not None and thousand.floor.inner is not None:
        gen = thousand.generate.inner
        lines.append(verdict(gen < 2, f"generate of 1,000 services under 2 s: {gen:.2f}s"))
        ratio = gen / thousand.floor.inner
        lines.append(verdict(ratio <= 3, f"generate at most 3x the libyaml/json floor: {ratio:.1f}x"))
        boards = max(s.dashboard[1] for s in sizes if s.services == 1000)
        lines.append(
            verdict(boards < 200 * 1024, f"largest dashboard at 1,000 services under 200 KB: {boards / 1024:.0f} KB")
        )
        if thousand.check:
            lines.append(
                verdict(
                    thousand.check.seconds < 30,
                    f"check of 1,000 services without SLOs under 30 s: {thousand.check.seconds:.1f}s",
                )
            )
    hundred = at(100, True)
    if hundred and hundred.check:
        lines.append(
            verdict(
                hundred.check.seconds < 30,
                f"check of 100 services with an SLO each under 30 s: {hundred.check.seconds:.1f}s",
            )
        )
    lines.append(verdict(example_check < 3, f"check of the example under 3 s: {example_check:.2f}s"))
    for slo in (False, True):
        found = [s for s in sizes if s.slo == slo and s.services >= 100]
        for what in ("generate", "check"):
            # linear: the added time per added service is the same from one range of sizes to the next
            per = [
                (b - a) / (high.services - low.services)
                for low, high in itertools.pairwise(found)
                for a, b in [(_seconds(low, what), _seconds(high, what))]
                if a is not None and b is not None
            ]
            if len(per) >= 2 and min(per) > 0:
                spread = max(per) / min(per)
                kind = "1 SLO" if slo else "no SLO"
                text = f"{what} linear from 100 services up ({kind}): time per added service varies {spread:.2f}x"
                lines.append(verdict(spread < 2, text))
    if up is not None:
        lines.append(verdict(up.cold < 15, f"cold up of the example healthy under 15 s: {up.cold:.2f}s"))
        unchanged = statistics.median(up.unchanged)
        lines.append(verdict(unchanged < 2, f"up with no change returns under 2 s: {unchanged:.2f}s"))
        rule = statistics.median(up.rule_on)
        lines.append(verdict(rule < 2, f"spec change -> rule active through up under 2 s: {rule:.2f}s"))
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10,100,1000,10000", help="numbers of services, comma-separated")
    parser.add_argument("--repeat", type=int, default=3, help="runs of generate and the floor per size")
    parser.add_argument("--check-repeat", type=int, default=1, help="runs of check per size")
    parser.add_argument("--check-max", type=int, default=10000, help="largest size checked, without SLOs")
    parser.add_argument("--check-max-slo", type=int, default=1000, help="largest size checked, with SLOs")
    parser.add_argument("--no-up", action="store_true", help="skip the example's up on the local runtime")
    parser.add_argument("--only-example", action="store_true", help="the example's check and up only")
    parser.add_argument(
        "--work",
        type=Path,
        default=ROOT / "bench" / ".work",
        help="where the specs and outputs go (a fresh folder inside it, removed at the end); default: beside "
        "the benchmark, on the repository's disk, where a user's output goes",
    )
    args = parser.parse_args()
    with (ROOT / "stack" / "example.env").open() as env:
        for line in env:
            if "=" in line and not line.startswith("#"):
                key, value = line.strip().split("=", 1)
                os.environ.setdefault(key, value)
    sizes = [] if args.only_example else [int(s) for s in args.sizes.split(",")]
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; medians of {args.repeat}; "
        f"output under {args.work}"
    )
    print(
        f"{'svcs':>6} {'SLOs':>5} {'generate':>9} {'process':>8} {'floor':>8} {'ratio':>7} {'RSS':>8} "
        f"{'check':>9} {'cpu':>8} {'RSS':>8} {'files':>6} {'largest':>10} {'board':>8}  largest file"
    )
    found: list[Size] = []
    args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="promstack-scale-", dir=args.work) as tmp:
        work = Path(tmp)
        for slo in (False, True):
            for count in sizes:
                size = measure(count, slo, work, args)
                found.append(size)
                print(row(size), flush=True)
        print("slopes (added time per added service):")
        for line in slopes(found, "generate") + slopes(found, "check"):
            print(line)
        example = median_run([PROMSTACK, "check", str(EXAMPLE)], max(args.repeat, 3))
        print(
            f"check of the example: {example.seconds:.2f}s, {example.cpu:.1f}s of CPU "
            f"(median of {max(args.repeat, 3)}), {example.rss_mb:.0f} MB"
        )
        up = None
        if not args.no_up:
            up = example_up(work, args.repeat)
            print(
                f"example up (local runtime): cold {up.cold:.2f}s (checks {up.cold_checks:.2f}s), unchanged "
                f"{statistics.median(up.unchanged):.2f}s, spec change -> rule active "
                f"{statistics.median(up.rule_on):.2f}s (up returns after {statistics.median(up.returned):.2f}s)"
            )
        print(f"load average {os.getloadavg()[0]:.2f} at the end")
        print("bounds of issue 12:")
        for line in bounds(found, example.seconds, up):
            print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
