"""Approval conditions: when a configured tool's call waits for a person.

A condition is a small expression over the call's arguments, parsed once when the tools
file loads and never handed to Python's ``eval``::

    amount > 50
    action in [refund, cancel] and not (customer.tier == "vip")
    currency != EUR or amount >= 1000.5

Grammar (keywords are lower case)::

    condition  := or
    or         := and ("or" and)*
    and        := not ("and" not)*
    not        := "not" not | comparison
    comparison := operand (("==" | "!=" | "<" | "<=" | ">" | ">=") operand
                          | "not"? "in" list)?
    operand    := path | number | string | "true" | "false" | "null" | "(" or ")"
    list       := "[" (item ("," item)*)? "]"
    item       := number | string | "true" | "false" | "null" | word
    path       := word ("." word)*        an argument, dotted into objects

A ``word`` is letters, digits, ``_`` and ``-``, not starting with a digit or ``-``; inside a
list it is a string (``[refund, cancel]``). Strings are quoted with ``'`` or ``"``. A bare
path is a yes/no argument (``urgent`` means ``urgent == true``).

Values compare only with their own kind (numbers with numbers, strings with strings, true
and false with each other); ``null`` equals only ``null``. For safety, a condition that
cannot be evaluated — a missing argument, a string compared with a number, a bare path that
is not true or false — counts as met: the call needs approval, whatever the rest says.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_LENGTH = 1000
MAX_DEPTH = 32


class ConditionError(ValueError):
    """A condition that does not parse."""


class _Unevaluable(Exception):  # noqa: N818 - internal signal, never escapes this module
    """A part of a condition that cannot be evaluated for these arguments."""


_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
    | (?P<number>-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?)
    | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
    | (?P<op>==|!=|<=|>=|<|>|\(|\)|\[|\]|,|\.)
    | (?P<word>[A-Za-z_][A-Za-z0-9_-]*)
    """,
    re.VERBOSE,
)
_KEYWORDS = frozenset({"and", "or", "not", "in", "true", "false", "null"})
_LITERALS: dict[str, Any] = {"true": True, "false": False, "null": None}


@dataclass(frozen=True)
class _Token:
    kind: str  # number, string, op, word, end
    text: str
    at: int


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    at = 0
    while at < len(text):
        match = _TOKEN.match(text, at)
        if match is None:
            raise ConditionError(f"unexpected {text[at]!r} at position {at + 1}")
        kind = match.lastgroup
        assert kind is not None
        if kind != "space":
            tokens.append(_Token(kind, match.group(), at))
        at = match.end()
    tokens.append(_Token("end", "", len(text)))
    return tokens


# The parsed form: a tree of small nodes, each evaluated against the arguments.
_Node = Callable[[Mapping[str, Any]], Any]


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "other"


def _equal(left: Any, right: Any) -> bool:
    if left is None or right is None:
        return left is None and right is None
    if _kind(left) != _kind(right) or _kind(left) == "other":
        raise _Unevaluable(f"cannot compare {_kind(left)} with {_kind(right)}")
    return bool(left == right)


def _order(op: str, left: Any, right: Any) -> bool:
    kinds = {_kind(left), _kind(right)}
    if kinds not in ({"number"}, {"string"}):
        raise _Unevaluable(f"cannot order {_kind(left)} and {_kind(right)}")
    if op == "<":
        return bool(left < right)
    if op == "<=":
        return bool(left <= right)
    if op == ">":
        return bool(left > right)
    return bool(left >= right)


def _member(value: Any, items: Sequence[Any]) -> bool:
    same = [item for item in items if _kind(item) == _kind(value)]
    if _kind(value) == "other" or (items and not same and value is not None):
        raise _Unevaluable(f"a {_kind(value)} is not among the list's kinds")
    return any(_equal(value, item) for item in same)


