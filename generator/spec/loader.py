"""Stage `load`: YAML text -> plain data plus a map from spec path to file:line:col.

We walk PyYAML's node graph ourselves instead of using `safe_load` so that every value keeps its
position, duplicate keys are reported (PyYAML silently keeps the last one), and alias bombs or absurd
nesting stop with a located problem instead of eating the machine.
"""

from __future__ import annotations

import dataclasses
import datetime
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from generator import userfile
from generator.errors import Problem, SpecError

MAX_BYTES = 16_000_000  # a spec of 50,000 services
MAX_NODES = 500_000  # a spec of 40,000 services; an alias bomb stops there
MAX_DEPTH = 50


@dataclass
class Document:
    """A loaded spec: its data and where each spec path came from."""

    file: str
    data: Any
    positions: dict[str, tuple[int, int]] = field(default_factory=dict)
    key_positions: dict[str, tuple[int, int]] = field(default_factory=dict)

    def where(self, path: str, key: bool = False) -> tuple[int, int]:
        """Line and column of `path`, falling back to the closest located parent."""
        table = self.key_positions if key else self.positions
        probe = path
        while probe:
            if probe in table:
                return table[probe]
            if probe in self.positions:
                return self.positions[probe]
            probe = parent_path(probe)
        return (1, 1)

    def problem(self, path: str, message: str, key: bool = False) -> Problem:
        line, col = self.where(path, key)
        return Problem(self.file, line, col, path, message)


def parent_path(path: str) -> str:
    """`$.a.b[0]` -> `$.a.b`; `$` -> ``."""
    if path == "$":
        return ""
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else "$"


