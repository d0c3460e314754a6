"""The `promstack` command: a thin typer layer mapping pipeline errors to exit codes (0 ok, 1 failed, 2 bad input)."""

from __future__ import annotations

import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any, TypeVar

import typer

from generator import conventions, pipeline, redact
from generator.errors import CheckError, CheckProblem, PromstackError, SpecError, UsageError

app = typer.Typer(
    help="Monitoring as code: one YAML spec in, a running, proven Prometheus + Alertmanager + Grafana stack out.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
state = {"debug": False}
T = TypeVar("T")

SpecArg = Annotated[Path, typer.Argument(help="The stack spec (YAML).", show_default=False)]
RuntimeOpt = Annotated[
    str,
    typer.Option("--runtime", "-r", help="auto (compose where a Docker engine answers, else local), compose or local."),
]


def say(message: str) -> None:
    """Progress, warnings and errors, on stderr."""
    echo(message, err=True)


def echo(message: str, err: bool = False) -> None:
    """Everything promstack prints goes through here: no secret value it has resolved is ever shown, whatever
    the message quotes (component logs, tool output, HTTP answers; generator/redact.py)."""
    typer.echo(redact.clean(message), err=err)


def guarded(action: Callable[[], T]) -> T:
    """Run `action`; turn promstack errors into messages and exit codes. Tracebacks only with --debug."""
    try:
        return action()
    except SpecError as exc:
        for problem in exc.problems:
            say(str(problem))
        say(f"{len(exc.problems)} problem(s) in the spec; nothing was written.")
        raise typer.Exit(2) from None
    except CheckError as exc:
        for line in problem_lines(exc.problems, notes=False):
            say(line)
        raise typer.Exit(exc.exit_code) from None
    except PromstackError as exc:
        if state["debug"]:
            say(traceback.format_exc().rstrip())
        say(f"error: {exc}")
        raise typer.Exit(exc.exit_code) from None
    except KeyboardInterrupt:
        say("interrupted")
        raise typer.Exit(130) from None


def problem_lines(problems: Sequence[CheckProblem], notes: bool = True) -> list[str]:
    """What the checks found, warnings first (they never fail a check), errors last; `notes`: the info too."""
    shown = {"warning": "warning: ", "error": ""} | ({"info": "note: "} if notes else {})
    order = list(shown)
    shown_problems = sorted((p for p in problems if p.severity in shown), key=lambda p: order.index(p.severity))
    return [f"{shown[p.severity]}{p}" for p in shown_problems]


@app.callback()
def main(debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks.")] = False) -> None:
    state["debug"] = debug


@app.command()
def check(
    spec: SpecArg,
    live: Annotated[
        str | None, typer.Option("--live", help="Also run every dashboard query against this Prometheus URL.")
    ] = None,
) -> None:
    """Validate the spec, render it in memory and prove the result with promtool, amtool and our checks."""
    report = guarded(lambda: pipeline.check_spec(spec, live=live))
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
    runtime: Annotated[str, typer.Option("--runtime", "-r", help="compose or local: paths and addresses.")] = "compose",
) -> None:
    """Render the spec into a config tree (atomically; identical specs give identical bytes)."""
    if runtime not in ("compose", "local"):
        say("error: --runtime must be compose or local")
        raise typer.Exit(2)
    here = _cwd()
    rendered = guarded(lambda: pipeline.generate(spec, out, runtime))
    total = len(rendered.tree.files) + len(rendered.tree.secrets)
    echo(f"wrote {total} files to {out}")
    if here and not _cwd():  # the shell's folder was replaced by the new one of the same name
        say(f"note: your current folder was replaced; `cd {here}` to see the new files")


def _cwd() -> str | None:
    try:
        return os.getcwd()
    except FileNotFoundError:  # a folder that was removed (or replaced) while we were in it
        return None


@app.command("test")
def test_cmd(spec: SpecArg) -> None:
    """Run the rule unit tests and the route tests (inhibitions included) of the spec."""
    report = guarded(lambda: pipeline.check_spec(spec, only=["rules/test", "routes/test", "routes/inhibit"]))
    for name in report.passed:
        echo(f"ok  {name}")
    # how many ran: a test run that proves nothing (no tests rendered) should not look like one that did
    echo("; ".join(p.message for p in report.problems if p.severity == "info"))


# --- runtimes: up / down / status / diff (imported lazily: the docker SDK is slow to import) ---------------
ProjectOpt = Annotated[
    str | None,
    typer.Option(
        "--project-name",
        "-p",
        help="Compose project and state-dir name (default: $PROMSTACK_PROJECT, else the stack's name).",
        show_default=False,
    ),
]


@app.command()
def up(
    spec: SpecArg,
    runtime: RuntimeOpt = "auto",
    project: ProjectOpt = None,
    timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait for health and scrape targets.")] = 180,
) -> None:
    """Check and deploy the stack, or apply only what changed (live reload, no restart); wait until healthy."""
    from generator import runtimes

    outcome = guarded(lambda: runtimes.up(spec, runtimes.Options(runtime, project, timeout, out=say)))
    for line in runtimes.summary(outcome):
        echo(line)


@app.command()
def down(
    spec: SpecArg,
    runtime: RuntimeOpt = "auto",
    project: ProjectOpt = None,
    volumes: Annotated[bool, typer.Option("--volumes", help="Also delete the data (metrics, silences).")] = False,
) -> None:
    """Stop and remove the stack. Its data is kept unless --volumes."""
    from generator import runtimes

    echo(guarded(lambda: runtimes.down(spec, runtimes.Options(runtime, project, out=say), volumes)))


@app.command()
def status(
    spec: SpecArg,
    project: ProjectOpt = None,
    as_json: Annotated[bool, typer.Option("--json", help="Machine-readable output.")] = False,
) -> None:
    """Each component (state, health, version, uptime), scrape targets, firing alerts."""
    import json

    from generator import runtimes

    report = guarded(lambda: runtimes.status(spec, runtimes.Options(project=project, out=say)))
    if as_json:
        echo(json.dumps(report, indent=2, sort_keys=True))
    else:
        for line in runtimes.status_lines(report):
            echo(line)


@app.command()
def diff(spec: SpecArg, runtime: RuntimeOpt = "auto", project: ProjectOpt = None) -> None:
    """What `up` would change: per component, then file by file (secret files are named, never shown)."""
    from generator import runtimes

    difference = guarded(lambda: runtimes.diff(spec, runtimes.Options(runtime, project, out=say)))
    for line in runtimes.diff_lines(difference):
        echo(line)


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
) -> None:
    """Acknowledge a firing alert: a silence on it (and its escalation) in the stack's Alertmanager, so it
    neither notifies again nor escalates. `--list` shows what is acknowledged; `unack` takes one back."""
    from generator import runtimes

    options = runtimes.Options(project=project, out=say)
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
        say(
            "warning: no alert matching it fires now; it will hold any that does (check the labels if you expected one)"
        )
    echo(f"take it back with: promstack unack {spec} {done.silence}")


