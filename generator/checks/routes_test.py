"""Check `routes/test`: who gets which alert, proven on the rendered alertmanager.yml.

Each `notifications.tests` entry gives an alert's labels and the receivers it must reach. promstack's
route model (generator/alerting/routing.py) walks the rendered tree; for a test without a time, amtool
(`amtool config routes test`) walks it too and both must name the same receivers. A test with `at` is
evaluated against the time intervals by the model alone: amtool ignores time intervals. A test with
`firing` also applies the inhibitions (an alert they mute reaches nobody).

Generated cases join the spec's: each escalation's copy reaches exactly its receivers, and every alert
reaches each `copy_to` receiver once per route that delivers it, with that route's grouping, timers and
time intervals (so a page's copy is as fast as the page). copy_to receivers are not listed in tests:
a test says where an alert is routed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from generator import conventions, yamlload
from generator.alerting import inhibition, routing
from generator.alerting.matchers import ALERTNAME, Matcher
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool, warnings
from generator.checks.alertmanager_config import config_for_tools
from generator.render import alertmanager_routes
from generator.render.escalations import escalated_example, escalation_rules
from generator.spec.formats import moment

NAME = "routes/test"
AMTOOL_IGNORES_TIME = "amtool ignores time intervals"


@dataclass(frozen=True)
class Case:
    what: str  # how messages name it
    labels: Mapping[str, str]
    expected: tuple[str, ...] | None = None  # None: only amtool and the model must agree
    at: datetime | None = None
    firing: tuple[Mapping[str, str], ...] = ()
    location: str = ""


@dataclass
class Outcome:
    failures: list[str] = field(default_factory=list)
    amtool: int = 0  # cases amtool walked too
    timed: int = 0  # cases with a time: the model only


def _show(labels: Mapping[str, str]) -> str:
    return "{" + ", ".join(f"{k}={v!r}" for k, v in sorted(labels.items())) + "}"


def _spec_cases(ctx: CheckContext) -> list[Case]:
    cases = []
    for index, test in enumerate(ctx.stack.notifications.tests):
        if test.receivers is None:
            continue  # only `muted`: routes/inhibit proves it
        what = f"notifications.tests[{index}] {_show(test.labels)}" + (f" at {test.at}" if test.at else "")
        at = moment(test.at) if test.at else None
        cases.append(Case(what, test.labels, test.receivers, at, test.firing, test.source))
    return cases


def _escalation_cases(ctx: CheckContext) -> tuple[list[Case], list[str]]:
    cases, unused = [], []
    for escalation in ctx.stack.notifications.escalations:
        if not escalation_rules(ctx.stack, escalation, ctx.tree.rules, ctx.tree.dashboards):
            unused.append(f"escalation {escalation.name} matches no alert this stack renders, so it never escalates.")
        labels = escalated_example(ctx.stack, escalation, ctx.tree.rules, ctx.tree.dashboards)
        if labels is None:
            continue
        cases.append(Case(f"escalation {escalation.name} {_show(labels)}", labels, escalation.receivers))
    return cases, unused


def _copy_cases(ctx: CheckContext) -> list[Case]:
    """An alert of each severity (every case, the spec's too, also proves the copies)."""
    if not ctx.stack.notifications.copy_to:
        return []
    found = []
    for severity in conventions.SEVERITIES:
        labels = {ALERTNAME: "PromstackCopyCheck", conventions.LABEL_SEVERITY: severity}
        found.append(Case(f"copy_to {_show(labels)}", labels))
    return found


def _amtool(config: Path, labels: Mapping[str, str], root: Path) -> list[str] | str:
    """The receivers amtool names for `labels`, or its complaint."""
    args = [tool("amtool"), "config", "routes", "test", f"--config.file={config}"]
    done = run_tool([*args, *(Matcher(k, "=", v).text() for k, v in sorted(labels.items()))], cwd=root, timeout=60)
    lines = done.stdout.strip().splitlines()
    if not lines or lines[0].startswith("WARNING"):
        return " ".join((done.stdout + done.stderr).split())
    return lines[0].split(",")


def _copies_keep_timers(
    case: Case, found: Sequence[routing.Delivery], copies: range, receivers: Sequence[str]
) -> list[str]:
    routed = [d for d in found if d.path[:1] and d.path[0] not in copies]
    failures = []
    for receiver in receivers:
        mine = [d for d in found if d.path[:1] and d.path[0] in copies and d.receiver == receiver]
        keys = sorted((d.group_by, d.group_wait.ms, d.group_interval.ms, d.repeat_interval.ms) for d in routed)
        if sorted((d.group_by, d.group_wait.ms, d.group_interval.ms, d.repeat_interval.ms) for d in mine) != keys:
            failures.append(
                f"{case.what}: the copies to {receiver} do not have the grouping and timers of the routes that deliver "
                f"the alert ({', '.join(d.receiver for d in routed)})."
            )
    return failures


def _run(ctx: CheckContext, config_path: Path, cases: Sequence[Case]) -> Outcome:
    config: dict[str, Any] = yamlload.safe_load(config_path.read_text()) or {}
    rules = inhibition.load_rules(config)
    copies = alertmanager_routes.copy_positions(ctx.stack)
    outcome = Outcome()
    for case in cases:
        found = routing.deliveries(config, case.labels, case.at)
        if case.at is None:
            outcome.amtool += 1
            said = _amtool(config_path, case.labels, ctx.root)
            if isinstance(said, str):
                outcome.failures.append(f"{case.what}: amtool could not resolve the route: {said}")
                continue
            model = sorted(d.receiver for d in found)
            if sorted(said) != model:
                outcome.failures.append(
                    f"{case.what}: promstack's route model delivers it to [{', '.join(model)}] but amtool to "
                    f"[{', '.join(sorted(said))}]; please report this promstack bug."
                )
        else:
            outcome.timed += 1
        if ctx.stack.notifications.copy_to and case.labels.get(ALERTNAME) != conventions.ALERT_WATCHDOG:
            outcome.failures.extend(_copies_keep_timers(case, found, copies, ctx.stack.notifications.copy_to))
        if case.expected is None:
            continue
        routed = [d for d in found if not (d.path[:1] and d.path[0] in copies)]
        muted = case.firing and inhibition.muting_rule(case.labels, case.firing, rules)
        actual = sorted({d.receiver for d in routed if not d.muted}) if not muted else []
        if actual != sorted(case.expected):
            why = (
                [f"muted then by {', '.join(m for d in routed for m in d.muted_by)}"]
                if any(d.muted for d in routed)
                else []
            )
            why += [f"muted by {muted} while {', '.join(map(_show, case.firing))} fire"] if muted else []
            outcome.failures.append(
                f"{case.what}: expected receivers [{', '.join(case.expected)}] but the routes deliver it to "
                f"[{', '.join(actual)}]" + (f" ({'; '.join(why)})" if why else "") + "."
            )
    return outcome


def run(ctx: CheckContext) -> list[CheckProblem]:
    spec = _spec_cases(ctx)
    escalations, unused = _escalation_cases(ctx)
    generated = [*escalations, *_copy_cases(ctx)]
    cases = [*spec, *generated]
    outcome = Outcome()
    if cases:
        with config_for_tools(ctx) as config:
            outcome = _run(ctx, config, cases)
    note = f"ran {len(spec)} route test{'' if len(spec) == 1 else 's'}"
    if generated:
        note += f" and {len(generated)} generated for escalations and copies"
    if outcome.amtool:
        note += f"; {outcome.amtool} walked by amtool and promstack's route model alike"
    if outcome.timed:
        note += f", {outcome.timed} at a given time by promstack's route model only ({AMTOOL_IGNORES_TIME})"
    return [*errors(NAME, outcome.failures), *warnings(NAME, unused), CheckProblem(NAME, "info", note)]
