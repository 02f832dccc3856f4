"""Reading the model's structured reply while it is being written: pure, no I/O.

The reply is one JSON object that arrives in pieces cut anywhere: in a key, in a number, in
the middle of an escape such as ``\\u00e9`` or between the two halves of a surrogate pair.
:class:`ReplyReader` takes the pieces in order and tells, as early as the text allows, the
values of the object's top-level fields, and the text of one string field (``reply``) as
it grows, unescaped exactly as a JSON parser would.

It reads only what it must and gives up on anything it does not understand: a reader that
finds the text is not such an object stops (:attr:`ReplyReader.broken`) and reports
nothing more. The whole text is still parsed by the model adapter afterwards; that parse
is the one that counts.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

_WHITESPACE: Final = " \t\n\r"
_SCALAR_END: Final = re.compile(r"[\s,}]")
_STRING_STOP: Final = re.compile(r'["\\\x00-\x1f]')
_SIMPLE_ESCAPES: Final = {
    '"': '"',
    "\\": "\\",
    "/": "/",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
}
_HEX: Final = re.compile(r"[0-9A-Fa-f]{4}")
# The escape of a low surrogate, or as much of its start as a piece holds.
_LOW_SURROGATE: Final = re.compile(r"(\\(u([dD]([c-fC-F][0-9A-Fa-f]{0,2})?)?)?)?")

# Where the reader is in the object.
(_START, _KEY_OR_END, _NEXT_KEY, _KEY, _COLON, _VALUE, _STRING, _SCALAR, _NESTED, _AFTER, _DONE) = (
    range(11)
)


class ReplyReader:
    """Reads a JSON object piece by piece; :meth:`feed` returns the new text of the string
    field ``streamed`` (``reply``), and :attr:`fields` holds every top-level field whose
    value is complete."""

    def __init__(self, streamed: str = "reply") -> None:
        self.streamed = streamed
        self.fields: dict[str, Any] = {}
        """Top-level fields whose value has been read whole, in the order they came."""
        self.started = False
        """Whether the value of ``streamed`` has begun (every field before it is in)."""
        self.broken = False
        """The text is not an object this reader understands; it reports nothing more."""
        self._state = _START
        self._pending = ""  # what the last piece left unread (an escape cut in two)
        self._key = ""
        self._value: list[str] = []  # the current value: a string's text, or raw JSON
        self._depth = 0  # nesting of an object or array value being skipped
        self._in_nested_string = False

    @property
    def done(self) -> bool:
        """Whether the object has been read to its closing brace."""
        return self._state == _DONE

    def feed(self, piece: str) -> str:
        """Take the next piece of the text; returns what it adds to ``streamed``'s value."""
        if self.broken:
            return ""
        text, self._pending = self._pending + piece, ""
        out: list[str] = []
        try:
            self._read(text, out)
        except ValueError:
            self.broken = True
            return ""
        return "".join(out)

    def _read(self, text: str, out: list[str]) -> None:
        at, end = 0, len(text)
        while at < end:
            state = self._state
            if state in (_START, _KEY_OR_END, _NEXT_KEY, _COLON, _VALUE, _AFTER, _DONE):
                while at < end and text[at] in _WHITESPACE:
                    at += 1
                if at == end:
                    return
                at = self._punctuation(text, at)
            elif state in (_KEY, _STRING):
                at = self._string(text, at, out if self._streaming() else None)
            elif state == _SCALAR:
                found = _SCALAR_END.search(text, at)
                stop = found.start() if found else end
                self._value.append(text[at:stop])
                at = stop
                if found:
                    self._field(json.loads("".join(self._value)))
            else:
                at = self._nested(text, at)

    def _streaming(self) -> bool:
        return self._state == _STRING and self._key == self.streamed

    def _punctuation(self, text: str, at: int) -> int:
        char, state = text[at], self._state
        if state == _START and char == "{":
            self._state = _KEY_OR_END
        elif state in (_KEY_OR_END, _NEXT_KEY) and char == '"':
            self._state, self._value = _KEY, []
        elif state == _KEY_OR_END and char == "}":
            self._state = _DONE
        elif state == _COLON and char == ":":
            self._state = _VALUE
        elif state == _VALUE:
            self._value = []
            if char == '"':
                self._state = _STRING
                if self._key == self.streamed:
                    if self.started:
                        raise ValueError(f"{self.streamed!r} twice")
                    self.started = True
            elif char in "{[":
                self._state, self._depth, self._in_nested_string = _NESTED, 0, False
                return at  # the nested reader counts this bracket
            else:
                self._state = _SCALAR
                return at
        elif state == _AFTER and char == ",":
            self._state = _NEXT_KEY
        elif state == _AFTER and char == "}":
            self._state = _DONE
        else:
            raise ValueError(f"unexpected {char!r}")
        return at + 1

    def _string(self, text: str, at: int, out: list[str] | None) -> int:
        """Read a string's text up to its closing quote, or as far as the piece goes."""
        while at < len(text):
            found = _STRING_STOP.search(text, at)
            stop = found.start() if found else len(text)
            if stop > at:
                self._take(text[at:stop], out)
            if found is None:
                return len(text)
            char = text[stop]
            if char == '"':
                self._end_string()
                return stop + 1
            if char != "\\":
                raise ValueError("a control character in a string")
            decoded, length = _escape(text, stop)
            if length == 0:
                self._pending = text[stop:]  # the rest of the escape is in the next piece
                return len(text)
            self._take(decoded, out)
            at = stop + length
        return at

    def _take(self, text: str, out: list[str] | None) -> None:
        if out is not None:
            out.append(text)
        else:
            self._value.append(text)

    def _end_string(self) -> None:
        value = "".join(self._value)
        if self._state == _KEY:
            self._key, self._state = value, _COLON
        elif self._key == self.streamed:
            self._key, self._state = "", _AFTER  # streamed: not kept
        else:
            self._field(value)

    def _field(self, value: Any) -> None:
        self.fields[self._key] = value
        self._key, self._value, self._state = "", [], _AFTER

    def _nested(self, text: str, at: int) -> int:
        """Skip an object or array value, keeping its raw text, to its closing bracket."""
        start = at
        while at < len(text):
            char = text[at]
            if self._in_nested_string:
                if char == "\\":
                    if at + 1 == len(text):
                        self._value.append(text[start:at])
                        self._pending = text[at:]
                        return len(text)
                    at += 2
                    continue
                if char == '"':
                    self._in_nested_string = False
            elif char == '"':
                self._in_nested_string = True
            elif char in "{[":
                self._depth += 1
            elif char in "}]":
                self._depth -= 1
                if self._depth == 0:
                    self._value.append(text[start : at + 1])
                    self._field(json.loads("".join(self._value)))
                    return at + 1
            at += 1
        self._value.append(text[start:])
        return at


