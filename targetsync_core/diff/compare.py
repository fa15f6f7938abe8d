"""Value equality by canonical kind (SPEC 6): values compare **as the target holds them**.

A target value equals a source value exactly when it is the value the target stores for
that source value. A target that fits what it is given to its column (every server: it
rounds a decimal to the column's scale, a double to a ``real``, a timestamp to the
column's fractional digits; it pads a ``BINARY(n)``) is compared with the source value
fitted the same way, so a narrower target never churns and a wider one never keeps digits
the source lacks. Where engines differ in how they fit (MariaDB truncates fractional
seconds and PostgreSQL rounds them; decimals are rounded, or truncated on some servers),
a target value that either would produce counts as equal, and nothing else does. A target
that keeps every value as it is given (SQLite: :attr:`Capabilities.fits_values` false) is
compared with the source value itself.

Besides fitting:

* decimals compare by value (``Decimal('1.5') == Decimal('1.50')``);
* CHAR on either side ignores trailing-space padding;
* floats by IEEE equality, except that NaN equals NaN (so -0.0 equals 0.0: a database
  that stores either is in sync), unless a tolerance is configured;
* JSON semantically (same parsed document, key order ignored);
* a timestamp with time zone and one without compare as the same instant in UTC (every
  session of targetsync runs in UTC, so a naive timestamp is written and read as UTC);
* everything else by ``==`` on the canonical Python value;
* on a target that stores an empty string or byte string as NULL (Oracle), a source
  ``''`` equals the NULL it became.
"""
from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import struct
from typing import Callable

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import BINARY_KINDS, FLOAT_KINDS, STRING_KINDS, Kind

Equal = Callable[[object, object], bool]
UTC = dt.timezone.utc
_F32 = struct.Struct("f")
_WIDE = decimal.Context(prec=200)   # quantizing a 65-digit decimal needs more than the default 28


def as_float32(v: float) -> float:
    """The float32 a ``real`` / ``FLOAT`` column stores for ``v`` (infinite when ``v``
    is beyond float32's range, as the servers refuse or saturate it)."""
    if not math.isfinite(v):
        return v
    try:
        return _F32.unpack(_F32.pack(v))[0]
    except OverflowError:
        return math.copysign(math.inf, v)


def _float_equal(tolerance: float, narrow: bool) -> Equal:
    fit = as_float32 if narrow else (lambda v: v)

    def eq(a, b) -> bool:
        if a is None or b is None:
            return a is b
        a = fit(a)
        if a == b or (math.isnan(a) and math.isnan(b)):
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


def _decimal_at(scale: int) -> Equal:
    """Equal once the source value is fitted to ``scale`` digits: rounded half away from
    zero (PostgreSQL, MySQL) or truncated."""
    quantum = decimal.Decimal(1).scaleb(-scale)

    def eq(a, b) -> bool:
        if a is None or b is None:
            return a is b
        if a == b:
            return True
        if not a.is_finite() or a.as_tuple().exponent >= -scale:
            return False   # the source value fits the column as it is: only itself is equal
        return b in (a.quantize(quantum, decimal.ROUND_HALF_UP, _WIDE), a.quantize(quantum, decimal.ROUND_DOWN, _WIDE))
    return eq


def _fitted(v, step: int) -> tuple:
    """The values a column of ``step`` µs resolution may hold for ``v``: ``v`` cut down
    to it, and, from half a step on, ``v`` rounded up (an engine rounding half away from
    its own epoch may round an exact half either way); none past the end of time."""
    micro = v.microsecond // step * step
    down = v.replace(microsecond=micro)
    if (v.microsecond - micro) * 2 < step:
        return (down,)
    try:
        if isinstance(v, dt.time):
            return down, (dt.datetime.combine(dt.date(2000, 1, 1), down) + dt.timedelta(microseconds=step)).time()
        return down, down + dt.timedelta(microseconds=step)
    except OverflowError:
        return (down,)


