"""Stage `write`: a rendered Tree onto disk, atomically; secret files resolved here, owner-only.

The tree is written into a fresh sibling directory and renamed into place, so a failure at any point
(a missing secret, a full disk) leaves the previous output exactly as it was.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import string
import tempfile
from pathlib import Path

import bcrypt

from generator import conventions
from generator.errors import PromstackError, SecretError
from generator.model import SecretRef
from generator.render import SecretFile, Tree

PLACEHOLDER = "promstack-placeholder-not-a-secret"
_BCRYPT_ALPHABET = "./ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"


class Secrets:
    """Resolves secret references: from the environment, or files relative to the spec's folder."""

    def __init__(self, base: Path, environ: dict[str, str] | None = None, placeholders: bool = False) -> None:
        self.base = base
        self.environ = dict(os.environ if environ is None else environ)
        self.placeholders = placeholders

    def value(self, ref: SecretRef) -> str:
        if self.placeholders:
            return PLACEHOLDER
        if ref.env:
            if ref.env not in self.environ:
                raise SecretError(f"secret {ref.describe()} is not set; export it before running promstack")
            return self.environ[ref.env]
        path = Path(ref.file or "")
        path = path if path.is_absolute() else self.base / path
        try:
            return path.read_text().rstrip("\n")
        except OSError as exc:
            raise SecretError(f"secret file {path} cannot be read: {exc.strerror}") from None

    def fill(self, secret: SecretFile, salt: str) -> str:
        values = {}
        for key, ref in secret.values.items():
            plain = self.value(ref)
            values[key] = _bcrypt(plain, salt + key) if key in secret.bcrypt else plain
        return string.Template(secret.template).substitute(values)


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


def write_tree(tree: Tree, out: Path, secrets: Secrets, salt: str, manifest_text: str | None = None) -> None:
    """Replace `out` by the rendered tree, atomically; on any failure `out` is untouched."""
    out = out.absolute()
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    except OSError as exc:
        raise PromstackError(f"cannot write to {out.parent}: {exc.strerror}") from None
    old: Path | None = None
    try:
        staging.chmod(0o755)
        materialize(tree, staging, secrets, salt)
        if manifest_text is not None:
            (staging / conventions.MANIFEST).write_text(manifest_text)
        if out.exists():
            if not out.is_dir():
                raise PromstackError(f"{out} exists and is not a directory")
            old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
            os.rename(out, old / "tree")
        os.rename(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not out.exists():
            os.rename(old / "tree", out)
        raise PromstackError(f"cannot write {out}: {exc.strerror}; the previous output is unchanged") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        if old is not None and not out.exists():
            os.rename(old / "tree", out)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
