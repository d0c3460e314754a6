"""Check `rules/test`: `promtool test rules` on every rendered test file (prometheus/tests/**.yml).

Every alert promstack renders comes with cases that must fire and cases that must stay silent; a
failure names the test file and each failing test (promtool prints `name: <test>` per failure).
The files are run in batches, one promtool per batch and as many at once as there are cores: a stack
of a thousand services has a thousand test files, and one promtool each would spend its time starting.
The batches are balanced by an estimate of promtool's work (`cost`), not by size: a short test of a
day-over-day alert can take longer than a long test file of a small pack. Each promtool runs on one core
(GOMAXPROCS=1: the batches already use every core) and collects garbage half as often (GOGC=200); with
promtool 2.42 on the example that is a fifth less CPU for about 150 MB instead of 65 MB per promtool.
Either variable set in the environment wins.
A test file that passed before with the same bytes, the same rule files and the same promtool is not
run again where the caller keeps a cache (`up`: see `checks.cache`).
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath

from generator.checks import CheckContext, CheckProblem, errors, tool
from generator.render._alerting import TestFile, test_evaluation_interval
from generator.units import Duration

NAME = "rules/test"
_NAME = re.compile(r"^\s*name: (.*),\s*$")
_FILE = re.compile(r"^Unit Testing:\s+(.*?)\s*$")
_DETAIL_LINES = 12  # enough to show expected vs got for one alert without flooding the terminal
_BATCH = 200  # test files per promtool run at most (its command line, and a timeout that means something)
_RULE = re.compile(r"^\s*- (?:alert|record):", re.M)
# promtool's cost, in rule evaluations: loading a test group (its storage, the rule files parsed again) and
# loading one rule, measured with promtool 2.42 on the example's test files (within 1.3x of each other)
_GROUP_COST = 40
_GO_RUNTIME = {"GOMAXPROCS": "1", "GOGC": "200"}  # see the module docstring
_LOAD_COST = 3
TIMEOUT = 300  # seconds one promtool run may take


def _failures(rel: str, output: str) -> list[str]:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("Unit Testing")]
    if [line.strip() for line in lines] == ["SUCCESS"]:
        return []
    starts = [i for i, line in enumerate(lines) if _NAME.match(line)]
    if not starts:
        body = " ".join(line.strip() for line in lines)
        return [f"{rel}: promtool test rules failed: {body[:2000]}"]
    failures = []
    for n, start in enumerate(starts):
        end = starts[n + 1] if n + 1 < len(starts) else len(lines)
        match = _NAME.match(lines[start])
        assert match is not None
        detail = "\n    ".join(line.rstrip() for line in lines[start + 1 : min(end, start + 1 + _DETAIL_LINES)])
        failures.append(f"{rel}: test '{match.group(1)}' failed:\n    {detail}")
    return failures


def _sections(output: str) -> dict[str, str]:
    """promtool's output for several files, by file: each starts with `Unit Testing: <file>`."""
    found: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in output.splitlines():
        match = _FILE.match(line)
        if match:
            current = found.setdefault(match.group(1), [])
        elif current is not None:
            current.append(line)
    return {file: "\n".join(lines) for file, lines in found.items()}


def _batch(promtool: str, root: Path, rels: Sequence[str]) -> tuple[list[str], list[str]]:
    """Run one promtool on `rels` (paths under `root`): the failures, and the files that passed."""
    try:
        # stderr into stdout: promtool writes each file's header and its failures in order
        result = subprocess.run(
            [promtool, "test", "rules", *rels],
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=TIMEOUT,
            check=False,
            env={**_GO_RUNTIME, **os.environ},
        )
    except subprocess.TimeoutExpired:
        return [f"promtool test rules did not finish within {TIMEOUT} s on {len(rels)} file(s): {', '.join(rels)}"], []
    sections = _sections(result.stdout)
    passed = [rel for rel in rels if rel in sections and not _failures(rel, sections[rel])]
    if result.returncode == 0:
        return [], passed
    failures = [failure for rel in rels if rel in sections for failure in _failures(rel, sections[rel])]
    if not failures:  # it failed before or between files (a file it could not read, a crash)
        failures = [f"promtool test rules failed (exit {result.returncode}): {' '.join(result.stdout.split())[:2000]}"]
    return failures, passed


