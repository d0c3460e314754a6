"""Stage `write`: a rendered Tree onto disk, atomically; secret files resolved here, owner-only.

The tree is written into a fresh sibling directory and renamed into place, so a failure at any point
(a missing secret, a full disk) leaves the previous output exactly as it was.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import shutil
import string
import tempfile
from pathlib import Path
from secrets import token_urlsafe

import bcrypt

from generator import conventions, output, redact, userfile
from generator.errors import PromstackError, SecretError
from generator.model import SecretRef
from generator.pause import checkpoint
from generator.render import SecretFile, Tree

PLACEHOLDER = "promstack-placeholder-not-a-secret"
SECRET_FILE_MAX = 64 * 1024
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class Secrets:
    """Resolves secret references: from the environment, files relative to the spec's folder, or generated.

    A generated secret (`SecretRef.generated`, e.g. Grafana's admin password when the spec names none) is
    read from `keep/<name>` where an earlier run left it, else made up once (`secrets.token_urlsafe`) and,
    with `persist`, written there 0600 at once: the same password on every later run. `up` keeps them in
    the state dir (they outlive `down`, like the data that depends on them); `generate` reads them back
    from the output folder it replaces (see `write_tree`), so generating twice gives the same bytes.
    """

    def __init__(
        self,
        base: Path,
        environ: dict[str, str] | None = None,
        placeholders: bool = False,
        keep: Path | None = None,
        persist: bool = False,
    ) -> None:
        self.base = base
        self.environ = dict(os.environ if environ is None else environ)
        self.placeholders = placeholders
        self.keep = keep
        self.persist = persist
        self._generated: dict[str, str] = {}  # shared with copies made by `keeping`: one value per run

    def keeping(self, folder: Path) -> Secrets:
        """These secrets, reading generated ones from `folder` unless a folder was given already."""
        if self.keep is not None:
            return self
        other = copy.copy(self)
        other.keep = folder
        return other

    def kept(self, ref: SecretRef) -> Path | None:
        """Where a generated secret is kept (None for other references or without a folder)."""
        return self.keep / ref.generated if ref.generated and self.keep is not None else None

    def value(self, ref: SecretRef) -> str:
        if self.placeholders:
            return PLACEHOLDER
        if ref.generated:
            generated = self._generate(ref.generated)
            redact.remember(generated)  # nothing promstack prints shows a value it has resolved
            return generated
        where = ref.describe()
        if ref.env:
            if ref.env not in self.environ:
                raise SecretError(f"secret {where} is not set; export it before running promstack")
            plain = self.environ[ref.env]
        else:
            path = Path(ref.file or "")
            path = path if path.is_absolute() else self.base / path
            where = f"file {path}"
            plain = _secret_file(path)
        if not plain:
            # an empty password is no password (Grafana would even fall back to its default one)
            raise SecretError(f"secret {where} is empty")
        redact.remember(plain)
        return plain

    def _generate(self, name: str) -> str:
        if name in self._generated:
            return self._generated[name]
        path = self.keep / name if self.keep is not None else None
        plain = ""
        if path is not None:
            try:
                plain = path.read_text(encoding="utf-8").strip()
            except FileNotFoundError:
                pass
            except (OSError, UnicodeDecodeError) as exc:
                why = getattr(exc, "strerror", None) or "not UTF-8 text"
                raise SecretError(
                    f"the generated secret {path} cannot be read: {why}; remove it to get a new one"
                ) from None
        if not plain:
            plain = token_urlsafe(24)  # 192 bits, URL- and shell-safe
            if path is not None and self.persist:
                _keep(path, plain)
        self._generated[name] = plain
        return plain

    def fill(self, secret: SecretFile, salt: str) -> str:
        values = {}
        for key, ref in secret.values.items():
            plain = self.value(ref)
            chars, why = secret.refuse.get(key, ("", ""))
            bad = sorted({c for c in plain if c in chars})
            if bad:  # name the characters, never the value
                shown = " and ".join(repr(c) for c in bad)
                raise SecretError(f"secret {ref.describe()} contains {shown}: {why}; choose a value without it")
            if key in secret.trimmed and plain != plain.strip():
                raise SecretError(
                    f"secret {ref.describe()} begins or ends with whitespace, which the tool reading it from its file "
                    "drops (so it would not match); choose a value without it"
                )
            if key in secret.bcrypt:
                if len(plain.encode()) > 72:
                    raise SecretError(f"secret {ref.describe()} is longer than 72 bytes, more than bcrypt can hash")
                values[key] = _bcrypt(plain, salt + key)
            elif f'"${{{key}}}"' in secret.template:
                # inside a double-quoted YAML string: escape, so that a quote or line break in the value
                # can neither break the file nor add keys to it
                values[key] = json.dumps(plain, ensure_ascii=False)[1:-1]
            elif secret.template.strip() != f"${{{key}}}" and any(c in plain for c in "\r\n"):
                raise SecretError(f"secret {ref.describe()} spans several lines, but it goes into one line of a file")
            else:
                values[key] = plain
        return string.Template(secret.template).substitute(values)


def _secret_file(path: Path) -> str:
    """A `{file: PATH}` secret: a regular file of at most SECRET_FILE_MAX bytes (a FIFO, a device or a huge
    file is refused, never opened so that it could block or never end), UTF-8, without its last line break."""
    try:
        raw = userfile.read(path, SECRET_FILE_MAX)
    except userfile.NotRegular as exc:
        raise SecretError(f"secret file {path} is {exc.kind}, not a regular file") from None
    except OSError as exc:
        raise SecretError(f"secret file {path} cannot be read: {exc.strerror}") from None
    if len(raw) > SECRET_FILE_MAX:
        raise SecretError(
            f"secret file {path} is larger than {SECRET_FILE_MAX // 1024} KiB; a secret is a password, a token or a key"
        )
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SecretError(f"secret file {path} is not UTF-8 text") from None
    return text.replace("\r\n", "\n").replace("\r", "\n").rstrip("\n")  # line ends as text mode reads them


def _keep(path: Path, plain: str) -> None:
    """Write a generated secret owner-only and atomically (a crash leaves the old file or none)."""
    try:
        missing = [folder for folder in (path.parent, *path.parent.parents) if not folder.exists()]
        for folder in reversed(missing):
            folder.mkdir()
            folder.chmod(0o700)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(plain + "\n")
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
    except OSError as exc:
        raise SecretError(f"cannot keep the generated secret in {path}: {exc.strerror}") from None


def _bcrypt(plain: str, salt_seed: str) -> str:
    """bcrypt hash with a salt derived from the inputs, so the same spec gives the same bytes."""
    digest = hashlib.sha256(f"{salt_seed}\0{plain}".encode()).digest()
    chars = "".join(_BCRYPT_ALPHABET[b % 64] for b in digest[:21]) + ".Oeu"[digest[21] % 4]
    return bcrypt.hashpw(plain.encode(), f"$2b$10${chars}".encode()).decode()


def manifest(tree: Tree, source: str, runtime: str) -> str:
    files = {path: hashlib.sha256(text.encode()).hexdigest() for path, text in tree.files.items()}
    return (
        json.dumps(
            {"source": source, "runtime": runtime, "files": files, "secrets": sorted(tree.secrets)},
            indent=2,
            sort_keys=True,
        )
        + "\n"
    )


def materialize(tree: Tree, into: Path, secrets: Secrets, salt: str) -> None:
    """Write every file of `tree` below the (existing, empty) directory `into`."""
    for rel, text in tree.files.items():
        path = into / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        path.chmod(0o644)
    for rel, secret in tree.secrets.items():
        path = into / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        for parent in path.relative_to(into).parents:
            if str(parent).startswith(conventions.SECRETS_DIR):
                (into / parent).chmod(0o700)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.fill(secret, salt))


def write_tree(tree: Tree, out: Path, secrets: Secrets, salt: str, manifest_text: str | None = None) -> list[str]:
    """Replace what promstack wrote in `out` by the rendered tree, atomically; on any failure `out` is untouched.

    What else is in `out` (the user's: a spec, `.git`, notes) is carried into the new tree (see `output`).
    Returns notes for the user (what a killed earlier run left and was cleaned up).
    """
    out = output.resolve(out)
    journal = output.Journal(out)
    notes = [note for note in [journal.recover()] if note]  # a killed run's leftovers, the user's entries back
    written = {*tree.files, *tree.secrets, *([conventions.MANIFEST] if manifest_text is not None else [])}
    theirs = output.foreign(out, written)
    # a secret generated for the previous output (Grafana's admin password) is kept, not made up again
    secrets = secrets.keeping(out / conventions.SECRETS_DIR)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    except OSError as exc:
        raise PromstackError(f"cannot write to {out.parent}: {exc.strerror}") from None
    old: Path | None = None
    moved: list[str] = []
    swapped = False
    try:
        journal.write(staging, theirs)  # before anything moves: a killed run is undone by the next one
        output.take_mode(out, staging)
        materialize(tree, staging, secrets, salt)
        if manifest_text is not None:
            (staging / conventions.MANIFEST).write_text(manifest_text)
        for rel in theirs:
            output.move_in(out, staging, rel)
            moved.append(rel)
        checkpoint("moved-in")
        if not out.exists():
            os.rename(staging, out)
        elif output.exchange(staging, out):
            swapped = True  # one step: `out` is the new tree, `staging` the previous one
        else:
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            journal.write(staging, theirs, old)
            os.rename(out, old / "tree")
            os.rename(staging, out)
    except BaseException as exc:
        left = _undo(out, staging, old, moved)
        if not left:
            journal.done()
        if isinstance(exc, OSError):
            raise PromstackError(
                f"cannot write {out}: {exc.strerror}; {left or 'the previous output is unchanged'}"
            ) from None
        if left:
            raise PromstackError(f"writing {out} stopped ({exc or type(exc).__name__}); {left}") from None
        raise
    checkpoint("swapped")
    shutil.rmtree(staging if swapped else old or staging, ignore_errors=True)
    journal.done()
    return notes


def _undo(out: Path, staging: Path, old: Path | None, moved: list[str]) -> str:
    """After a failure: the previous tree back, the user's entries back in it, the new tree dropped.
    Returns what could not be put back and where it is, or "" when everything is as it was."""
    left = []
    if old is not None:
        try:
            _restore(old, out)
        except PromstackError as exc:
            left.append(str(exc))
    stranded = output.move_back(out, staging, moved)
    if stranded:  # never delete the user's files: say where they are
        left.append(f"{output.names(stranded)} could not be moved back from {staging}; move them by hand")
    else:
        shutil.rmtree(staging, ignore_errors=True)
    return "; ".join(left)


def _restore(old: Path, out: Path) -> None:
    """Put the previous tree back where it was, then drop the folder it was set aside in."""
    aside = old / "tree"
    if aside.exists() and not out.exists():
        try:
            os.rename(aside, out)
        except OSError as exc:
            raise PromstackError(f"cannot put the previous output back ({exc.strerror}); it is in {aside}") from None
    if not aside.exists():
        shutil.rmtree(old, ignore_errors=True)
