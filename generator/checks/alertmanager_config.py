"""Check `alertmanager/config`: `amtool check-config` on the rendered alertmanager.yml and its templates.

amtool loads the receivers, routes, inhibit rules and time intervals and parses the notification templates;
`amtool template render` then executes each of our template definitions on amtool's sample alerts, so a
template that parses but fails at notification time is caught here too. It also warns about every receiver
secret that goes inline into alertmanager.yml on either runtime because that Alertmanager version has no
file field for it (render/alertmanager_receivers.py LATE_FILE_FIELDS).
"""

from __future__ import annotations

import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from generator import conventions, yamlload
from generator.checks import CheckContext, CheckProblem, errors, run_tool, tool, warnings
from generator.kubernetes import names as kubernetes_names
from generator.render import Target, alertmanager, alertmanager_receivers, notify_templates
from generator.write import PLACEHOLDER

NAME = "alertmanager/config"

# what the tools see instead of a secret: Alertmanager rejects a webhook `url` that is not a URL, and the
# check runs on the tree written with placeholders (secret values are never read for a check)
PLACEHOLDER_URL = f"https://{PLACEHOLDER}.invalid/"
_TEMPLATE_NAMES = re.compile(r'\{\{-?\s*define\s+"([^"]+)"')


@cache
def amtool_version(amtool: str) -> tuple[int, int] | None:
    """(major, minor) of the installed amtool, None when it does not say."""
    done = run_tool([amtool, "--version"], cwd=Path("/"), timeout=30)
    found = re.search(r"version (\d+)\.(\d+)", done.stdout + done.stderr)
    return (int(found[1]), int(found[2])) if found else None


def older_tool_fields(data: dict[str, Any], version: tuple[int, int] | None) -> list[str]:
    """Swap, in `data` (alertmanager.yml), each receiver secret file field that amtool `version` predates
    (rendered for the newer Alertmanager that runs: the pinned image on compose and Kubernetes) for its
    inline field holding a placeholder, which that amtool can read; say which were swapped."""
    swapped = []
    for receiver in data.get("receivers") or []:
        for key, configs in receiver.items():
            field = alertmanager_receivers.LATE_FILE_FIELDS.get(str(key).removesuffix("_configs"))
            if field is None or version is None or version >= field.since:
                continue
            for config in configs:
                if field.file in config:
                    del config[field.file]
                    config[field.inline] = PLACEHOLDER_URL
                    swapped.append(f"{receiver['name']}: {key}.{field.file}")
    return swapped


@contextmanager
def config_for_tools(ctx: CheckContext) -> Iterator[Path]:
    """alertmanager.yml as written, in a form the installed amtool reads: secret placeholders as URLs, file
    fields it predates inline (`older_tool_fields`). A Kubernetes tree's names its templates where the
    operator mounts them: the tools read them where they were unpacked."""
    written = ctx.root / conventions.ALERTMANAGER_CONFIG
    original = written.read_text()
    text = original.replace(PLACEHOLDER, PLACEHOLDER_URL)
    data = yamlload.safe_load(text)
    swapped = older_tool_fields(data, amtool_version(tool("amtool")))
    kubernetes = ctx.target.runtime == kubernetes_names.RUNTIME
    if kubernetes:
        data["templates"] = [str(ctx.root / conventions.ALERTMANAGER_TEMPLATES_DIR / "*.tmpl")]
    if kubernetes or swapped:
        text = yaml.safe_dump(data, sort_keys=False)
    elif text == original:
        yield written
        return
    with tempfile.TemporaryDirectory(prefix="promstack-am-") as folder:
        path = Path(folder) / "alertmanager.yml"
        path.write_text(text)
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
    """Inline receiver secrets of the checked (local) rendering and of the compose one, each said once (a
    Kubernetes rendering has none: it refuses an Alertmanager that would need them)."""
    if ctx.target.runtime == kubernetes_names.RUNTIME:
        return []
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


def _notes(ctx: CheckContext) -> list[CheckProblem]:
    path = ctx.root / conventions.ALERTMANAGER_CONFIG
    if not path.exists() or shutil.which("amtool") is None:
        return []
    version = amtool_version(tool("amtool"))
    swapped = older_tool_fields(yamlload.safe_load(path.read_text()), version)
    if not swapped or version is None:
        return []
    note = (
        f"amtool {_dotted(version)} predates {', '.join(swapped)}: checked with that secret inline as a "
        "placeholder; the Alertmanager that runs reads it from the file"
    )
    return [CheckProblem(NAME, "info", note)]


def run(ctx: CheckContext) -> list[CheckProblem]:
    # the exposures are said even when amtool refuses the config: they are true either way
    return warnings(NAME, exposures(ctx)) + errors(NAME, _failures(ctx)) + _notes(ctx)
