"""Stages `load`, `validate` and `build`: a spec file in, a `Stack` out (or a SpecError with every problem)."""

from __future__ import annotations

from pathlib import Path

from generator.errors import Problem, SpecError
from generator.model import Stack
from generator.spec import environments
from generator.spec.build import build
from generator.spec.loader import Document, load_file, load_text
from generator.spec.validate import validate

__all__ = [
    "Document",
    "build",
    "environments",
    "load_file",
    "load_stack",
    "load_text",
    "stack_from_text",
    "validate",
    "validated",
]


def load_stack(path: Path, env: str | None = None, runtime: str = "compose") -> Stack:
    """The Stack of `path`, or of its environment `env` (`--env`): every environment is validated, for
    `runtime` (compose and local accept the same specs; kubernetes also services that only name their
    Kubernetes Service, and components that run only there)."""
    return validated(load_file(path), env, runtime)


def stack_from_text(text: str, file: str = "stack.yaml", env: str | None = None, runtime: str = "compose") -> Stack:
    return validated(load_text(text, file), env, runtime)


def validated(doc: Document, env: str | None = None, runtime: str = "compose") -> Stack:
    """Validate the base spec and each of its environments merged (every problem at once, each where it
    was written) for `runtime`, then build the one `env` names."""
    problems = _problems(doc, runtime)
    for name in environments.names(doc):
        merged = environments.merge(doc, name)
        found = {merged.located(p) for p in _problems(merged.doc, runtime)}
        problems |= {_in(p, name) for p in found - problems}
    if problems:
        raise SpecError(sorted(problems))
    selected = environments.select(doc, env)
    return build(selected.doc, selected.env)


def _problems(doc: Document, runtime: str) -> set[Problem]:
    try:
        validate(doc, runtime)
    except SpecError as exc:
        return set(exc.problems)
    return set()


def _in(problem: Problem, env: str) -> Problem:
    """A problem only the merged spec of `env` has, said so when its path does not already say it."""
    if problem.path.startswith(f"$.{environments.SECTION}."):
        return problem
    message = f"{problem.message} (in environment {env})"
    return Problem(problem.file, problem.line, problem.col, problem.path, message)
