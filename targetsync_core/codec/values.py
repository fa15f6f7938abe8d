"""Value encoding for ``.ckt`` fields (SPEC 3.2): one encoder and one decoder per kind.

``encoder(column)`` and ``decoder(column)`` return plain functions so the hot path does a
single call per value. Decoders are strict: anything but the exact text an encoder could
have produced raises ``ValueError`` with the reason; the record codec adds file, line
and field. NULL (``\\N``) is handled by the record codec, never here.
"""
from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
import uuid
from functools import partial
from decimal import Context, Decimal
from typing import Any, Callable

from targetsync_core.model.schema import Column
from targetsync_core.model.types import BINARY_KINDS, INTEGER_RANGES, STRING_KINDS, Kind

NULL = "\\N"
UTC = dt.timezone.utc
# Wide enough for any 38-digit (or 76-digit) decimal at any scale without rounding.
_DECIMAL_CONTEXT = Context(prec=200)

Encoder = Callable[[Any], str]
Decoder = Callable[[str], Any]

_INT_RE = re.compile(r"-?(0|[1-9][0-9]*)\Z")
_DECIMAL_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?\Z")
_FLOAT_RE = re.compile(r"-?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][-+]?[0-9]+)?\Z")
_DATE_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})\Z")
_TIME = r"([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,6}))?"
_TIME_RE = re.compile(_TIME + r"\Z")
_TIMESTAMP_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) " + _TIME + r"\Z")
_TIMESTAMPTZ_RE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2}) " + _TIME + r"\+00:00\Z")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")
_B64_RE = re.compile(r"[A-Za-z0-9+/]*={0,2}\Z")

_FLOAT_SPECIAL = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}


# ---- encoders -------------------------------------------------------------------------

def _enc_bool(v) -> str:
    return "1" if v else "0"


def _enc_int(v) -> str:
    return str(int(v))


def _enc_float(v) -> str:
    v = float(v)
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "Infinity" if v > 0 else "-Infinity"
    return repr(v)  # shortest text that round-trips (Python's repr guarantees it)


def _decimal_encoder(scale: int | None) -> Encoder:
    quantum = Decimal(1).scaleb(-scale) if scale is not None else None

    def enc(v) -> str:
        d = v if isinstance(v, Decimal) else Decimal(str(v))
        if not d.is_finite():
            raise ValueError(f"decimal {d} has no plain text form")
        if quantum is not None:
            q = d.quantize(quantum, context=_DECIMAL_CONTEXT)
            if q != d:   # a source that keeps what it is given (SQLite) may hold more digits
                raise ValueError(f"decimal {d} has more than the column's {scale} digit(s) after the point")
            d = q
        return format(d, "f")
    return enc


def _enc_text(v) -> str:
    return base64.b64encode(v.encode("utf-8")).decode("ascii")


def _enc_bytes(v) -> str:
    return base64.b64encode(bytes(v)).decode("ascii")


def _fraction_check(precision: int | None, enc: Encoder) -> Encoder:
    """``enc``, refusing a value with more fractional digits than the column's
    ``precision`` (a source that keeps what it is given, SQLite, may hold them)."""
    if precision is None or precision >= 6:
        return enc
    step = 10 ** (6 - precision)

    def checked(v) -> str:
        if v.microsecond % step:
            raise ValueError(f"{v.isoformat()} has more than the column's {precision} fractional digit(s)")
        return enc(v)
    return checked


def _enc_date(v) -> str:
    return v.isoformat()


def _enc_time(v) -> str:
    return v.replace(tzinfo=None).isoformat()


def _enc_timestamp(v) -> str:
    return v.isoformat(sep=" ")


def _enc_timestamptz(v) -> str:
    if v.tzinfo is None:
        raise ValueError("timestamp with time zone has no time zone")
    return v.astimezone(UTC).isoformat(sep=" ")


def _enc_uuid(v) -> str:
    return str(v if isinstance(v, uuid.UUID) else uuid.UUID(str(v)))


# ---- decoders -------------------------------------------------------------------------

def _int_decoder(kind: Kind) -> Decoder:
    lo, hi = INTEGER_RANGES[kind]

    def dec(s: str) -> int:
        if not _INT_RE.match(s):
            raise ValueError(f"not a {kind.value} integer: {s[:40]!r}")
        v = int(s)
        if not lo <= v <= hi:
            raise ValueError(f"{s} is out of range for {kind.value}")
        return v
    return dec


