"""The loader's fast record reader (``ckt.read_changes`` / ``FastDecoder``) against the
strict decoder: it takes the fast path for what encoders write, decodes exactly the same
values, and leaves every other text to the strict decoder, which accepts or refuses it.
(fuzz/targets.py's ``ckt`` target also compares the two on mutated files.)"""
from __future__ import annotations

import math

import pytest
from hypothesis import given, settings, strategies as st

from targetsync_core.codec.ckt import Change, TableCodec, read_changes, read_records
from targetsync_core.errors import CktFormatError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.unit.test_codec import STRATEGIES

KINDS = sorted(STRATEGIES, key=lambda k: k.value)
WIDE = Table("s", "wide", (Column("id", Kind.INT64, False),
                           *(Column(f"c_{k.value}", k) for k in KINDS),
                           Column("dec", Kind.DECIMAL, precision=12, scale=2),
                           Column("num", Kind.DECIMAL)), ("id",))
WIDE_CODEC = TableCodec(WIDE)
WIDE_VALUES = [STRATEGIES[k] for k in KINDS]


def strict_tuple(ch: Change) -> tuple:
    payload = (ch.row if ch.op == "I" else None if ch.op == "D"
               else (tuple(p for p, _ in ch.changed), tuple(v for _, v in ch.changed)))
    return ch.op, ch.table, ch.key, payload, None


def fast_decode(codec: TableCodec, line: str):
    op, name, *fields = line[:-2].split("\t")
    return codec.fast("\\" in line).decode(op, fields, line, len(op) + len(name) + 2, len(line) - 2)


def both(tmp_path, text: str, codecs: dict) -> tuple[str, str]:
    """repr of what each reader yields for the file ``text`` (or the refusal)."""
    path = tmp_path / "0.ckt"
    path.write_text(text, encoding="utf-8", newline="")

    def outcome(read):
        try:
            return repr(read())
        except CktFormatError as exc:
            return f"refused: {exc}"
    strict = outcome(lambda: [(n, *strict_tuple(ch)) for n, ch in read_records(str(path), codecs)])
    fast = outcome(lambda: list(read_changes(str(path), codecs)))
    return strict, fast


#: rows of WIDE, and sets of columns a U record changes
WIDE_ROWS = st.tuples(st.integers(-2**63, 2**63 - 1), *(st.none() | s for s in WIDE_VALUES),
                      st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=2,
                                              min_value=-10**9, max_value=10**9),
                      st.none() | st.decimals(allow_nan=False, allow_infinity=False, places=4,
                                              min_value=-10**9, max_value=10**9))
CHANGED = st.sets(st.integers(1, len(WIDE.columns) - 1), min_size=1)


def wide_lines(row: tuple, changed: set) -> list[str]:
    """The I, D and U (setting ``changed``) records of a WIDE row."""
    c = WIDE_CODEC
    return [c.encode(Change("I", c.name, (row[0],), row=row)), c.encode(Change("D", c.name, (row[0],))),
            c.encode(Change("U", c.name, (row[0],), changed=tuple((p, row[p]) for p in sorted(changed))))]


@settings(max_examples=300)
@given(row=WIDE_ROWS, changed=CHANGED)
def test_every_kind_decodes_as_strictly(row, changed):
    c = WIDE_CODEC
    for line in wide_lines(row, changed):
        op, name, *fields = line[:-2].split("\t")
        strict = strict_tuple(c.decode_fields(op, fields, ("f", 1)))
        got = fast_decode(c, line)
        if got is not None:
            assert repr((op, name, *got)) == repr(strict)


def test_what_encoders_write_takes_the_fast_path():
    """Ordinary values of every kind, with and without NULLs, never fall back."""
    import datetime as dt
    import uuid
    from decimal import Decimal
    ordinary = {Kind.BOOLEAN: True, Kind.INT16: -12, Kind.INT32: 70000, Kind.INT64: -2**40, Kind.UINT16: 65,
                Kind.UINT32: 4_000_000, Kind.UINT64: 2**50, Kind.FLOAT32: 0.5, Kind.FLOAT64: math.nan,
                Kind.TEXT: "ké\ty\n", Kind.VARCHAR: "", Kind.CHAR: "x", Kind.JSON: "{}", Kind.BLOB: b"\x00\xff",
                Kind.BINARY: b"ab", Kind.VARBINARY: b"", Kind.DATE: dt.date(2024, 2, 29),
                Kind.TIME: dt.time(23, 59, 59, 5), Kind.TIMESTAMP: dt.datetime(2020, 1, 1, 0, 0, 28),
                Kind.TIMESTAMPTZ: dt.datetime(2021, 5, 6, 7, 8, 9, 120000, tzinfo=dt.timezone.utc),
                Kind.UUID: uuid.UUID(int=7)}
    assert set(ordinary) == set(KINDS)
    row = (5, *(ordinary[k] for k in KINDS), Decimal("-3.10"), Decimal("2.5"))
    c = WIDE_CODEC
    for nulls in ((), (2, 9, len(row) - 1)):
        r = tuple(None if i in nulls else v for i, v in enumerate(row))
        for change in (Change("I", c.name, (5,), row=r), Change("D", c.name, (5,)),
                       Change("U", c.name, (5,), changed=((1, r[1]), (2, r[2]), (len(r) - 1, r[-1])))):
            line = c.encode(change)
            assert fast_decode(c, line) is not None, line
            op, name, *fields = line[:-2].split("\t")
            assert repr((op, name, *fast_decode(c, line))) == repr(strict_tuple(c.decode_fields(op, fields, ("f", 1))))


