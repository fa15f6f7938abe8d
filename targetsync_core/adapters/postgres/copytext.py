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
from typing import Callable

from targetsync_core.codec.values import fast_form
from targetsync_core.model.schema import Column
from targetsync_core.model.types import BINARY_KINDS, STRING_KINDS, Kind

Render = Callable[[str], str]

#: the characters COPY text must escape inside a field
_SPECIAL = re.compile(r"[\\\t\n\r]").search
_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def _text(convert: Callable[[str], str]) -> Render:
    def render(s: str) -> str:
        text = convert(s)   # base64 → checked UTF-8 text (its length, a JSON document)
        return text.translate(_ESCAPES) if _SPECIAL(text) else text
    return render


def _bytes(convert: Callable[[str], bytes]) -> Render:
    return lambda s: "\\\\x" + convert(s).hex()


def _float(convert: Callable[[str], float]) -> Render:
    def render(s: str) -> str:
        v = convert(s)   # refuses 1e400 (not a float's text) and a float32 beyond its range
        if math.isfinite(v):
            return repr(v)
        return "NaN" if v != v else "Infinity" if v > 0 else "-Infinity"
    return render


def _checked(convert: Callable[[str], object]) -> Render:
    def render(s: str) -> str:
        convert(s)   # the fast form's own converter: ValueError for a date that does not exist
        return s
    return render


_RENDERERS: dict[Kind, Callable] = {
    Kind.FLOAT32: _float, Kind.FLOAT64: _float,
    **{k: _text for k in STRING_KINDS}, **{k: _bytes for k in BINARY_KINDS},
    **{k: _checked for k in (Kind.DATE, Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ)},
}


def renderer(col: Column) -> Render | None:
    """The function from a fast-form ``.ckt`` text of ``col`` to its COPY text, or None
    where the text is its own COPY text. Each wraps the fast form's converter, so it
    refuses exactly what that refuses (a date that does not exist, a string longer than
    the column)."""
    make = _RENDERERS.get(col.kind)
    return None if make is None else make(fast_form(col)[1])


def renderers(columns: tuple[Column, ...]) -> tuple[Render | None, ...]:
    return tuple(map(renderer, columns))
