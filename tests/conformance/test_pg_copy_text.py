"""The PostgreSQL applier stages the records the fast reader matches as COPY text written
from their ``.ckt`` fields (``copytext``, ``ckt.StagingDecoder``), the rest as Python
values through psycopg. Applying a file both ways must leave the same rows, for every
kind, with the texts COPY must escape, NULLs and update groups mixing both paths. (A
float text beyond a double, ``1e400``, which the fast reader once read as infinity, is
refused by both readers now: ``tests/unit/test_codec.py``.)"""
from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest

from targetsync_core.adapters.base import LeaseHolder
from targetsync_core.codec.ckt import TableCodec
from targetsync_core.errors import DataError
from targetsync_core.load.loader import read_batches
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, canon
from tests.helpers import VALUE_COLUMNS

UTC = dt.timezone.utc
TEXTS = ["it's", "back\\slash", "tab\there", "nl\nand\r", "\\.", "😀 日本", "", "\\N", "\\\\t", "end\\"]
BYTES = [b"'\\\x00x", b"\\\\", b"\x00\x00\x00\x00", b"\xff\xfe\n\t", b"N\\N\x00"]
FLOATS = [-0.0, 1e308, 5e-324, 0.1, float("nan"), float("inf"), float("-inf"), -2.5e-7]
BIG = 2**63 - 1   # 19 digits: past the fast form of int64, so read by the strict decoder


def table(schema: str) -> Table:
    # the text key comes after the values: staged bodies put every column in its place
    return Table(schema, "copytext", (Column("id", Kind.INT64, False), *VALUE_COLUMNS,
                                      Column("name", Kind.VARCHAR, False, length=20)), ("id", "name"))


def row(i: int) -> tuple:
    text = TEXTS[i % len(TEXTS)]
    edge = i >= 40   # the integer kinds' extremes are past their fast forms: only in rows with BIG keys
    values = {
        "c_bool": i % 2 == 0, "c_i16": (-32768 if i % 2 else 32767) if edge else -1234 + i,
        "c_i32": -2**31 + i if edge else -10**8 - i, "c_i64": -2**63 + i if edge else -10**17 - i,
        "c_u16": 65535 if edge else 1234, "c_u32": 2**32 - 1 if edge else 10**8 + i,
        "c_u64": 2**64 - 1 - i if edge else 10**18 + i,
        "c_dec": Decimal("-1234567890123456789012345678.0123456789"), "c_dec0": Decimal(10**37 + i),
        "c_f32": 0.1, "c_f64": FLOATS[i % len(FLOATS)], "c_char": text[:10].rstrip(" "), "c_vc": text,
        "c_text": text * 3, "c_bin": BYTES[i % len(BYTES)][:4], "c_vbin": BYTES[i % len(BYTES)] + b"'",
        "c_blob": BYTES[i % len(BYTES)] * 50, "c_date": dt.date(1000 + i, 12, 31),
        "c_time": dt.time(23, 59, 59, 999999 - i), "c_ts": dt.datetime(2038, 1, 19, 3, 14, 7, i),
        "c_tstz": dt.datetime(2001, 2, 3, 4, 5, 6, 7 + i, tzinfo=UTC), "c_uuid": uuid.UUID(int=i * 2**100 + 5),
        "c_json": '{"q": "it\'s \\\\ \\"x\\"\\t"}',
    }
    key = BIG - i if i >= 40 else i
    return (key, *(values[c.name] for c in VALUE_COLUMNS), f"k{i}\t\\{TEXTS[i % len(TEXTS)][:5]}")


def change_file(t: Table, path) -> tuple[list[tuple], str]:
    """Rows to start from, and a file inserting, updating (in three groups, some to NULL)
    and deleting rows, a few through the strict decoder."""
    codec = TableCodec(t)
    start = [row(i) for i in range(20)] + [row(i) for i in range(40, 46)]
    news = [row(i) for i in range(20, 32)] + [row(i) for i in range(46, 50)]
    n = len(t.columns)
    lines = []
    for r in sorted(start + news, key=lambda r: (r[0], r[-1])):
        key = (r[0], r[-1])
        i = start.index(r) if r in start else None
        if i is None:
            lines.append(codec.encode_insert(r))
        elif i % 4 == 0:
            lines.append(codec.encode_delete(key))
        else:
            offsets = [(1, 2, 11, 12), (10, 13, 16, 19), tuple(range(1, n - 1))][i % 3]
            other = row(i + 7)
            lines.append(codec.encode_update(key, [(p, None if (p + i) % 5 == 0 else other[p]) for p in offsets]))
    text = "".join(lines)
    path.write_text(text, encoding="utf-8", newline="")
    return start, text


class _Codecs(dict):
    def get(self, name):
        return self[name]


def apply_file(backend, t: Table, path, staged: bool) -> int:
    """Apply ``path`` through the loader's reader; the number of staged records."""
    applier = backend.db.open_applier()
    codec = TableCodec(t)
    codec.stage(applier.text_stage(t) if staged else None)
    batches = [b for chunk in read_batches(path, _Codecs({t.qualified: codec})) for b in chunk]
    holder = LeaseHolder("h", "host", 1)
    try:
        applier.acquire_lease(holder, 60)
        applier.apply_file(f"run-{staged}", 0, batches, holder, 60)   # a run applies a file once
    finally:
        applier.close()
    return sum(len(b.staged) for b in batches)


@pytest.fixture
def pg(tmp_path):
    with BACKENDS["postgres"](tmp_path, "tgt") as backend:
        yield backend


def test_staged_and_unstaged_apply_leave_the_same_rows(tmp_path, pg):
    t = table(pg.schema)
    path = tmp_path / "0.ckt"
    start, text = change_file(t, path)
    results = {}
    for staged in (True, False):
        pg.execute(f'DROP TABLE IF EXISTS "{pg.schema}".copytext, "{pg.schema}".copytext_wkm')
        pg.create([t])
        pg.insert(t, start)
        n = apply_file(pg, t, path, staged)
        results[staged] = pg.read(t)
        # staged: all but the records keyed past int64's fast form, and those holding a
        # double with a three-digit exponent (past the fast form of a surely finite double)
        assert n == (sum(1 for line in text.splitlines() if int(line.split("\t")[2]) < BIG - 49
                         and "e+308\t" not in line and "e-324\t" not in line) if staged else 0)
    assert results[True] == results[False]
    got = {(r[0], r[-1]): r for r in results[True]}
    assert len(got) == len(start) + 16 - sum(1 for i in range(len(start)) if i % 4 == 0)
    inserted = row(21)
    assert got[(inserted[0], inserted[-1])] == tuple(canon(c, v) for c, v in zip(t.columns, inserted))


@pytest.mark.parametrize("staged", [True, False])
def test_a_nul_in_text_is_refused_naming_the_table(tmp_path, pg, staged):
    t = Table(pg.schema, "nul", (Column("id", Kind.INT64, False), Column("v", Kind.TEXT)), ("id",))
    pg.create([t])
    path = tmp_path / "0.ckt"
    path.write_text(TableCodec(t).encode_insert((1, "a\x00b")), encoding="utf-8")
    with pytest.raises(DataError, match=rf"{pg.schema}\.nul") as info:
        apply_file(pg, t, path, staged)
    assert "\n" not in str(info.value)
    assert pg.read(t) == []
