"""`promstack up`, `down`, `status` and `diff`: the runtime commands (generator/runtimes is imported lazily:
the docker SDK is slow to import)."""

from __future__ import annotations

from typing import Annotated

import typer

from generator import pipeline
from generator.cli_common import EnvOpt, ProjectOpt, RuntimeOpt, SpecArg, app, deployable, echo, guarded, say


@app.command()
def up(
    spec: SpecArg,
    runtime: RuntimeOpt = "auto",
    project: ProjectOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for health and scrape targets.")] = 180,
    env: EnvOpt = None,
) -> None:
    """Check and deploy the stack, or apply only what changed (live reload, no restart); wait until healthy."""
    deployable(runtime, "up")
    from generator import runtimes

    outcome = guarded(lambda: runtimes.up(spec, runtimes.Options(runtime, project, timeout, out=say, env=env)))
    for line in runtimes.summary(outcome):
        echo(line)


@app.command()
def down(
    spec: SpecArg,
    runtime: RuntimeOpt = "auto",
    project: ProjectOpt = None,
    volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data (metrics, silences).")] = False,
    env: EnvOpt = None,
) -> None:
    """Stop and remove the stack. Its data is kept unless --volumes."""
    deployable(runtime, "down")
    from generator import runtimes

    echo(guarded(lambda: runtimes.down(spec, runtimes.Options(runtime, project, out=say, env=env), volumes)))


@app.command()
def status(
    spec: SpecArg,
    project: ProjectOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
    env: EnvOpt = None,
) -> None:
    """Each component (state, health, version, uptime), scrape targets, firing alerts."""
    import json

    from generator import runtimes

    report = guarded(lambda: runtimes.status(spec, runtimes.Options(project=project, out=say, env=env)))
    if as_json:
        echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for line in runtimes.status_lines(report):
            echo(line)


@app.command()
def diff(
    spec: SpecArg,
    runtime: RuntimeOpt = "auto",
    project: ProjectOpt = None,
    env: EnvOpt = None,
    against: Annotated[
        str | None,
        typer.Option(
            "--against",
            help="Compare the rendered configs of --env with those of this environment instead of the running stack.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """What `up` would change: per component, then file by file (secret files are named, never shown); with
    --against, how two environments of the spec differ, file by file."""
    deployable(runtime, "diff")
    if against is not None:
        lines = guarded(lambda: pipeline.compare(spec, env, against))
        for line in lines or [f"no differences between {env or 'the base'} and {against}"]:
            echo(line)
        return
    from generator import runtimes

    difference = guarded(lambda: runtimes.diff(spec, runtimes.Options(runtime, project, out=say, env=env)))
    for line in runtimes.diff_lines(difference):
        echo(line)
