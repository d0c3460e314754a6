"""Stage `deploy`: `down`. It stops and removes a stack on the runtime it runs on (on either one when
nothing is recorded); its data stays unless asked to go."""

from __future__ import annotations

from pathlib import Path

from generator.errors import DeployError
from generator.runtimes import deployed_secrets
from generator.runtimes.choose import backend, choose
from generator.runtimes.lock import locked
from generator.runtimes.options import Options, project_name
from generator.runtimes.state import State
from generator.spec import load_stack
from generator.write import Secrets


def down(spec: Path, options: Options, volumes: bool = False) -> str:
    """Stop and remove the stack; its data stays unless `volumes`."""
    stack = load_stack(spec, options.env)
    project = project_name(stack, options)
    state = State.of(project)
    secrets = Secrets(spec.absolute().parent)
    with locked(state, on_wait=options.out):
        deployed_secrets.remember(state)
        try:
            record = state.load()
        except DeployError as exc:  # a damaged state.json must not keep a stack from coming down
            options.out(f"warning: {exc}")
            record = None
        if record is not None:
            runtimes = [choose(options.runtime, record)]
        elif options.runtime != "auto":
            runtimes = [choose(options.runtime, None)]
        else:  # nothing recorded: clean up whatever may be left on either runtime
            runtimes = ["local"] + (["compose"] if choose("auto", None) == "compose" else [])
        for runtime in runtimes:
            backend(runtime, state, stack, secrets, options.out).stop(volumes)
        state.forget(keep_data=not volumes)
    kept = "data removed" if volumes else "data kept (down --volumes removes it)"
    return f"stack {stack.name!r} (project {project!r}) is down; {kept}"
