"""Value equality by canonical kind (SPEC 6).

* decimals compare by value (``Decimal('1.5') == Decimal('1.50')``);
* timestamps and times at the lower fractional precision of the two sides (truncated or
  rounded: databases differ in which they do);
* CHAR ignores trailing-space padding;
* floats by IEEE equality, except that NaN equals NaN (so -0.0 equals 0.0: a database
  that stores either is in sync), unless a tolerance is configured;
* JSON semantically (same parsed document, key order ignored);
* everything else by ``==`` on the canonical Python value.
"""
from __future__ import annotations

import datetime as dt
import json
import math
from typing import Callable

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import FLOAT_KINDS, Kind

Equal = Callable[[object, object], bool]


def _float_equal(tolerance: float) -> Equal:
    def eq(a, b) -> bool:
        if a == b:
            return True
        if a is None or b is None:
            return False
        if math.isnan(a) and math.isnan(b):
            return True
        return tolerance > 0 and math.isclose(a, b, rel_tol=tolerance, abs_tol=tolerance)
    return eq


def _char_equal(a, b) -> bool:
    if a is None or b is None:
        return a is b
    return a.rstrip(" ") == b.rstrip(" ")


def _json_equal(a, b) -> bool:
    if a == b:
        return True
    if a is None or b is None:
        return False
    try:
        return json.loads(a) == json.loads(b)
    except ValueError:
        return False


def _reduced(v, step: int, rounding: bool):
    """``v`` cut to a coarser fraction: truncated, or rounded half up (None on overflow)."""
    micro = v.microsecond // step * step
    base = v.replace(microsecond=micro)
    if not rounding or v.microsecond - micro < step // 2 or step == 1:
        return base
    try:
        if isinstance(v, dt.time):
            return (dt.datetime.combine(dt.date(2000, 1, 1), base) + dt.timedelta(microseconds=step)).time()
        return base + dt.timedelta(microseconds=step)
    except OverflowError:
        return None


def _lower_precision_equal(precision: int) -> Equal:
    """Equal at ``precision`` fractional digits. PostgreSQL (and MySQL 8) round a value to
    a column's precision while MariaDB truncates it, so both readings count as equal."""
    step = 10 ** (6 - precision)

    def eq(a, b) -> bool:
        if a == b:
            return True
        if a is None or b is None:
            return False
        if _reduced(a, step, False) == _reduced(b, step, False):
            return True
        ra = _reduced(a, step, True)
        return ra is not None and ra == _reduced(b, step, True)
    return eq


def _plain_equal(a, b) -> bool:
    return a == b


def column_equal(source: Column, target: Column, float_tolerance: float = 0.0) -> Equal:
    """The equality used to decide whether ``source``'s value differs from ``target``'s."""
    kind = source.kind
    if kind in FLOAT_KINDS:
        return _float_equal(float_tolerance)
    if kind is Kind.CHAR:
        return _char_equal
    if kind is Kind.JSON:
        return _json_equal
    if kind in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        precs = [p for p in (source.precision, target.precision) if p is not None]
        if precs and min(precs) < 6:
            return _lower_precision_equal(min(precs))
    return _plain_equal


class RowComparer:
    """Finds the changed columns between a source row and a target row of one table."""

    def __init__(self, source: Table, target: Table | None = None, float_tolerance: float = 0.0):
        target = target or source
        self.equals = [column_equal(s, t, float_tolerance) for s, t in zip(source.columns, target.columns)]
        keys = set(source.key_positions)
        self.value_positions = [i for i in range(len(source.columns)) if i not in keys]

    def changed(self, src: tuple, tgt: tuple) -> list[tuple[int, object]]:
        """(offset, source value) for every non-key column that differs; empty if equal."""
        if src == tgt:  # fast path; plain == is never stricter than the per-kind rules
            return []
        eqs = self.equals
        return [(i, src[i]) for i in self.value_positions if not eqs[i](src[i], tgt[i])]
