"""Alertmanager's receivers: one config per integration of each spec receiver, and where each of its
secrets goes (the `receivers` of alertmanager.yml, and the secret files beside it).

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

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from generator import catalog, conventions
from generator.errors import PromstackError
from generator.model import Receiver, SecretRef, Stack
from generator.render import Placeholder, SecretFile, Target
from generator.render import notify_templates as nt

COMPONENT = "alertmanager"


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


def version(stack: Stack) -> tuple[int, int] | None:
    """(major, minor) of the Alertmanager image, or None when its tag does not say (a digest, `latest`)."""
    return catalog.tag_version(catalog.image_tag(stack.components[COMPONENT].image))


class Secrets:
    """Collects the secret references met while receivers are rendered."""

    def __init__(self, stack: Stack, target: Target) -> None:
        self.stack = stack
        self.target = target
        self.version = target.version(stack, COMPONENT)
        self.files: dict[str, SecretFile] = {}
        self.inline: dict[str, SecretRef] = {}
        self.exposed: list[Exposed] = []

    def file(self, receiver: str, kind: str, ref: SecretRef) -> str:
        """Path of a 0600 file holding the secret (for Alertmanager's `*_file` fields)."""
        name = f"{receiver}.{kind}"
        self.files[f"{conventions.SECRETS_DIR}/{COMPONENT}/{name}"] = SecretFile.single(ref)
        return self.target.secret_file(self.stack, COMPONENT, name, ref)

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
    kind: str, s: Mapping[str, Any], receiver: str, secrets: Secrets, stack: Stack, target: Target
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
        # promstack's adapter holds the robot URL and signing secret (render/dingtalk.py); this is its address
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
        out.update({key: s[key] for key in ("to_party", "to_user", "api_url") if s.get(key)})
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


def receiver_config(receiver: Receiver, secrets: Secrets, stack: Stack, target: Target) -> dict[str, Any]:
    out: dict[str, Any] = {"name": receiver.name}
    for kind, settings in receiver.integrations.items():
        key, config = _integration(kind, settings, receiver.name, secrets, stack, target)
        out.setdefault(key, []).append(config)
    return out