def _dec_bool(s: str) -> bool:
    if s == "1":
        return True
    if s == "0":
        return False
    raise ValueError(f"not a boolean (1 or 0): {s[:40]!r}")


def _decimal_decoder(scale: int | None, precision: int | None = None) -> Decoder:
    whole = precision - (scale or 0) if precision is not None else None

    def dec(s: str) -> Decimal:
        if not _DECIMAL_RE.match(s):
            raise ValueError(f"not a plain decimal: {s[:40]!r}")
        int_part, _, frac = s.lstrip("-").partition(".")
        if scale is not None and len(frac) != scale:
            raise ValueError(f"decimal {s[:40]} does not have scale {scale}")
        if whole is not None and len(int_part.lstrip("0")) > whole:
            raise ValueError(f"decimal {s[:40]} has more than the column's {whole} digit(s) before the point "
                             f"(decimal({precision},{scale or 0}))")
        return Decimal(s)
    return dec


def _at_most(length: int | None, unit: str, dec: Decoder) -> Decoder:
    """``dec``, refusing a value longer than the column's ``length`` (characters or bytes)."""
    if length is None:
        return dec

    def checked(s: str):
        v = dec(s)
        if len(v) > length:
            raise ValueError(f"{len(v)} {unit}, more than the column's {length}")
        return v
    return checked


def _json_checked(dec: Decoder) -> Decoder:
    def checked(s: str) -> str:
        v = dec(s)
        try:
            json.loads(v)
        except (ValueError, RecursionError):
            raise ValueError(f"not a JSON document: {v[:40]!r}") from None
        return v
    return checked


_F32_MAX = 3.4028234663852886e38


def _float_checked(v: float, s: str, single: bool) -> float:
    """A float read from finite text must stay finite (``1e999`` is no value), and a
    float32's must fit a float32."""
    if math.isinf(v) and s not in ("Infinity", "-Infinity"):
        raise ValueError(f"{s[:40]} is beyond a {'float32' if single else 'double'}")
    if single and math.isfinite(v) and abs(v) > _F32_MAX:
        raise ValueError(f"{s[:40]} is beyond a float32")
    return v


def _float_decoder(single: bool) -> Decoder:
    def dec(s: str) -> float:
        special = _FLOAT_SPECIAL.get(s)
        if special is not None:
            return special
        if not _FLOAT_RE.match(s):
            raise ValueError(f"not a float: {s[:40]!r}")
        return _float_checked(float(s), s, single)
    return dec


def _b64(s: str) -> bytes:
    if len(s) % 4 or not _B64_RE.match(s):
        raise ValueError("not padded standard base64")
    try:
        return base64.b64decode(s, validate=True)
    except binascii.Error as exc:
        raise ValueError(f"not base64: {exc}") from None


def _dec_text(s: str) -> str:
    try:
        return _b64(s).decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("base64 does not hold UTF-8 text") from None


def _micro(frac: str | None) -> int:
    return int(frac.ljust(6, "0")) if frac else 0


def _dec_date(s: str) -> dt.date:
    m = _DATE_RE.match(s)
    if not m:
        raise ValueError(f"not a date YYYY-MM-DD: {s[:40]!r}")
    return dt.date(*map(int, m.groups()))


def _dec_time(s: str) -> dt.time:
    m = _TIME_RE.match(s)
    if not m:
        raise ValueError(f"not a time HH:MM:SS[.ffffff]: {s[:40]!r}")
    h, mi, sec, frac = m.groups()
    return dt.time(int(h), int(mi), int(sec), _micro(frac))


def _timestamp_parts(m) -> dt.datetime:
    y, mo, d, h, mi, sec, frac = m.groups()
    return dt.datetime(int(y), int(mo), int(d), int(h), int(mi), int(sec), _micro(frac))


def _dec_timestamp(s: str) -> dt.datetime:
    m = _TIMESTAMP_RE.match(s)
    if not m:
        raise ValueError(f"not a timestamp YYYY-MM-DD HH:MM:SS[.ffffff]: {s[:40]!r}")
    return _timestamp_parts(m)


