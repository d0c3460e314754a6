"""Check `rules/test`: `promtool test rules` on every rendered test file (prometheus/tests/*.yml).

Every alert promstack renders comes with cases that must fire and cases that must stay silent; a
failure names the test file and each failing test (promtool prints `name: <test>` per failure).
"""

from __future__ import annotations

import re

import yaml

from generator import conventions
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool

NAME = "rules/test"
_NAME = re.compile(r"^\s*name: (.*),\s*$")
_DETAIL_LINES = 12  # enough to show expected vs got for one alert without flooding the terminal


def _failures(rel: str, output: str) -> list[str]:
    lines = [line for line in output.splitlines() if line.strip() and not line.startswith("Unit Testing")]
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


def _run(ctx: CheckContext) -> list[str]:
    files = sorted(ctx.root.glob(f"{conventions.PROMETHEUS_TESTS_DIR}/*.yml"))
    if not files:
        return []
    promtool = tool("promtool")
    failures: list[str] = []
    for path in files:
        rel = str(path.relative_to(ctx.root))
        # promtool resolves rule_files relative to the test file's folder
        result = run_tool([promtool, "test", "rules", path.name], cwd=path.parent, timeout=300)
        if result.returncode != 0:
            # 2.42 prints failures on stderr and progress on stdout
            failures.extend(_failures(rel, result.stderr or result.stdout))
    return failures


def ran(ctx: CheckContext) -> str:
    """How many tests promtool runs: one per entry of a test file's `tests:` (as the tree holds them)."""
    prefix = f"{conventions.PROMETHEUS_TESTS_DIR}/"
    files = [t for p, t in ctx.tree.files.items() if p.startswith(prefix) and "/" not in p[len(prefix) :]]
    count = sum(len((yaml.safe_load(text) or {}).get("tests") or ()) for text in files)
    return f"ran {count} rule test{'' if count == 1 else 's'} in {len(files)} file{'' if len(files) == 1 else 's'}"


def run(ctx: CheckContext) -> list[CheckProblem]:
    failures = _run(ctx)
    return [*errors(NAME, failures), CheckProblem(NAME, "info", ran(ctx))]
