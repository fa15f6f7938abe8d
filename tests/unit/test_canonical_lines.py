"""Canonical text lines (``adapters.sql.canonical``): the escaping is PostgreSQL COPY's, and
the parser gives back exactly the rows a reference rendering wrote, whatever the strings
hold; malformed text and values that do not read back are refused naming the table."""
from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pytest

from targetsync_core.adapters.sql.canonical import joined, lines, parser, unescape
from targetsync_core.diff.merge import split_lines
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.helpers import KEY_ALPHABET, NASTY_STRINGS

COLUMNS = (Column("id", Kind.INT64, False), Column("s", Kind.VARCHAR, length=40), Column("b", Kind.BOOLEAN),
           Column("d", Kind.DECIMAL, precision=12, scale=3), Column("f", Kind.FLOAT64), Column("t", Kind.TEXT),
           Column("day", Kind.DATE), Column("at", Kind.TIMESTAMP, precision=6), Column("u", Kind.UINT64))
TABLE = Table("s", "t", COLUMNS, ("id",))
#: strings that look like the format itself
TRICKY = ["", "N", "1:N", ",", ",,", "3:a,b", ":", "0:", "a:b:c", "12", "-1", "\\N", "x\\", "\b\f\v", "\r\n", "😀,é"]


def render(row: tuple) -> str:
    """The canonical text of ``row``, written here from the definition in ``diff.blocks``."""
    out = []
    for col, v in zip(COLUMNS, row):
        if v is None:
            out.append("N")
        elif col.kind in (Kind.VARCHAR, Kind.TEXT):
            out.append(f"{len(v)}:{v}")
        elif col.kind is Kind.BOOLEAN:
            out.append("1" if v else "0")
        elif col.kind is Kind.FLOAT64:
            out.append(repr(v).replace("e+", "e").replace("inf", "Infinity").replace("nan", "NaN"))
        elif col.kind is Kind.TIMESTAMP:
            out.append(v.isoformat(" ").rstrip("0").rstrip(".") if v.microsecond else v.isoformat(" "))
        else:
            out.append(str(v))
    return ",".join(out)


def random_row(rng: random.Random, i: int) -> tuple:
    def text():
        if rng.random() < 0.5:
            return rng.choice(TRICKY + NASTY_STRINGS)
        return "".join(rng.choice(KEY_ALPHABET + [",", ":", "N", "1"]) for _ in range(rng.randint(0, 15)))
    values = (i, text(), rng.random() < 0.5, Decimal(rng.randint(-10**12, 10**12)).scaleb(-3),
              rng.choice([0.1 + 0.2, -1e300, 5e-324, 1e20, -0.0, 1e-5, float("inf"), rng.uniform(-1e9, 1e9)]),
              text(), dt.date(1, 1, 1) + dt.timedelta(days=rng.randint(0, 3_000_000)),
              dt.datetime(2000, 1, 1) + dt.timedelta(seconds=rng.randint(0, 10**9),
                                                     microseconds=rng.choice([0, 500_000, rng.randint(0, 999_999)])),
              rng.choice([0, 2**64 - 1, rng.randint(0, 2**64 - 1)]))
    return tuple(None if i and rng.random() < 0.1 else v for i, v in enumerate(values))


def test_lines_escape_as_postgresql_copy_writes_a_text_field():
    texts = ["plain", "tab\there", "new\nline", "back\\slash", "cr\r", "\b\f\v", "\x01raw", "é😀"]
    assert lines(texts) == (b"plain\ntab\\there\nnew\\nline\nback\\\\slash\ncr\\r\n\\b\\f\\v\n\x01raw\n"
                            + "é😀\n".encode())
    assert lines([]) == b""
    assert lines(["a", "b"]) == b"a\nb\n"
    for text in texts:
        assert unescape(lines([text])[:-1]).decode() == text


def test_lines_parse_back_to_the_rows_rendered():
    rng = random.Random(3)
    rows = [random_row(rng, i) for i in range(3000)]
    blob = lines([render(r) for r in rows])
    assert blob.count(b"\n") == len(rows)
    got = list(parser(TABLE)(split_lines(blob)))
    assert [repr(r) for r in got] == [repr(r) for r in rows]   # repr: -0.0 and the decimal's digits too


def test_a_table_without_strings_parses_by_splitting():
    t = Table("s", "n", (Column("id", Kind.INT32, False), Column("f", Kind.FLOAT64), Column("day", Kind.DATE)), ("id",))
    assert list(parser(t)([b"1,N,2024-02-29", b"-5,1e-05,N"])) == [(1, None, dt.date(2024, 2, 29)), (-5, 1e-05, None)]


@pytest.mark.parametrize("line,why", [
    (b"1,2:ab", "too few fields"), (b"1,3:ab", "length"), (b"1,2:abc,1,N,N,N,N,N,N", "length"), (b"1,x:ab,1,N,N,N,N,N,N", "malformed"),
    (b"1,N,1,N,N,N,N,N,N,7", "1 fields too many"), (b"1,5ab,1,N,N,N,N,N,N", "malformed"),
])
def test_malformed_text_is_refused_naming_the_table(line, why):
    with pytest.raises(ValueError, match=f"table s.t: canonical text .*{why}"):
        list(parser(TABLE)([line]))


@pytest.mark.parametrize("line,column", [(b"1,N,1,N,N,N,0000-00-00,N,N", "day"), (b"1,N,1,N,oops,N,N,N,N", "f"),
                                         (b"1,N,1,N,N,N,N,2024-01-01 00:00:,N", "at")])
def test_a_value_that_does_not_read_back_is_refused_naming_its_column(line, column):
    with pytest.raises(ValueError, match=f"table s.t column {column}:"):
        list(parser(TABLE)([line]))


def test_an_aggregated_window_is_taken_only_when_it_cuts_into_its_rows_needing_no_escape():
    assert joined(0, None) == b""
    assert joined(2, b"1,a\n2,b") == joined(2, "1,a\n2,b") == b"1,a\n2,b\n"
    assert joined(1, "日本") == "日本\n".encode()
    assert joined(2, None) is None                     # the server gave up on the aggregate
    assert joined(3, b"1,a\n2,b") is None              # rows lost (cut short)
    assert joined(2, b"1,a\nb\n2,c") is None           # a string held a newline
    for special in (b"\\", b"\t", b"\r", b"\b", b"\f", b"\v"):
        assert joined(1, b"1,2:a" + special) is None


def test_rows_come_out_in_the_order_of_their_lines():
    t = Table("s", "k", (Column("a", Kind.VARCHAR, False, length=9), Column("b", Kind.INT32, False)), ("b", "a"))
    got = list(parser(t)([b"1:z,2", b"2:\xc3\xa9a,1", b"1:a,2", b"0:,1"]))
    assert got == [("z", 2), ("éa", 1), ("a", 2), ("", 1)]
