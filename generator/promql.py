"""PromQL for the offline checks: PyPI `promql-parser` reads it, this adapter turns its tree into ours.

`promtool check rules` is the authority on syntax; this exists so that `validate` can point at a
broken `expr` in the spec without running a tool, and so the lint can analyse expressions
(generator.promql_analysis) on a small tree of our own. The library reports what is wrong but not
where: the adapter adds the column (from our tokens) and a did-you-mean for unknown functions. The
words we reason about (functions, aggregators, operators) are in generator.promql_vocabulary.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import timedelta

import promql_parser as _lib

from generator.promql_vocabulary import FUNCTIONS

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+|\#[^\n]*)
  | (?P<duration>(?:\d+(?:ms|[smhdwy]))+(?![A-Za-z0-9_]))
  | (?P<number>0[xX][0-9a-fA-F]+|(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'|`[^`]*`)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=(){}\[\],:@])
""",
    re.VERBOSE,
)
# Prometheus 2.x's name of what 3.x calls double_exponential_smoothing: the library knows only 3.x's
_LIB_EXTRA = [
    _lib.Function(
        name="holt_winters",
        arg_types=[_lib.ValueType.Matrix, _lib.ValueType.Scalar, _lib.ValueType.Scalar],
        return_type=_lib.ValueType.Vector,
    )
]
_lib.register_extra_functions(_LIB_EXTRA)


class ParseError(ValueError):
    """The expression is not PromQL; `column` is 1-based."""

    def __init__(self, message: str, column: int) -> None:
        super().__init__(f"column {column}: {message}")
        self.column = column


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    pos: int


def tokenize(text: str, lenient: bool = False) -> list[Token]:
    """The tokens of `text`, ending with an "eof" token; `lenient` skips characters PromQL does not
    know instead of raising (for reading names out of a broken expression)."""
    tokens = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match and lenient:
            pos += 1
            continue
        if not match:
            raise ParseError(f"unexpected character {text[pos]!r}", pos + 1)
        kind = match.lastgroup or ""
        if kind != "ws":
            tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    tokens.append(Token("eof", "", len(text)))
    return tokens


@dataclass(frozen=True)
class Node:
    """Base of the syntax tree."""

    def children(self) -> Iterator[Node]:
        return iter(())


@dataclass(frozen=True)
class Number(Node):
    value: str


@dataclass(frozen=True)
class String(Node):
    value: str


@dataclass(frozen=True)
class Selector(Node):
    name: str | None
    matchers: tuple[tuple[str, str, str], ...] = ()  # (label, op, value)
    range: str | None = None  # set for a range vector selector: metric[5m]


@dataclass(frozen=True)
class Subquery(Node):
    expr: Node
    range: str

    def children(self) -> Iterator[Node]:
        yield self.expr


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple[Node, ...]

    def children(self) -> Iterator[Node]:
        yield from self.args


@dataclass(frozen=True)
class Aggregate(Node):
    op: str
    expr: Node
    param: Node | None = None
    grouping: tuple[str, ...] = ()
    without: bool = False

    def children(self) -> Iterator[Node]:
        if self.param is not None:
            yield self.param
        yield self.expr


@dataclass(frozen=True)
class Binary(Node):
    op: str
    lhs: Node
    rhs: Node
    bool: bool = False
    on: tuple[str, ...] | None = None  # on(...) labels
    ignoring: tuple[str, ...] | None = None
    group: str | None = None  # group_left | group_right
    include: tuple[str, ...] = ()

    def children(self) -> Iterator[Node]:
        yield self.lhs
        yield self.rhs


@dataclass(frozen=True)
class Unary(Node):
    op: str
    expr: Node

    def children(self) -> Iterator[Node]:
        yield self.expr


def unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse(text: str) -> Node:
    """Parse a PromQL expression; raise ParseError with the column of the first problem."""
    try:
        tree = _lib.parse(text)
    except ValueError as exc:
        tokens = tokenize(text)  # a character PromQL does not know is the clearest thing to report
        raise _located(text, tokens, str(exc)) from None
    return _convert(tree)


def walk(node: Node) -> Iterator[Node]:
    """`node` and every node below it, depth first."""
    yield node
    for child in node.children():
        yield from walk(child)


# --- the library's tree to ours ---------------------------------------------------------------------
# the library's enums are not hashable: keyed by their names ("MatchOp.Equal" -> "Equal")
_MATCH_OPS = {"Equal": "=", "NotEqual": "!=", "Re": "=~", "NotRe": "!~"}
_GROUPS = {"ManyToOne": "group_left", "OneToMany": "group_right"}


def _enum(value: object) -> str:
    return str(value).rsplit(".", 1)[-1]


def _duration(value: timedelta | None) -> str:
    return str(_lib.display_duration(value or timedelta()))


def _selector(node: _lib.VectorSelector, window: str | None = None) -> Selector:
    groups = [node.matchers.matchers, *node.matchers.or_matchers]
    matchers = tuple((m.name, _MATCH_OPS[_enum(m.op)], m.value) for group in groups for m in group)
    return Selector(node.name, matchers, window)


