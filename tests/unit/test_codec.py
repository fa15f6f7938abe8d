"""The .ckt codec: encode∘decode is the identity for every kind; decoders are strict."""
import datetime as dt
import json
import math
import uuid
from decimal import Decimal

import pytest
from hypothesis import given, settings, strategies as st

from targetsync_core.codec.ckt import Change, TableCodec, read_records, split_line
from targetsync_core.codec.values import decode_value, encode_value
from targetsync_core.errors import CktFormatError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import INTEGER_RANGES, Kind

UTC = dt.timezone.utc

STRATEGIES = {
    Kind.BOOLEAN: st.booleans(),
    **{k: st.integers(lo, hi) for k, (lo, hi) in INTEGER_RANGES.items()},
    Kind.FLOAT64: st.floats(allow_nan=True, allow_infinity=True),
    Kind.FLOAT32: st.floats(width=32),
    Kind.TEXT: st.text(), Kind.VARCHAR: st.text(), Kind.CHAR: st.text(),
    Kind.JSON: st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                            lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner), max_leaves=8)
    .map(lambda doc: json.dumps(doc, ensure_ascii=False)),
    Kind.BLOB: st.binary(), Kind.BINARY: st.binary(), Kind.VARBINARY: st.binary(),
    Kind.DATE: st.dates(), Kind.TIME: st.times(),
    Kind.TIMESTAMP: st.datetimes(),
    Kind.TIMESTAMPTZ: st.datetimes(timezones=st.just(UTC)),
    Kind.UUID: st.uuids(),
}


