"""MongoDB's own ways (secantusdb, or TARGETSYNC_TEST_MONGODB_DSN): ``_id`` ranges sorted
in the simple collation are the diff's key order (non-ASCII strings, composite keys,
uuids, decimals, dates), a window reads exactly its range, and ``schema --apply`` gives
each collection the JSON-schema validator the DSN's ``targetsyncValidator`` asks for
(strict by default), which the server enforces, and a loader killed inside a file's
transaction does not hold up the next one. A standalone server: ``test_mongodb_standalone.py``."""
from __future__ import annotations

import dataclasses
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

import pymongo
import pytest
from pymongo import monitoring
from pymongo.errors import WriteError

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.mongodb.adapter import MongoDatabase
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import ConfigError, DataError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import mongodb_backend
from tests.helpers import ROOT, VALUE_COLUMNS, random_row

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


#: the BSON types the adapter writes each kind as (TO_BSON, or pymongo for a value it
#: takes as it is: an int as int32 where it fits, else int64); JSON as whatever its value is
BSON = {Kind.BOOLEAN: ["bool"], Kind.INT16: ["int"], Kind.UINT16: ["int"], Kind.INT32: ["int"],
        Kind.UINT32: ["int", "long"], Kind.INT64: ["int", "long"], Kind.UINT64: ["decimal"],
        Kind.FLOAT32: ["double"], Kind.FLOAT64: ["double"], Kind.CHAR: ["string"], Kind.VARCHAR: ["string"],
        Kind.TEXT: ["string"], Kind.TIME: ["string"], Kind.BINARY: ["binData"], Kind.VARBINARY: ["binData"],
        Kind.BLOB: ["binData"], Kind.UUID: ["binData"], Kind.DATE: ["date"], Kind.TIMESTAMP: ["date"],
        Kind.TIMESTAMPTZ: ["date"], Kind.JSON: ["object", "array", "string", "int", "long", "double", "bool", "null"]}


def every_kind(schema: str) -> Table:
    return Table(schema, "every_kind", (C("id", Kind.INT64, False), C("d12", Kind.DECIMAL, False, precision=12, scale=2),
                                        C("j", Kind.JSON, False), *VALUE_COLUMNS), ("id",))


def expected_validator(table: Table) -> dict:
    def types(c: Column) -> list[str]:
        kinds = ["decimal"] if c.kind is Kind.DECIMAL and c.precision <= 34 else \
            ["decimal", "string"] if c.kind is Kind.DECIMAL else BSON[c.kind]
        return kinds + (["null"] if c.nullable and "null" not in kinds else [])
    return {"$jsonSchema": {"bsonType": "object", "required": [c.name for c in table.columns],
                            "properties": {c.name: {"bsonType": types(c)} for c in table.columns}}}


class Sent(monitoring.CommandListener):
    """The create and collMod commands a client sends."""

    def __init__(self):
        self.commands: list[dict] = []

    def started(self, event):
        if event.command_name in ("create", "collMod"):
            self.commands.append({k: v for k, v in event.command.items() if not k.startswith(("$", "lsid"))})

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def listened(monkeypatch) -> Sent:
    """Every pymongo client made from now on reports its commands to the returned listener."""
    sent, real = Sent(), pymongo.MongoClient
    monkeypatch.setattr(pymongo, "MongoClient", lambda *a, **k: real(*a, event_listeners=[sent], **k))
    return sent


def with_mode(m, mode: str):
    return dataclasses.replace(m, url=f"{m.url}&targetsyncValidator={mode}")


def options(m, table: Table) -> dict:
    coll = m._mongo(table)
    found = coll.database.command("listCollections", filter={"name": table.name})["cursor"]["firstBatch"]
    coll.database.client.close()
    return found[0]["options"]


def raw_insert(m, table: Table, doc: dict) -> None:
    coll = m._mongo(table)
    try:
        coll.insert_one(doc)
    finally:
        coll.database.client.close()


def good_document(m, table: Table, key: int) -> dict:
    row = random_row(random.Random(key), table, (key,))
    db = m.db
    return {"_id": key, **{c.name: db.to_bson(c, v) for c, v in zip(table.columns, row)}}


