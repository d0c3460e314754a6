"""`promstack check`, `generate`, `test` and `schema`: the commands on the spec alone (no running stack)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from generator import pipeline
from generator.cli_common import (
    CheckRuntimeOpt,
    EnvOpt,
    SpecArg,
    app,
    echo,
    guarded,
    problem_lines,
    say,
    write_text,
)


@app.command()
def check(
    spec: SpecArg,
    live: Annotated[
        str | None, typer.Option("--live", help="Also run every dashboard query against this Prometheus URL.")
    ] = None,
    env: EnvOpt = None,
    runtime: CheckRuntimeOpt = "local",
) -> None:
    """Validate the spec, render it in memory and prove the result with promtool, amtool and our checks."""
    if runtime not in ("local", "compose", "kubernetes"):
        say("error: --runtime must be local, compose or kubernetes")
        raise typer.Exit(2)
    report = guarded(lambda: pipeline.check_spec(spec, live=live, env=env, runtime=runtime))
    for line in problem_lines([p for p in report.problems if p.severity == "warning"]):
        say(line)
    for name in report.passed:
        echo(f"ok  {name}")
    for line in problem_lines([p for p in report.problems if p.severity == "info"]):
        echo(line)
    for name, why in report.skipped.items():
        echo(f"skip  {name}: {why}")
    skipped = report.skipped
    more = f", {len(skipped)} skipped ({', '.join(skipped)})" if skipped else ""
    echo(f"{spec}: all {len(report.passed)} checks passed{more}")


@app.command()
def generate(
    spec: SpecArg,
    out: Annotated[
        Path, typer.Option("--out", "-o", help="Output directory (our files replaced atomically, yours kept).")
    ] = Path("out"),
    runtime: Annotated[
        str,
        typer.Option(
            "--runtime",
            "-r",
            help="compose or local (paths and addresses), or kubernetes (operator resources in DIR/kubernetes).",
        ),
    ] = "compose",
    env: EnvOpt = None,
) -> None:
    """Render the spec into a config tree (atomically; identical specs give identical bytes)."""
    if runtime not in ("compose", "local", "kubernetes"):
        say("error: --runtime must be compose, local or kubernetes")
        raise typer.Exit(2)
    here = _cwd()
    rendered = guarded(lambda: pipeline.generate(spec, out, runtime, env=env))
    for note in rendered.notes:
        say(f"note: {note}")
    total = len(rendered.tree.files) + len(rendered.tree.secrets)
    for why in rendered.left_out.values():
        say(f"note: {pipeline.left_out_line(why)}")
    echo(f"wrote {total} files to {out}")
    if runtime == "kubernetes":
        folder = out / "kubernetes"
        echo(f"create the Secret {folder / 'README.md'} names, then `kubectl apply -f {folder}`")
    if here and not _cwd():  # the shell's folder was replaced by the new one of the same name
        say(f"note: your current folder was replaced; `cd {here}` to see the new files")


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except FileNotFoundError:  # a folder that was removed (or replaced) while we were in it
        return None


@app.command("test")
def test_cmd(spec: SpecArg, env: EnvOpt = None, runtime: CheckRuntimeOpt = "local") -> None:
    """Run the rule unit tests and the route tests (inhibitions included) of the spec."""
    only = ["rules/test", "routes/test", "routes/inhibit"]
    report = guarded(lambda: pipeline.check_spec(spec, only=only, env=env, runtime=runtime))
    for name in report.passed:
        echo(f"ok  {name}")
    # how many ran: a test run that proves nothing (no tests rendered) should not look like one that did
    echo("; ".join(p.message for p in report.problems if p.severity == "info"))


@app.command()
def schema(
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write it here instead of standard output.")] = None,
) -> None:
    """The spec's JSON Schema, every catalog component included: for editors
    (`# yaml-language-server: $schema=FILE` on a spec's first line)."""
    from generator.spec import schema as spec_schema

    text = spec_schema.text()
    if out is None:
        typer.echo(text, nl=False)
        return
    guarded(lambda: write_text(out, text))
    say(f"wrote {out}")