@app.command()
def unack(
    spec: SpecArg,
    silence: Annotated[str, typer.Argument(help="The acknowledgement's id (`ack --list`).", show_default=False)],
    project: ProjectOpt = None,
) -> None:
    """Take an acknowledgement back: what it held notifies and escalates again."""
    from generator import runtimes

    gone = guarded(lambda: runtimes.unack(spec, runtimes.Options(project=project, out=say), silence))
    echo(f"took back {silence} {gone.describe()}: it notifies and escalates again")


def _usage(message: str) -> None:
    raise UsageError(message)


def _silence_lines(found: Sequence[Any]) -> list[str]:
    if not found:
        return ["no acknowledgement (silence) is in force"]
    lines = [f"{'ID':36}  {'UNTIL (UTC)':16}  ALERT"]
    for silence in found:
        until = silence.ends_at[:16].replace("T", " ")
        lines.append(f"{silence.id:36}  {until:16}  {silence.describe()}")
        lines.append(f"{'':36}  {'':16}  by {silence.created_by}: {silence.comment}")
    return lines


def _excepthook(kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    """Python's report of an exception nobody caught (--debug), cleaned of secrets like all our output."""
    sys.stderr.write(redact.clean("".join(traceback.format_exception(kind, exc, tb))))


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
    guarded(lambda: _write_text(out, text))
    say(f"wrote {out}")


def _write_text(path: Path, text: str) -> None:
    """Replace `path` atomically; never through a symlink, never over a folder."""
    if path.is_symlink() or path.is_dir():
        raise PromstackError(f"{path} is a symlink or a folder; choose a plain file to write the schema to")
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        tmp.write_text(text)
        tmp.replace(path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise PromstackError(f"cannot write {path}: {exc.strerror}") from None


def run() -> None:
    sys.excepthook = _excepthook
    try:
        app()
    except SystemExit:
        raise
    except Exception:  # a bug: say so plainly, traceback only with --debug
        if "--debug" in sys.argv:
            raise
        say("internal error (a promstack bug); run again with --debug for the traceback")
        sys.exit(1)
