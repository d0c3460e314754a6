"""Folders that are not promstack's stay untouched (issue 11, class 1), through the real CLI.

- `generate -o DIR` replaces only what its manifest says it wrote: the user's entries in DIR (a spec, a
  `.git`, notes, files dropped into our folders) survive with their bytes and modes, whatever way DIR is
  named (`..`, `.`, a symlink, the spec's folder or a parent of it). A user's entry where the new tree
  writes, or a symlink there, is refused by name and nothing changes.
- A state folder promstack did not create is refused by every command, before even a lock file is made
  in it; one an earlier promstack left (no marker yet) is adopted. No symlink in the state tree is
  written through.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import skip_or_fail
from test_write import ENV, SMALL
from typer.testing import CliRunner

from generator.cli import app
from generator.pause import PAUSE_ENV

MARKER = ".promstack-state"  # (a literal, not imported: so this file also runs against the code before it)

PROMSTACK = str(Path(sys.executable).with_name("promstack"))
Tree = dict[str, tuple[str, int, bytes | str]]


def tree(root: Path) -> Tree:
    """Every entry below `root`, symlinks as links (never followed): kind, mode, bytes or link target."""
    found: Tree = {}
    for where, dirs, files in os.walk(root):
        for name in [*dirs, *files]:
            path = Path(where, name)
            info = path.lstat()
            rel = str(path.relative_to(root))
            if path.is_symlink():
                found[rel] = ("link", 0, os.readlink(path))
            elif path.is_dir():
                found[rel] = ("dir", info.st_mode & 0o7777, b"")
            else:
                found[rel] = ("file", info.st_mode & 0o7777, path.read_bytes())
    return found


def generate(spec: str, out: str, cwd: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[int, str]:
    monkeypatch.chdir(cwd)
    result = CliRunner(env=ENV).invoke(app, ["generate", spec, "-o", out])
    return result.exit_code, result.output


def fresh_output(folder: Path, spec: Path) -> None:
    result = CliRunner(env=ENV).invoke(app, ["generate", str(spec), "-o", str(folder)])
    assert result.exit_code == 0, result.output


def user_files(folder: Path, *rels: str) -> None:
    for rel in rels:
        path = folder / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"the user's {rel}\n")
        path.chmod(0o640)


def git_repo(folder: Path) -> None:
    folder.mkdir(exist_ok=True)
    subprocess.run(["git", "init", "-q", str(folder)], check=True, timeout=30)


# Each scene lays out a folder and says how `generate` is called: (cwd, spec argument, -o argument, the
# real output folder, the entries of the user that must survive, relative to it).
Scene = tuple[Path, str, str, Path, list[str]]


def scene_dotdot(base: Path, spec: Path) -> Scene:
    """`cd out; promstack generate ../spec.yaml -o ../out` with a git repository in out/."""
    out = base / "out"
    fresh_output(out, spec)
    git_repo(out)
    user_files(out, "NOTES.md")
    return out, "../stack.yaml", "../out", out, [".git", "NOTES.md"]


def scene_dot(base: Path, spec: Path) -> Scene:
    out = base / "out"
    fresh_output(out, spec)
    git_repo(out)
    return out, "../stack.yaml", ".", out, [".git"]


def scene_symlink(base: Path, spec: Path) -> Scene:
    real = base / "real-out"
    fresh_output(real, spec)
    user_files(real, "README")
    (base / "link").symlink_to(real)
    return base, "stack.yaml", "link", real, ["README"]


def scene_spec_folder(base: Path, spec: Path) -> Scene:
    """`-o .` in the folder that holds the spec (it has no manifest: all of it is the user's)."""
    user_files(base, "notes.txt")
    return base, "stack.yaml", ".", base, ["stack.yaml", "notes.txt"]


def scene_spec_parent(base: Path, spec: Path) -> Scene:
    conf = base / "project" / "conf"
    conf.mkdir(parents=True)
    (conf / "stack.yaml").write_text(spec.read_text())
    user_files(base / "project", "README")
    return conf, "stack.yaml", "..", base / "project", ["conf", "README"]


def scene_in_our_folders(base: Path, spec: Path) -> Scene:
    """Files a user dropped inside folders promstack writes."""
    out = base / "out"
    fresh_output(out, spec)
    user_files(out, "prometheus/rules/team.rules.yml", "alertmanager/NOTES", "prometheus/mine/x.txt")
    return base, "stack.yaml", "out", out, ["prometheus/rules/team.rules.yml", "alertmanager/NOTES", "prometheus/mine"]


def scene_symlink_chain(base: Path, spec: Path) -> Scene:
    """`-o` through two symlinks, one of them relative."""
    real = base / "real-out"
    fresh_output(real, spec)
    git_repo(real)
    (base / "first").symlink_to(real)
    (base / "second").symlink_to("first")
    return base, "stack.yaml", "second", real, [".git"]


def scene_nested_worktree(base: Path, spec: Path) -> Scene:
    """The output holds a git worktree of a repository elsewhere (its `.git` is a file pointing back)."""
    out = base / "out"
    fresh_output(out, spec)
    repo = base / "repo"
    git_repo(repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True, timeout=30)
    subprocess.run([*git, "worktree", "add", "-q", str(out / "wt")], check=True, timeout=30)
    return base, "stack.yaml", "out", out, ["wt"]


def scene_output_is_a_worktree(base: Path, spec: Path) -> Scene:
    """The output folder itself is a git worktree: its `.git` is a file, git's record points at the path."""
    repo = base / "repo"
    git_repo(repo)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True, timeout=30)
    subprocess.run([*git, "worktree", "add", "-q", str(base / "out")], check=True, timeout=30)
    fresh_output(base / "out", spec)
    return base, "stack.yaml", "out", base / "out", [".git"]


