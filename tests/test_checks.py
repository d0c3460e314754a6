"""The check stage as a whole (generator/checks/__init__.py, pipeline.check): problems are values with a
severity, only errors fail, the compose tree is rendered only for the check that reads it, the tree the
caller gives is the one checked."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from generator import checks, pipeline
from generator.checks import CheckContext
from generator.errors import CheckError, CheckProblem
from generator.render import Group, Rule, RuleFile, Target, render
from generator.spec import load_stack


def test_only_errors_fail_and_the_error_carries_every_problem() -> None:
    problems = [
        CheckProblem("a/b", "warning", "worth saying."),
        CheckProblem("a/b", "error", "broken."),
        CheckProblem("c/d", "info", "ran 3 tests"),
    ]
    error = CheckError(problems)
    assert error.failures == ["[a/b] broken."]
    assert error.problems == problems
    assert checks.Report(problems=problems).errors == [problems[1]]


def test_the_compose_tree_is_rendered_once_and_only_when_asked(
    write_spec: Callable[..., Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stack = load_stack(write_spec())
    local = Target("local", str(tmp_path))
    made: list[Target] = []

    def counting(stack_: object, target: Target) -> object:
        made.append(target)
        return render(stack, target)

    monkeypatch.setattr(checks, "render", counting)
    ctx = CheckContext(stack, render(stack, local), tmp_path, local)
    assert made == []  # nothing rendered until a check asks
    assert ctx.compose() is ctx.compose()
    assert [t.runtime for t in made] == ["compose"]
    compose = render(stack, Target("compose"))
    assert CheckContext(stack, compose, tmp_path, Target("compose")).compose() is compose
    assert CheckContext(stack, render(stack, local), tmp_path, local, compose).compose() is compose
    assert len(made) == 1


def test_check_reads_the_tree_it_is_given(write_spec: Callable[..., Path]) -> None:
    """rules/lint reads the rules the Tree carries (with their provenance); it renders nothing itself."""
    stack = load_stack(write_spec())
    rule = Rule({"alert": "host_down", "expr": "up == 0", "labels": {"severity": "warning"}}, "mine.yml:3", "15s", "x")
    with pipeline.scratch(stack) as target:
        tree = render(stack, target)
        tree.rules = [RuleFile("mine", (Group("g", (rule,)),))]
        with pytest.raises(CheckError) as caught:
            pipeline.check(stack, tree, target, only=["rules/lint"])
    found = [p for p in caught.value.problems if "CamelCase" in p.message]
    assert [(p.check, p.location) for p in found] == [("rules/lint", "mine.yml:3")]
    assert str(found[0]) == "[rules/lint] alert host_down (mine.yml:3): alert names are CamelCase (e.g. OrdersStalled)"
