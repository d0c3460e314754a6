"""`promstack backup`, `restore` and `report`: operations on a running (or stopped) stack."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from generator.cli_common import (
    EnvOpt,
    ProjectOpt,
    RuntimeOpt,
    SpecArg,
    app,
    echo,
    guarded,
    progress,
    say,
    write_text,
)


@app.command()
def backup(
    spec: SpecArg,
    out: Annotated[Path, typer.Option("--out", "-o", help="The archive to write (.tar.gz); never an existing file.")],
    project: ProjectOpt = None,
    include_secrets: Annotated[
        bool,
        typer.Option("--include-secrets", help="Also store the resolved secret files and generated passwords."),
    ] = False,
    env: EnvOpt = None,
) -> None:
    """Copy the running stack (metrics, silences, notification log, Grafana, config) into one archive (0600)."""
    from generator import runtimes
    from generator.ops import backup as ops_backup

    shown = progress()
    done = guarded(
        lambda: ops_backup.backup(
            spec, out, runtimes.Options(project=project, out=say, env=env), include_secrets, shown
        )
    )
    for line in ops_backup.summary_lines(done):
        echo(line)


@app.command()
def restore(
    spec: SpecArg,
    archive: Annotated[Path, typer.Argument(help="A backup written by `promstack backup`.", show_default=False)],
    runtime: RuntimeOpt = "auto",
    project: ProjectOpt = None,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace the data the stack has (only once the archive is proven sound).")
    ] = False,
    env: EnvOpt = None,
) -> None:
    """Put a backup's data back into a stack that is down (auto: the runtime it was taken on); then `up`."""
    from generator import runtimes
    from generator.ops import restore as ops_restore

    shown = progress()
    done = guarded(
        lambda: ops_restore.restore(spec, archive, runtimes.Options(runtime, project, out=say, env=env), replace, shown)
    )
    for line in ops_restore.summary_lines(done, spec):
        echo(line)


@app.command()
def report(
    spec: SpecArg,
    since: Annotated[str, typer.Option("--since", help="How far back: a duration like 30d, 12h.")] = "30d",
    form: Annotated[
        str | None,
        typer.Option("--format", "-f", help="html, markdown or json (default: from the file name, else html)."),
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="Write it here instead of standard output.")] = None,
    project: ProjectOpt = None,
    env: EnvOpt = None,
) -> None:
    """SLOs, services, alert history and capacity of the running stack over the last --since."""
    from generator import report as reports
    from generator import runtimes

    text = guarded(lambda: reports.report(spec, since, form, out, runtimes.Options(project=project, out=say, env=env)))
    if out is None:
        typer.echo(text, nl=False)
        return
    guarded(lambda: write_text(out, text))
    say(f"wrote {out}")