SCENES = {
    "dotdot": scene_dotdot,
    "dot": scene_dot,
    "symlink": scene_symlink,
    "symlink-chain": scene_symlink_chain,
    "nested-worktree": scene_nested_worktree,
    "output-is-a-worktree": scene_output_is_a_worktree,
    "spec-folder": scene_spec_folder,
    "spec-parent": scene_spec_parent,
    "in-our-folders": scene_in_our_folders,
}


@pytest.mark.parametrize("name", SCENES)
def test_generate_keeps_what_is_not_ours(name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "base"
    base.mkdir()
    spec = base / "stack.yaml"
    spec.write_text(SMALL)
    cwd, spec_arg, out_arg, out, theirs = SCENES[name](base, spec)
    before = tree(out)
    kept = {rel: entry for rel, entry in before.items() if any(rel == t or rel.startswith(t + "/") for t in theirs)}
    parents_before = sorted(p.name for p in out.parent.iterdir())

    code, output = generate(spec_arg, out_arg, cwd, monkeypatch)
    monkeypatch.chdir(tmp_path)  # the old cwd may have been replaced

    assert code == 0, output
    assert "Traceback" not in output
    after = tree(out)
    assert {rel: after.get(rel) for rel in kept} == kept  # the user's entries: same bytes, modes, links
    assert sorted(p.name for p in out.parent.iterdir()) == parents_before  # no .out.new-/.out.old- left
    # and what promstack wrote is the new tree, exactly: every file of the manifest, nothing more
    expected = tmp_path / "expected" / "out"
    fresh_output(expected, spec)
    ours = {rel: entry for rel, entry in after.items() if rel not in kept and entry[0] == "file"}
    assert ours == {rel: entry for rel, entry in tree(expected).items() if entry[0] == "file"}
    if name == "symlink":
        assert (base / "link").is_symlink() and (base / "link").resolve() == out
    if "worktree" in name:  # git still knows its worktree where it was, and the worktree its repository
        listed = subprocess.run(["git", "-C", str(base / "repo"), "worktree", "list"], capture_output=True, text=True)
        assert "prunable" not in listed.stdout, listed.stdout
        worktree = out / "wt" if name == "nested-worktree" else out
        status = subprocess.run(["git", "-C", str(worktree), "status", "--short"], capture_output=True, text=True)
        assert status.returncode == 0, status.stderr


def refuse_user_compose(base: Path, spec: Path) -> tuple[Path, str]:
    """A folder promstack did not write holds the user's own compose.yaml."""
    (base / "compose.yaml").write_text("services: {mine: {image: busybox}}\n")
    return base, "compose.yaml"


def refuse_symlinked_folder(base: Path, spec: Path) -> tuple[Path, str]:
    """One of our folders was replaced by a symlink to the user's folder: never written through."""
    out = base / "out"
    fresh_output(out, spec)
    elsewhere = base / "elsewhere"
    user_files(elsewhere, "prometheus.yml")
    for path in sorted((out / "prometheus").rglob("*"), reverse=True):
        path.rmdir() if path.is_dir() else path.unlink()
    (out / "prometheus").rmdir()
    (out / "prometheus").symlink_to(elsewhere)
    return out, "prometheus (a symlink)"


def refuse_symlinked_file(base: Path, spec: Path) -> tuple[Path, str]:
    out = base / "out"
    fresh_output(out, spec)
    user_files(base, "my-prometheus.yml")
    (out / "prometheus" / "prometheus.yml").unlink()
    (out / "prometheus" / "prometheus.yml").symlink_to(base / "my-prometheus.yml")
    return out, "prometheus/prometheus.yml (a symlink)"


def refuse_file_where_we_need_a_folder(base: Path, spec: Path) -> tuple[Path, str]:
    user_files(base, "grafana")
    return base, "grafana"


REFUSALS = {
    "user-file-at-our-path": refuse_user_compose,
    "symlink-at-our-folder": refuse_symlinked_folder,
    "symlink-at-our-file": refuse_symlinked_file,
    "file-where-we-need-a-folder": refuse_file_where_we_need_a_folder,
}


@pytest.mark.parametrize("name", REFUSALS)
def test_generate_refuses_where_the_users_entry_is_in_the_way(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = tmp_path / "base"
    base.mkdir()
    spec = base / "stack.yaml"
    spec.write_text(SMALL)
    out, named = REFUSALS[name](base, spec)
    before = tree(tmp_path)
    code, output = generate(str(spec), str(out), tmp_path, monkeypatch)
    assert code == 1, output
    assert "Traceback" not in output
    assert "promstack did not write, where it writes now: " + named in " ".join(output.split())
    assert tree(tmp_path) == before  # nothing changed, nothing written through the link


@pytest.fixture
def mount(tmp_path: Path) -> Iterator[Callable[[Path], Path]]:
    """Mount a small tmpfs at a folder (needs root, as the CI runs); unmounted at the end."""
    mounted: list[Path] = []

    def make(where: Path) -> Path:
        where.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(where)], capture_output=True)
        if done.returncode != 0:
            skip_or_fail(f"needs `mount -t tmpfs` (root): {done.stderr.decode().strip()}")
        mounted.append(where)
        return where

    yield make
    for where in reversed(mounted):
        subprocess.run(["umount", str(where)], check=True, timeout=30)


