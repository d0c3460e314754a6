"""Runbooks: what each alert means, what to check first, its likely causes and how to acknowledge it, served
where the user already is.

They are written next to the rule packs (`runbooks:` in rules/<pack>.rules.yml, Markdown) and rendered as the
Grafana "Runbooks" dashboard (dashboards/runbooks.dashboard.py): one text panel per alert the stack renders.
A panel's id is a function of its alert's name alone, so an alert's `runbook_url` is
<grafana>/d/promstack-runbooks?viewPanel=<id> and stays valid as other alerts come and go. With
`alerts.runbook_base_url` every `runbook_url` is that URL followed by the alert name instead (your wiki);
a rule's own `runbook` wins over both. Without Grafana and without a base URL, alerts carry no `runbook_url`:
no default points at a site nobody serves. The spec's own alerts without a `runbook` get a panel too, which
shows what the rule says and how to give it a runbook.
"""

from __future__ import annotations

import urllib.parse
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from generator import conventions, rules_catalog
from generator.model import Stack

UID = conventions.DASHBOARD_UIDS["runbooks"]
TITLE = "Runbooks"
_FIRST_ID = 100  # panel ids below are the rows' (dashboard_json numbers panels in order)
_ID_SPAN = 1_000_000_000  # two of a hundred alerts collide with odds of 1 in 200,000


@dataclass(frozen=True)
class Runbook:
    alert: str
    origin: str  # the rule pack, or "your alerts" for the spec's own
    severity: str
    meaning: str
    checks: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    written: bool = True  # False: a spec alert whose rule names no runbook


def _pack_runbook(pack: rules_catalog.Pack, alert: str, severity: str) -> Runbook:
    book = pack.runbooks[alert]
    return Runbook(
        alert,
        pack.name,
        severity,
        str(book["meaning"]).strip(),
        tuple(str(c).strip() for c in book.get("checks", ())),
        tuple(str(c).strip() for c in book.get("causes", ())),
    )


def for_stack(stack: Stack) -> list[Runbook]:
    """The runbook of every alert `stack` renders that links to one here: its packs' enabled alerts, the SLO
    burn-rate alert when a service has SLOs, and the spec's own alerts that name no runbook of their own."""
    found: list[Runbook] = []
    packs = rules_catalog.packs()
    for name in rules_catalog.pack_names(stack):
        pack = packs[name]
        for rule in pack.rules():
            if rule.alert and rules_catalog.enabled(stack, rule.name):
                found.append(_pack_runbook(pack, rule.name, rules_catalog.tunables(stack, rule)[2]))
    if any(s.slos for s in stack.services):
        found.append(_pack_runbook(packs[rules_catalog.SERVICE_PACK], conventions.SLO_ALERT, "critical"))
    for own in stack.alerts.rules:
        if not own.runbook:
            meaning = " ".join(part for part in (own.summary, own.description) if part)
            found.append(Runbook(own.alert, "your alerts", own.severity, meaning, written=False))
    return found


def panel_id(alert: str, salt: int = 0) -> int:
    """The id of `alert`'s panel on the Runbooks dashboard: a hash of its name, the same in every stack."""
    return _FIRST_ID + zlib.crc32((f"{alert}#{salt}" if salt else alert).encode()) % _ID_SPAN


def panel_ids(alerts: Sequence[str]) -> dict[str, int]:
    """alert -> its panel id (`panel_id`); of two names whose hashes collide, the later in sorted order is
    hashed again (its link then misses, which dashboards/lint reports: with these odds, never in practice)."""
    ids: dict[str, int] = {}
    for alert in sorted(set(alerts)):
        salt = 0
        while panel_id(alert, salt) in ids.values():
            salt += 1
        ids[alert] = panel_id(alert, salt)
    return ids


def url(stack: Stack, alert: str, served: Mapping[str, str]) -> str | None:
    """Where alert `alert`'s runbook is: the spec's base URL and the name, else its panel on the Runbooks
    dashboard when the stack serves it (every alert that asks has one there), else nowhere (None).
    `served`: `Target.dashboards`."""
    base = stack.alerts.runbook_base_url
    if base:
        return base + alert
    grafana = stack.components.get("grafana")
    if grafana is None or UID not in served:
        return None
    return f"{grafana.url.rstrip('/')}/d/{UID}?viewPanel={panel_id(alert)}"


def markdown(book: Runbook, alertmanager_url: str) -> str:
    """The text of one runbook panel."""
    source = "your own alert (alerts.rules)" if not book.written else f"rule pack `{book.origin}`"
    lines = [f"Severity **{book.severity}** · {source}", "", "### What it means", book.meaning]
    if book.checks:
        lines += ["", "### First checks", *(f"{i}. {check}" for i, check in enumerate(book.checks, start=1))]
    if book.causes:
        lines += ["", "### Likely causes", *(f"- {cause}" for cause in book.causes)]
    if not book.written:
        lines += [
            "",
            "No runbook is written for this alert yet: give its rule `runbook: <URL>` in the spec, or set "
            "`alerts.runbook_base_url` to where your runbooks are.",
        ]
    matcher = urllib.parse.quote(f'{{alertname="{book.alert}"}}', safe="")
    silence = f"{alertmanager_url}/#/silences/new?filter={matcher}"
    lines += [
        "",
        "### Acknowledge",
        "Working on it? Stop its notifications while you do: "
        f'`promstack ack SPEC {book.alert} --comment "what you are doing"`, or silence it with '
        f'`amtool silence add alertname={book.alert} --duration 2h --comment "..." '
        f"--alertmanager.url {alertmanager_url}`, or in [Alertmanager]({silence}).",
    ]
    return "\n".join(lines)