def _escape(text: str, at: int) -> tuple[str, int]:
    """The character(s) of the escape at ``text[at]`` (a backslash) and its length; length 0
    when the escape is cut off by the end of ``text``. ValueError when it is invalid, as a
    lone surrogate is to the parser that reads the whole reply."""
    if at + 1 >= len(text):
        return "", 0
    kind = text[at + 1]
    if kind in _SIMPLE_ESCAPES:
        return _SIMPLE_ESCAPES[kind], 2
    if kind != "u":
        raise ValueError(f"invalid escape \\{kind}")
    if at + 6 > len(text):
        return "", 0
    if not _HEX.fullmatch(text, at + 2, at + 6):
        raise ValueError("invalid \\u escape")
    code = int(text[at + 2 : at + 6], 16)
    if 0xDC00 <= code <= 0xDFFF:
        raise ValueError("a lone low surrogate")
    if not 0xD800 <= code <= 0xDBFF:
        return chr(code), 6
    # A high surrogate must be followed by the escape of a low one: one character together.
    rest = text[at + 6 : at + 12]
    if not _LOW_SURROGATE.fullmatch(rest):
        raise ValueError("a lone high surrogate")
    if len(rest) < 6:
        return "", 0
    low = int(rest[2:], 16)
    return chr(0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00)), 12