def _convert(node: object) -> Node:
    if isinstance(node, _lib.ParenExpr):
        return _convert(node.expr)
    if isinstance(node, _lib.NumberLiteral):
        return Number(repr(node.val))
    if isinstance(node, _lib.StringLiteral):
        return String(node.val)
    if isinstance(node, _lib.VectorSelector):
        return _selector(node)
    if isinstance(node, _lib.MatrixSelector):
        return _selector(node.vector_selector, _duration(node.range))
    if isinstance(node, _lib.SubqueryExpr):
        return Subquery(_convert(node.expr), _duration(node.range))
    if isinstance(node, _lib.Call):
        return Call(node.func.name, tuple(_convert(arg) for arg in node.args))
    if isinstance(node, _lib.UnaryExpr):
        return Unary("-", _convert(node.expr))
    if isinstance(node, _lib.AggregateExpr):
        modifier = node.modifier
        return Aggregate(
            str(node.op),
            _convert(node.expr),
            _convert(node.param) if node.param is not None else None,
            tuple(modifier.labels) if modifier is not None else (),
            modifier is not None and modifier.type == _lib.AggModifierType.Without,
        )
    if isinstance(node, _lib.BinaryExpr):
        return _binary(node)
    raise TypeError(f"promql-parser gave a node this adapter does not know: {type(node).__name__}")


def _binary(node: _lib.BinaryExpr) -> Binary:
    op = str(node.op).lower()
    modifier = node.modifier
    if modifier is None:
        return Binary(op, _convert(node.lhs), _convert(node.rhs))
    matching = modifier.matching
    labels = tuple(matching.labels) if matching is not None else None
    on = labels if matching is not None and matching.type == _lib.LabelModifierType.Include else None
    ignoring = labels if matching is not None and on is None else None
    group = _GROUPS.get(_enum(modifier.card))
    return Binary(
        op,
        _convert(node.lhs),
        _convert(node.rhs),
        bool(modifier.return_bool),
        on,
        ignoring,
        group,
        tuple(modifier.group_labels or ()) if group else (),
    )


# --- where a rejected expression went wrong ---------------------------------------------------------
def _located(text: str, tokens: list[Token], message: str) -> ParseError:
    """The library's message with a column: at the token it names, an unclosed bracket, the end of the
    expression, or the first token after the longest prefix that parses."""
    unknown = re.match(r"unknown function with name '([^']*)'", message)
    if unknown:
        name = unknown[1]
        at = next((t for t in tokens if t.kind == "ident" and t.text == name), tokens[0])
        guess = difflib.get_close_matches(name, sorted(FUNCTIONS), n=1)
        hint = f"; did you mean {guess[0]!r}?" if guess else ""
        return ParseError(f"unknown function {name!r}{hint}", at.pos + 1)
    if message.startswith("no grouping allowed"):
        at = next((t for t in tokens if t.text in ("group_left", "group_right")), tokens[0])
        return ParseError(message, at.pos + 1)
    if "unclosed left" in message or "end of input" in message:
        opened = _unclosed(tokens)
        if opened is not None:
            return ParseError(f"{message}: this {opened.text!r} is never closed", opened.pos + 1)
        return ParseError(f"{message} (the expression ends too early)", len(text) + 1)
    called = re.search(r"function '([A-Za-z_]\w*)'", message)
    if called:  # wrong argument types or counts: at the function's name
        at = next((t for t in tokens if t.kind == "ident" and t.text == called[1]), tokens[0])
        return ParseError(message, at.pos + 1)
    regex = re.match(r"illegal regex for (.*)", message)
    if regex:
        at = next((t for t in tokens if t.kind == "string" and unquote(t.text) == regex[1]), tokens[0])
        return ParseError(f"{regex[1]!r} is not a valid regular expression", at.pos + 1)
    if "at least one non-empty matcher" in message:
        return ParseError("a selector needs a metric name or a matcher that does not match the empty string", 1)
    return ParseError(*_first_bad_token(text, tokens, message))


_PAIRS = {"(": ")", "[": "]", "{": "}"}


def _unclosed(tokens: list[Token]) -> Token | None:
    stack: list[Token] = []
    for token in tokens:
        if token.kind != "op":
            continue
        if token.text in _PAIRS:
            stack.append(token)
        elif stack and token.text == _PAIRS[stack[-1].text]:
            stack.pop()
    return stack[0] if stack else None


def _first_bad_token(text: str, tokens: list[Token], message: str) -> tuple[str, int]:
    """The first token after the longest prefix (at a token boundary) that is an expression itself:
    where a reader sees the expression go wrong (`sum(x) by (a) by (b)`: the second `by`)."""
    for i in range(len(tokens) - 1, 0, -1):
        try:
            _lib.parse(text[: tokens[i].pos])
        except ValueError:
            continue
        bad = tokens[i]
        if bad.kind == "eof":
            return f"{message} (the expression ends too early)", bad.pos + 1
        return f"{message}: it goes wrong at {bad.text!r}", bad.pos + 1
    return message, 1
