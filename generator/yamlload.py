"""Reading YAML: with libyaml's parser where PyYAML has its C binding, else PyYAML's own.

Both build the same values through PyYAML's safe constructor; libyaml only parses several times faster,
and parsing was a good part of what reading the rule packs, the catalog and rendered files cost. The
spec itself has its own loader (spec/loader.py), which keeps every value's line.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import yaml

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def safe_load(text: str) -> Any:
    """`yaml.safe_load`, parsed by libyaml where available."""
    return yaml.load(text, Loader=SAFE_LOADER)


def safe_load_all(text: str) -> Iterator[Any]:
    """`yaml.safe_load_all`, parsed by libyaml where available."""
    return yaml.load_all(text, Loader=SAFE_LOADER)
