"""The MySQL-family applier writes its shadow INSERTs' values itself (``_values_lists``):
every kind, with quotes, backslashes, NULs and extreme numbers, must land as the value it
was, in one statement or split across many; a value MySQL cannot hold is refused naming
the table."""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.mysql import adapter as mysql_adapter
from targetsync_core.errors import DataError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, canon
from tests.helpers import VALUE_COLUMNS

UTC = dt.timezone.utc
TEXTS = ["it's", "back\\slash", "'';DROP TABLE x; --", "\x00nul", "tab\there", "nl\nand\r", "😀 日本", "", "\\N",
         "''", "\\'"]
BYTES = [b"'\\\x00x", b"\\\\\\\\", b"\x00\x00\x00\x00", b"\xff\xfe'\"", b"N\\N\x00"]
FLOATS = [-0.0, 1e308, 5e-324, 0.1, 1e20, 123.0, -2.5e-7]


def table(schema: str) -> Table:
    return Table(schema, "lits", (Column("id", Kind.INT64, False), *VALUE_COLUMNS), ("id",))


def rows(t: Table) -> list[tuple]:
    out = []
    for i, text in enumerate(TEXTS):
        f = FLOATS[i % len(FLOATS)]
        b = BYTES[i % len(BYTES)]
        values = {
            "c_bool": i % 2 == 0, "c_i16": -32768 if i % 2 else 32767, "c_i32": -2**31, "c_i64": -2**63 + i,
            "c_u16": 65535, "c_u32": 2**32 - 1, "c_u64": 2**64 - 1 - i,
            "c_dec": Decimal("-1234567890123456789012345678.0123456789"), "c_dec0": Decimal(10**37 + i),
            "c_f32": 0.5, "c_f64": f, "c_char": text[:10].rstrip(" "), "c_vc": text, "c_text": text * 3,
            "c_bin": b, "c_vbin": b + b"'", "c_blob": b * 100, "c_date": dt.date(1000 + i, 12, 31),
            "c_time": dt.time(23, 59, 59, 999999 - i), "c_ts": dt.datetime(2038, 1, 19, 3, 14, 7, i),
            "c_tstz": dt.datetime(2001, 2, 3, 4, 5, 6, 7 + i, tzinfo=UTC), "c_uuid": uuid.UUID(int=i * 2**100 + 5),
            "c_json": '{"q": "it\'s \\\\ \\"x\\""}',
        }
        row = (i, *(values[c.name] for c in VALUE_COLUMNS))
        out.append(row if i % 3 else tuple(v if p in (0, 1) else None for p, v in enumerate(row)))
    return out


def apply(backend, batch: TableBatch) -> None:
    applier = backend.db.open_applier()
    holder = LeaseHolder("h", "host", 1)
    try:
        applier.acquire_lease(holder, 60)
        applier.apply_file("run", 0, [batch], holder, 60)
    finally:
        applier.close()


@pytest.mark.parametrize("statement_chars", [mysql_adapter.STATEMENT_CHARS, 1])
@pytest.mark.parametrize("kind", ["mariadb", "mysql"])
def test_literals_land_as_the_values_they_were(tmp_path, kind, statement_chars, monkeypatch):
    monkeypatch.setattr(mysql_adapter, "STATEMENT_CHARS", statement_chars)   # 1: a statement a row
    with BACKENDS[kind](tmp_path, "tgt") as backend:
        t = table(backend.schema)
        backend.create([t])
        data = rows(t)
        apply(backend, TableBatch(t, upserts=data))
        assert backend.read(t) == [tuple(canon(c, v) for c, v in zip(t.columns, r)) for r in data]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), float("-inf")])
def test_a_float_mysql_cannot_hold_is_refused_naming_the_table(tmp_path, bad):
    with BACKENDS["mariadb"](tmp_path, "tgt") as backend:
        t = table(backend.schema)
        backend.create([t])
        row = (1, *(bad if c.kind is Kind.FLOAT64 else None for c in VALUE_COLUMNS))
        with pytest.raises(DataError, match=rf"table {backend.schema}\.lits: .*no NaN or Infinity"):
            apply(backend, TableBatch(t, upserts=[row]))
        assert backend.read(t) == []
