"""What a real tool already proved: keys of work that passed, so that it is not done again.

A key is a digest of everything the tool read (the rendered files, byte for byte) and of the tool itself
(its path, size and modification time: an upgraded promtool runs everything again). Only passes are
kept: a failure is always run again, and reported again. `up` keeps the keys in its state directory
(`check-cache.json`), so a spec change runs the tests of what changed only; `promstack check` keeps
them in memory, which costs nothing. The file holds digests only, never file contents or secrets
(checks run on trees whose secrets are placeholders).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from generator import userfile

_KEEP = 50_000  # keys kept at most: a few stacks of thousands of services, the newest first
_MAX_BYTES = 8 << 20


class CheckCache:
    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        self._keys: dict[str, None] = {}  # ordered: oldest first
        self._new = False
        if path is not None:
            try:
                data = json.loads(userfile.read(path, _MAX_BYTES))
            except (OSError, ValueError, userfile.NotRegular):
                data = None  # none yet, or damaged: start over, it is only a cache
            if isinstance(data, dict) and isinstance(data.get("passed"), list):
                self._keys = dict.fromkeys(k for k in data["passed"] if isinstance(k, str))

    def key(self, check: str, tool: str, *inputs: str) -> str:
        """The key of `check` running `tool` on `inputs` (texts: each file's path and content)."""
        digest = hashlib.sha256()
        try:
            info = os.stat(tool)
            identity = f"{tool}\0{info.st_size}\0{info.st_mtime_ns}"
        except OSError:
            identity = tool
        for part in (check, identity, *inputs):
            data = part.encode()
            digest.update(len(data).to_bytes(8, "big") + data)
        return digest.hexdigest()

    def passed(self, key: str) -> bool:
        return key in self._keys

    def add(self, *keys: str) -> None:
        for key in keys:
            self._keys.pop(key, None)
            self._keys[key] = None
            self._new = True

    def save(self) -> None:
        """Write the keys (the newest _KEEP) where they came from, atomically; nothing in memory only."""
        if self.path is None or not self._new:
            return
        keys = list(self._keys)[-_KEEP:]
        tmp = self.path.with_name(f".{self.path.name}.tmp")
        try:  # never through a symlink planted where it goes
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(json.dumps({"passed": keys}) + "\n")
            os.replace(tmp, self.path)
        except OSError:
            tmp.unlink(missing_ok=True)  # a cache that cannot be written only costs time next run
