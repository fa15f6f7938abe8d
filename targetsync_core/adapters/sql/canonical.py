"""Canonical text lines: windows that databases of different engines render alike.

Two PostgreSQL databases compare a window as the COPY text each one writes (``WindowText``):
a line both hold is a row both hold, and only the rest is decoded. Across engines the same
works with the *canonical text* of a row, the text the canonical block format hashes
(``diff.blocks``: the columns in ``.skt`` order joined by ``,``, NULL as ``N``, strings as
``<length>:<characters>``, decimals with their scale's digits, doubles shortest-exact
without ``+`` in the exponent, ISO dates, timestamps with trailing fractional zeros cut).

A line (:data:`LINES`) is that text escaped as PostgreSQL's COPY writes a text field:
backslash, ``\\b \\f \\n \\r \\t \\v`` become two-character escapes. Lines come in any
order (the diff sorts the few rows it decodes).

A server hands a window over as one value: the rows' texts aggregated with a newline
between them (``string_agg``, ``GROUP_CONCAT``) and the row count. Fetching 10,000 rows a
window through a driver costs the reading process ~1 µs a row, and that process is the
bottleneck of a cross-engine diff; one value costs nothing. Where the value does not cut
into exactly ``count`` lines needing no escape (a string holds a newline, a tab, a
backslash; the server cut the aggregate short), :func:`joined` says so and the adapter
reads that window row by row: PostgreSQL's COPY escapes as it writes, and :func:`lines`
escapes the texts of other engines.

The rule that keeps this correct: :func:`parser` turns a line back into exactly the row the
database holds, the row ``read_window`` returns. Both sides' lines go through the same
parser, so equal lines are equal rows, and an engine offers lines only where its rendering
is exact (its doubles read back to the same double). Where two engines print one value
differently (PostgreSQL ``1e-05``, MariaDB ``0.00001``; ``1.5`` in a column of another
scale; ``-0`` where the other side keeps no sign) the lines differ, both are parsed and
the diff compares the values: slower for those rows, never wrong.
"""
from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Callable, Iterator

from targetsync_core.adapters.base import WindowText
from targetsync_core.adapters.coerce import row_converter, to_bool
from targetsync_core.errors import DataError
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind

#: the line format (see the module docstring)
LINES = "canonical-text-lines"
#: kinds rendered as ``<length>:<characters>``
STRING_KINDS = frozenset({Kind.VARCHAR, Kind.TEXT})

#: what COPY text escapes in a field, and how
_ESCAPES = {"\\": "\\\\", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\v": "\\v"}
_TRANSLATE = str.maketrans(_ESCAPES)
_NEEDS_ESCAPE = re.compile("[\\\\\b\f\r\t\v]").search
_ESCAPED_BYTES = tuple(c.encode() for c in _ESCAPES if c != "\n")
_ESCAPE = re.compile(rb"\\(.)", re.S)
_UNESCAPED = {b"b": b"\b", b"f": b"\f", b"n": b"\n", b"r": b"\r", b"t": b"\t", b"v": b"\v"}

#: canonical text → the canonical value, by kind (strings are taken as they are)
_PARSE: dict[Kind, Callable[[str], object]] = {
    **{k: int for k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32, Kind.UINT64)},
    Kind.BOOLEAN: lambda s: to_bool(int(s)),   # MySQL's TINYINT(1) may hold 2: true, as read_window has it
    Kind.DECIMAL: Decimal, Kind.FLOAT64: float,
    Kind.DATE: dt.date.fromisoformat, Kind.TIMESTAMP: dt.datetime.fromisoformat,
}


def unescape(text: bytes) -> bytes:
    """COPY text with its backslash escapes undone (any other escaped byte stands for itself)."""
    return _ESCAPE.sub(lambda m: _UNESCAPED.get(m.group(1), m.group(1)), text)


def lines(texts: list[str]) -> bytes:
    """Rows' canonical texts as ``\\n``-ended lines in the COPY escaping (see above)."""
    if not texts:
        return b""
    joined = "\n".join(texts)
    if _NEEDS_ESCAPE(joined) or joined.count("\n") != len(texts) - 1:
        joined = "\n".join(t.translate(_TRANSLATE) for t in texts)
    return (joined + "\n").encode("utf-8")


def joined(count: int, text) -> bytes | None:
    """The lines of a window aggregated by the server as ``text`` (rows' texts with a
    newline between them; bytes, or str) over ``count`` rows, or None when they must be
    read row by row: a text holds a newline or a character to escape, or the aggregate
    lost rows (a count of lines unlike ``count``)."""
    if not count:
        return b""
    if text is None:
        return None
    blob = (text.encode("utf-8") if isinstance(text, str) else bytes(text)) + b"\n"
    if blob.count(b"\n") != count or any(c in blob for c in _ESCAPED_BYTES):   # `in`: memchr, unlike re
        return None
    return blob


def parser(table: Table) -> Callable[[list[bytes]], Iterator[tuple]]:
    """The function turning lines of ``table`` (as :func:`lines` or PostgreSQL's COPY
    write them) into canonical rows, in the lines' order. It raises ValueError naming the
    table, and the column where a value does not read back (a zero date, a BC date)."""
    cols = table.columns
    strings = [c.kind in STRING_KINDS for c in cols]
    convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols], STRING_KINDS, _PARSE)

    def fields(text: str) -> list:
        parts = text.split(",")
        if len(parts) == len(strings) and not any(strings):
            return [None if p == "N" else p for p in parts]
        out, j = [], 0
        for is_string in strings:
            part = parts[j]
            j += 1
            if part == "N":
                out.append(None)
            elif not is_string:
                out.append(part)
            else:
                length, colon, value = part.partition(":")
                need = int(length)
                while len(value) < need and j < len(parts):   # the string held commas
                    value += "," + parts[j]
                    j += 1
                if not colon or len(value) != need:
                    raise ValueError("a string's length does not match")
                out.append(value)
        if j != len(parts):
            raise ValueError(f"{len(parts) - j} fields too many")
        return out

    def row(line: bytes) -> tuple:
        text = (unescape(line) if b"\\" in line else line).decode("utf-8")
        try:
            raw = tuple(fields(text))
        except (ValueError, IndexError) as exc:
            why = "too few fields" if isinstance(exc, IndexError) else str(exc)
            raise ValueError(f"table {table.qualified}: canonical text {text[:60]!r} is malformed ({why})") from None
        return raw if convert is None else convert(raw)

    def parse(chosen: list[bytes]) -> Iterator[tuple]:
        return map(row, chosen)
    return parse


def window_text(blob: bytes, table: Table, engine: str) -> WindowText:
    """``blob``'s lines of ``table`` with their parser, which refuses a value as a
    DataError naming the engine read, the table and the column."""
    parse = parser(table)

    def parse_checked(chosen: list[bytes]) -> Iterator[tuple]:
        try:
            yield from parse(chosen)
        except ValueError as exc:
            raise DataError(f"reading {engine} {exc}") from None
    return WindowText(blob, parse_checked)
