"""Check `rules/check`: `promtool check rules` accepts every rendered rule file (prometheus/rules/*.yml)."""

from __future__ import annotations

from generator import conventions
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool

NAME = "rules/check"


def _failures(ctx: CheckContext) -> list[str]:
    files = sorted(ctx.root.glob(f"{conventions.PROMETHEUS_RULES_DIR}/*.yml"))
    if not files:
        return []
    promtool = tool("promtool")
    result = run_tool([promtool, "check", "rules", *(str(f.relative_to(ctx.root)) for f in files)], cwd=ctx.root)
    if result.returncode == 0:
        return []
    # promtool names file, line, group and rule of each problem: pass those lines on as they are
    lines = [line.strip() for line in (result.stderr + "\n" + result.stdout).splitlines()]
    found = [line for line in lines if line and not line.startswith(("Checking ", "SUCCESS", "FAILED"))]
    return [f"promtool check rules rejected a rule file: {line}" for line in found] or [
        f"promtool check rules failed (exit {result.returncode}) without saying why."
    ]


def run(ctx: CheckContext) -> list[CheckProblem]:
    return errors(NAME, _failures(ctx))
