"""Stage `deploy`: what `up`, `status` and `diff` print, one screen each (the CLI only echoes these lines).

Secret values never reach these lines: `up` names the file a generated password is in, `diff` names
secret files without showing them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from generator.pipeline import left_out_line
from generator.units import Duration

if TYPE_CHECKING:
    from generator.checks import Report
    from generator.runtimes import Difference, Outcome
    from generator.runtimes.verify import Verified


def check_lines(report: Report) -> list[str]:
    """The checks `up` ran before touching anything: their warnings, one line for the ones that passed, and
    their notes (how many rule tests ran, and how many passed before and were not run again)."""
    lines = [f"warning: {p}" for p in report.problems if p.severity == "warning"]
    lines.append(f"checks             {len(report.passed)} passed ({', '.join(report.passed)})")
    lines += [f"note: {p}" for p in report.problems if p.severity == "info"]
    return lines


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days}d{hours}h"
    if hours:
        return f"{hours}h{minutes}m"
    return f"{minutes}m{secs}s" if minutes else f"{secs}s"


def _interval(text: str) -> Duration | None:
    """A scrape interval as Prometheus' targets API gives it ("10s"), None where it gives none."""
    try:
        return Duration(text)
    except ValueError:
        return None


def scrape_lines(verified: Verified) -> list[str]:
    """How many targets are up; those Prometheus has not scraped yet have no health to count (`up` does not
    wait for the team's, and verifies the stack's own by asking their metrics page itself)."""
    targets = verified.targets
    line = f"scrape targets: {sum(1 for t in targets if t.health == 'up')} of {len(targets)} up"
    waiting = [t for t in targets if t.health == "unknown"]
    if not waiting:
        return [line]
    intervals = [d for d in map(_interval, {t.interval for t in waiting}) if d is not None]
    within = max(intervals, key=lambda d: d.ms) if intervals else "their scrape interval"
    line += (
        f"; {len(waiting)} not scraped yet: Prometheus scrapes them within {within}, "
        "`promstack status` then shows their health"
    )
    lines = [line]
    if verified.answered:
        lines.append(
            f"  {len(verified.answered)} of the {len(waiting)} are the stack's own, "
            "and answered promstack's own request for their metrics page"
        )
    return lines


def summary(outcome: Outcome) -> list[str]:
    """The one-screen report `up` prints on success."""
    verified = outcome.verified
    lines = [
        f"stack {outcome.stack.name!r} is up on {outcome.runtime} (project {outcome.project!r}, "
        f"{outcome.seconds:.1f}s; state in {outcome.state.root})"
    ]
    actions = outcome.plan.actions()
    if actions:
        lines.append("applied: " + "; ".join(f"{action} {name}" for name, action, _ in actions))
    elif outcome.plan.files:
        lines.append(f"applied: {len(outcome.plan.files)} file(s) that no running component reads")
    else:
        lines.append("applied: nothing (no changes)")
    lines += scrape_lines(verified)
    for warning in verified.warnings:
        lines.append(f"  warning: {warning}")
    for why in outcome.skipped.values():
        lines.append(f"  {left_out_line(why)}")
    lines.append("")
    width = max([13, *(len(what) for what, _ in outcome.urls)])  # "Alertmanager 2" with replicas
    for what, url in outcome.urls:
        lines.append(f"  {what:<{width}} {url}")
    if outcome.grafana_login:
        lines.append(f"  {'Grafana login':<{width}} {outcome.grafana_login}")
    for title, url in outcome.dashboards:
        lines.append(f"    dashboard   {title}: {url}")
    return lines


def status_lines(report: dict[str, Any]) -> list[str]:
    if not report["deployed"]:
        return [f"stack {report['stack']!r} (project {report['project']!r}) is not deployed"]
    lines = [f"stack {report['stack']!r} on {report['runtime']} (project {report['project']!r}): {report['health']}"]
    lines += [f"  {problem}" for problem in report["problems"]]
    lines += ["", f"  {'component':<18} {'state':<12} {'health':<12} {'version':<12} uptime"]
    for name, entry in report["components"].items():
        lines.append(
            f"  {name:<18} {entry['state']:<12} {entry['health']:<12} {entry.get('version') or '-':<12} "
            f"{_duration(entry.get('uptime_seconds'))}"
        )
        if entry.get("reason"):
            lines.append(f"    {entry['reason']}")
    targets = report["targets"]
    lines += ["", f"scrape targets: {sum(1 for t in targets if t['health'] == 'up')} of {len(targets)} up"]
    for target in targets:
        if target["health"] != "up":
            lines.append(f"  {target['job']} {target['instance']}: {target['health']} {target['error']}".rstrip())
    lines.append(f"firing alerts: {len(report['alerts'])}")
    for alert in report["alerts"]:
        labels = ", ".join(f"{k}={v}" for k, v in sorted(alert["labels"].items()) if k != "alertname")
        lines.append(f"  {alert['alertname']} {{{labels}}} since {alert['active_at']}")
    return lines


def diff_lines(difference: Difference) -> list[str]:
    plan = difference.plan
    if not difference.deployed:
        head = [f"not deployed yet: `up` would create everything on {difference.runtime}"]
    elif plan.empty:
        return ["no changes: the running stack matches the spec"]
    else:
        head = [f"`up` would change (on {difference.runtime}):"]
    head += [f"  {action:<9} {name}: {why}" for name, action, why in plan.actions()]
    return [*head, "", *difference.lines] if difference.deployed else head
