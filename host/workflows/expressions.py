"""The small language of workflow conditions and of ``{{ … }}`` placeholders in questions.

It is parsed here, never handed to ``eval``::

    expression := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand [("==" | "!=" | "<" | "<=" | ">" | ">=" | "in" | "not in") operand]
    operand    := reference | literal | "[" [expression ("," expression)*] "]" | "(" expression ")"
    literal    := 'text' | "text" | number | true | false | null
    reference  := steps.<node>.output[.<field>…] | state.<key>

``and`` and ``or`` give one of their operands, as Python's do, so
``steps.customer.output.name or 'unknown'`` reads as a default. A reference
that cannot be read (the node has not run, the field is absent) is ``null``.
``in`` tests membership in a list, an object's keys or a text, and is false
for anything else. ``<``, ``<=``, ``>`` and ``>=`` order two numbers or two
texts, and are false for anything else (``null < 3`` is false). Evaluation
never raises.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from operator import ge, gt, le, lt
from typing import Any, NoReturn, Protocol

from host.plans import RefTarget, parse_ref
from host.state import RunState

Reader = Callable[[RefTarget], Any]

_TOKEN = re.compile(
    r"""(?:
      (?P<text>'(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*")
    | (?P<number>-?\d+(?:\.\d+)?)
    | (?P<symbol>==|!=|<=|>=|[<>()\[\],])
    | (?P<word>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*)
    )""",
    re.VERBOSE,
)
_CONSTANTS: dict[str, Any] = {"true": True, "false": False, "null": None}
_KEYWORDS = {"and", "or", "not", "in"}
_PLACEHOLDER = re.compile(r"\{\{(.*?)\}\}", re.DOTALL)


class ExpressionError(ValueError):
    """An expression or template does not parse; the message says where and why."""


class _Node(Protocol):
    def evaluate(self, read: Reader) -> Any: ...

    def references(self) -> Iterator[RefTarget]: ...


@dataclass(frozen=True)
class _Constant:
    value: Any

    def evaluate(self, read: Reader) -> Any:
        return self.value

    def references(self) -> Iterator[RefTarget]:
        yield from ()


@dataclass(frozen=True)
class _Reference:
    target: RefTarget

    def evaluate(self, read: Reader) -> Any:
        return read(self.target)

    def references(self) -> Iterator[RefTarget]:
        yield self.target


@dataclass(frozen=True)
class _List:
    items: tuple[_Node, ...]

    def evaluate(self, read: Reader) -> Any:
        return [item.evaluate(read) for item in self.items]

    def references(self) -> Iterator[RefTarget]:
        for item in self.items:
            yield from item.references()


@dataclass(frozen=True)
class _Not:
    operand: _Node

    def evaluate(self, read: Reader) -> Any:
        return not self.operand.evaluate(read)

    def references(self) -> Iterator[RefTarget]:
        return self.operand.references()


@dataclass(frozen=True)
class _Logic:
    operator: str
    operands: tuple[_Node, ...]

    def evaluate(self, read: Reader) -> Any:
        value: Any = None
        for operand in self.operands:
            value = operand.evaluate(read)
            if bool(value) == (self.operator == "or"):
                return value
        return value

    def references(self) -> Iterator[RefTarget]:
        for operand in self.operands:
            yield from operand.references()


@dataclass(frozen=True)
class _Compare:
    operator: str
    left: _Node
    right: _Node

    def evaluate(self, read: Reader) -> Any:
        left, right = self.left.evaluate(read), self.right.evaluate(read)
        if self.operator == "==":
            return bool(left == right)
        if self.operator == "!=":
            return bool(left != right)
        if self.operator in _ORDER:
            return _ordered(self.operator, left, right)
        found = _contains(right, left)
        return found if self.operator == "in" else not found

    def references(self) -> Iterator[RefTarget]:
        yield from self.left.references()
        yield from self.right.references()


_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "<": lt,
    "<=": le,
    ">": gt,
    ">=": ge,
}


def _ordered(symbol: str, left: Any, right: Any) -> bool:
    """``left <symbol> right`` for two numbers or two texts; false for anything else."""
    numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
    texts = isinstance(left, str) and isinstance(right, str)
    return bool(_ORDER[symbol](left, right)) if numbers or texts else False


def _contains(container: Any, item: Any) -> bool:
    if isinstance(container, str):
        return isinstance(item, str) and item in container
    if isinstance(container, list):
        return item in container
    if isinstance(container, dict):
        return isinstance(item, str) and item in container
    return False


class _Parser:
    """Recursive descent over the tokens of one expression."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.tokens = list(_tokens(text))
        self.position = 0

    def parse(self) -> _Node:
        node = self.expression()
        if self.position < len(self.tokens):
            self.fail("expected the end of the expression")
        return node

    def expression(self) -> _Node:
        return self.logic("or", self.conjunction)

    def conjunction(self) -> _Node:
        return self.logic("and", self.negation)

    def logic(self, operator: str, operand: Callable[[], _Node]) -> _Node:
        operands = [operand()]
        while self.accept(operator):
            operands.append(operand())
        return operands[0] if len(operands) == 1 else _Logic(operator, tuple(operands))

    def negation(self) -> _Node:
        if self.accept("not"):
            return _Not(self.negation())
        return self.comparison()

    def comparison(self) -> _Node:
        left = self.operand()
        for symbol in ("==", "!=", "<=", ">=", "<", ">", "in"):
            if self.accept(symbol):
                return _Compare(symbol, left, self.operand())
        if self.peek() == "not" and self.peek(1) == "in":
            self.position += 2
            return _Compare("not in", left, self.operand())
        return left

    def operand(self) -> _Node:
        if self.position >= len(self.tokens):
            self.fail("expected a value")
        kind, token, _ = self.tokens[self.position]
        self.position += 1
        if kind in ("text", "number"):
            return _Constant(self.literal(kind, token))
        if token == "(":
            inner = self.expression()
            self.expect(")")
            return inner
        if token == "[":
            return self.list()
        if kind == "word" and token in _CONSTANTS:
            return _Constant(_CONSTANTS[token])
        if kind == "word" and token not in _KEYWORDS:
            return _Reference(self.reference(token))
        self.position -= 1
        return self.fail("expected a value")

    def literal(self, kind: str, token: str) -> Any:
        """The value of a text or number token; one Python would not read (``007``,
        ``'\\x4'``) fails here, at its column."""
        try:
            return ast.literal_eval(token)
        except (SyntaxError, ValueError) as error:
            self.position -= 1
            reason = error.msg if isinstance(error, SyntaxError) else str(error)
            return self.fail(f"malformed {kind} ({reason})")

    def list(self) -> _Node:
        items: list[_Node] = []
        if not self.accept("]"):
            items.append(self.expression())
            while self.accept(","):
                items.append(self.expression())
            self.expect("]")
        return _List(tuple(items))

    def reference(self, word: str) -> RefTarget:
        if not word.startswith(("steps.", "state.")):
            self.position -= 1
            self.fail(
                f"unknown name {word!r} (write text in quotes, e.g. '{word}'; "
                "references start with steps. or state.)"
            )
        try:
            return parse_ref(word)
        except ValueError:
            self.position -= 1
            return self.fail(
                f"malformed reference {word!r} "
                "(expected steps.<node>.output, steps.<node>.output.<field> or state.<key>)"
            )

    def peek(self, ahead: int = 0) -> str | None:
        index = self.position + ahead
        if index >= len(self.tokens):
            return None
        kind, token, _ = self.tokens[index]
        return token if kind in ("symbol", "word") else None

    def accept(self, token: str) -> bool:
        if self.peek() == token:
            self.position += 1
            return True
        return False

    def expect(self, token: str) -> None:
        if not self.accept(token):
            self.fail(f"expected {token!r}")

    def fail(self, reason: str) -> NoReturn:
        if self.position < len(self.tokens):
            _, token, column = self.tokens[self.position]
            found = f"at column {column} ({token!r})"
        else:
            found = "at the end"
        raise ExpressionError(f"{reason} {found} in {self.text!r}")


def _tokens(text: str) -> Iterator[tuple[str, str, int]]:
    """(kind, token, 1-based column) for each token; raises on a character no token starts with."""
    position = 0
    while (start := len(text) - len(text[position:].lstrip())) < len(text):
        match = _TOKEN.match(text, start)
        if match is None or match.lastgroup is None:
            raise ExpressionError(f"unexpected {text[start]!r} at column {start + 1} in {text!r}")
        yield match.lastgroup, match[match.lastgroup], start + 1
        position = match.end()


def _reader(state: RunState) -> Reader:
    """Reads references from ``state``; what cannot be read (JSON text nested too deeply
    to parse too) is ``None``."""

    def read(target: RefTarget) -> Any:
        try:
            return state.resolve(target)
        except (KeyError, IndexError, ValueError, TypeError, RecursionError):
            return None

    return read


@dataclass(frozen=True)
class Expression:
    """A parsed condition; equal when the text is equal."""

    text: str
    _tree: _Node = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Expression:
        """Parse ``text``; raises :class:`ExpressionError` naming the column and the problem."""
        if not text.strip():
            raise ExpressionError("expected an expression, got empty text")
        try:
            return cls(text, _Parser(text).parse())
        except RecursionError:
            raise ExpressionError(
                f"the expression nests too deeply ({len(text)} characters)"
            ) from None

    def evaluate(self, state: RunState) -> Any:
        """The expression's value over ``state``."""
        return self._tree.evaluate(_reader(state))

    def holds(self, state: RunState) -> bool:
        """Whether the value over ``state`` is truthy."""
        return bool(self.evaluate(state))

    def references(self) -> list[RefTarget]:
        """Every reference the expression reads."""
        return list(self._tree.references())

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class Template:
    """Text with ``{{ expression }}`` placeholders; equal when the text is equal."""

    text: str
    _parts: tuple[str | Expression, ...] = field(compare=False, repr=False)

    @classmethod
    def parse(cls, text: str) -> Template:
        """Parse every placeholder; raises :class:`ExpressionError` for a bad one."""
        parts: list[str | Expression] = []
        position = 0
        for match in _PLACEHOLDER.finditer(text):
            parts.append(text[position : match.start()])
            parts.append(Expression.parse(match[1].strip()))
            position = match.end()
        parts.append(text[position:])
        if any(isinstance(part, str) and "{{" in part for part in parts):
            raise ExpressionError(f"unclosed '{{{{' in {text!r}")
        return cls(text, tuple(part for part in parts if part != ""))

    def render(self, state: RunState) -> str:
        """The text with each placeholder's value: text as is, null as "", other values as JSON
        (what JSON cannot hold as its text)."""
        return "".join(
            part if isinstance(part, str) else _as_text(part.evaluate(state))
            for part in self._parts
        )

    def references(self) -> list[RefTarget]:
        """Every reference the placeholders read."""
        return [
            t for part in self._parts if isinstance(part, Expression) for t in part.references()
        ]

    def __str__(self) -> str:
        return self.text


_JSON_KINDS = (bool, int, float, list, tuple, dict)


def _as_text(value: Any) -> str:
    """``value`` for a placeholder; a native function's output that JSON cannot hold (a
    date) as its text."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if not isinstance(value, _JSON_KINDS):
        return str(value)
    return json.dumps(value, ensure_ascii=False, default=str)
