"""COPY text written straight from ``.ckt`` field texts, for the applier's shadow rows.

The loader's fast reader (``ckt.FastDecoder``) matches a record against its columns'
fast forms. For such a record the PostgreSQL applier does not need Python values: each
field's COPY text can be written from the field's own text, which saves building the
values and having psycopg format them again (together about half the cost of staging a
row). :func:`renderers` gives one function per column, or None where the ``.ckt`` text
already is the COPY text PostgreSQL reads as the same value:

* integers, decimals, uuids: the fast forms are plain digits / the canonical uuid;
* booleans: ``1`` and ``0`` are boolean input;
* dates, times, timestamps: ISO texts, which PostgreSQL reads in any ``DateStyle``; the
  function only checks the date exists (``2021-02-30`` matches the fast form) and returns
  the text;
* floats: ``repr`` of the value, as psycopg writes it (``1e400`` is read as infinity
  here, but refused by PostgreSQL's ``float8in``);
* strings (and JSON): the base64 is decoded, checked to be UTF-8, and COPY-escaped;
* binaries: ``\\x`` and hex, with the backslash escaped.

The contract, tested in ``tests/unit/test_copy_text.py`` and by the ``copytext`` fuzz
target: a function raises ValueError exactly when the fast form's converter would (the
record then goes to the strict decoder, which decides), and otherwise returns the COPY
text of the value that converter returns, as psycopg's ``write_row`` would write it.
NULL (``\\N``) is the same text in ``.ckt`` and COPY and never reaches these functions.
"""
from __future__ import annotations

import math
import re
from binascii import a2b_base64
from typing import Callable

from targetsync_core.codec.values import fast_form
from targetsync_core.model.schema import Column
from targetsync_core.model.types import BINARY_KINDS, STRING_KINDS, Kind

Render = Callable[[str], str]

#: the characters COPY text must escape inside a field
_SPECIAL = re.compile(r"[\\\t\n\r]").search
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(s: str) -> str:
    text = a2b_base64(s).decode("utf-8")
    return text.translate(_ESCAPES) if _SPECIAL(text) else text


def _bytes(s: str) -> str:
    return "\\\\x" + a2b_base64(s).hex()


def _float(s: str) -> str:
    v = float(s)
    if math.isfinite(v):
        return repr(v)
    return "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"


def _checked(convert: Callable[[str], object]) -> Render:
    def render(s: str) -> str:
        convert(s)   # the fast form's own converter: ValueError for a date that does not exist
        return s
    return render


_RENDERERS: dict[Kind, Render] = {
    Kind.FLOAT32: _float, Kind.FLOAT64: _float,
    **{k: _text for k in STRING_KINDS}, **{k: _bytes for k in BINARY_KINDS},
}
_CHECKED = frozenset({Kind.DATE, Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ})


def renderer(col: Column) -> Render | None:
    """The function from a fast-form ``.ckt`` text of ``col`` to its COPY text, or None
    where the text is its own COPY text."""
    if col.kind in _CHECKED:
        return _checked(fast_form(col)[1])
    return _RENDERERS.get(col.kind)


def renderers(columns: tuple[Column, ...]) -> tuple[Render | None, ...]:
    return tuple(map(renderer, columns))