def _dec_timestamptz(s: str) -> dt.datetime:
    m = _TIMESTAMPTZ_RE.match(s)
    if not m:
        raise ValueError(f"not a UTC timestamp ending +00:00: {s[:40]!r}")
    return _timestamp_parts(m).replace(tzinfo=UTC)


def _dec_uuid(s: str) -> uuid.UUID:
    if not _UUID_RE.match(s):
        raise ValueError(f"not a lowercase canonical uuid: {s[:40]!r}")
    return uuid.UUID(s)


# ---- tables of the two -----------------------------------------------------------------

_ENCODERS: dict[Kind, Encoder] = {
    Kind.BOOLEAN: _enc_bool, Kind.FLOAT32: _enc_float, Kind.FLOAT64: _enc_float,
    Kind.DATE: _enc_date, Kind.TIME: _enc_time, Kind.TIMESTAMP: _enc_timestamp,
    Kind.TIMESTAMPTZ: _enc_timestamptz, Kind.UUID: _enc_uuid,
    **{k: _enc_int for k in INTEGER_RANGES}, **{k: _enc_text for k in STRING_KINDS},
    **{k: _enc_bytes for k in BINARY_KINDS},
}

_DECODERS: dict[Kind, Decoder] = {
    Kind.BOOLEAN: _dec_bool, Kind.FLOAT32: _float_decoder(True), Kind.FLOAT64: _float_decoder(False),
    Kind.DATE: _dec_date, Kind.TIME: _dec_time, Kind.TIMESTAMP: _dec_timestamp,
    Kind.TIMESTAMPTZ: _dec_timestamptz, Kind.UUID: _dec_uuid,
    **{k: _dec_text for k in STRING_KINDS}, **{k: _b64 for k in BINARY_KINDS},
}


def encoder(col: Column) -> Encoder:
    """The function that turns a non-NULL canonical value of ``col`` into its field text."""
    if col.kind is Kind.DECIMAL:
        return _decimal_encoder(col.scale)
    if col.kind in (Kind.TIME, Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        return _fraction_check(col.precision, _ENCODERS[col.kind])
    if col.kind is Kind.JSON:
        return _json_encoder
    if col.length is not None and col.kind in (Kind.CHAR, Kind.VARCHAR, Kind.BINARY, Kind.VARBINARY):
        return _length_check(col, _ENCODERS[col.kind])
    return _ENCODERS[col.kind]


def _length_check(col: Column, enc: Encoder) -> Encoder:
    """``enc``, refusing a value longer than the column (a SQLite source keeps any)."""
    unit = "bytes" if col.kind in BINARY_KINDS else "characters"

    def checked(v) -> str:
        if len(v) > col.length:
            raise ValueError(f"{len(v)} {unit}, more than the column's {col.length}")
        return enc(v)
    return checked


def _json_encoder(v) -> str:
    """A JSON column's text, which must be a JSON document (a SQLite source may hold any
    text in one): the loader refuses anything else, so the emitter does first."""
    try:
        json.loads(v)
    except (ValueError, RecursionError):
        raise ValueError(f"not a JSON document: {v[:40]!r}") from None
    return _enc_text(v)


def decoder(col: Column) -> Decoder:
    """The strict inverse of :func:`encoder`; raises ValueError on any other text, and on
    a value the column cannot hold: more digits than its precision, more characters or
    bytes than its length, a JSON column's text that is no JSON, a finite text beyond a
    float's range."""
    if col.kind is Kind.DECIMAL:
        return _decimal_decoder(col.scale, col.precision)
    if col.kind in INTEGER_RANGES:
        return _int_decoder(col.kind)
    return _limited(col, _DECODERS[col.kind])


def _limited(col: Column, dec: Decoder) -> Decoder:
    """``dec`` with the checks of ``col``'s length (CHAR/VARCHAR, BINARY/VARBINARY) and JSON."""
    if col.kind is Kind.JSON:
        return _json_checked(dec)
    if col.kind in (Kind.CHAR, Kind.VARCHAR):
        return _at_most(col.length, "characters", dec)
    if col.kind in (Kind.BINARY, Kind.VARBINARY):
        return _at_most(col.length, "bytes", dec)
    return dec


# ---- fast forms ------------------------------------------------------------------------
#
# The loader's fast path (``ckt.FastDecoder``) checks a whole record against one regular
# expression and converts its fields with C functions, instead of one strict decoder call
# per field. A fast form is a pattern for a *subset* of the texts the strict decoder
# accepts, chosen so that the converter returns exactly what the strict decoder returns or
# raises ValueError (an impossible date): any text outside the subset, or any error, goes
# to the strict decoder, which decides and words the refusal. Integers are matched only
# up to lengths that cannot leave their range; hours stop at 23 and seconds at 59, since
# newer Pythons' ``fromisoformat`` reads more than ``datetime(...)`` accepts.

_F_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6})?"
_F_DATE = r"[0-9]{4}-[0-9]{2}-[0-9]{2}"
#: digits after the leading one that keep each integer kind in range
_F_INT_DIGITS = {Kind.INT16: 3, Kind.INT32: 8, Kind.INT64: 17, Kind.UINT16: 3, Kind.UINT32: 8, Kind.UINT64: 18}
_F_B64 = r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?"
_F_FLOAT = r"NaN|-?Infinity|-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?"
#: doubles that are surely finite (at most 20 digits before the point, a two-digit
#: exponent: below 1e120), so C's ``float`` converts them with no check; others, rare
#: (``1e300``, ``5e-324``), go to the strict decoder, which refuses ``1e999``
_F_DOUBLE = r"NaN|-?Infinity|-?(?:[0-9]{1,20}(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,2})?"


