"""Snowflake-specific behaviour (the suites run the rest through tests/conformance/cloud/
snowflake.py on fakesnow): DSN refusals and secret files, the DDL, reflection of quoted
names, and the two-step apply: exactly once, a replay changing nothing, a failing batch
applying nothing, U records that find no row counted, and the lease claimed by a
conditional UPDATE."""
from __future__ import annotations

import datetime as dt
import os
import socket
import uuid

import pytest

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.snowflake import SnowflakeDatabase
from targetsync_core.dsn import parse_dsn, read_dsn_file, scrub
from targetsync_core.diff.windows import Window
from targetsync_core.errors import ConfigError, ConnectError, DataError, LeaseHeld
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.cloud.snowflake import backend


def open_db(url: str, source: str = "t.dsn"):
    return SnowflakeDatabase.from_dsn("snowflake", parse_dsn(url, source=source))


@pytest.mark.parametrize("url, says", [
    ("postgresql://u:p@h/db", "snowflake://user@account/database"),
    ("snowflake://acct/db?passwordFile=x", "names the user and the account"),
    ("snowflake://u:p@acct", "names the database"),
    ("snowflake://u:p@acct/db/s/extra", "names the database"),
    ("snowflake://u:p@acct/db?colour=red", "unknown snowflake DSN parameter colour"),
    ("snowflake://u@acct/db", "exactly one credential"),
    ("snowflake://u:p@acct/db?privateKeyFile=k.pem", "exactly one credential"),
    ("snowflake://u:p@acct/db?port=4x3", "port must be a whole number"),
])
def test_a_bad_dsn_is_refused_in_one_line_naming_its_file(url, says):
    with pytest.raises(ConfigError) as e:
        open_db(url, "conf/target.dsn")
    assert says in str(e.value) and "conf/target.dsn" in str(e.value) and "\n" not in str(e.value)
    assert ":p@" not in str(e.value)


def test_the_password_file_is_read_beside_the_dsn_file_and_scrubbed(tmp_path):
    (tmp_path / "pw").write_text("S3cret-Snow!\n")
    (tmp_path / "target.dsn").write_text("snowflake://me@acct/DB/app?passwordFile=pw&warehouse=WH\n")
    db = SnowflakeDatabase.from_dsn("snowflake", read_dsn_file(str(tmp_path / "target.dsn"), "targetDsnFile"))
    assert db.credentials() == {"password": "S3cret-Snow!"}
    assert scrub("login S3cret-Snow! refused") == "login *** refused"
    assert "S3cret" not in db.identity() + db.where()
    (tmp_path / "pw").unlink()
    db = SnowflakeDatabase.from_dsn("snowflake", read_dsn_file(str(tmp_path / "target.dsn"), "targetDsnFile"))
    with pytest.raises(ConfigError, match="passwordFile .*pw does not exist"):
        db.credentials()


def test_a_private_key_file_that_is_not_a_key_is_refused(tmp_path):
    (tmp_path / "k.pem").write_text("not a key")
    db = open_db(f"snowflake://me@acct/DB?privateKeyFile={tmp_path / 'k.pem'}")
    with pytest.raises(ConfigError, match="not a usable PEM private key"):
        db.credentials()


def test_generated_ddl_quotes_every_name_and_declares_the_key():
    t = Table("App", "Order Lines", (Column("Id", Kind.INT64, False), Column('say "hi"', Kind.JSON),
                                     Column("at", Kind.TIMESTAMPTZ, precision=3), Column("u", Kind.UINT64)),
              ("Id",))
    ddl = SnowflakeDatabase.generate_ddl([t])
    assert ('CREATE TABLE "App"."Order Lines" (\n\t"Id" NUMBER(19,0) NOT NULL,\n\t"say ""hi""" VARIANT,\n\t'
            '"at" TIMESTAMP_TZ(3),\n\t"u" NUMBER(20,0),\n\tCONSTRAINT "Order Lines_pk" PRIMARY KEY ("Id")\n);'
            in ddl["c.sql"])
    assert 'DROP TABLE IF EXISTS "App"."Order Lines";' in ddl["d.sql"]
    assert "CREATE" not in ddl["i.sql"] + ddl["f.sql"]


