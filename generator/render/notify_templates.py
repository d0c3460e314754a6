"""Renderer `notify_templates`: Alertmanager notification templates -> alertmanager/templates/promstack.tmpl.

The Go templates are text, so they come from a Jinja2 file (generator/templates/promstack.tmpl.j2) that fills
in what only the spec knows: the Alertmanager and Grafana URLs behind silence and dashboard links, the stack
name. Jinja uses [[ ]] / [% %] delimiters there because {{ }} belongs to Go. Receivers in alertmanager.yml
refer to the definitions by the names below.
"""

from __future__ import annotations

from pathlib import Path

import jinja2

from generator import conventions
from generator.model import Stack
from generator.render import Target, Tree, header

FILE = f"{conventions.ALERTMANAGER_TEMPLATES_DIR}/promstack.tmpl"

# `{{ template "<name>" . }}` references used by the receivers (alertmanager_receivers.py)
TITLE = '{{ template "promstack.title" . }}'
TEXT = '{{ template "promstack.text" . }}'
EMAIL_HTML = '{{ template "promstack.email.html" . }}'
GROUP_URL = '{{ template "promstack.group_url" . }}'
SLACK_COLOR = '{{ template "promstack.slack.color" . }}'
OPSGENIE_PRIORITY = '{{ template "promstack.opsgenie.priority" . }}'
PAGERDUTY_SEVERITY = '{{ template "promstack.pagerduty.severity" . }}'

_ENV = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).resolve().parent.parent / "templates"),
    undefined=jinja2.StrictUndefined,
    variable_start_string="[[",
    variable_end_string="]]",
    block_start_string="[%",
    block_end_string="%]",
    comment_start_string="[#",
    comment_end_string="#]",
    keep_trailing_newline=True,
    autoescape=False,  # Go templates, not HTML: Alertmanager's html/template escapes the mail body itself
)


def text(stack: Stack) -> str:
    """The template file for `stack` (links point where people reach the components, not container names)."""
    grafana = stack.component("grafana")
    return _ENV.get_template("promstack.tmpl.j2").render(
        header=header(stack),
        stack=stack.name,
        environment=stack.environment,
        alertmanager_url=stack.components["alertmanager"].url.rstrip("/"),
        grafana_url=grafana.url.rstrip("/") if grafana else "",
    )


def render(stack: Stack, target: Target) -> Tree:
    return Tree(files={FILE: text(stack)})
