"""Schema validation of rendered Kubernetes resources (check `kubernetes/resources`, and the tests).

Custom resources against prometheus-operator's CRD schemas (vendored in schemas/), made strict: wherever
a schema lists `properties` (and does not keep unknown fields), any other key is an error, because the API
server would drop it without a word. `x-kubernetes-int-or-string` and `nullable` are read as Kubernetes
reads them. Core objects against Kubernetes' own schemas through PyPI `kubernetes-validate` (strict too);
`CoreSchemas` says whether it is installed. Messages name the object and the path of the problem.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema

from generator import conventions

SCHEMAS = Path(__file__).resolve().parent / "schemas" / "prometheus-operator-crds.json"


def _strict(node: Any) -> Any:
    """An OpenAPI v3 schema of a CRD as a JSON Schema that refuses unknown keys."""
    if isinstance(node, list):
        return [_strict(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {key: _strict(value) for key, value in node.items()}
    if out.pop("x-kubernetes-int-or-string", False):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if out.pop("nullable", False) and isinstance(out.get("type"), str):
        out["type"] = [out["type"], "null"]
    preserve = out.pop("x-kubernetes-preserve-unknown-fields", False)
    if "properties" in node and "additionalProperties" not in node and not preserve:
        out["additionalProperties"] = False
    return out


@cache
def _validators() -> dict[str, jsonschema.Draft7Validator]:
    raw = json.loads(SCHEMAS.read_text())
    return {key: jsonschema.Draft7Validator(_strict(copy.deepcopy(schema))) for key, schema in raw.items()}


def custom_kinds() -> set[str]:
    """`Kind|apiVersion` of every custom resource the schemas cover."""
    return set(_validators())


def _where(error: jsonschema.ValidationError) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in error.absolute_path) or "(top)"


def describe(obj: dict[str, Any]) -> str:
    meta = obj.get("metadata") or {}
    return f"{obj.get('kind')} {meta.get('name')}"


def custom_problems(obj: dict[str, Any]) -> Iterator[str]:
    """What the operator's schema finds wrong with custom resource `obj` (nothing if it is not one)."""
    validator = _validators().get(f"{obj.get('kind')}|{obj.get('apiVersion')}")
    if validator is None:
        return
    for error in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        yield f"{describe(obj)}: {_where(error)}: {error.message}"


class CoreSchemas:
    """Kubernetes' schemas of the core objects, from `kubernetes-validate` where it is installed."""

    def __init__(self, version: str = conventions.KUBERNETES_VERSION) -> None:
        self.version = version
        try:
            import kubernetes_validate  # type: ignore[import-untyped]
        except ImportError:
            self.module: Any = None
        else:
            self.module = kubernetes_validate

    @property
    def missing(self) -> str:
        """Why the core objects cannot be checked here ("" when they can)."""
        if self.module is not None:
            return ""
        return "kubernetes-validate is not installed (pip install 'promstack[kubernetes]')"

    def problems(self, obj: dict[str, Any]) -> Iterator[str]:
        assert self.module is not None
        try:
            self.module.validate(obj, self.version, strict=True)
        except self.module.ValidationError as exc:
            cause = getattr(exc, "caused_by", exc)
            path = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in getattr(cause, "path", ()))
            yield f"{describe(obj)}: {path or '(top)'}: {getattr(cause, 'message', str(exc))}"
        except self.module.SchemaNotFoundError:
            yield f"{describe(obj)}: Kubernetes {self.version} has no {obj.get('apiVersion')} {obj.get('kind')}"


def problems(obj: dict[str, Any], core: CoreSchemas) -> list[str]:
    """Every schema problem of one rendered object: a custom resource against its CRD (an unknown custom
    kind is a problem too), a core object against Kubernetes' schema where `core` can check it."""
    api = str(obj.get("apiVersion", ""))
    if api.startswith("monitoring.coreos.com/"):
        if f"{obj.get('kind')}|{api}" not in custom_kinds():
            return [f"{describe(obj)}: no vendored schema for {api} {obj.get('kind')}"]
        return list(custom_problems(obj))
    return list(core.problems(obj)) if core.module is not None else []
