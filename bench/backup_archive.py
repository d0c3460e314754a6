"""How fast the backup archive is written and read back (checked and extracted), on synthetic data shaped
like a TSDB: block folders of incompressible chunk files (Prometheus compresses its chunks), an index and a
WAL that compress somewhat. Run on demand; prints figures, asserts nothing.

    .venv/bin/python bench/backup_archive.py [--mib 512]
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from generator.ops import archive


def make(root: Path, mib: int) -> int:
    """Blocks of 64 MiB chunk files (random) plus a WAL of repeated text: `mib` MiB in all."""
    total = 0
    block = 0
    while total < mib << 20:
        folder = root / f"block-{block:03d}" / "chunks"
        folder.mkdir(parents=True)
        size = min(64 << 20, (mib << 20) - total)
        (folder / "000001").write_bytes(os.urandom(size * 3 // 4))
        (folder.parent / "index").write_bytes(b"series-label-pairs " * (size // 4 // 19))
        total += size
        block += 1
    return total


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--mib", type=int, default=512)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="promstack-bench-"))
    try:
        data = work / "data"
        size = make(data, args.mib)
        dest = work / "b.tar.gz"
        began = time.monotonic()
        with archive.writing(dest) as writer:
            for path in sorted(data.rglob("*")):
                rel = f"data/prometheus/{path.relative_to(data).as_posix()}"
                if path.is_dir():
                    writer.add_dir(rel)
                else:
                    with path.open("rb") as handle:
                        writer.add_file(rel, path.stat().st_size, handle)
            writer.finish({"stack": "bench", "runtime": "local", "components": {}})
        wrote = time.monotonic() - began
        into = work / "out"
        into.mkdir()
        began = time.monotonic()
        archive.extract(dest, into)
        read = time.monotonic() - began
        mib = size / (1 << 20)
        share = dest.stat().st_size / size
        print(f"data            {mib:.0f} MiB (gzip level {archive.COMPRESSION}: {share:.0%} of it)")
        print(f"write archive   {wrote:.1f}s  {mib / wrote:.0f} MiB/s")
        print(f"check + extract {read:.1f}s  {mib / read:.0f} MiB/s")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
