"""How rendered YAML is serialized: libyaml's emitter where it writes the very bytes PyYAML's would.

PyYAML's pure-Python emitter was most of the time `generate` took on a large stack. libyaml (PyYAML's
C binding) emits the same text for almost every value, but not all: it escapes characters outside
Unicode's basic plane (an emoji becomes `\\U0001F600`) and NEL, it wraps long double-quoted strings at
other places, and it writes an empty key as `? ''`. A representer sees every string before it is
emitted; one that libyaml might write differently ends that attempt, and the document is emitted again
by PyYAML's emitter. So the output does not depend on which emitter ran, and stays byte-identical to
what promstack always wrote. The set of strings both write alike was found by comparing the two
emitters on random strings (tests/test_yaml_emit.py keeps doing so).
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.representer import SafeRepresenter

from generator.units import Duration, Size

_OPTIONS: dict[str, Any] = {"default_flow_style": False, "allow_unicode": True, "width": 120, "sort_keys": False}

# a character libyaml escapes or breaks lines at differently (astral plane, NEL, line and paragraph
# separators, BOM, controls), or a space before a line break (the string is then double-quoted)
_DIFFERS = re.compile("[^\n\x20-\x7e\u00a0-\u2027\u202a-\ud7ff\ue000-\ufefe\uff00-\ufffd]| \n")


@dataclass(frozen=True)
class Placeholder:
    """Where a secret goes in the data of a YAML SecretFile (see `secret_yaml`): written as `"${key}"`."""

    key: str


class _Differs(Exception):
    """libyaml may not write this document as PyYAML would."""


def same_in_both(text: str) -> bool:
    """Whether libyaml's emitter writes `text` exactly as PyYAML's does, wherever it stands in a document."""
    if not text or _DIFFERS.search(text):
        return False
    return "\n" not in text or text.strip(" ") == text  # a multi-line string with outer spaces is double-quoted


def dump(data: Any) -> str:
    """`data` as block-style YAML, keys in the order built, no anchors."""
    if _CDumper is not None:
        try:
            return _emit(_CDumper, data)
        except _Differs:
            pass
    return _emit(_PyDumper, data)


def _emit(dumper_class: Any, data: Any) -> str:
    stream = io.StringIO()
    dumper = dumper_class(stream, **_OPTIONS)
    try:
        dumper.open()
        if dumper_class is _PyDumper:
            dumper.represent(data)
        else:
            dumper.serialize(_node(dumper, data))
        dumper.close()
    finally:
        dumper.dispose()
    return stream.getvalue()


_STR, _MAP, _SEQ = "tag:yaml.org,2002:str", "tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"


def _node(dumper: Any, data: Any) -> yaml.Node:
    """The node PyYAML's representer makes of `data` (block style, no anchors), made directly for the
    common types: the representer's generic machinery cost as much as libyaml's whole emitting."""
    kind = type(data)
    if kind is str or kind is Duration or kind is Size:
        text = str.__str__(data)
        if not same_in_both(text):
            raise _Differs
        return yaml.ScalarNode(_STR, text, style="|" if "\n" in text else None)
    if kind is dict:
        if any(isinstance(key, str) and (not key or "\n" in key) for key in data):
            raise _Differs  # as in `represent_mapping` below
        return yaml.MappingNode(_MAP, [(_node(dumper, k), _node(dumper, v)) for k, v in data.items()], flow_style=False)
    if kind is list:
        return yaml.SequenceNode(_SEQ, [_node(dumper, item) for item in data], flow_style=False)
    node: yaml.Node = dumper.represent_data(data)  # numbers, booleans, None, placeholders
    return node


def _string(dumper: SafeRepresenter, data: str) -> yaml.Node:
    text = str.__str__(data)  # the plain text of a Duration or Size: libyaml takes no str subclass
    if getattr(dumper, "checked", False) and not same_in_both(text):
        raise _Differs
    return dumper.represent_scalar("tag:yaml.org,2002:str", text, style="|" if "\n" in text else None)


def _placeholder(dumper: SafeRepresenter, placeholder: Placeholder) -> yaml.Node:
    # double quotes: the writer JSON-escapes a value it puts between them, so no value breaks out of its string
    return dumper.represent_scalar("tag:yaml.org,2002:str", f"${{{placeholder.key}}}", style='"')


class _PyDumper(yaml.SafeDumper):
    checked = False

    def ignore_aliases(self, data: Any) -> bool:
        return True


_CDumper: Any = None
if getattr(yaml, "__with_libyaml__", False):

    class _LibyamlDumper(yaml.CSafeDumper):
        checked = True

        def ignore_aliases(self, data: Any) -> bool:
            return True

        def represent_mapping(self, tag: str, mapping: Any, flow_style: Any = None) -> yaml.MappingNode:
            # a key is never a block scalar: a multi-line key is double-quoted (and an empty one differs)
            if any(isinstance(key, str) and (not key or "\n" in key) for key in mapping):
                raise _Differs
            return super().represent_mapping(tag, mapping, flow_style)

    _CDumper = _LibyamlDumper

for _dumper in (d for d in (_PyDumper, _CDumper) if d is not None):
    # a SafeDumper looks representers up by exact type: durations and sizes are written as the text they hold
    for _kind in (str, Duration, Size):
        _dumper.add_representer(_kind, _string)
    _dumper.add_representer(Placeholder, _placeholder)