def same(a, b) -> bool:
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    if isinstance(a, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b and type(a) is type(b)


@pytest.mark.parametrize("kind", sorted(STRATEGIES, key=lambda k: k.value))
@settings(max_examples=150)
@given(data=st.data())
def test_round_trip_every_kind(kind, data):
    col = Column("c", kind)
    value = data.draw(STRATEGIES[kind])
    text = encode_value(col, value)
    assert "\t" not in text and "\n" not in text
    assert same(decode_value(col, text), value)


@settings(max_examples=300)
@given(st.decimals(allow_nan=False, allow_infinity=False, places=10).filter(lambda d: abs(d) < Decimal(10) ** 28))
def test_decimal_38_round_trip_keeps_scale(d):
    col = Column("c", Kind.DECIMAL, precision=38, scale=10)
    text = encode_value(col, d)
    assert "E" not in text and "e" not in text and len(text.partition(".")[2]) == 10
    assert decode_value(col, text) == d


def test_documented_forms():
    assert encode_value(Column("c", Kind.FLOAT64), math.nan) == "NaN"
    assert encode_value(Column("c", Kind.FLOAT64), -math.inf) == "-Infinity"
    assert encode_value(Column("c", Kind.FLOAT64), -0.0) == "-0.0"
    assert encode_value(Column("c", Kind.FLOAT64), 0.1) == "0.1"
    assert encode_value(Column("c", Kind.TEXT), "") == ""
    assert encode_value(Column("c", Kind.TEXT), None) == "\\N"
    assert encode_value(Column("c", Kind.TEXT), "\\N") == "XE4="
    assert encode_value(Column("c", Kind.DECIMAL, precision=38, scale=2), Decimal("1E+3")) == "1000.00"
    assert encode_value(Column("c", Kind.TIMESTAMP), dt.datetime(1, 1, 1, 0, 0, 0, 5)) == "0001-01-01 00:00:00.000005"
    tz = dt.timezone(dt.timedelta(hours=2))
    assert encode_value(Column("c", Kind.TIMESTAMPTZ), dt.datetime(2020, 1, 1, 2, tzinfo=tz)) == "2020-01-01 00:00:00+00:00"
    assert encode_value(Column("c", Kind.UUID), uuid.UUID(int=255)) == "00000000-0000-0000-0000-0000000000ff"
    assert encode_value(Column("c", Kind.BOOLEAN), True) == "1"


@pytest.mark.parametrize("kind,text", [
    (Kind.INT16, "40000"), (Kind.INT64, "1.0"), (Kind.INT32, "01"), (Kind.INT32, "+1"), (Kind.UINT32, "-1"),
    (Kind.FLOAT64, "nan"), (Kind.FLOAT64, "inf"), (Kind.FLOAT64, "1_000"), (Kind.BOOLEAN, "true"),
    (Kind.DATE, "2020-1-01"), (Kind.DATE, "2020-02-30"), (Kind.TIME, "24:00:00"), (Kind.TIMESTAMP, "2020-01-01T00:00:00"),
    (Kind.TIMESTAMPTZ, "2020-01-01 00:00:00"), (Kind.TIMESTAMPTZ, "2020-01-01 00:00:00+01:00"),
    (Kind.UUID, "00000000-0000-0000-0000-0000000000FF"), (Kind.TEXT, "YQ"), (Kind.TEXT, "YQ=\x00"),
    (Kind.TEXT, "/w=="), (Kind.BLOB, "a b="), (Kind.DECIMAL, "1e5"),
])
def test_decoders_refuse_anything_else(kind, text):
    col = Column("c", kind, precision=10 if kind is Kind.DECIMAL else None, scale=2 if kind is Kind.DECIMAL else None)
    with pytest.raises(ValueError):
        decode_value(col, text)


TABLE = Table("app", "t", (Column("v", Kind.TEXT), Column("id", Kind.INT64, False), Column("n", Kind.INT32),
                           Column("k2", Kind.VARCHAR, False, length=10)), ("id", "k2"))


def test_record_shapes():
    c = TableCodec(TABLE, "tgt.t")
    assert c.encode_insert(("x", 1, None, "")) == "I\ttgt.t\teA==\t1\t\\N\t\t\n"
    assert c.encode_delete((1, "a")) == "D\ttgt.t\t1\tYQ==\t\n"
    assert c.encode_update((1, "a"), [(0, None), (2, 7)]) == "U\ttgt.t\t1\tYQ==\t0\t\\N\t2\t7\t\n"


@settings(max_examples=200)
@given(st.text(), st.integers(-2**63, 2**63 - 1), st.none() | st.integers(-2**31, 2**31 - 1), st.text(max_size=10))
def test_records_round_trip(v, i, n, k2):
    c = TableCodec(TABLE)
    for change in (Change("I", "app.t", (i, k2), row=(v, i, n, k2)), Change("D", "app.t", (i, k2)),
                   Change("U", "app.t", (i, k2), changed=((0, v), (2, n)))):
        line = c.encode(change)
        op, name, fields = split_line(line, ("f", 1))
        assert c.decode_fields(op, fields, ("f", 1)) == change


@pytest.mark.parametrize("line,needle", [
    ("I\tapp.t\teA==\t1\t\\N\tYQ==\n", "TAB and newline"),
    ("X\tapp.t\t1\tYQ==\t\n", "unknown operation"),
    ("I\tapp.t\teA==\t1\t\t\n", "3 values"),
    ("I\tapp.nope\teA==\t1\t\\N\tYQ==\t\n", "not in the schema file"),
    ("D\tapp.t\tx\tYQ==\t\n", "field 3"),
    ("D\tapp.t\t\\N\tYQ==\t\n", "NULL in NOT NULL column id"),
    ("U\tapp.t\t1\tYQ==\t\n", "offset/value pairs"),
    ("U\tapp.t\t1\tYQ==\t2\t5\t0\teA==\t\n", "not ascending"),
    ("U\tapp.t\t1\tYQ==\t1\t5\t\n", "key column"),
    ("U\tapp.t\t1\tYQ==\t9\t5\t\n", "out of range"),
    ("U\tapp.t\t1\tYQ==\t2\tabc\t\n", "field 6"),
])
def test_malformed_lines_name_file_line_field(tmp_path, line, needle):
    path = tmp_path / "0.ckt"
    path.write_text("D\tapp.t\t1\tYQ==\t\n" + line, newline="")
    with pytest.raises(CktFormatError) as err:
        list(read_records(str(path), {"app.t": TableCodec(TABLE)}))
    assert f"{path}:2" in str(err.value) and needle in str(err.value)


def test_non_utf8_line(tmp_path):
    path = tmp_path / "3.ckt"
    path.write_bytes(b"D\tapp.t\t1\t\xff\t\n")
    with pytest.raises(CktFormatError, match="3.ckt:1: line is not UTF-8"):
        list(read_records(str(path), {"app.t": TableCodec(TABLE)}))


def test_a_value_with_more_digits_than_its_column_is_refused_naming_table_key_and_column():
    """A source that keeps what it is given (SQLite) may hold 1.2345 in a DECIMAL(6,3) or
    a fraction in a TIMESTAMP(0): the record is refused, never rounded in passing."""
    import datetime as dt
    from decimal import Decimal

    from targetsync_core.codec.ckt import INSERT, Change, TableCodec
    from targetsync_core.errors import DataError
    t = Table("main", "t", (Column("k", Kind.INT32, False), Column("d", Kind.DECIMAL, precision=6, scale=3),
                            Column("ts", Kind.TIMESTAMP, precision=0)), ("k",))
    codec = TableCodec(t)
    ok = codec.encode(Change(INSERT, "main.t", (1,), row=(1, Decimal("1.5"), dt.datetime(2020, 1, 1))))
    assert ok == "I\tmain.t\t1\t1.500\t2020-01-01 00:00:00\t\n"
    with pytest.raises(DataError, match=r"table main.t key \(2,\): column d: decimal 1.2345 has more"):
        codec.encode(Change(INSERT, "main.t", (2,), row=(2, Decimal("1.2345"), None)))
    with pytest.raises(DataError, match="column ts: 2020-01-01T00:00:00.500000 has more"):
        codec.encode(Change(INSERT, "main.t", (3,), row=(3, None, dt.datetime(2020, 1, 1, 0, 0, 0, 500000))))


def test_values_the_column_cannot_hold_are_refused_when_decoded():
    """The decoder holds a value to its .skt column (issue 23): these were applied."""
    def refused(col, text, why):
        with pytest.raises(ValueError, match=why):
            decode_value(col, text)
    refused(Column("d", Kind.DECIMAL, precision=12, scale=2), "12345678901234.00", "10 digit")
    assert decode_value(Column("d", Kind.DECIMAL, precision=12, scale=2), "-9999999999.99") == Decimal("-9999999999.99")
    refused(Column("j", Kind.JSON), "e25vdCBqc29u", "not a JSON document")            # {not json
    refused(Column("f", Kind.FLOAT64), "1e999", "beyond a double")
    refused(Column("f", Kind.FLOAT32), "1e39", "beyond a float32")
    assert decode_value(Column("f", Kind.FLOAT64), "Infinity") == math.inf
    refused(Column("s", Kind.VARCHAR, length=80), encode_value(Column("s", Kind.TEXT), "x" * 300), "300 characters")
    refused(Column("b", Kind.VARBINARY, length=2), encode_value(Column("b", Kind.BLOB), b"abc"), "3 bytes")
