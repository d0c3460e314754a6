"""Stage `deploy`: acknowledgements (`promstack ack`, `ack --list`, `unack`) as Alertmanager silences.

An acknowledgement is a silence (Alertmanager API v2) on an alert's name and the labels that identify
it. The copy of an alert that escalates keeps the alert's name and labels (render/escalations.py), so
the same silence holds it too: an acknowledged alert neither notifies again nor escalates. Silences
live in Alertmanager's data folder (`--storage.path`: a named volume on compose, the state folder's
data/ locally), written at every maintenance (`--data.maintenance-interval`, 10s) and on shutdown, so
they survive a restart and every `up`. The running stack's Alertmanager is found the way `status`
finds it, with its credentials where the spec protects it.
"""

from __future__ import annotations

import difflib
import getpass
import json
import re
import socket
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from generator import dashboards
from generator.alerting.matchers import ALERTNAME, Matcher
from generator.errors import DeployError, UsageError
from generator.render.rules import all_rule_files
from generator.runtimes import health
from generator.runtimes.inspect import deployed_endpoint
from generator.runtimes.options import Options
from generator.spec import load_stack
from generator.units import Duration

CREATED_BY = "promstack ack"
_LABEL = re.compile(r"^([a-zA-Z_][a-zA-Z0-9_]*)(=~|=)(.*)$")


@dataclass(frozen=True)
class Silence:
    id: str
    matchers: tuple[Matcher, ...]
    ends_at: str
    created_by: str
    comment: str
    state: str

    @staticmethod
    def of(data: dict[str, Any]) -> Silence:
        matchers = tuple(
            Matcher(
                str(m["name"]),
                ("=" if m.get("isEqual", True) else "!=")
                if not m.get("isRegex")
                else ("=~" if m.get("isEqual", True) else "!~"),
                str(m["value"]),
            )
            for m in data.get("matchers", ())
        )
        return Silence(
            str(data["id"]),
            matchers,
            str(data.get("endsAt", "")),
            str(data.get("createdBy", "")),
            str(data.get("comment", "")),
            str(data.get("status", {}).get("state", "")),
        )

    def describe(self) -> str:
        return "{" + ", ".join(m.text() for m in self.matchers) + "}"


@dataclass(frozen=True)
class Acknowledged:
    silence: str  # its id
    matchers: tuple[Matcher, ...]
    until: datetime
    firing: int  # alerts it holds right now (escalated copies included)


def parse_labels(given: list[str]) -> list[Matcher]:
    """`--label name=value` (or `name=~regex`) into matchers; UsageError on anything else."""
    found = []
    for text in given:
        match = _LABEL.match(text)
        if not match:
            raise UsageError(f"--label {text!r}: give name=value (or name=~regex), e.g. --label instance=db:9187")
        name, op, value = match.groups()
        if name == ALERTNAME:
            raise UsageError("--label alertname: the alert's name is the ALERTNAME argument")
        if op == "=~":
            try:
                re.compile(value)
            except re.error as exc:
                raise UsageError(f"--label {text!r}: not a valid regular expression: {exc}") from None
        found.append(Matcher(name, op, value))
    return found


def _call(endpoint: health.Endpoint, path: str, method: str = "GET", body: Any = None) -> Any:
    answer = health.request(endpoint, path, method=method, timeout=10, body=body)
    if not answer.ok:
        detail = answer.body.strip()[:300] or answer.error
        raise DeployError(
            f"Alertmanager ({endpoint.base}) answered {method} {path} with {answer.error or answer.status}: {detail}"
        )
    return json.loads(answer.body) if answer.body.strip() else None


def _known_alerts(spec: Path) -> set[str]:
    stack = load_stack(spec)
    files = all_rule_files(stack, dashboards.rendered(stack))
    return {r.name for f in files for r in f.rules() if r.alert}


def ack(spec: Path, options: Options, alertname: str, labels: list[str], for_: str, comment: str) -> Acknowledged:
    """Silence alert `alertname` with `labels` (its escalations too) for `for_`."""
    if not comment.strip():
        raise UsageError("--comment: say why (what you are doing about it), e.g. --comment 'restarting the database'")
    try:
        length = Duration(for_)
    except ValueError:
        raise UsageError(f"--for {for_!r}: give a duration such as 30m, 4h or 1d") from None
    if length.ms <= 0:
        raise UsageError("--for: give a duration above 0s")
    known = _known_alerts(spec)
    if alertname not in known:
        guess = difflib.get_close_matches(alertname, sorted(known), n=1)
        hint = f"did you mean {guess[0]!r}?" if guess else "`promstack status` lists the firing alerts"
        raise UsageError(f"the stack has no alert {alertname!r}; {hint}")
    matchers = (Matcher(ALERTNAME, "=", alertname), *parse_labels(labels))
    _, endpoint = deployed_endpoint(spec, options, "alertmanager")
    now = datetime.now(UTC)
    until = now + timedelta(milliseconds=length.ms)
    body = {
        "matchers": [{"name": m.name, "value": m.value, "isRegex": m.op == "=~", "isEqual": True} for m in matchers],
        "startsAt": now.isoformat(),
        "endsAt": until.isoformat(),
        "createdBy": f"{CREATED_BY} ({getpass.getuser()}@{socket.gethostname()})",
        "comment": comment,
    }
    created = _call(endpoint, "/api/v2/silences", "POST", body)
    alerts = _call(endpoint, "/api/v2/alerts?" + "&".join(f"filter={_quote(m.text())}" for m in matchers))
    return Acknowledged(str(created["silenceID"]), matchers, until, len(alerts or ()))


def _quote(text: str) -> str:
    return quote(text, safe="")


def active(spec: Path, options: Options) -> list[Silence]:
    """The silences in force (acknowledgements and any other), soonest to end first."""
    _, endpoint = deployed_endpoint(spec, options, "alertmanager")
    found = [Silence.of(s) for s in _call(endpoint, "/api/v2/silences") or ()]
    return sorted((s for s in found if s.state in ("active", "pending")), key=lambda s: s.ends_at)


def unack(spec: Path, options: Options, silence: str) -> Silence:
    """Expire silence `silence`: what it held notifies (and escalates) again."""
    _, endpoint = deployed_endpoint(spec, options, "alertmanager")
    known = {s.id: s for s in active(spec, options)}
    if silence not in known:
        ids = ", ".join(known) or "none"
        raise UsageError(
            f"no acknowledgement {silence!r} is in force (in force: {ids}); `promstack ack SPEC --list` lists them"
        )
    _call(endpoint, f"/api/v2/silence/{_quote(silence)}", "DELETE")
    return known[silence]
