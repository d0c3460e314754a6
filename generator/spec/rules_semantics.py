"""Semantic checks of `alerts:` that need the rule-pack catalog (e.g. overrides of unknown alerts)."""

from __future__ import annotations

from collections.abc import Iterator

from generator.errors import Problem
from generator.spec.loader import Document


def rule_problems(doc: Document) -> Iterator[Problem]:
    """Problems in `alerts:` that the schema cannot see. Filled in with the rule packs."""
    return iter(())
