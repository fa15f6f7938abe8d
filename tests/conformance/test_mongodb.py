"""MongoDB's own ways (secantusdb, or TARGETSYNC_TEST_MONGODB_DSN): ``_id`` ranges sorted
in the simple collation are the diff's key order (non-ASCII strings, composite keys,
uuids, decimals, dates), and a window reads exactly its range. A standalone server:
``test_mongodb_standalone.py``."""
from __future__ import annotations

import datetime as dt
import random
import uuid
from decimal import Decimal

import pytest

from targetsync_core.diff.windows import Window
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import mongodb_backend

C = Column
STRINGS = ["a", "B", "b", "\ue000", "\uffee", "😀", "𝄞", "ﬀ", "é", "z", "Z", "aa", "a-b", "0", "~", "", " "]


def keyed_tables(schema: str) -> dict[str, tuple[Table, list[tuple]]]:
    rng = random.Random(5)
    return {
        "text": (Table(schema, "by_text", (C("k", Kind.VARCHAR, False, length=20), C("v", Kind.INT32)), ("k",)),
                 [(k,) for k in STRINGS]),
        "composite": (Table(schema, "by_pair", (C("a", Kind.INT64, False), C("b", Kind.VARCHAR, False, length=9),
                                                C("v", Kind.INT32)), ("a", "b")),
                      [(a, b) for a in (-2**40, -1, 0, 7, 2**40) for b in STRINGS[:6]]),
        "uuid": (Table(schema, "by_uuid", (C("id", Kind.UUID, False), C("v", Kind.INT32)), ("id",)),
                 [(uuid.UUID(int=rng.getrandbits(128)),) for _ in range(30)] + [(uuid.UUID(int=0),)]),
        "decimal": (Table(schema, "by_dec", (C("d", Kind.DECIMAL, False, precision=12, scale=3), C("v", Kind.INT32)),
                          ("d",)), [(Decimal(x),) for x in ("-5.5", "0", "0.001", "12.5", "-0.25", "999999999.999")]),
        "date": (Table(schema, "by_day", (C("d", Kind.DATE, False), C("v", Kind.INT32)), ("d",)),
                 [(dt.date(1, 1, 1),), (dt.date(1969, 12, 31),), (dt.date(1970, 1, 1),), (dt.date(9999, 12, 31),)]),
    }


@pytest.mark.parametrize("name", ["text", "composite", "uuid", "decimal", "date"])
def test_id_order_is_the_diffs_key_order_and_windows_read_their_range(tmp_path, name):
    with mongodb_backend(tmp_path, "m") as m:
        table, keys = keyed_tables(m.schema)[name]
        m.create([table])
        m.insert(table, [(*k, i) for i, k in enumerate(keys)])
        db = m.db
        read = list(db.read_keys(table))
        assert read == sorted(keys), name   # Python's order of the canonical values
        ordered = sorted(keys)
        lo, hi = ordered[2], ordered[-3]
        inside = [r[:len(lo)] for r in db.read_window(table, Window(0, 1, lo, hi))]
        assert inside == ordered[2:-3]
        db.close()