def cost(ctx: CheckContext, test: TestFile) -> int:
    """promtool's work for `test`, in rule evaluations: per test group, loading the group and its
    rule files' rules, then evaluating every rule at each step of the evaluation interval from 0 to the
    group's last `eval_time` (promtool evaluates all the rules of the file's rule files, whatever the
    group tests)."""
    folder = PurePosixPath(test.path).parent
    rules = sum(len(_RULE.findall(ctx.tree.files.get(os.path.normpath(str(folder / r)), ""))) for r in test.rule_files)
    step = (test.every or test_evaluation_interval(ctx.stack)).ms or 1
    total = 0
    for group in test.groups:
        cases = [*group.get("alert_rule_test", ()), *group.get("promql_expr_test", ())]
        last = max((Duration(str(c.get("eval_time", "0s"))).ms for c in cases), default=0)
        total += _GROUP_COST + rules * (_LOAD_COST + last // step + 1)
    return total


def batches(files: Sequence[tuple[str, int]], workers: int) -> list[list[str]]:
    """`files` (path, cost) in at least `workers` batches of at most _BATCH files: the costliest first, each
    to the batch with the least cost so far, so that the batches take about as long as each other."""
    count = min(len(files), max(workers, -(-len(files) // _BATCH)))
    sizes = [0] * count
    members: list[list[str]] = [[] for _ in range(count)]
    for rel, size in sorted(files, key=lambda f: (-f[1], f[0])):
        open_bins = [i for i in range(count) if len(members[i]) < _BATCH]
        smallest = min(open_bins, key=lambda i: sizes[i])
        sizes[smallest] += size
        members[smallest].append(rel)
    return [sorted(batch) for batch in members if batch]


def _run(ctx: CheckContext) -> tuple[list[str], int]:
    """The failures, and how many test files were not run again (passed before, same bytes)."""
    tests = {t.path: t for t in ctx.tree.rule_tests}
    if not tests:
        return [], 0
    promtool = tool("promtool")
    cache = ctx.cache
    keys = {rel: cache.key(NAME, promtool, *_inputs(ctx, rel, test.rule_files)) for rel, test in tests.items()}
    pending = [rel for rel in tests if not cache.passed(keys[rel])]
    work = batches([(rel, cost(ctx, tests[rel])) for rel in pending], os.cpu_count() or 1)
    with ThreadPoolExecutor(max(1, len(work))) as pool:
        found = list(pool.map(lambda batch: _batch(promtool, ctx.root, batch), work))
    for _, passed in found:
        cache.add(*(keys[rel] for rel in passed))
    return [failure for failures, _ in found for failure in failures], len(tests) - len(pending)


def _inputs(ctx: CheckContext, rel: str, rule_files: Sequence[str]) -> list[str]:
    """What promtool reads for test file `rel`: itself and its rule files, as rendered."""
    folder = PurePosixPath(rel).parent
    read = [os.path.normpath(str(folder / r)) for r in rule_files]
    return [rel, ctx.tree.files[rel], *(f"{r}\n{ctx.tree.files.get(r, '')}" for r in read)]


def ran(ctx: CheckContext, remembered: int = 0) -> str:
    """How many tests promtool proved: one per entry of a test file's `tests:` (as the tree holds them)."""
    count = sum(len(t.groups) for t in ctx.tree.rule_tests)
    files = len(ctx.tree.rule_tests)
    said = f"ran {count} rule test{'' if count == 1 else 's'} in {files} file{'' if files == 1 else 's'}"
    if remembered:
        said += f" ({remembered} of the files passed before with the same bytes and were not run again)"
    return said


def run(ctx: CheckContext) -> list[CheckProblem]:
    failures, remembered = _run(ctx)
    return [*errors(NAME, failures), CheckProblem(NAME, "info", ran(ctx, remembered))]
