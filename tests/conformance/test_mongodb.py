"""MongoDB's own ways (secantusdb, or TARGETSYNC_TEST_MONGODB_DSN): ``_id`` ranges sorted
in the simple collation are the diff's key order (non-ASCII strings, composite keys,
uuids, decimals, dates), a window reads exactly its range, a standalone server (no
transactions) is refused in one line, and a loader killed inside a file's transaction
does not hold up the next one."""
from __future__ import annotations

import datetime as dt
import os
import random
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from decimal import Decimal

import pytest

from targetsync_core.adapters.base import LeaseHolder
from targetsync_core.diff.windows import Window
from targetsync_core.errors import ConfigError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import mongodb_backend
from tests.helpers import ROOT

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


def test_a_standalone_server_is_refused_in_one_line(tmp_path, monkeypatch):
    with mongodb_backend(tmp_path, "m") as m:
        db = m.db
        real = db.client().admin.command
        monkeypatch.setattr(type(db.client().admin), "command",
                            lambda self, name, *a, **k: {"ismaster": True} if name == "hello" else real(name, *a, **k))
        with pytest.raises(ConfigError, match="is a standalone server, which has no multi-document transactions"):
            db.open_applier()
        db.close()


KILLED_INSIDE_A_FILE = """
    import os, socket
    from targetsync_core.adapters.base import LeaseHolder
    from targetsync_core.adapters.mongodb.adapter import MongoDatabase
    from targetsync_core.dsn import parse_dsn
    holder = LeaseHolder("killed", socket.gethostname(), os.getpid())
    applier = MongoDatabase.from_dsn("mongodb", parse_dsn({url!r})).open_applier()
    applier.acquire_lease(holder, 60)
    applier.apply_file("run", 0, [], holder, 60)   # killed at mongodb.before_commit
"""


def test_a_loader_killed_inside_a_files_transaction_does_not_hold_up_the_next(tmp_path):
    """A loader killed between a file's writes and its commit leaves the transaction open
    on the server, holding the lease document it wrote until the server reaps it (60 s);
    the next loader on this host finds that loader's process gone and ends its session,
    so it takes the lease and applies the file at once, as after a crash elsewhere."""
    with mongodb_backend(tmp_path, "m") as m:
        child = subprocess.run([sys.executable, "-c", textwrap.dedent(KILLED_INSIDE_A_FILE.format(url=m.url))],
                               env={**os.environ, "PYTHONPATH": str(ROOT),
                                    "TARGETSYNC_CRASH_AT": "mongodb.before_commit:1"},
                               capture_output=True, text=True, timeout=60)
        assert child.returncode == -9, child.stderr
        applier = m.db.open_applier()
        holder = LeaseHolder("next", socket.gethostname(), os.getpid())
        t0 = time.monotonic()
        applier.acquire_lease(holder, 60)
        assert time.monotonic() - t0 < 20, "the killed loader's transaction held the lease until the server reaped it"
        assert applier.applied_files("run") == set()
        applier.apply_file("run", 0, [], holder, 60)
        assert applier.applied_files("run") == {0}
        applier.release_lease(holder)
        applier.close()
