"""Stage `deploy`: a scrape target of the stack's own jobs, asked by promstack before Prometheus' first scrape.

Prometheus lists a started or reloaded config's targets about 5 s late (target discovery's update
delay), then scrapes each first at an offset of its choosing inside its interval (10 s in the example):
waiting for that first scrape made a cold `up` take a whole interval longer than the stack needs. So
`verify` accepts a target of the stack's own that Prometheus lists but has not scraped yet (`unknown`)
when promstack's own GET of the same page (path and query of Prometheus' scrape URL) answers a metrics
page through the host endpoint of that copy (`health.Endpoint`: 127.0.0.1:<port> on both runtimes,
with the auth and TLS `health.request` uses).

The copy is the one whose address (`Target.address`, as prometheus.yml names it) is the host:port of
the scrape URL, of the component the job is named after; a target that matches no copy, or several, is
not asked (promstack never guesses): `verify` waits for Prometheus' scrape of it instead.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from generator.model import Stack
from generator.render import Target
from generator.runtimes import health
from generator.runtimes.health import Endpoint

if TYPE_CHECKING:
    from generator.runtimes.verify import TargetInfo

# one sample line of the text exposition format: what a page Prometheus can parse holds at least once
_SAMPLE = re.compile(
    r"^[a-zA-Z_:][a-zA-Z0-9_:]*(\{.*\})?[ \t]+([-+]?[0-9.][0-9.eE+-]*|[-+]?Inf|NaN)([ \t]+-?[0-9]+)?[ \t]*$",
    re.MULTILINE,
)


class OwnTargets:
    """The copies of the stack's own components by the address Prometheus scrapes them at, and the scrape
    URLs that answered promstack already (asked again never: Prometheus' own verdict takes over)."""

    def __init__(self, stack: Stack, endpoints: Iterable[Endpoint], target: Target) -> None:
        self.copies: dict[str, list[Endpoint]] = {}
        for endpoint in endpoints:
            _, instance = stack.instance(endpoint.component)
            address = target.address(stack, endpoint.entry, instance.index)
            self.copies.setdefault(address, []).append(endpoint)
        self.answered: set[str] = set()

    def copy_of(self, target: TargetInfo) -> Endpoint | None:
        """The one copy Prometheus scrapes for `target`, or None when not exactly one is."""
        url = urllib.parse.urlsplit(target.url)
        found = [
            e
            for e in self.copies.get(url.netloc, [])
            if e.entry == target.job and urllib.parse.urlsplit(e.base).scheme == url.scheme
        ]
        return found[0] if len(found) == 1 else None

    def ask(self, targets: Sequence[TargetInfo]) -> list[str | None]:
        """`problem` of each of `targets`, asked at once: a page that answers slowly (an exporter that
        connects to its backend first) holds up the others no longer than itself."""
        if len(targets) <= 1:
            return [self.problem(t) for t in targets]
        with ThreadPoolExecutor(max_workers=min(8, len(targets))) as pool:
            return list(pool.map(self.problem, targets))

    def problem(self, target: TargetInfo) -> str | None:
        """Why promstack's own request for `target`'s metrics page failed: "" when it answered one, None
        when `target` is no copy promstack can name (only Prometheus' scrape tells then)."""
        if target.url in self.answered:
            return ""
        endpoint = self.copy_of(target)
        if endpoint is None:
            return None
        url = urllib.parse.urlsplit(target.url)
        path = url.path + (f"?{url.query}" if url.query else "")
        answer = health.request(endpoint, path)
        if not answer.ok:
            return f"GET {endpoint.base}{path}: {answer.error or answer.status}"
        if not _SAMPLE.search(answer.body):
            return f"GET {endpoint.base}{path}: the answer holds no sample"
        self.answered.add(target.url)
        return ""