@pytest.mark.parametrize("native, kind, params", [
    ("NUMBER(4,0)", Kind.INT16, {}), ("NUMBER(10,0)", Kind.INT64, {}), ("NUMBER(19,0)", Kind.INT64, {}),
    ("NUMBER(38,0)", Kind.DECIMAL, {"precision": 38, "scale": 0}), ("NUMBER(12,2)", Kind.DECIMAL, {"scale": 2}),
    ("FLOAT", Kind.FLOAT64, {}), ("VARCHAR(10)", Kind.VARCHAR, {"length": 10}), ("VARCHAR(16777216)", Kind.TEXT, {}),
    ("VARCHAR(134217728)", Kind.TEXT, {}), ("BINARY(8388608)", Kind.BLOB, {}), ("BINARY(16)", Kind.VARBINARY, {}),
    ("TIMESTAMP_NTZ(3)", Kind.TIMESTAMP, {"precision": 3}), ("TIMESTAMP_LTZ(9)", Kind.TIMESTAMPTZ, {"precision": 6}),
    ("TIME(9)", Kind.TIME, {"precision": 6}), ("OBJECT", Kind.JSON, {}), ("BOOLEAN", Kind.BOOLEAN, {}),
])
def test_described_types_read_as_their_kinds(native, kind, params):
    from targetsync_core.adapters.snowflake.types import column_of
    col = column_of("c", native, True, "table s.t")
    assert col.kind is kind and all(getattr(col, k) == v for k, v in params.items()) and col.native == native


@pytest.mark.parametrize("native", ["GEOGRAPHY", "VECTOR(FLOAT, 3)"])
def test_a_type_without_a_kind_is_refused_naming_the_column(native):
    from targetsync_core.adapters.snowflake.types import column_of
    from targetsync_core.errors import SchemaMismatch
    with pytest.raises(SchemaMismatch, match="table s.t column geo has type"):
        column_of("geo", native, True, "table s.t")


TABLE = (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=20), Column("n", Kind.INT32),
         Column("at", Kind.TIMESTAMP, precision=6))


@pytest.fixture
def target(tmp_path):
    with backend(tmp_path, "tgt") as b:
        t = Table(b.schema, "Mixed Case", TABLE, ("id",))
        b.create([t])
        b.insert(t, [(i, f"v{i}", i, dt.datetime(2024, 1, i)) for i in range(1, 6)])
        db = b.db
        try:
            yield b, db, t
        finally:
            db.close()


def me(name="me") -> LeaseHolder:
    return LeaseHolder(name, socket.gethostname(), os.getpid())


def test_reflection_finds_the_quoted_mixed_case_table(target):
    b, db, t = target
    live = db.reflect(b.schema, "Mixed Case")
    assert [c.name for c in live.columns] == ["id", "v", "n", "at"] and live.primary_key == ("id",)
    assert [c.kind for c in live.columns] == [Kind.INT64, Kind.VARCHAR, Kind.INT64, Kind.TIMESTAMP]
    assert db.reflect(b.schema, "mixed case") is None and db.reflect(b.schema, "MIXED CASE") is None


def batch(t: Table) -> TableBatch:
    return TableBatch(t, upserts=[(2, "two", 22, None), (9, "nine", 9, dt.datetime(2024, 2, 9))],
                      deletes=[(1,), (7,)], updates={(1,): [((3,), ("three",)), ((8,), ("gone",))],
                                                     (2, 3): [((4,), (None, dt.datetime(2020, 1, 1)))]})


EXPECTED = [(2, "two", 22, None), (3, "three", 3, dt.datetime(2024, 1, 3)), (4, "v4", None, dt.datetime(2020, 1, 1)),
            (5, "v5", 5, dt.datetime(2024, 1, 5)), (9, "nine", 9, dt.datetime(2024, 2, 9))]


def test_a_file_applies_once_and_its_replay_changes_nothing(target):
    b, db, t = target
    applier = db.open_applier()
    try:
        applier.acquire_lease(me(), 60)
        applier.apply_file("run1", 1, iter([batch(t)]), me(), 60)
        assert b.read(t) == EXPECTED
        assert applier.missed == {t.qualified: 1}     # the update of key 8 found no row
        assert applier.applied_files("run1") == {1}
        b.raw.execute(f'UPDATE "{b.raw.database}"."{b.schema}"."Mixed Case" SET "v" = \'moved\' WHERE "id" = 5')
        applier.apply_file("run1", 1, iter([batch(t)]), me(), 60)    # a replay: nothing happens
        assert b.read(t)[3][1] == "moved"
    finally:
        applier.close()


