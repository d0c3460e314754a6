"""A small PromQL parser, used offline by spec validation and the rule lint.

It accepts the classic PromQL that Prometheus 2.42 and 3.x share (selectors, functions, aggregations,
binary operators with vector matching, subqueries, offset/@). It is not the authority on syntax:
`promtool check rules` is. It exists so that `validate` can point at a broken `expr` in the spec
without running a tool, and so the lint can analyse expressions (generator.promql_analysis). The
words it knows (functions, aggregators, operators) are in generator.promql_vocabulary.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from generator.promql_vocabulary import (
    AGGREGATORS,
    COMPARISONS,
    FUNCTIONS,
    MODIFIERS,
    PARAM_AGGREGATORS,
    PRECEDENCE,
    SET_OPS,
)

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


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> Token:
        return self.tokens[min(self.i + offset, len(self.tokens) - 1)]

    def next(self) -> Token:
        token = self.peek()
        self.i += 1
        return token

    def fail(self, message: str, token: Token | None = None) -> ParseError:
        token = token or self.peek()
        shown = repr(token.text) if token.kind != "eof" else "end of expression"
        return ParseError(f"{message}, found {shown}", token.pos + 1)

    def expect(self, text: str) -> Token:
        if self.peek().text != text or self.peek().kind != "op":
            raise self.fail(f"expected {text!r}")
        return self.next()

    def parse(self) -> Node:
        node = self.binary(1)
        if self.peek().kind != "eof":
            raise self.fail("unexpected token after the expression")
        return node

    def binary_op(self) -> str | None:
        token = self.peek()
        text = token.text.lower() if token.kind == "ident" else token.text
        if token.kind in ("op", "ident") and text in PRECEDENCE:
            return text
        return None

    def binary(self, min_prec: int) -> Node:
        lhs = self.unary()
        while (op := self.binary_op()) is not None and PRECEDENCE[op] >= min_prec:
            self.next()
            template = self.modifiers(op)
            prec = PRECEDENCE[op]
            rhs = self.binary(prec if op == "^" else prec + 1)
            lhs = replace(template, lhs=lhs, rhs=rhs)
        return lhs

    def modifiers(self, op: str) -> Binary:
        """The operator with its bool/on/ignoring/group_* modifiers; operands are filled in later."""
        node = Binary(op, Number("0"), Number("0"))
        if self.peek().kind == "ident" and self.peek().text == "bool":
            if op not in COMPARISONS:
                raise self.fail("bool modifier is only allowed on comparison operators")
            self.next()
            node = replace(node, bool=True)
        if self.peek().kind == "ident" and self.peek().text in ("on", "ignoring"):
            on = self.next().text == "on"
            labels = self.labels()
            node = replace(node, on=labels) if on else replace(node, ignoring=labels)
            if self.peek().kind == "ident" and self.peek().text in ("group_left", "group_right"):
                if op in SET_OPS:
                    raise self.fail(f"no grouping allowed for {op!r} operation")
                group = self.next().text
                node = replace(node, group=group, include=self.labels() if self.peek().text == "(" else ())
        return node

    def labels(self) -> tuple[str, ...]:
        self.expect("(")
        names: list[str] = []
        while self.peek().text != ")":
            token = self.next()
            if token.kind == "ident" and ":" not in token.text:
                names.append(token.text)
            elif token.kind == "string":
                names.append(unquote(token.text))
            else:
                raise self.fail("expected a label name", token)
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != ")":
                raise self.fail("expected ',' or ')' in label list")
        self.expect(")")
        return tuple(names)

    def unary(self) -> Node:
        if self.peek().kind == "op" and self.peek().text in ("-", "+"):
            op = self.next().text
            return Unary(op, self.binary(PRECEDENCE["^"]))
        return self.postfix(self.primary())

    def postfix(self, node: Node) -> Node:
        while True:
            token = self.peek()
            if token.text == "[" and token.kind == "op":
                self.next()
                rng = self.duration()
                if self.peek().text == ":":
                    self.next()
                    if self.peek().kind == "duration":
                        self.duration()
                    self.expect("]")
                    node = Subquery(node, rng)
                    continue
                self.expect("]")
                if not isinstance(node, Selector) or node.range is not None:
                    raise self.fail("ranges are only allowed for vector selectors", token)
                node = Selector(node.name, node.matchers, rng)
            elif token.kind == "ident" and token.text == "offset":
                self.next()
                if self.peek().text == "-":
                    self.next()
                self.duration()
            elif token.text == "@" and token.kind == "op":
                self.next()
                if self.peek().kind == "ident" and self.peek().text in ("start", "end"):
                    self.next()
                    self.expect("(")
                    self.expect(")")
                elif self.peek().kind == "number":
                    self.next()
                else:
                    raise self.fail("expected a timestamp, start() or end() after @")
            else:
                return node

    def duration(self) -> str:
        token = self.next()
        if token.kind != "duration":
            raise self.fail("expected a duration like 5m", token)
        return token.text

    def primary(self) -> Node:
        token = self.next()
        if token.kind == "number":
            return Number(token.text)
        if token.kind == "string":
            return String(unquote(token.text))
        if token.kind == "duration":
            raise self.fail("a duration is only allowed in [...] or after offset", token)
        if token.text == "(" and token.kind == "op":
            inner = self.binary(1)
            self.expect(")")
            return inner
        if token.text == "{" and token.kind == "op":
            return Selector(*self.matchers(None))
        if token.kind != "ident":
            raise self.fail("expected an expression", token)
        name = token.text
        lowered = name.lower()
        if lowered in ("inf", "nan"):
            return Number(lowered)
        if name in AGGREGATORS and self.peek().text in ("(", "by", "without"):
            return self.aggregate(name)
        if self.peek().text == "(" and self.peek().kind == "op":
            if name not in FUNCTIONS:
                guess = difflib.get_close_matches(name, sorted(FUNCTIONS), n=1)
                hint = f"; did you mean {guess[0]!r}?" if guess else ""
                raise ParseError(f"unknown function {name!r}{hint}", token.pos + 1)
            return Call(name, self.call_args())
        if name in PRECEDENCE or name in MODIFIERS:
            raise self.fail("expected an expression", token)
        if self.peek().text == "{" and self.peek().kind == "op":
            self.next()
            return Selector(*self.matchers(name))
        return Selector(name)

    def matchers(self, name: str | None) -> tuple[str | None, tuple[tuple[str, str, str], ...]]:
        found: list[tuple[str, str, str]] = []
        while self.peek().text != "}":
            token = self.next()
            if token.kind == "string" and self.peek().text in (",", "}"):
                name = unquote(token.text)  # 3.x quoted metric name: {"my.metric"}
            else:
                if token.kind not in ("ident", "string"):
                    raise self.fail("expected a label matcher", token)
                label = unquote(token.text) if token.kind == "string" else token.text
                op = self.next()
                if op.text not in ("=", "!=", "=~", "!~"):
                    raise self.fail("expected a matcher operator (=, !=, =~, !~)", op)
                value = self.next()
                if value.kind != "string":
                    raise self.fail("expected a quoted label value", value)
                found.append((label, op.text, unquote(value.text)))
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != "}":
                raise self.fail("expected ',' or '}' in label matchers")
        self.expect("}")
        if name is None and not any(op in ("=", "=~") and value for _, op, value in found):
            raise ParseError("a selector needs a metric name or a matcher that does not match the empty string", 1)
        return name, tuple(found)

    def call_args(self) -> tuple[Node, ...]:
        self.expect("(")
        args: list[Node] = []
        while self.peek().text != ")":
            args.append(self.binary(1))
            if self.peek().text == ",":
                self.next()
            elif self.peek().text != ")":
                raise self.fail("expected ',' or ')' in argument list")
        self.expect(")")
        return tuple(args)

    def aggregate(self, op: str) -> Node:
        grouping: tuple[str, ...] = ()
        without = False
        if self.peek().text in ("by", "without"):
            without = self.next().text == "without"
            grouping = self.labels()
        args = self.call_args()
        if self.peek().kind == "ident" and self.peek().text in ("by", "without"):
            if grouping or without:
                raise self.fail("grouping given twice")
            without = self.next().text == "without"
            grouping = self.labels()
        wanted = 2 if op in PARAM_AGGREGATORS else 1
        if len(args) != wanted:
            raise self.fail(f"{op} takes {wanted} argument(s), got {len(args)}")
        return Aggregate(op, args[-1], args[0] if wanted == 2 else None, grouping, without)


def unquote(text: str) -> str:
    if text.startswith("`"):
        return text[1:-1]
    body = text[1:-1]
    return re.sub(r"\\(.)", lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), body)


def parse(text: str) -> Node:
    """Parse a PromQL expression; raise ParseError with the column of the first problem."""
    return _Parser(text).parse()


def walk(node: Node) -> Iterator[Node]:
    """`node` and every node below it, depth first."""
    yield node
    for child in node.children():
        yield from walk(child)
