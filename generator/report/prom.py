"""Asking a stack's Prometheus over its HTTP API: instant and range queries, answers as plain values.

The Prometheus is the one `status` reads (runtimes/inspect.py): the deployed stack's, on 127.0.0.1 at
its port, with its basic-auth credentials when it has any. A query Prometheus refuses is an error that
names the query: a report with a silently missing number would be worse than none.
"""

from __future__ import annotations

import json
import math
import urllib.parse
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from generator.errors import DeployError, SecretError
from generator.model import Stack
from generator.runtimes import health
from generator.runtimes.options import Options, project_name
from generator.runtimes.state import State
from generator.spec import load_stack
from generator.write import Secrets

Labels = dict[str, str]
MAX_POINTS = 10_000  # Prometheus answers at most 11,000 points per series


@dataclass(frozen=True)
class Prometheus:
    endpoint: health.Endpoint

    def _get(self, path: str, params: dict[str, str]) -> Any:
        answer = health.request(self.endpoint, f"{path}?{urllib.parse.urlencode(params)}", timeout=120)
        try:
            body = json.loads(answer.body) if answer.body else {}
        except ValueError:
            body = {}
        if not answer.ok or body.get("status") != "success":
            why = body.get("error") or answer.error or f"HTTP {answer.status}"
            raise DeployError(f"Prometheus ({self.endpoint.base}) refused {params.get('query', path)!r}: {why}")
        return body["data"]

    def vector(self, expr: str, at: float) -> list[tuple[Labels, float]]:
        """An instant query: every series' labels and value."""
        data = self._get("/api/v1/query", {"query": expr, "time": f"{at:.3f}"})
        if data["resultType"] == "scalar":
            return [({}, float(data["result"][1]))]
        return [(dict(r["metric"]), float(r["value"][1])) for r in data["result"]]

    def value(self, expr: str, at: float) -> float | None:
        """The single value of an instant query (None: no series, or not a number)."""
        found = self.vector(expr, at)
        if not found or math.isnan(found[0][1]):
            return None
        return found[0][1]

    def matrix(
        self, expr: str, start: float, end: float, step: float
    ) -> list[tuple[Labels, list[tuple[float, float]]]]:
        """A range query: every series' labels and (time, value) points."""
        params = {"query": expr, "start": f"{start:.3f}", "end": f"{end:.3f}", "step": f"{step:g}"}
        data = self._get("/api/v1/query_range", params)
        return [(dict(r["metric"]), [(float(t), float(v)) for t, v in r["values"]]) for r in data["result"]]


def connect(spec: Path, options: Options) -> tuple[Stack, Prometheus]:
    """The stack of `spec` and its running Prometheus; DeployError if it is not deployed or not answering."""
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    if not state.check() or state.load() is None:
        raise DeployError(f"stack {stack.name!r} (project {project!r}) is not deployed here; `promstack up` it first")
    component = stack.components["prometheus"]
    try:
        endpoint = health.Endpoint.of(component, Secrets(spec.absolute().parent, keep=state.generated))
    except SecretError as exc:
        raise DeployError(f"Prometheus' credentials are needed for a report: {exc}") from None
    answer = health.healthy(endpoint)
    if not answer.ok:
        raise DeployError(f"Prometheus does not answer at {endpoint.base} ({answer.error or answer.status})")
    return stack, Prometheus(endpoint)
