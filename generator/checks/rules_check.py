"""Check `rules/check`: `promtool check rules` accepts every rendered rule file (prometheus/rules/**.yml)."""

from __future__ import annotations

from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool

NAME = "rules/check"


_BATCH = 1000  # files per promtool run: a command line of a few tens of kilobytes


def _failures(ctx: CheckContext) -> list[str]:
    files = sorted(rule_file.path for rule_file in ctx.tree.rules)
    if not files:
        return []
    promtool = tool("promtool")
    return [f for i in range(0, len(files), _BATCH) for f in _run(ctx, promtool, files[i : i + _BATCH])]


def _run(ctx: CheckContext, promtool: str, files: list[str]) -> list[str]:
    result = run_tool([promtool, "check", "rules", *files], cwd=ctx.root)
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