def test_schema_apply_sends_a_json_schema_validator_the_server_enforces(tmp_path, monkeypatch):
    sent = listened(monkeypatch)
    with mongodb_backend(tmp_path, "m") as m:
        table = every_kind(m.schema)
        m.create([table])   # strict unless the DSN says otherwise
        want = expected_validator(table)
        assert sent.commands == [{"create": "every_kind", "validator": want, "validationLevel": "strict",
                                  "validationAction": "error"}]
        assert options(m, table) == {"validator": want, "validationLevel": "strict", "validationAction": "error"}
        m.insert(table, [random_row(random.Random(k), table, (k,)) for k in range(1, 40)])   # as the adapter writes
        good = good_document(m, table, 50)
        raw_insert(m, table, {**good, "c_i16": None, "c_json": None})   # nullable: null allowed
        for broken in ({"c_i32": "text"}, {"c_ts": "2024-01-01"}, {"d12": None}, {"id": 1.5}, {"c_bool": 1}):
            with pytest.raises(WriteError) as refused:
                raw_insert(m, table, {**good, "_id": 51, **broken})
            assert refused.value.code == 121, broken   # DocumentValidationFailure
        with pytest.raises(WriteError) as refused:
            raw_insert(m, table, {k: v for k, v in good.items() if k != "c_text"} | {"_id": 52})   # absent
        assert refused.value.code == 121


@pytest.mark.parametrize("mode", ["warn", "off"])
def test_a_validator_that_warns_or_none_lets_any_document_in(tmp_path, mode):
    with mongodb_backend(tmp_path, "m") as base:
        m = with_mode(base, mode)
        table = every_kind(m.schema)
        m.create([table])
        held = options(m, table)
        if mode == "off":
            assert "validator" not in held
        else:
            assert held["validator"] == expected_validator(table) and held["validationAction"] == "warn"
        raw_insert(m, table, {"_id": 1, "c_i32": "text"})


def test_schema_apply_again_sets_the_validator_the_dsn_now_asks(tmp_path, monkeypatch):
    sent = listened(monkeypatch)
    with mongodb_backend(tmp_path, "m") as m:
        table = every_kind(m.schema)
        m.create([table])
        with_mode(m, "off").create([table])
        assert sent.commands[-1] == {"collMod": "every_kind", "validator": {}}
        assert "validator" not in options(m, table) or options(m, table)["validator"] == {}
        raw_insert(m, table, {"_id": 1})
        m.create([table])
        assert sent.commands[-1]["collMod"] == "every_kind"
        assert options(m, table)["validator"] == expected_validator(table)


def test_an_unknown_validator_mode_is_refused_in_one_line(tmp_path):
    dsn = parse_dsn("mongodb://u:pw@127.0.0.1:27017/db?targetsyncValidator=loose", source=str(tmp_path / "t.dsn"))
    with pytest.raises(ConfigError) as refused:
        MongoDatabase.from_dsn("mongodb", dsn)
    line = str(refused.value)
    assert line == (f"{tmp_path / 't.dsn'}: targetsyncValidator=loose in the mongodb DSN is none of strict, warn, "
                    "off") and "pw" not in line


def test_a_document_the_validator_refuses_fails_the_file_in_one_line_naming_table_key_and_field(tmp_path):
    with mongodb_backend(tmp_path, "m") as m:
        table = Table(m.schema, "pairs", (C("id", Kind.INT64, False), C("v", Kind.VARCHAR, length=9)), ("id",))
        m.create([table])
        db = m.db
        applier, me = db.open_applier(), LeaseHolder("me", socket.gethostname(), os.getpid())
        applier.acquire_lease(me, 60)
        with pytest.raises(DataError) as refused:   # a value of the wrong type, as a bug would write it
            applier.apply_file("run", 0, [TableBatch(table, upserts=[(1, "a"), (2, 5)])], me, 60)
        line = str(refused.value)
        assert line.startswith(f"mongodb table {table.qualified} on {db.identity()}") and "\n" not in line, line
        assert "refuses document _id 2 (field v)" in line, line
        assert m.read(table) == []   # the file's transaction applied nothing
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