def test_a_batch_failing_part_way_applies_nothing(target):
    b, db, t = target
    before = b.read(t)

    def batches():
        yield batch(t)
        raise ValueError("the change file is cut short")
    applier = db.open_applier()
    try:
        applier.acquire_lease(me(), 60)
        with pytest.raises(ValueError):
            applier.apply_file("run1", 1, batches(), me(), 60)
        assert b.read(t) == before and applier.applied_files("run1") == set()
        applier.apply_file("run1", 1, iter([batch(t)]), me(), 60)   # its shadow starts empty again
        assert b.read(t) == EXPECTED
    finally:
        applier.close()


def test_the_lease_is_held_by_one_loader_and_applies_nothing_for_another(target):
    b, db, t = target
    first, second = db.open_applier(), db.open_applier()
    other_host = LeaseHolder("other", "elsewhere.example", 1)
    try:
        first.acquire_lease(other_host, 600)
        with pytest.raises(LeaseHeld, match="pid 1 on elsewhere.example"):
            second.acquire_lease(me("second"), 60)
        before = b.read(t)
        with pytest.raises(LeaseHeld):
            second.apply_file("run1", 1, iter([batch(t)]), me("second"), 60)
        assert b.read(t) == before and second.applied_files("run1") == set()
        first.release_lease(other_host)
        second.acquire_lease(me("second"), 60)
        with pytest.raises(LeaseHeld):
            first.acquire_lease(me("first"), 60)
        second.release_lease(me("second"))
        # a holder on this host whose process is gone frees the lease at once
        second.acquire_lease(LeaseHolder("dead", socket.gethostname(), 2**22 + 12345), 600)
        first.acquire_lease(me("first"), 60)
    finally:
        first.close()
        second.close()


def test_keys_of_bytes_instants_and_uuids_are_read_in_code_point_order_window_by_window(tmp_path):
    with backend(tmp_path, "tgt") as b:
        t = Table(b.schema, "keyed", (Column("k", Kind.VARBINARY, False, length=8),
                                      Column("at", Kind.TIMESTAMPTZ, False, precision=6),
                                      Column("u", Kind.UUID, False), Column("v", Kind.INT32)), ("k", "at", "u"))
        b.create([t])
        utc = dt.timezone.utc
        keys = [(bytes([a]), dt.datetime(2024, 1, 1, tzinfo=utc) + dt.timedelta(hours=h), uuid.UUID(int=u << 120))
                for a in (0, 1, 0x7f, 0x80, 0xff) for h in (0, 5) for u in (1, 0xa, 0xf)]
        b.insert(t, [(*k, i) for i, k in enumerate(keys)])
        db = b.db
        try:
            assert list(db.read_keys(t)) == sorted(keys)
            bounds = db.window_bounds(t, 7)
            assert bounds == sorted(keys)[7::7]
            edges = [None, *bounds, None]
            read = [r for lo, hi in zip(edges, edges[1:]) for r in db.read_window(t, Window(0, 0, lo, hi))]
            assert [r[:3] for r in read] == sorted(keys)
        finally:
            db.close()


def test_a_ddl_error_is_reported_whole_on_one_line(tmp_path):
    with backend(tmp_path, "tgt") as b:
        with pytest.raises(DataError) as e:
            b.db.execute_script(f'CREATE TABLE "{b.schema}"."x" ("a" NO_SUCH_TYPE);\n')
        assert "\n" not in str(e.value) and "NO_SUCH_TYPE" in str(e.value).upper(), str(e.value)


def test_the_adapter_imports_without_its_driver_and_says_what_to_install(monkeypatch):
    import subprocess
    import sys
    blocked = ("import sys; sys.modules['snowflake'] = sys.modules['snowflake.connector'] = None; "
               "sys.modules['pyarrow'] = None; import targetsync_core.adapters.snowflake, targetsync_core.cli")
    r = subprocess.run([sys.executable, "-c", blocked], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    monkeypatch.setitem(sys.modules, "snowflake.connector", None)
    with pytest.raises(ConnectError) as e:
        open_db("snowflake://u:p@acct/db").connect()
    assert "pip install 'targetsync[snowflake]'" in str(e.value) and "\n" not in str(e.value)