def _truth(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Unevaluable(f"{_kind(value)} is not true or false")
    return value


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.index = 0
        self.depth = 0
        self.paths: list[str] = []

    @property
    def token(self) -> _Token:
        return self.tokens[self.index]

    def take(self) -> _Token:
        token = self.token
        self.index += 1
        return token

    def at(self, text: str, kind: str = "op") -> bool:
        return self.token.kind == kind and self.token.text == text

    def expect(self, text: str) -> None:
        if not self.at(text):
            self.fail(f"expected {text!r}")
        self.take()

    def fail(self, expected: str) -> None:
        token = self.token
        found = "the end" if token.kind == "end" else repr(token.text)
        raise ConditionError(f"{expected}, found {found} at position {token.at + 1}")

    def condition(self) -> _Node:
        node = self.disjunction()
        if self.token.kind != "end":
            self.fail("expected 'and', 'or' or the end")
        return node

    def disjunction(self) -> _Node:
        parts = [self.conjunction()]
        while self.at("or", "word"):
            self.take()
            parts.append(self.conjunction())
        if len(parts) == 1:
            return parts[0]
        # Every part is evaluated (no short cut): one that cannot be makes the whole unevaluable.
        return lambda args: any([part(args) for part in parts])

    def conjunction(self) -> _Node:
        parts = [self.negation()]
        while self.at("and", "word"):
            self.take()
            parts.append(self.negation())
        if len(parts) == 1:
            return parts[0]
        return lambda args: all([part(args) for part in parts])

    def negation(self) -> _Node:
        if self.at("not", "word"):
            self.take()
            self.descend()
            inner = self.negation()
            self.depth -= 1
            return lambda args: not inner(args)
        return self.comparison()

    def descend(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise ConditionError(f"nested more than {MAX_DEPTH} deep")

    def comparison(self) -> _Node:
        left, bare = self.operand()
        token = self.token
        if token.kind == "op" and token.text in ("==", "!=", "<", "<=", ">", ">="):
            op = self.take().text
            right, _ = self.operand()
            if op == "==":
                return lambda args: _equal(left(args), right(args))
            if op == "!=":
                return lambda args: not _equal(left(args), right(args))
            return lambda args: _order(op, left(args), right(args))
        negated = False
        if self.at("not", "word"):
            self.take()
            negated = True
            if not self.at("in", "word"):
                self.fail("expected 'in' after 'not'")
        if self.at("in", "word"):
            self.take()
            items = self.items()
            if negated:
                return lambda args: not _member(left(args), items)
            return lambda args: _member(left(args), items)
        if bare == "literal":
            self.fail("expected a comparison after a value")
        if bare == "path":
            return lambda args: _truth(left(args))
        return left

    def operand(self) -> tuple[_Node, str]:
        """An operand and what it is: ``path``, ``literal`` or ``group``."""
        token = self.token
        if self.at("("):
            self.take()
            self.descend()
            inner = self.disjunction()
            self.depth -= 1
            self.expect(")")
            return inner, "group"
        if token.kind in ("number", "string") or (token.kind == "word" and token.text in _LITERALS):
            value = self.literal()
            return (lambda args: value), "literal"
        if token.kind == "word" and token.text not in _KEYWORDS:
            return self.path(), "path"
        self.fail("expected an argument, a value or '('")
        raise AssertionError  # fail() raised

    def literal(self) -> Any:
        token = self.take()
        if token.kind == "number":
            number = float(token.text)
            return int(number) if number.is_integer() and "." not in token.text else number
        if token.kind == "string":
            return re.sub(r"\\(.)", r"\1", token.text[1:-1])
        return _LITERALS[token.text]

    def path(self) -> _Node:
        names = [self.take().text]
        while self.at("."):
            self.take()
            if self.token.kind != "word" or self.token.text in _KEYWORDS:
                self.fail("expected a name after '.'")
            names.append(self.take().text)
        self.paths.append(".".join(names))

        def lookup(args: Mapping[str, Any]) -> Any:
            value: Any = args
            for name in names:
                if not isinstance(value, Mapping) or name not in value:
                    raise _Unevaluable(f"no argument {'.'.join(names)}")
                value = value[name]
            return value

        return lookup

    def items(self) -> list[Any]:
        self.expect("[")
        items: list[Any] = []
        while not self.at("]"):
            if items:
                self.expect(",")
            token = self.token
            if token.kind in ("number", "string") or (
                token.kind == "word" and token.text in _LITERALS
            ):
                items.append(self.literal())
            elif token.kind == "word" and token.text not in _KEYWORDS:
                items.append(self.take().text)
            else:
                self.fail("expected a value in the list")
        self.take()
        return items


@dataclass(frozen=True)
class Condition:
    """A parsed approval condition; ``text`` is how the file wrote it."""

    text: str
    paths: tuple[str, ...]
    """The arguments it reads, dotted."""
    _evaluate: _Node

    def check(self, arguments: Mapping[str, Any]) -> tuple[bool, str | None]:
        """Whether the condition is met, and why it could not be evaluated (met then)."""
        try:
            return bool(self._evaluate(arguments)), None
        except _Unevaluable as exc:
            return True, str(exc)


def parse_condition(text: str) -> Condition:
    """Parse ``text``; :class:`ConditionError` says where it goes wrong."""
    text = text.strip()
    if not text:
        raise ConditionError("the condition is empty")
    if len(text) > MAX_LENGTH:
        raise ConditionError(f"the condition is longer than {MAX_LENGTH} characters")
    parser = _Parser(text)
    node = parser.condition()
    return Condition(text=text, paths=tuple(dict.fromkeys(parser.paths)), _evaluate=node)


NEVER = "never"
ALWAYS = "always"


@dataclass(frozen=True)
class Approval:
    """When a tool's calls wait for a person: never, always, or when a condition is met."""

    condition: Condition | None = None
    always: bool = False

    @classmethod
    def parse(cls, value: str | bool) -> Approval:
        """``never``, ``always`` (YAML's true and false mean the same) or a condition."""
        if isinstance(value, bool):
            return cls(always=value)
        text = value.strip()
        if text == NEVER:
            return cls()
        if text == ALWAYS:
            return cls(always=True)
        return cls(condition=parse_condition(text))

    def reason(self, arguments: Mapping[str, Any]) -> str | None:
        """Why a call with ``arguments`` needs approval (``always`` or the condition's text,
        with what could not be evaluated); None: it does not."""
        if self.always:
            return ALWAYS
        if self.condition is None:
            return None
        met, problem = self.condition.check(arguments)
        if not met:
            return None
        if problem:
            return f"{self.condition.text} (could not be checked: {problem})"
        return self.condition.text

    def __str__(self) -> str:
        if self.always:
            return ALWAYS
        return self.condition.text if self.condition else NEVER
