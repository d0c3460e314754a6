"""Redaction at the edge: no secret value promstack has resolved is ever shown in what it prints.

`Secrets.value` (write.py) tells `remember` every value it resolves; the CLI passes every line it
prints (progress, results, errors, tracebacks) through `clean`. Whatever a message quotes (a
component's log lines, a tool's output, an HTTP answer) may hold a secret the component was given, in
any stage and on any runtime: one place at the edge is what makes sure it is not shown, instead of
each message trying to be careful.
"""

from __future__ import annotations

import json
import urllib.parse

MARK = "<redacted>"
# parts of a value redacted on their own (a password inside a URL, one line of a key) must be at least this
# long: shorter ones are too likely to be ordinary words of the message
_PART = 8
# a whole value shorter than this is not looked for: replacing every "r" or "ab" would garble every message
# while hiding nothing a reader could not guess (and such a secret protects nothing)
_WHOLE = 4


class Redactor:
    """The secret values met so far, in the spellings a log or an error message would quote them in."""

    def __init__(self) -> None:
        self._known: set[str] = set()

    def remember(self, value: str) -> None:
        self._known.update(spelling for spelling in _spellings(value) if len(spelling) >= _WHOLE)

    def clean(self, text: str) -> str:
        for known in sorted(self._known, key=len, reverse=True):  # longest first: no half-replaced value
            text = text.replace(known, MARK)
        return text


def _spellings(value: str) -> set[str]:
    found = {value, value.strip()}
    found.add(json.dumps(value, ensure_ascii=False)[1:-1])  # inside a quoted JSON, logfmt or Go string
    found.add(json.dumps(value)[1:-1])
    found.add(urllib.parse.quote(value, safe=""))  # a value in a query string
    found.add(urllib.parse.quote(value, safe="/:@"))
    parts: list[str] = []
    if "://" in value:
        try:  # a secret need not be a well-formed URL (`http://[x` is not one): then the whole value it is
            url = urllib.parse.urlsplit(value)
            parts += [url.password or "", url.path, url.path.rstrip("/").rsplit("/", 1)[-1], url.query, url.fragment]
            parts += [v for _, v in urllib.parse.parse_qsl(url.query)]
        except ValueError:
            pass
    parts += [line.strip() for line in value.splitlines()]  # one line of a multi-line key
    found.update(part for part in parts if len(part) >= _PART)
    return found


REDACTOR = Redactor()  # fed by every Secrets object, applied by the CLI


def remember(value: str) -> None:
    REDACTOR.remember(value)


def clean(text: str) -> str:
    return REDACTOR.clean(text)
