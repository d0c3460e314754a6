"""Check `routes/test`: every `notifications.tests` entry through `amtool config routes test`.

A test gives an alert's labels and the receivers it must reach. amtool resolves them on the rendered routing
tree and compares with `--verify.receivers`; a failure names the test, its labels and both receiver lists.
"""

from __future__ import annotations

from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool
from generator.checks.alertmanager_config import config_for_tools
from generator.model import RouteTest

NAME = "routes/test"


def _matcher(name: str, value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'{name}="{escaped}"'


def _show(test: RouteTest) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(test.labels.items())) + "}"


def _failures(ctx: CheckContext) -> list[str]:
    tests = ctx.stack.notifications.tests
    if not tests:
        return []
    amtool = tool("amtool")
    failures = []
    with config_for_tools(ctx) as config:
        for index, test in enumerate(tests):
            expected = list(test.receivers)
            args = [
                amtool,
                "config",
                "routes",
                "test",
                f"--config.file={config}",
                f"--verify.receivers={','.join(expected)}",
                *(_matcher(k, v) for k, v in sorted(test.labels.items())),
            ]
            done = run_tool(args, cwd=ctx.root, timeout=60)
            lines = done.stdout.strip().splitlines()
            actual = lines[0].split(",") if lines and not lines[0].startswith("WARNING") else []
            if done.returncode == 0:
                continue
            # the spec lists a set; amtool prints receivers in routing-tree order and compares strings
            if actual and sorted(actual) == sorted(expected):
                continue
            if not actual:
                output = " ".join((done.stdout + done.stderr).split())
                failures.append(
                    f"notifications.tests[{index}] {_show(test)}: amtool could not resolve the route: {output}"
                )
                continue
            failures.append(
                f"notifications.tests[{index}] {_show(test)}: expected receivers "
                f"[{', '.join(expected)}] but the routes deliver it to [{', '.join(actual)}]."
            )
    return failures


def run(ctx: CheckContext) -> list[CheckProblem]:
    ran = len(ctx.stack.notifications.tests)
    note = f"ran {ran} route test{'' if ran == 1 else 's'}"
    return [*errors(NAME, _failures(ctx)), CheckProblem(NAME, "info", note)]