ONE = {k: Table("s", "one", (Column("id", Kind.INT32, False),
                             Column("v", k, precision=12 if k is Kind.DECIMAL else None,
                                    scale=2 if k is Kind.DECIMAL else None,
                                    length=3 if k is Kind.VARCHAR else None)), ("id",))
       for k in Kind}


#: (kind, text, how it is read): fast, strict, or refused
EDGES = [
    (Kind.INT16, "9999", "fast"), (Kind.INT16, "32767", "strict"), (Kind.INT16, "32768", "refused"),
    (Kind.INT16, "-32768", "strict"), (Kind.UINT16, "65535", "strict"), (Kind.UINT32, "-0", "strict"),
    (Kind.INT64, "-9223372036854775808", "strict"), (Kind.INT64, "9223372036854775808", "refused"),
    (Kind.UINT64, "18446744073709551615", "strict"), (Kind.INT32, "007", "refused"),
    (Kind.TIMESTAMP, "2021-02-30 00:00:00", "refused"), (Kind.TIMESTAMP, "2020-01-01 24:00:00", "refused"),
    (Kind.TIME, "23:59:60", "refused"), (Kind.TIME, "12:00:00.1234567", "refused"),
    (Kind.DATE, "0000-01-01", "refused"), (Kind.DATE, "20200101", "refused"),
    (Kind.TIMESTAMPTZ, "2020-01-01 00:00:00Z", "refused"),
    (Kind.DECIMAL, "1.50", "fast"), (Kind.DECIMAL, "1.5", "refused"), (Kind.DECIMAL, "1E+3", "refused"),
    (Kind.TEXT, "YQ", "refused"), (Kind.TEXT, "/w==", "refused"), (Kind.TEXT, "YQ==YQ==", "refused"),
    (Kind.BLOB, "/w==", "fast"), (Kind.FLOAT64, "1e400", "refused"), (Kind.FLOAT64, "inf", "refused"),
    (Kind.FLOAT64, "-0", "fast"), (Kind.FLOAT64, "1e300", "strict"), (Kind.FLOAT64, "5e-324", "strict"),
    (Kind.FLOAT64, "1.7976931348623157e+308", "strict"), (Kind.FLOAT32, "1e39", "refused"),
    (Kind.DECIMAL, "1234567890.00", "fast"), (Kind.DECIMAL, "12345678901.00", "refused"),
    (Kind.VARCHAR, "YWJj", "fast"), (Kind.BOOLEAN, "2", "refused"), (Kind.UUID, "0" * 32, "refused"),
    (Kind.TEXT, "\\N", "fast"), (Kind.VARCHAR, "YWJjZA==", "refused"),   # 4 characters in a varchar(3)
]


@pytest.mark.parametrize("kind,text,path", EDGES)
def test_edges_go_to_the_strict_decoder(tmp_path, kind, text, path):
    codec = TableCodec(ONE[kind])
    line = f"I\ts.one\t1\t{text}\t\n"
    strict, fast = both(tmp_path, line, {"s.one": codec})
    assert fast == strict
    assert strict.startswith("refused") == (path == "refused")
    assert (fast_decode(codec, line) is not None) == (path == "fast")


@pytest.mark.parametrize("line", [
    "D\ts.one\t\\N\t\n",                       # NULL key
    "U\ts.one\t1\t0\t5\t\n",                   # the key column as an offset
    "U\ts.one\t1\t01\tYQ==\t\n",               # an offset with a leading zero
    "U\ts.one\t1\t1\tYQ==\t1\tYQ==\t\n",       # an offset twice
    "U\ts.one\t1\t1\t\n",                      # an offset without its value
    "U\ts.one\t1\t\n",                         # no pairs
    "I\ts.one\t1\tYQ==\n",                     # no final TAB
    "I\ts.one\t1\tYQ==\tYQ==\t\n",             # a value too many
])
def test_malformed_records_are_refused_alike(tmp_path, line):
    codec = TableCodec(ONE[Kind.TEXT])
    strict, fast = both(tmp_path, "D\ts.one\t0\t\n" + line, {"s.one": codec})
    assert strict.startswith("refused") and "0.ckt:2" in strict
    assert fast == strict
