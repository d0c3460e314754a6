"""Renderer `alertmanager`: stack.notifications -> alertmanager/alertmanager.yml (+ receiver secret files).

Rendered for the Alertmanager version that will run (`Target.version`: the local runtime's binary, else the
image tag): the pinned 0.33.1, Debian's 0.25 (the tests, the local runtime here), anything between
(docs/compat.md §1). A secret is read by Alertmanager from a file wherever that version can, because
`GET /api/v2/status` serves the loaded config to anyone who reaches Alertmanager, and a file path is all it
shows then:

* slack api_url_file, pagerduty routing_key_file, opsgenie api_key_file, global smtp_auth_password_file
  and msteams webhook_url_file exist in every version rendered for: always `secrets/alertmanager/<receiver>.<kind>`
  (0600; `.` cannot occur in a receiver name, so two receivers never share a file);
* webhook url_file, telegram bot_token_file (0.26), discord webhook_url_file (0.28) and wechat
  api_secret_file (0.31) come later (LATE_FILE_FIELDS). Below that version, or when the version is unknown,
  the secret goes inline and the whole alertmanager.yml becomes a SecretFile (same path, resolved at write
  time, mode 0600); `exposed()` lists those secrets so `check` can say so. 0.25 shows an inline webhook url
  in /api/v2/status; the other three it masks as `<secret>`.

msteams: Debian's 0.25 has no msteams receiver at all, and its webhook_url_file only works from 0.28 on, so an
msteams receiver is rendered for Alertmanager >= 0.28 (the pinned image) and refused for older images.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from generator import catalog, conventions
from generator.errors import PromstackError
from generator.model import Receiver, Route, SecretRef, Stack
from generator.render import Placeholder, SecretFile, Target, Tree, dump_yaml, secret_yaml
from generator.render import notify_templates as nt
from generator.units import Duration

COMPONENT = "alertmanager"
NULL_RECEIVER = "null"  # delivers nowhere: where the always-firing Watchdog goes unless the spec routes it
# The Alertmanager timers of a page (a critical alert), unless its route sets its own: they are the
# last term of its worst case (rules.notification_delay). A new group waits group_wait for
# companions; an alert that joins a group that exists waits for the group's next update, up to
# group_interval. Joining is common: another target of the job is down already, or the same target
# failed less than 15 min ago (Prometheus re-sends a resolved alert every minute for 15 min, which
# keeps its group alive). With the example's 15s scrapes (10s timeout) and TargetDown evaluated
# every second, a dead target pages within 15 + 10 + 1 + 2 = 28 s either way, under the 30 s we
# promise (bench/README.md has the measurements). The price: a page's group may update every 2 s
# while an outage spreads; the receivers see one group (PagerDuty one incident), updated.
PAGE_TIMERS = {"group_wait": Duration("2s"), "group_interval": Duration("2s")}
RESOLVE_TIMEOUT = Duration("5m")
ALERTNAME = "alertname"


@dataclass(frozen=True)
class LateFileField:
    """A receiver secret Alertmanager reads from a file only from version `since` on."""

    inline: str  # the field that holds the value itself
    file: str  # the field that names a file holding it
    since: tuple[int, int]
    shown: bool  # whether /api/v2/status shows the inline value (else it masks it as <secret>) before `since`


# receiver kind -> its secret; the spec field has the inline field's name (sources: docs/compat.md §1b)
LATE_FILE_FIELDS = {
    "webhook": LateFileField("url", "url_file", (0, 26), shown=True),
    "telegram": LateFileField("bot_token", "bot_token_file", (0, 26), shown=False),
    "discord": LateFileField("webhook_url", "webhook_url_file", (0, 28), shown=False),
    "wechat": LateFileField("api_secret", "api_secret_file", (0, 31), shown=False),
}


@dataclass(frozen=True)
class Exposed:
    """A receiver secret that goes inline into alertmanager.yml: the version that runs has no file field."""

    receiver: str
    kind: str
    field: LateFileField
    version: tuple[int, int] | None  # None: the image tag does not say


_MATCHER = re.compile(r"^\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$")
_LITERAL_ALTERNATION = re.compile(r"[\w.:/ -]+(?:\|[\w.:/ -]+)*")


@dataclass(frozen=True)
class Matcher:
    """One Alertmanager matcher (`severity="critical"`), evaluated the way Alertmanager does."""

    name: str
    op: str  # = != =~ !~
    value: str

    @staticmethod
    def parse(text: str) -> Matcher:
        found = _MATCHER.match(text)
        if not found:
            raise ValueError(f"{text!r} is not an Alertmanager matcher")
        name, op, value = found.groups()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = re.sub(r"\\(.)", lambda m: "\n" if m[1] == "n" else m[1], value[1:-1])
        return Matcher(name, op, value)

    def accepts(self, value: str) -> bool:
        if self.op in ("=", "!="):
            return (value == self.value) == (self.op == "=")
        # Alertmanager anchors regular expressions at both ends. Go's RE2 and Python agree on the regexes
        # people write in matchers; one Python cannot read is treated as matching nothing.
        try:
            found = re.fullmatch(self.value, value) is not None
        except re.error:
            found = False
        return found == (self.op == "=~")

    def matches(self, labels: Mapping[str, str]) -> bool:
        return self.accepts(labels.get(self.name, ""))  # a missing label matches like an empty one

    def finite_values(self) -> tuple[str, ...] | None:
        """Every value this matcher accepts when they are few (x="a", x=~"a|b"), else None."""
        if self.op == "=":
            return (self.value,)
        if self.op == "=~" and _LITERAL_ALTERNATION.fullmatch(self.value):
            return tuple(self.value.split("|"))
        return None


def matchers(texts: Sequence[str]) -> list[Matcher]:
    return [Matcher.parse(text) for text in texts]


def matches_all(found: Sequence[Matcher], labels: Mapping[str, str]) -> bool:
    return all(m.matches(labels) for m in found)


def version(stack: Stack) -> tuple[int, int] | None:
    """(major, minor) of the Alertmanager image, or None when its tag does not say (a digest, `latest`)."""
    return catalog.tag_version(catalog.image_tag(stack.components[COMPONENT].image))


def inhibit_rules(stack: Stack) -> list[dict[str, Any]]:
    """The default inhibitions; checks/inhibitions.py proves what they mute and what they must not."""
    rules: list[dict[str, Any]] = [
        {  # one page per problem: the critical alert mutes its own warning/info siblings on that instance
            "source_matchers": [f'{conventions.LABEL_SEVERITY}="critical"'],
            "target_matchers": [f'{conventions.LABEL_SEVERITY}=~"{"|".join(conventions.SEVERITIES[1:])}"'],
            "equal": [ALERTNAME, "instance"],
        },
        {  # a host that is down explains every other alert about it; `host=~".+"` because Alertmanager treats
            # a missing label as equal to another missing one: a host-less HostDown must not mute host-less alerts
            "source_matchers": [f'{ALERTNAME}="{conventions.ALERT_HOST_DOWN}"', f'{conventions.LABEL_HOST}=~".+"'],
            "target_matchers": [f'{ALERTNAME}!="{conventions.ALERT_HOST_DOWN}"'],
            "equal": [conventions.LABEL_HOST],
        },
    ]
    if any(service.slos for service in stack.services):
        tiers = [tier[0] for tier in conventions.SLO_TIERS]  # fastest burn first
        for index, tier in enumerate(tiers[:-1]):
            rules.append(
                {  # the faster burn already pages for this SLO; the slower windows add nothing
                    "source_matchers": [f'{ALERTNAME}="{conventions.SLO_ALERT}"', f'{conventions.LABEL_TIER}="{tier}"'],
                    "target_matchers": [
                        f'{ALERTNAME}="{conventions.SLO_ALERT}"',
                        f'{conventions.LABEL_TIER}=~"{"|".join(tiers[index + 1 :])}"',
                    ],
                    "equal": [conventions.LABEL_SERVICE, conventions.LABEL_SLO],
                }
            )
    return rules


def null_receiver(stack: Stack) -> str:
    """Name of the receiver that delivers nowhere (the spec's own `null` when it is one)."""
    for receiver in stack.notifications.receivers:
        if receiver.name == NULL_RECEIVER:
            return NULL_RECEIVER if not receiver.integrations else f"promstack-{NULL_RECEIVER}"
    return NULL_RECEIVER


def _walk(routes: Sequence[Route]) -> Iterator[Route]:
    for route in routes:
        yield route
        yield from _walk(route.routes)


def routes_watchdog(stack: Stack) -> bool:
    """Whether some route of the spec takes the Watchdog alert (then we leave it alone)."""
    return any(
        m.name == ALERTNAME and m.accepts(conventions.ALERT_WATCHDOG)
        for route in _walk(stack.notifications.routes)
        for m in matchers(route.matchers)
    )


def _pages(route: Route) -> bool:
    severity = [m for m in matchers(route.matchers) if m.name == conventions.LABEL_SEVERITY]
    return bool(severity) and all(m.accepts("critical") for m in severity)


def _takes_every_page(route: Route) -> bool:
    """Whether `route` matches every critical alert (its only matchers accept any severity="critical")."""
    found = matchers(route.matchers)
    return _pages(route) and all(m.name == conventions.LABEL_SEVERITY for m in found)


def _slower(inherited: Mapping[str, int]) -> dict[str, Duration]:
    """The PAGE_TIMERS that are faster than what a route would inherit (in ms)."""
    return {k: v for k, v in PAGE_TIMERS.items() if inherited[k] > v.ms}


def _route(route: Route, inherited: Mapping[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {"receiver": route.receiver}
    if route.matchers:
        out["matchers"] = list(route.matchers)
    if route.group_by is not None:
        out["group_by"] = list(route.group_by)
    timers: dict[str, Duration | None] = {"group_wait": route.group_wait, "group_interval": route.group_interval}
    if _pages(route):  # a page must not inherit the batching delays meant for warnings
        timers = {**_slower(inherited), **{k: v for k, v in timers.items() if v}}
    for key, value in (*timers.items(), ("repeat_interval", route.repeat_interval)):
        if value:
            out[key] = value
    if route.continue_:
        out["continue"] = True
    if route.mute_during:
        out["mute_time_intervals"] = list(route.mute_during)
    if route.active_during:
        out["active_time_intervals"] = list(route.active_during)
    if route.routes:
        own = {k: v.ms if v else inherited[k] for k, v in timers.items()}
        out["routes"] = [_route(child, own) for child in route.routes]
    return out


def route_tree(stack: Stack) -> dict[str, Any]:
    n = stack.notifications
    top = {"group_wait": n.group_wait.ms, "group_interval": n.group_interval.ms}
    children: list[dict[str, Any]] = []
    if not routes_watchdog(stack):
        # first, so no user route (even with continue) pages anyone for the dead man's switch
        children.append({"receiver": null_receiver(stack), "matchers": [f'{ALERTNAME}="{conventions.ALERT_WATCHDOG}"']})
    children.extend(_route(route, top) for route in n.routes)
    faster = _slower(top)
    if faster and not any(r.continue_ for r in n.routes) and not any(_takes_every_page(r) for r in n.routes):
        # critical alerts that fall through to the default receiver still go out fast. Only without top-level
        # `continue` routes: an alert that matched one of those would otherwise be delivered here as well.
        # Not when a route before it takes every critical alert: it would never match.
        children.append(
            {"receiver": n.default_receiver, "matchers": [f'{conventions.LABEL_SEVERITY}="critical"'], **faster}
        )
    root: dict[str, Any] = {
        "receiver": n.default_receiver,
        "group_by": list(n.group_by),
        "group_wait": n.group_wait,
        "group_interval": n.group_interval,
        "repeat_interval": n.repeat_interval,
    }
    if children:
        root["routes"] = children
    return root


class _Secrets:
    """Collects the secret references met while receivers are rendered."""

    def __init__(self, stack: Stack, target: Target) -> None:
        self.target = target
        self.version = target.version(stack, COMPONENT)
        self.files: dict[str, SecretFile] = {}
        self.inline: dict[str, SecretRef] = {}
        self.exposed: list[Exposed] = []

    def file(self, receiver: str, kind: str, ref: SecretRef) -> str:
        """Path of a 0600 file holding the secret (for Alertmanager's `*_file` fields)."""
        name = f"{receiver}.{kind}"
        self.files[f"{conventions.SECRETS_DIR}/{COMPONENT}/{name}"] = SecretFile.single(ref)
        return self.target.secret_path(COMPONENT, name)

    def late(self, receiver: str, kind: str, ref: SecretRef) -> dict[str, Any]:
        """`{file field: path}` where the version reads the secret from a file, else `{field: placeholder}`."""
        field = LATE_FILE_FIELDS[kind]
        if self.version is not None and self.version >= field.since:
            return {field.file: self.file(receiver, kind, ref)}
        self.exposed.append(Exposed(receiver, kind, field, self.version))
        key = f"secret{len(self.inline)}"
        self.inline[key] = ref
        return {field.inline: Placeholder(key)}


def _integration(
    kind: str, s: Mapping[str, Any], receiver: str, secrets: _Secrets, stack: Stack, target: Target
) -> tuple[str, dict[str, Any]]:
    resolved = {"send_resolved": bool(s.get("send_resolved", True))}  # "recovered" is news too
    if kind == "email":
        return "email_configs", {
            "to": s["to"],
            **resolved,
            "headers": {"Subject": nt.TITLE},
            "html": nt.EMAIL_HTML,
            "text": nt.TEXT,
        }
    if kind == "slack":
        out = {"api_url_file": secrets.file(receiver, kind, s["url"]), **resolved}
        if s.get("channel"):
            out["channel"] = s["channel"]
        return "slack_configs", {
            **out,
            "color": nt.SLACK_COLOR,
            "title": nt.TITLE,
            "title_link": nt.GROUP_URL,
            "text": nt.TEXT,
        }
    if kind == "webhook":
        out = {**secrets.late(receiver, kind, s["url"]), **resolved}
        if "max_alerts" in s:
            out["max_alerts"] = int(s["max_alerts"])
        return "webhook_configs", out
    if kind == "dingtalk":
        if not stack.has("dingtalk"):
            raise PromstackError(f"receiver {receiver} uses dingtalk but the stack has no dingtalk adapter component")
        # the adapter holds the DingTalk URL and signing secret (render/dingtalk.py); this is just its address
        url = f"http://{target.address(stack, 'dingtalk')}/dingtalk/{receiver}/send"
        return "webhook_configs", {"url": url, **resolved}
    if kind == "pagerduty":
        return "pagerduty_configs", {
            "routing_key_file": secrets.file(receiver, kind, s["routing_key"]),
            **resolved,
            "description": nt.TITLE,
            "severity": nt.PAGERDUTY_SEVERITY,
        }
    if kind == "opsgenie":
        out = {"api_key_file": secrets.file(receiver, kind, s["api_key"]), **resolved}
        if s.get("api_url"):
            out["api_url"] = s["api_url"]
        return "opsgenie_configs", {
            **out,
            "message": nt.TITLE,
            "description": nt.TEXT,
            "priority": nt.OPSGENIE_PRIORITY,
        }
    if kind == "wechat":
        out = {"corp_id": s["corp_id"], "agent_id": s["agent_id"], **secrets.late(receiver, kind, s["api_secret"])}
        out.update({key: s[key] for key in ("to_party", "to_user") if s.get(key)})
        return "wechat_configs", {**out, **resolved, "message": nt.TEXT}
    if kind == "telegram":
        # parse_mode "" sends plain text: label values need no HTML/Markdown escaping, links still work
        return "telegram_configs", {
            **secrets.late(receiver, kind, s["bot_token"]),
            "chat_id": int(s["chat_id"]),
            **resolved,
            "parse_mode": "",
            "message": f"{nt.TITLE}\n\n{nt.TEXT}",
        }
    if kind == "discord":
        return "discord_configs", {
            **secrets.late(receiver, kind, s["webhook_url"]),
            **resolved,
            "title": nt.TITLE,
            "message": nt.TEXT,
        }
    if kind == "msteams":
        found = version(stack)
        if found is not None and found < conventions.MSTEAMS_MIN_ALERTMANAGER:
            raise PromstackError(
                f"receiver {receiver}: msteams needs Alertmanager 0.28 or newer (msteams_configs came in 0.26, "
                f"reading its webhook URL from a file works from 0.28); the stack runs "
                f"{stack.components[COMPONENT].image}. Use the pinned version or another receiver kind."
            )
        return "msteams_configs", {
            "webhook_url_file": secrets.file(receiver, kind, s["webhook_url"]),
            **resolved,
            "title": nt.TITLE,
            "text": nt.TEXT,
        }
    raise PromstackError(f"receiver {receiver}: unknown integration kind {kind!r}")


def _receiver(receiver: Receiver, secrets: _Secrets, stack: Stack, target: Target) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    for kind, settings in receiver.integrations.items():
        key, config = _integration(kind, settings, receiver.name, secrets, stack, target)
        out.setdefault(key, []).append(config)
    return out


def _global(stack: Stack, secrets: _Secrets) -> dict[str, Any]:
    out: dict[str, Any] = {"resolve_timeout": RESOLVE_TIMEOUT}
    smtp = stack.notifications.smtp
    if smtp:
        out.update({"smtp_smarthost": smtp.smarthost, "smtp_from": smtp.from_, "smtp_require_tls": smtp.require_tls})
        if smtp.username:
            out["smtp_auth_username"] = smtp.username
        if smtp.password:
            out["smtp_auth_password_file"] = secrets.file("smtp", "password", smtp.password)
    return out


def _time_intervals(stack: Stack) -> list[dict[str, Any]]:
    out = []
    for interval in stack.notifications.time_intervals:
        entry: dict[str, Any] = {}
        if interval.weekdays:
            entry["weekdays"] = list(interval.weekdays)
        if interval.times:
            entry["times"] = [{"start_time": start, "end_time": end} for start, end in interval.times]
        if interval.location:
            entry["location"] = interval.location
        out.append({"name": interval.name, "time_intervals": [entry]})
    return out


def config(stack: Stack, target: Target) -> tuple[dict[str, Any], _Secrets]:
    """alertmanager.yml as data (inline secrets as Placeholders) and the secrets it needs."""
    secrets = _Secrets(stack, target)
    receivers = [_receiver(r, secrets, stack, target) for r in stack.notifications.receivers]
    null = null_receiver(stack)
    if not routes_watchdog(stack) and null not in {r.name for r in stack.notifications.receivers}:
        receivers.append({"name": null})
    data: dict[str, Any] = {
        "global": _global(stack, secrets),
        "templates": [target.config_path(COMPONENT, "templates/*.tmpl")],
        "route": route_tree(stack),
        "inhibit_rules": inhibit_rules(stack),
        "receivers": receivers,
    }
    intervals = _time_intervals(stack)
    if intervals:
        data["time_intervals"] = intervals
    return data, secrets


def exposed(stack: Stack, target: Target) -> list[Exposed]:
    """The receiver secrets that go inline into alertmanager.yml for `target` (no file field in its version)."""
    return config(stack, target)[1].exposed


def render(stack: Stack, target: Target) -> Tree:
    data, secrets = config(stack, target)
    tree = Tree(secrets=dict(secrets.files))
    if not secrets.inline:
        tree.files[conventions.ALERTMANAGER_CONFIG] = dump_yaml(data, stack)
        return tree
    kinds = ", ".join(sorted({e.kind for e in secrets.exposed}))
    note = f"# Mode 0600: it holds receiver secrets ({kinds}) this Alertmanager version reads only inline.\n"
    tree.secrets[conventions.ALERTMANAGER_CONFIG] = secret_yaml(data, secrets.inline, stack, note)
    return tree