def _f_text(s: str) -> str:
    return binascii.a2b_base64(s).decode("utf-8")


def _f_bool(s: str) -> bool:
    return s == "1"


def _f_single(s: str) -> float:
    return _float_checked(float(s), s, True)


_F_FORMS: dict[Kind, tuple[str, Callable[[str], Any]]] = {
    Kind.BOOLEAN: ("[01]", _f_bool),
    Kind.FLOAT32: (_F_FLOAT, _f_single), Kind.FLOAT64: (_F_DOUBLE, float),
    Kind.DATE: (_F_DATE, dt.date.fromisoformat),
    Kind.TIME: (_F_TIME, dt.time.fromisoformat),
    Kind.TIMESTAMP: (_F_DATE + " " + _F_TIME, dt.datetime.fromisoformat),
    Kind.TIMESTAMPTZ: (_F_DATE + " " + _F_TIME + r"\+00:00", dt.datetime.fromisoformat),
    Kind.UUID: (r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", uuid.UUID),
    **{k: (_F_B64, _f_text) for k in STRING_KINDS},
    **{k: (_F_B64, binascii.a2b_base64) for k in BINARY_KINDS},
}


def _nullable(convert: Callable[[str], Any], s: str):
    return None if s == NULL else convert(s)


def fast_form(col: Column, allow_null: bool = False) -> tuple[str, Callable[[str], Any]]:
    """(pattern, converter) of ``col``'s fast form (see above); with ``allow_null`` and a
    nullable column, NULL too."""
    if col.kind is Kind.DECIMAL:
        scale = col.scale
        whole = r"[0-9]+"
        if col.precision is not None:   # digits the column holds before the point, no leading zero
            k = col.precision - (scale or 0)
            whole = "0" if k < 1 else rf"(?:0|[1-9][0-9]{{0,{k - 1}}})"
        pattern = (rf"-?{whole}(?:\.[0-9]+)?" if scale is None
                   else rf"-?{whole}" if scale == 0 else rf"-?{whole}\.[0-9]{{{scale}}}")
        form = (pattern, Decimal)
    elif col.kind in _F_INT_DIGITS:
        sign = "" if col.kind.value.startswith("u") else "-?"
        form = (rf"{sign}(?:0|[1-9][0-9]{{0,{_F_INT_DIGITS[col.kind]}}})", int)
    else:
        pattern, convert = _F_FORMS[col.kind]
        form = (pattern, _limited(col, convert))
    if allow_null and col.nullable:
        return rf"\\N|{form[0]}", partial(_nullable, form[1])
    return form


def encode_value(col: Column, value) -> str:
    return NULL if value is None else encoder(col)(value)


def decode_value(col: Column, text: str):
    return None if text == NULL else decoder(col)(text)
