"""`promstack ack` (and `ack --list`) and `unack`: acknowledging alerts of a running stack, as Alertmanager
silences (generator/runtimes/silences.py; imported lazily like the other runtime commands)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Annotated

import typer

from generator import conventions
from generator.cli_common import EnvOpt, ProjectOpt, SpecArg, app, echo, guarded, say
from generator.errors import UsageError

if TYPE_CHECKING:
    from generator.runtimes.silences import Silence


def _usage(message: str) -> None:
    raise UsageError(message)


@app.command()
def ack(
    spec: SpecArg,
    alertname: Annotated[
        str | None, typer.Argument(help="The alert to acknowledge (its alertname).", show_default=False)
    ] = None,
    label: Annotated[
        list[str] | None,
        typer.Option("--label", "-l", help="name=value (or name=~regex) that picks the alert; repeat for more."),
    ] = None,
    for_: Annotated[str, typer.Option("--for", help="How long the acknowledgement holds.")] = str(
        conventions.DEFAULT_ACK_FOR
    ),
    comment: Annotated[str | None, typer.Option("--comment", "-c", help="What you are doing about it.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List the acknowledgements (silences) in force.")] = False,
    project: ProjectOpt = None,
    env: EnvOpt = None,
) -> None:
    """Acknowledge a firing alert: a silence on it (and its escalation) in the stack's Alertmanager, so it
    neither notifies again nor escalates. `--list` shows what is acknowledged; `unack` takes one back."""
    from generator import runtimes

    options = runtimes.Options(project=project, out=say, env=env)
    if list_:
        if alertname or label or comment:
            guarded(lambda: _usage("--list takes no ALERTNAME, --label or --comment"))
        for line in _silence_lines(guarded(lambda: runtimes.active(spec, options))):
            echo(line)
        return
    if alertname is None or comment is None:
        guarded(lambda: _usage("give the ALERTNAME and a --comment (or --list)"))
    assert alertname is not None and comment is not None
    done = guarded(lambda: runtimes.ack(spec, options, alertname, label or [], for_, comment))
    what = "{" + ", ".join(m.text() for m in done.matchers) + "}"
    echo(f"acknowledged {what} until {done.until:%Y-%m-%d %H:%M} UTC (silence {done.silence})")
    if done.firing:
        echo(f"it holds {done.firing} firing alert{'' if done.firing == 1 else 's'} now; none notifies or escalates")
    else:
        say("warning: no alert matching it fires now; it will hold any that does (check the labels if you meant one)")
    echo(f"take it back with: promstack unack {spec} {done.silence}")


@app.command()
def unack(
    spec: SpecArg,
    silence: Annotated[str, typer.Argument(help="The acknowledgement's id (`ack --list`).", show_default=False)],
    project: ProjectOpt = None,
    env: EnvOpt = None,
) -> None:
    """Take an acknowledgement back: what it held notifies and escalates again."""
    from generator import runtimes

    gone = guarded(lambda: runtimes.unack(spec, runtimes.Options(project=project, out=say, env=env), silence))
    echo(f"took back {silence} {gone.describe()}: it notifies and escalates again")


def _silence_lines(found: Sequence[Silence]) -> list[str]:
    if not found:
        return ["no acknowledgement (silence) is in force"]
    lines = [f"{'ID':36}  {'UNTIL (UTC)':16}  ALERT"]
    for silence in found:
        until = silence.ends_at[:16].replace("T", " ")
        lines.append(f"{silence.id:36}  {until:16}  {silence.describe()}")
        lines.append(f"{'':36}  {'':16}  by {silence.created_by}: {silence.comment}")
    return lines
