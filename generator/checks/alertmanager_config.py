"""Check `alertmanager/config`: `amtool check-config` on the rendered alertmanager.yml and its templates.

amtool loads the receivers, routes, inhibit rules and time intervals and parses the notification templates;
`amtool template render` then executes each of our template definitions on amtool's sample alerts, so a
template that parses but fails at notification time is caught here too. It also warns about every receiver
secret that goes inline into alertmanager.yml on either runtime because that Alertmanager version has no
file field for it (render/alertmanager_receivers.py LATE_FILE_FIELDS).
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from generator import conventions
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool, warnings
from generator.render import Target, alertmanager, alertmanager_receivers, notify_templates
from generator.write import PLACEHOLDER

NAME = "alertmanager/config"

# what the tools see instead of a secret: Alertmanager rejects a webhook `url` that is not a URL, and the
# check runs on the tree written with placeholders (secret values are never read for a check)
PLACEHOLDER_URL = f"https://{PLACEHOLDER}.invalid/"
_TEMPLATE_NAMES = re.compile(r'\{\{-?\s*define\s+"([^"]+)"')


@contextmanager
def config_for_tools(ctx: CheckContext) -> Iterator[Path]:
    """alertmanager.yml as written, with secret placeholders in a form Alertmanager accepts."""
    written = ctx.root / conventions.ALERTMANAGER_CONFIG
    text = written.read_text()
    if PLACEHOLDER not in text:
        yield written
        return
    with tempfile.TemporaryDirectory(prefix="promstack-am-") as folder:
        path = Path(folder) / "alertmanager.yml"
        path.write_text(text.replace(PLACEHOLDER, PLACEHOLDER_URL))
        path.chmod(0o600)
        yield path


def _hint(output: str) -> str:
    if "msteams" in output and "not found" in output:
        return (
            " The installed amtool predates msteams receivers (Alertmanager 0.26; reading the webhook URL"
            " from a file needs 0.28): the pinned Alertmanager accepts them, but this amtool cannot prove it."
            " Install amtool 0.28 or newer."
        )
    return ""


def _dotted(version: tuple[int, int]) -> str:
    return f"{version[0]}.{version[1]}"


def exposure(item: alertmanager_receivers.Exposed, where: str) -> str:
    """One warning: which receiver secret goes inline on which runtime, what sees it, what would protect it."""
    secret = f"the {item.kind} {item.field.inline} of receiver {item.receiver!r}"
    since = f"Alertmanager {_dotted(item.field.since)} or newer reads it from a file ({item.field.file})"
    if item.version is None:
        return (
            f"{where}: the image tag names no Alertmanager version, so {secret} goes inline into alertmanager.yml "
            f"(mode 0600), as the oldest supported version needs, and GET /api/v2/status may show it to anyone "
            f"who can reach Alertmanager; {since}: set components.alertmanager.version."
        )
    seen = (
        "GET /api/v2/status shows it to anyone who can reach Alertmanager"
        if item.field.shown
        else "GET /api/v2/status masks it"
    )
    return (
        f"{where}: Alertmanager {_dotted(item.version)} has no {item.field.file}, so {secret} goes inline into "
        f"alertmanager.yml (mode 0600) and {seen}; {since}."
    )


def exposures(ctx: CheckContext) -> list[str]:
    """Inline receiver secrets of the checked (local) rendering and of the compose one, each said once."""
    runs = [(f"on the {ctx.target.runtime} runtime", ctx.target), ("on compose", Target("compose"))]
    found: list[str] = []
    for where, target in runs:
        for item in alertmanager.exposed(ctx.stack, target):
            text = exposure(item, where)
            if text not in found:
                found.append(text)
    return found


def _failures(ctx: CheckContext) -> list[str]:
    amtool = tool("amtool")
    if not (ctx.root / conventions.ALERTMANAGER_CONFIG).exists():
        return [f"{conventions.ALERTMANAGER_CONFIG} was not rendered."]
    with config_for_tools(ctx) as path:
        done = run_tool([amtool, "check-config", str(path)], cwd=ctx.root, timeout=60)
    if done.returncode != 0:
        output = " ".join((done.stdout + done.stderr).split())
        return [f"amtool check-config rejected {conventions.ALERTMANAGER_CONFIG}: {output}.{_hint(output)}"]
    failures = []
    templates = ctx.root / notify_templates.FILE
    for name in _TEMPLATE_NAMES.findall(templates.read_text()):
        # per alert for definitions that take one alert; the rest take the whole notification
        dot = "range .Alerts" if name in ("promstack.alert", "promstack.silence_url", "promstack.labels") else "with ."
        if name == "promstack.dashboard_url":
            dot = 'with "promstack-overview"'
        text = f'{{{{ {dot} }}}}{{{{ template "{name}" . }}}}{{{{ end }}}}'
        done = run_tool(
            [amtool, "template", "render", f"--template.glob={templates.parent}/*.tmpl", f"--template.text={text}"],
            cwd=ctx.root,
            timeout=60,
        )
        if done.returncode != 0:
            output = " ".join((done.stdout + done.stderr).split())
            failures.append(f"notification template {name} in {notify_templates.FILE} fails to render: {output}")
    return failures


def run(ctx: CheckContext) -> list[CheckProblem]:
    # the exposures are said even when amtool refuses the config: they are true either way
    return warnings(NAME, exposures(ctx)) + errors(NAME, _failures(ctx))