@pytest.mark.parametrize("where", ["output-is-a-mount-point", "output-holds-a-mount"])
def test_a_mount_is_refused_by_name_and_nothing_moves(
    where: str, tmp_path: Path, mount: Callable[[Path], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A mount point cannot be renamed: `generate` used to fail half-way with "Invalid cross-device link" or
    "Device or resource busy"; it now says why before anything moves."""
    spec = tmp_path / "stack.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "out"
    if where == "output-is-a-mount-point":
        user_files(mount(out), "keep.txt")
        said = f"{out} is a mount point"
    else:
        fresh_output(out, spec)
        user_files(mount(out / "data"), "keep.txt")
        said = f"{out} holds what promstack did not write on another filesystem: data"
    before = tree(tmp_path)
    code, printed = generate(str(spec), str(out), tmp_path, monkeypatch)
    assert code == 1, printed
    assert said in " ".join(printed.split())
    assert tree(tmp_path) == before


def killed_generate(spec: Path, out: Path, step: str, signum: signal.Signals) -> str:
    """`promstack generate` stopped at `step` (generator/pause.py) and sent `signum`; what it printed."""
    env = {**os.environ, **ENV, PAUSE_ENV: step}
    run = subprocess.Popen(
        [PROMSTACK, "generate", str(spec), "-o", str(out)], env=env, stderr=subprocess.PIPE, text=True
    )
    try:
        assert run.stderr is not None
        line = run.stderr.readline()
        assert f"paused at {step}" in line, line + run.stderr.read()
        run.send_signal(signum)
        return line + run.communicate(timeout=60)[1]
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()


@pytest.mark.parametrize(
    ("step", "signum"),
    [("moved-in", signal.SIGKILL), ("swapped", signal.SIGKILL), ("moved-in", signal.SIGINT)],
    ids=["killed-moved-in", "killed-swapped", "interrupted-moved-in"],
)
def test_a_killed_generate_loses_nothing(step: str, signum: signal.Signals, tmp_path: Path) -> None:
    """Killed while the user's entries sit in the new tree (moved-in), or once it is swapped in but the old
    one not yet removed: the next `generate` puts everything back and removes what the killed run left.
    Interrupted (Ctrl-C), it puts everything back itself."""
    spec = tmp_path / "stack.yaml"
    spec.write_text(SMALL)
    out = tmp_path / "out"
    fresh_output(out, spec)
    git_repo(out)
    user_files(out, "NOTES.md", "prometheus/rules/team.rules.yml")
    theirs = {
        rel: entry for rel, entry in tree(out).items() if rel.startswith((".git", "NOTES", "prometheus/rules/team"))
    }
    killed_generate(spec, out, step, signum)
    if signum == signal.SIGINT:
        assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "stack.yaml"]
    elif step == "moved-in":  # this is what the journal is for: the user's entries are in the new tree
        assert not (out / ".git").exists()

    result = CliRunner(env=ENV).invoke(app, ["generate", str(spec), "-o", str(out)])
    assert result.exit_code == 0, result.output
    if signum == signal.SIGKILL:
        assert f"note: an earlier generate into {out} was killed" in result.output
    after = tree(out)
    assert {rel: after.get(rel) for rel in theirs} == theirs
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "stack.yaml"]  # no journal, no temp folders


# --- the state directory -----------------------------------------------------------------------------------
STATE_SPEC = SMALL.replace("name: shop", "name: own")


def promstack(*args: str, state: Path, project: str = "pst-own", **env: str) -> subprocess.CompletedProcess[str]:
    """The real CLI against `state`. PATH holds no tool: nothing can be started, even by a regression."""
    environ = {
        **os.environ,
        **ENV,
        "PROMSTACK_STATE_DIR": str(state),
        "PROMSTACK_PROJECT": project,
        "PATH": str(state.parent / "no-tools"),
        **env,
    }
    return subprocess.run([PROMSTACK, *args], env=environ, capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def state_spec(tmp_path: Path) -> Path:
    (tmp_path / "no-tools").mkdir()
    spec = tmp_path / "stack.yaml"
    spec.write_text(STATE_SPEC)
    return spec


COMMANDS = {
    "up": ["up", "--runtime", "local"],
    "down": ["down", "--runtime", "local"],
    "down-volumes": ["down", "--runtime", "local", "--volumes"],
    "status": ["status"],
    "diff": ["diff", "--runtime", "local"],
}


@pytest.mark.parametrize("command", COMMANDS)
def test_a_foreign_folder_at_the_state_path_is_refused(command: str, tmp_path: Path, state_spec: Path) -> None:
    """Someone's folder happens to sit where the stack's state dir would be: not one byte changes."""
    root = tmp_path / "state" / "pst-own"
    user_files(root, "data/important.db", "run/notes", "README")
    before = tree(root)
    args = COMMANDS[command]
    result = promstack(args[0], str(state_spec), *args[1:], state=tmp_path / "state")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    assert (
        f"the state directory {root} was not created by promstack (it has no {MARKER}) and holds README, data, run"
        in result.stderr
    )
    assert tree(root) == before  # no lock file, no marker, data/ and run/ still there


def earlier_record(root: Path) -> None:
    """Left by a promstack from before the marker: state.json naming this project."""
    user_files(root, "tree/prometheus/prometheus.yml", "lock")
    (root / "state.json").write_text('{"runtime": "local", "project": "pst-own", "spec": "", "components": {}}\n')


def earlier_after_down(root: Path) -> None:
    """The same after a `down`: state.json gone, data, generated secrets, logs and the lock kept."""
    user_files(root, "data/prometheus/wal/0", "generated/grafana/admin_password", "logs/prometheus.log")
    (root / "lock").write_text("4242\n")


def other_project(root: Path) -> None:
    user_files(root, "tree/x", "lock")
    (root / "state.json").write_text('{"runtime": "local", "project": "someone-else", "spec": ""}\n')


def layout_without_lock(root: Path) -> None:
    """Folders named like ours, but no lock: not promstack's (the `down --volumes` of issue 11)."""
    user_files(root, "data/app.db", "run/app.pid")


@pytest.mark.parametrize(
    ("layout", "adopted"),
    [(earlier_record, True), (earlier_after_down, True), (other_project, False), (layout_without_lock, False)],
    ids=["earlier-record", "earlier-after-down", "other-project", "layout-without-lock"],
)
def test_a_state_dir_of_an_earlier_promstack_is_adopted(
    layout: Callable[[Path], None], adopted: bool, tmp_path: Path, state_spec: Path
) -> None:
    root = tmp_path / "state" / "pst-own"
    layout(root)
    before = tree(root)
    status = promstack("status", str(state_spec), state=tmp_path / "state")
    assert "Traceback" not in status.stderr
    if not adopted:
        assert status.returncode == 1 and "was not created by promstack" in status.stderr
        assert promstack("down", str(state_spec), "--runtime", "local", state=tmp_path / "state").returncode == 1
        assert tree(root) == before
        return
    assert status.returncode == 0, status.stderr
    assert tree(root) == before  # status reads only
    down = promstack("down", str(state_spec), "--runtime", "local", state=tmp_path / "state")
    assert down.returncode == 0, down.stderr
    assert (root / MARKER).is_file()  # adopted: the marker proves it from now on
    if layout is earlier_after_down:
        assert (root / "data" / "prometheus" / "wal" / "0").exists()  # down keeps data


@pytest.mark.parametrize(
    "entry", ["tree", "staging", "data", "logs", "run", "generated", "last-good", "state.json", "lock", "pending.json"]
)
@pytest.mark.parametrize("made_by", ["this-promstack", "an-earlier-promstack"])
def test_nothing_is_written_through_a_symlink_in_the_state_dir(
    entry: str, made_by: str, tmp_path: Path, state_spec: Path
) -> None:
    """Also in a folder an earlier promstack left (no marker yet): refused before it is adopted, so not even
    the marker is written into it, nor its mode changed."""
    state = tmp_path / "state"
    root = state / "pst-own"
    if made_by == "this-promstack":
        created = promstack("down", str(state_spec), "--runtime", "local", state=state)  # creates the state dir
        assert created.returncode == 0, created.stderr
        assert (root / MARKER).is_file()
    else:  # the layout an earlier `down` left: the lock and promstack's folders, no marker
        user_files(root, "lock")
        root.chmod(0o755)
    elsewhere = tmp_path / "elsewhere"
    user_files(elsewhere, "precious")
    target = elsewhere if entry not in ("state.json", "lock", "pending.json") else elsewhere / "precious"
    (root / entry).unlink(missing_ok=True)
    (root / entry).symlink_to(target)
    before, ours_before = tree(elsewhere), tree(root)
    mode = root.stat().st_mode
    for args in (["up", "--runtime", "local"], ["down", "--runtime", "local", "--volumes"]):
        result = promstack(args[0], str(state_spec), *args[1:], state=state)
        assert result.returncode == 1, result.stdout + result.stderr
        assert "Traceback" not in result.stderr
        refused = f"{root / entry} is a symlink; promstack never writes through one"
        if made_by != "this-promstack" and entry in ("state.json", "lock"):  # then nothing says it is ours
            refused = f"the state directory {root} was not created by promstack"
        assert refused in result.stderr
    assert tree(elsewhere) == before
    assert (root / entry).is_symlink()
    assert tree(root) == ours_before and root.stat().st_mode == mode


@pytest.mark.parametrize("inner", ["tree/prometheus", "data/prometheus", "logs/supervisord.log", "generated/grafana"])
def test_a_symlink_inside_the_state_folders_is_refused(inner: str, tmp_path: Path, state_spec: Path) -> None:
    state = tmp_path / "state"
    root = state / "pst-own"
    assert promstack("down", str(state_spec), "--runtime", "local", state=state).returncode == 0
    elsewhere = tmp_path / "elsewhere"
    user_files(elsewhere, "precious")
    (root / inner).parent.mkdir(parents=True, exist_ok=True)
    (root / inner).symlink_to(elsewhere)
    before = tree(elsewhere)
    result = promstack("up", str(state_spec), "--runtime", "local", state=state)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{root / inner} is a symlink; promstack never writes through one" in result.stderr
    assert tree(elsewhere) == before
