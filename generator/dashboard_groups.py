"""Services grouped by what their queries need, so that a dashboard's size does not grow with the services.

Services name their own metrics (`http.requests`, `http.errors`, ...), so one query cannot serve them all;
but services that name the same ones share a query, restricted to the services picked in the dashboard's
`$service` variable and split `by (service)`. A dashboard has a query per group: as many as the spec has
different ways of naming metrics, however many services name them alike (a thousand copies of one
service are one group). Where groups read the same metric (the same `http_requests_total`, counted
with different `errors` matchers) each group's matcher keeps only its own services: the largest group
leaves the others out, the others name their own.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from generator import conventions
from generator.model import Service

SERVICE = conventions.LABEL_SERVICE
VARIABLE = f'{SERVICE}=~"${SERVICE}"'  # the services picked on the dashboard


@dataclass(frozen=True)
class Group:
    services: tuple[Service, ...]
    sel: str  # matchers selecting exactly these services' series, among those picked in `$service`

    @property
    def first(self) -> Service:
        return self.services[0]

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.services]

    def title(self, most: int = 3) -> str:
        """`api`, `a, b, c`, or `a, b, c and 997 more`."""
        shown = ", ".join(self.names[:most])
        more = len(self.services) - most
        return shown if more <= 0 else f"{shown} and {more} more"


def _one_of(names: Sequence[str]) -> str:
    return f'"{names[0]}"' if len(names) == 1 else '~"' + "|".join(names) + '"'


def group(
    services: Sequence[Service],
    key: Callable[[Service], Hashable],
    shared: Callable[[Service], Hashable],
    picked: str = VARIABLE,
) -> list[Group]:
    """`services` grouped by `key` (what their queries need), in the order of their first member. Groups
    whose `shared` (the metric they read) is the same are told apart by naming their services. `picked`:
    the matcher of the services shown (the `$service` variable's, or every service's on the overview)."""
    members: dict[Hashable, list[Service]] = {}
    for service in services:
        members.setdefault(key(service), []).append(service)
    readers: dict[Hashable, list[Hashable]] = {}
    for k, found in members.items():
        readers.setdefault(shared(found[0]), []).append(k)
    order = list(members)
    groups = []
    for k, found in members.items():
        sharing = readers[shared(found[0])]
        largest = max(sharing, key=lambda r: (len(members[r]), -order.index(r)))
        others = [s.name for r in sharing if r != k for s in members[r]]
        if not others:
            sel = picked
        elif k == largest:
            sel = f'{picked},{SERVICE}!~"{"|".join(others)}"'
        else:
            sel = f"{SERVICE}={_one_of([s.name for s in found])},{picked}"
        groups.append(Group(tuple(found), sel))
    return groups


EVERY = f'{SERVICE}!=""'  # every service, where no variable picks some


def http_groups(
    services: Sequence[Service], picked: str = VARIABLE, within: Callable[[Service], Hashable] | None = None
) -> list[Group]:
    """The services with HTTP metrics, by the metrics and matchers their RED queries read. `within`: split
    the groups further by it (which SLO a service has): every service counts in telling groups apart."""
    http = [s for s in services if s.http is not None]

    def key(service: Service) -> Hashable:
        assert service.http is not None
        return (service.http.requests, service.http.errors, service.http.duration, within and within(service))

    return group(http, key, lambda s: s.http.requests if s.http else None, picked)
