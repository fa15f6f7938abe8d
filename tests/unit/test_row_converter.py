"""``coerce.row_converter``: a generated tuple expression per table, equal to converting
each column with its function, and naming the table and column of a bad value."""
from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from targetsync_core.adapters.coerce import COERCE, row_converter
from targetsync_core.model.types import Kind

KINDS = [Kind.INT64, Kind.DECIMAL, Kind.TEXT, Kind.DATE, Kind.TIMESTAMP, Kind.BOOLEAN]
NAMES = ["id", "price", "name", "day", "at", "flag"]


def by_loop(kinds, identity, special, row):
    out = []
    for k, v in zip(kinds, row):
        f = special.get(k) or (None if k in identity else COERCE[k])
        out.append(v if v is None or f is None else f(v))
    return tuple(out)


def test_all_identity_is_no_converter_and_special_overrides_identity():
    assert row_converter([Kind.INT64, Kind.TEXT], "t", ["a", "b"], frozenset({Kind.INT64, Kind.TEXT})) is None
    convert = row_converter([Kind.INT64, Kind.TEXT], "t", ["a", "b"], frozenset({Kind.INT64, Kind.TEXT}),
                            {Kind.TEXT: str.upper})
    assert convert((1, "x")) == (1, "X")
    assert row_converter([], "t", []) is None


values = st.tuples(st.one_of(st.none(), st.integers(-2**63, 2**63 - 1)),
                   st.one_of(st.none(), st.integers(-10**6, 10**6), st.decimals(allow_nan=False, allow_infinity=False)),
                   st.one_of(st.none(), st.text(max_size=5), st.binary(max_size=5).filter(lambda b: b.isascii())),
                   st.one_of(st.none(), st.dates(), st.dates().map(dt.date.isoformat)),
                   st.one_of(st.none(), st.datetimes(), st.datetimes().map(dt.datetime.isoformat)),
                   st.one_of(st.none(), st.booleans(), st.integers(0, 1)))


@given(values, st.sets(st.sampled_from(KINDS)))
def test_the_generated_converter_equals_converting_column_by_column(row, identity):
    identity = frozenset(identity)
    convert = row_converter(KINDS, "s.t", NAMES, identity, {Kind.DATE: COERCE[Kind.DATE]})
    assert convert(row) == by_loop(KINDS, identity, {Kind.DATE: COERCE[Kind.DATE]}, row)


@pytest.mark.parametrize("row, column", [((1, Decimal(1), "x", "0000-00-00", None, True), "day"),
                                         ((1, Decimal(1), "x", None, "2024-13-01 00:00:00", True), "at"),
                                         (("one", Decimal(1), "x", None, None, True), "id"),
                                         ((1, Decimal(1), "x", "2024-00-01", "bad", True), "day")])
def test_a_bad_value_names_the_table_and_its_first_column(row, column):
    convert = row_converter(KINDS, "s.t", NAMES, frozenset({Kind.TEXT}))
    with pytest.raises(ValueError, match=rf"^table s\.t column {column}: "):
        convert(row)