def child_path(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    if key.replace("_", "").replace("-", "").isalnum():
        return f"{path}.{key}"
    return f"{path}[{key!r}]"


class _Walker:
    def __init__(self, doc: Document, loader: yaml.SafeLoader) -> None:
        self.doc = doc
        self.loader = loader
        self.nodes = 0
        self.problems: list[Problem] = []

    def walk(self, node: yaml.Node, path: str, depth: int) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise _Stop(node, path, f"the document expands to more than {MAX_NODES} values (YAML aliases?)")
        if depth > MAX_DEPTH:
            raise _Stop(node, path, f"the document nests deeper than {MAX_DEPTH} levels")
        self.doc.positions.setdefault(path, (node.start_mark.line + 1, node.start_mark.column + 1))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.walk(item, child_path(path, i), depth + 1) for i, item in enumerate(node.value)]
        try:
            value = self.loader.construct_object(node, deep=True)
        except yaml.MarkedYAMLError as exc:
            raise _Stop(node, path, f"invalid YAML value: {exc.problem or 'it cannot be read'}") from None
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise _Stop(node, path, f"invalid YAML value: {_plain(exc)}") from None
        if isinstance(value, (datetime.date, datetime.datetime)):
            return str(node.value)
        if isinstance(value, bytes):
            return str(node.value)
        return value

    def _pairs(self, node: yaml.MappingNode, depth: int) -> list[tuple[yaml.Node, yaml.Node]]:
        """Key/value node pairs with YAML merge keys (`<<: *base`) expanded; own keys win."""
        own: list[tuple[yaml.Node, yaml.Node]] = []
        merged: list[tuple[yaml.Node, yaml.Node]] = []
        if depth > MAX_DEPTH:  # `&a {<<: *a}` merges itself forever
            raise _Stop(node, "$", f"the document nests deeper than {MAX_DEPTH} levels")
        for key, value in node.value:
            if key.tag == "tag:yaml.org,2002:merge":
                sources = value.value if isinstance(value, yaml.SequenceNode) else [value]
                for source in sources:
                    if isinstance(source, yaml.MappingNode):
                        merged.extend(self._pairs(source, depth + 1))
            else:
                own.append((key, value))
        own_keys = {str(k.value) for k, _ in own}
        return [(k, v) for k, v in merged if str(k.value) not in own_keys] + own

    def _mapping(self, node: yaml.MappingNode, path: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in self._pairs(node, depth):
            if not isinstance(key_node, yaml.ScalarNode):
                self.problems.append(self._at(key_node, path, "a key must be a plain string"))
                continue
            key = str(key_node.value)
            sub = child_path(path, key)
            if key in result:
                first = self.doc.key_positions.get(sub, (0, 0))[0]
                self.problems.append(self._at(key_node, sub, f"duplicate key '{key}' (first given on line {first})"))
                continue
            self.doc.key_positions[sub] = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
            result[key] = self.walk(value_node, sub, depth + 1)
        return result

    def _at(self, node: yaml.Node, path: str, message: str) -> Problem:
        return Problem(self.doc.file, node.start_mark.line + 1, node.start_mark.column + 1, path, message)


class _Stop(Exception):
    """A problem that ends the walk at once (the rest of the document cannot be trusted)."""

    def __init__(self, node: yaml.Node, path: str, message: str) -> None:
        super().__init__(message)
        self.problem = Problem("", node.start_mark.line + 1, node.start_mark.column + 1, path, message)


def printable(problem: Problem) -> Problem:
    """The problem with control and other unprintable characters escaped: one problem, one output line."""
    return dataclasses.replace(
        problem, file=_escape(problem.file), path=_escape(problem.path), message=_escape(problem.message)
    )


def _escape(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def load_text(text: str, file: str) -> Document:
    """Parse spec text; raise SpecError with every located problem."""
    try:
        return _load_text(text, file)
    except SpecError as exc:
        raise SpecError([printable(p) for p in exc.problems]) from None


def _load_text(text: str, file: str) -> Document:
    doc = Document(file=file, data=None)
    if len(text) > MAX_BYTES:
        raise SpecError([Problem(file, 1, 1, "$", f"the spec is larger than {MAX_BYTES} bytes")])
    try:
        # the reader rejects control characters (NUL, ...) as soon as it is built
        yaml.reader.Reader(text)
    except yaml.reader.ReaderError as exc:
        line, col = _line_col(text, exc.position)
        raise SpecError(
            [Problem(file, line, col, "$", f"invalid YAML: character {exc.character:#06x} is not allowed")]
        ) from None
    fast = _libyaml_node(text)
    loader = fast[0] if fast else yaml.SafeLoader(text)
    try:
        try:
            node = fast[1] if fast else loader.get_single_node()
        except yaml.MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
            what = exc.problem or exc.context or "syntax error"
            if what.startswith("but found another document"):
                what = "a spec is one document, but another one starts here (---)"
            raise SpecError([Problem(file, line, col, "$", f"invalid YAML: {what}")]) from None
        except yaml.YAMLError as exc:
            raise SpecError([Problem(file, 1, 1, "$", f"invalid YAML: {_plain(exc)}")]) from None
        except RecursionError:  # PyYAML's composer recurses once per nesting level
            raise SpecError([Problem(file, 1, 1, "$", "the document nests too deeply")]) from None
        if node is None:
            raise SpecError([Problem(file, 1, 1, "$", "the spec is empty")])
        walker = _Walker(doc, loader)
        try:
            doc.data = walker.walk(node, "$", 0)
        except _Stop as exc:
            raise SpecError([dataclasses.replace(exc.problem, file=file)]) from None
        except RecursionError:
            raise SpecError([Problem(file, 1, 1, "$", "the document nests too deeply")]) from None
    finally:
        loader.dispose()
    if walker.problems:
        raise SpecError(walker.problems)
    return doc


def _libyaml_node(text: str) -> tuple[Any, yaml.Node | None] | None:
    """The document's node graph as libyaml parses it (the same nodes and marks, several times faster than
    PyYAML's parser on a spec of thousands of services); None where libyaml is missing or the text is not
    one valid document, which PyYAML's parser then reads again to word the problem as it always has."""
    if not getattr(yaml, "__with_libyaml__", False):
        return None
    loader = yaml.CSafeLoader(text)
    try:
        return loader, loader.get_single_node()
    except (yaml.YAMLError, RecursionError):
        loader.dispose()
        return None


def _line_col(text: str, offset: int) -> tuple[int, int]:
    """1-based line and column of character `offset` in `text`."""
    before = text[:offset]
    return before.count("\n") + 1, offset - (before.rfind("\n") + 1) + 1


def _plain(exc: Exception) -> str:
    return " ".join(str(exc).split())[:200]


def load_file(path: Path) -> Document:
    """Read and parse a spec file; unreadable or non-UTF-8 files are spec problems too."""
    name = _escape(str(path))
    try:
        raw = userfile.read(path, MAX_BYTES)  # a regular file, and not more: a FIFO would block, /dev/zero never end
    except userfile.NotRegular as exc:
        raise SpecError([Problem(name, 1, 1, "$", f"the spec is {exc.kind}, not a regular file")]) from None
    except OSError as exc:
        raise SpecError([Problem(name, 1, 1, "$", f"cannot read the spec: {exc.strerror}")]) from None
    if len(raw) > MAX_BYTES:
        raise SpecError([Problem(name, 1, 1, "$", f"the spec is larger than {MAX_BYTES} bytes")])
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        col = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"the spec is not UTF-8 text (byte {raw[exc.start]:#04x}); save it as UTF-8"
        raise SpecError([Problem(name, line, col, "$", message)]) from None
    return load_text(text, name)