def _temporal_equal(shift: Callable | None, precision: int | None) -> Equal:
    """Equal as the target holds it: ``shift`` moves a source value into the target's
    kind (aware ↔ naive UTC), then it is fitted to ``precision`` fractional digits."""
    step = 10 ** (6 - precision) if precision is not None and precision < 6 else 1

    def eq(a, b) -> bool:
        if a is None or b is None:
            return a is b
        if shift is not None:
            a = shift(a)
        if a == b:
            return True
        return step > 1 and a.microsecond % step != 0 and b in _fitted(a, step)
    return eq


def _padded_binary(length: int) -> Equal:
    """A ``BINARY(n)`` column pads what it is given with zero bytes to ``n``."""
    def eq(a, b) -> bool:
        if a is None or b is None:
            return a is b
        return a == b or (len(a) < length and a.ljust(length, b"\0") == b)
    return eq


def _plain_equal(a, b) -> bool:
    return a == b


def _to_naive(v: dt.datetime) -> dt.datetime:
    return v.astimezone(UTC).replace(tzinfo=None)


def _to_aware(v: dt.datetime) -> dt.datetime:
    return v.replace(tzinfo=UTC)


_SHIFTS = {(Kind.TIMESTAMPTZ, Kind.TIMESTAMP): _to_naive, (Kind.TIMESTAMP, Kind.TIMESTAMPTZ): _to_aware}


def _empty_as_null(eq: Equal) -> Equal:
    """A source ``''`` is held as NULL, and as nothing else (not as a CHAR of spaces)."""
    def equal(a, b) -> bool:
        if a is not None and len(a) == 0:
            return b is None
        return eq(a, b)
    return equal


def column_equal(source: Column, target: Column, float_tolerance: float = 0.0, fits: bool = True,
                 empty_is_null: bool = False) -> Equal:
    """The equality deciding whether a ``source`` value differs from the value a
    ``target`` column holds (values as each side's kind reads them). ``fits``: the target
    fits values to its column (see the module docstring); without it the target column
    holds exactly what it was given, and ``target`` is read in the source's kinds.
    ``empty_is_null``: the target stores an empty string or bytes as NULL."""
    eq = _column_equal(source, target, float_tolerance, fits)
    if empty_is_null and (source.kind in STRING_KINDS or source.kind in BINARY_KINDS):
        return _empty_as_null(eq)
    return eq


def _column_equal(source: Column, target: Column, float_tolerance: float, fits: bool) -> Equal:
    kind, tkind = source.kind, target.kind
    if kind in FLOAT_KINDS:
        return _float_equal(float_tolerance, fits and kind is Kind.FLOAT64 and tkind is Kind.FLOAT32)
    if Kind.CHAR in (kind, tkind):
        return _char_equal
    if kind is Kind.JSON:
        return _json_equal
    if kind is Kind.DECIMAL and fits and tkind is Kind.DECIMAL and target.scale is not None:
        return _decimal_at(target.scale)
    if kind in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return _temporal_equal(_SHIFTS.get((kind, tkind)), target.precision if fits else None)
    if fits and tkind is Kind.BINARY and target.length:
        return _padded_binary(target.length)
    return _plain_equal


class RowComparer:
    """Finds the changed columns between a source row and a target row of one table.

    ``target`` describes the target row as it is read (its live kinds and parameters
    where they differ from the source's); ``fits`` and ``empty_is_null`` as for
    :func:`column_equal`."""

    def __init__(self, source: Table, target: Table | None = None, float_tolerance: float = 0.0,
                 fits: bool = True, empty_is_null: bool = False):
        target = target or source
        self.equals = [column_equal(s, t, float_tolerance, fits, empty_is_null)
                       for s, t in zip(source.columns, target.columns)]
        keys = set(source.key_positions)
        self.value_positions = [i for i in range(len(source.columns)) if i not in keys]

    def changed(self, src: tuple, tgt: tuple) -> list[tuple[int, object]]:
        """(offset, source value) for every non-key column that differs; empty if equal."""
        if src == tgt:  # fast path: a target value equal to the source's is the one it stores
            return []
        eqs = self.equals
        return [(i, src[i]) for i in self.value_positions if not eqs[i](src[i], tgt[i])]
