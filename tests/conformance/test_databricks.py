"""Databricks-specific behaviour (``adapters/databricks``), at the translated tier
(``cloud/databricks.py``: its SQL parsed as Databricks', run on PostgreSQL, S3 on moto) or
against the workspace ``TARGETSYNC_TEST_DATABRICKS_DSN`` names: DSN refusals, the staged
rows, a crash between any two steps of a file and its replay (exactly once in effect),
the lease, type refusals, and the emulator's own COPY INTO semantics."""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import signal
import socket
import uuid
from decimal import Decimal

import pytest

from targetsync_core import faults
from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.databricks import DatabricksDatabase, applier as dbx_applier
from targetsync_core.adapters.databricks.applier import staged_lines
from targetsync_core.adapters.databricks.types import reflected
from targetsync_core.cli import main
from targetsync_core.dsn import parse_dsn, scrub
from targetsync_core.emit import files as F
from targetsync_core.errors import ConfigError, DataError, LeaseHeld, SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, write_configs
from tests.conformance.cloud.databricks import backend
from tests.e2e.test_crash import start

ME = LeaseHolder("me", socket.gethostname(), os.getpid())
UTC = dt.timezone.utc


class Crash(BaseException):
    """A loader dying at a fault point (nothing in the applier catches it)."""


def items(schema: str, name: str = "items") -> Table:
    return Table(schema, name, (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=20)), ("id",))


def rows(n: int, tag: str = "v") -> list[tuple]:
    return [(i, f"{tag}{i}") for i in range(n)]


@contextlib.contextmanager
def applying(tmp_path, tables=()):
    with backend(tmp_path, "tgt") as b:
        b.create([items(b.schema), items(b.schema, "other"), *tables])
        db = b.db
        applier = db.open_applier()
        try:
            yield b, db, applier
        finally:
            applier.close()
            db.close()


def lease_row(b) -> tuple:
    return b.raw.read(Table(meta(b), "lease", tuple(Column(n, Kind.TEXT) for n in
                                                          ("name", "holder", "host", "pid", "expires_at", "version")),
                            ("name",)))[0]


def meta(b) -> str:
    """The target's bookkeeping schema (``metaSchema`` in the DSN, one a test on a workspace)."""
    return b.db.meta_schema


def records(b) -> list[tuple]:
    cols = (Column("run_id", Kind.TEXT), Column("file_no", Kind.INT64), Column("records", Kind.INT64))
    return sorted(b.raw.read(Table(meta(b), "applied", cols, ("run_id", "file_no"))))


def give_lease_to_rival(b, pid: int, host: str = socket.gethostname(), expires_in: float = 60) -> None:
    b.raw.execute(f"UPDATE `{meta(b)}`.`lease` SET holder = 'rival', host = '{host}', pid = {pid}, "
                  f"expires_at = {dt.datetime.now().timestamp() + expires_in}, version = version + 1 "
                  "WHERE name = 'loader';\n")


def dsn(url: str) -> DatabricksDatabase:
    return DatabricksDatabase.from_dsn("databricks", parse_dsn(url, source="/run/target.dsn"))


# -- DSN, token, types: no server --

@pytest.mark.parametrize("url, says", [
    ("postgresql://h/p?awsBucket=bkt", "databricks needs a DSN of the form databricks://token:<access token>@"),
    ("databricks://token:t@host?awsBucket=bkt", "names the workspace host and the warehouse's HTTP path"),
    ("databricks://token:t@host/sql/1.0/warehouses/x?catalog=main", "names no S3 staging bucket: add ?awsBucket="),
    ("databricks://token:t@host/sql/1.0/warehouses/x?awsBucket=bkt/it's", "the prefix in awsBucket may hold"),
    ("databricks://token:t@host/sql/1.0/warehouses/x?awsBucket=bkt&retrySeconds=0", "retrySeconds must be a number"),
])
def test_dsn_refusals_are_one_line_naming_the_file(url, says):
    with pytest.raises(ConfigError) as err:
        dsn(url)
    assert says in str(err.value) and "/run/target.dsn" in str(err.value) and "\n" not in str(err.value)


def test_the_token_comes_from_the_dsn_or_a_file_and_is_scrubbed(tmp_path):
    secret = "dapi" + uuid.uuid4().hex
    assert dsn(f"databricks://token:{secret}@h.cloud.databricks.com/sql/1.0/warehouses/x?awsBucket=bkt").token() \
        == secret
    (tmp_path / "tok").write_text(secret + "x\n")
    db = DatabricksDatabase.from_dsn("databricks", parse_dsn(
        "databricks://token@h.cloud.databricks.com/sql/1.0/warehouses/x?awsBucket=bkt&tokenFile=tok",
        source=str(tmp_path / "target.dsn")))
    assert db.token() == secret + "x" and scrub(f"a {secret}x b") == "a *** b"
    assert secret not in repr(db.dsn) + str(db.dsn) + db.identity() + db.where()
    with pytest.raises(ConfigError, match="holds no access token"):
        dsn("databricks://token@h/sql/1.0/warehouses/x?awsBucket=bkt").connect()
    with pytest.raises(ConfigError, match=r"tokenFile .*missing.tok does not exist"):
        dsn("databricks://token@h/sql/1.0/warehouses/x?awsBucket=bkt&tokenFile=missing.tok").connect()


def test_a_workspace_that_refuses_the_connection_is_one_line_without_the_token(tmp_path, capsys):
    """The real connector (no stand-in) against a local port where nothing listens."""
    from tests.conformance.backends import refused_connection
    token = "dapi" + uuid.uuid4().hex
    refused_connection(tmp_path, capsys, "databricks", lambda port: f"databricks://token:{token}@127.0.0.1:{port}"
                       "/sql/1.0/warehouses/x?catalog=main&awsBucket=bkt&retrySeconds=1", token)


def test_a_refused_login_is_a_configuration_error_and_a_port_number_is_no_status():
    from databricks.sql.exc import RequestError
    from targetsync_core.errors import ConnectError
    db = dsn("databricks://token:t@h/sql/1.0/warehouses/x?awsBucket=bkt")
    assert isinstance(db.connect_error(RequestError("Error during request to server: 403 Client Error: Forbidden")),
                      ConfigError)
    refused = RequestError("HTTPSConnectionPool(host='127.0.0.1', port=40135): Max retries exceeded (Connection "
                           "refused)")
    assert isinstance(db.connect_error(refused), ConnectError)


def test_a_missing_driver_says_what_to_install(monkeypatch):
    import sys
    from targetsync_core.errors import ConnectError
    db = dsn("databricks://token:t@h/sql/1.0/warehouses/x?awsBucket=bkt")
    monkeypatch.setitem(sys.modules, "databricks.sql", None)
    with pytest.raises(ConnectError, match=r"needs databricks-sql-connector: pip install 'targetsync\[databricks\]'"):
        db.connect()
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(ConnectError, match=r"needs boto3: pip install 'targetsync\[s3\]'"):
        db.stage().client


def test_a_delta_write_conflict_is_retryable_not_a_data_error():
    """Delta's optimistic concurrency aborts one of two conflicting writes (an OPTIMIZE,
    another writer): the apply stops as on a lost connection, and its replay redoes it."""
    from databricks.sql.exc import ServerOperationError
    from targetsync_core.adapters.sql.server import apply_error
    from targetsync_core.errors import ConnectError
    db = dsn("databricks://token:t@h/sql/1.0/warehouses/x?awsBucket=bkt")
    conflict = ServerOperationError("[DELTA_CONCURRENT_APPEND] ConcurrentAppendException: Files were added to the "
                                    "root of the table by a concurrent update.")
    assert isinstance(apply_error(db, conflict, None, type(conflict)), ConnectError)
    bad = ServerOperationError("[CAST_INVALID_INPUT] The value 'x' of the type STRING cannot be cast to INT")
    assert isinstance(apply_error(db, bad, None, type(bad)), DataError)


def test_type_refusals():
    wide = Table("app", "t", (Column("id", Kind.INT32, False), Column("d", Kind.DECIMAL, precision=40, scale=2)),
                 ("id",))
    with pytest.raises(SchemaMismatch, match="column d is decimal.40,2.; Databricks holds at most 38 digits"):
        DatabricksDatabase.generate_ddl([wide])
    for odd in ("array<int>", "map<string,int>", "struct<a:int>", "variant", "interval day to second"):
        with pytest.raises(SchemaMismatch, match=f"column x is {odd}, which targetsync cannot sync"):
            reflected("x", odd, True, "table app.t")
    assert reflected("x", "decimal(20,0)", True, "t").precision == 20
    assert reflected("x", "timestamp_ntz", False, "t").kind is Kind.TIMESTAMP
    assert reflected("x", "TIMESTAMP", False, "t").kind is Kind.TIMESTAMPTZ


def test_staged_rows_are_json_strings_that_keep_every_value():
    cols = [Column("id", Kind.INT64, False), Column("f", Kind.FLOAT64), Column("b", Kind.BLOB), Column("t", Kind.TIME),
            Column("z", Kind.TIMESTAMPTZ), Column("u", Kind.UUID), Column("d", Kind.DECIMAL, precision=20, scale=0),
            Column("s", Kind.TEXT), Column("ok", Kind.BOOLEAN)]
    t = Table("app", "t", tuple(cols), ("id",))
    u = uuid.UUID(int=7)
    batch = TableBatch(t, upserts=[(1, math.nan, b"\x00\xff", dt.time(1, 2, 3, 4),
                                    dt.datetime(1, 1, 1, tzinfo=UTC), u, Decimal("1E+3"), 'é"\n', True),
                                   (2, -math.inf, b"", None, None, None, None, "", False)],
                       deletes=[(9,)], updates={(7,): [((3,), ("x",))]})
    lines = [json.loads(ln) for ln in staged_lines(batch).decode().splitlines()]
    assert lines[0] == {"c0": "D", "c1": None, "c2": "9", **{f"c{i}": None for i in range(3, 11)}}
    assert lines[1] == {"c0": "I", "c1": None, "c2": "1", "c3": "NaN", "c4": "AP8=", "c5": "01:02:03.000004",
                        "c6": "0001-01-01 00:00:00.000000+00:00", "c7": str(u), "c8": "1000", "c9": 'é"\n',
                        "c10": "true"}
    assert lines[2]["c3"] == "-Infinity" and lines[2]["c4"] == "" and lines[2]["c9"] == ""
    assert lines[3]["c0"] == "U" and lines[3]["c1"] == "0" and lines[3]["c9"] == "x" and lines[3]["c3"] is None


# -- applying, at the translated tier or on a workspace --

def test_deletes_upserts_updates_and_missed_then_a_replay_sends_nothing(tmp_path):
    with applying(tmp_path) as (b, db, applier):
        a, o = items(b.schema), items(b.schema, "other")
        b.insert(a, rows(10, "old"))
        b.insert(o, rows(4, "old"))
        batches = [TableBatch(a, upserts=[(20, "new20"), (5, "again5")], deletes=[(0,), (1,)],
                              updates={(1,): [((6,), ("upd6",)), ((99,), ("gone",))]}),
                   TableBatch(o, deletes=[(0,)], upserts=[(2, "new2")])]
        applier.apply_file("run-1", 0, batches, ME, 60)
        want = [(2, "old2"), (3, "old3"), (4, "old4"), (5, "again5"), (6, "upd6"), (7, "old7"), (8, "old8"),
                (9, "old9"), (20, "new20")]
        assert b.read(a) == want and b.read(o) == [(1, "old1"), (2, "new2"), (3, "old3")]
        assert applier.missed == {a.qualified: 1}   # key 99 had no row
        assert applier.applied_files("run-1") == {0} and records(b) == [("run-1", 0, 8)]
        assert applier.stage.keys(applier.stage.file_prefix("run-1", 0)) == []   # staged objects deleted
        sent, real = [], applier.sql
        applier.sql = lambda text, params=(): sent.append(text) or real(text, params)
        applier.apply_file("run-1", 0, batches, ME, 60)
        assert sent and not [s for s in sent if s.startswith(("MERGE", "DELETE", "COPY", "TRUNCATE"))], sent
        assert b.read(a) == want and records(b) == [("run-1", 0, 8)]


@pytest.mark.parametrize("point, nth", [(dbx_applier.BATCH_STAGED, 1), (dbx_applier.BATCH_STAGED, 2),
                                        (dbx_applier.BATCH_APPLIED, 1), (dbx_applier.FILE_RECORDED, 1)])
def test_a_crash_between_steps_then_a_replay_is_exactly_once_in_effect(tmp_path, monkeypatch, point, nth):
    """The loader dies after a batch's COPY INTO (its DELETE and MERGEs not run), after a
    batch, or after the record; a new loader applies the file again (the same staged
    names, COPY INTO forced) and ends where one uninterrupted apply ends."""
    with applying(tmp_path) as (b, db, applier):
        a, o = items(b.schema), items(b.schema, "other")
        b.insert(a, rows(6, "old"))
        batches = [TableBatch(a, upserts=[(10, "n10")], deletes=[(0,)], updates={(1,): [((2,), ("u2",))]}),
                   TableBatch(o, upserts=rows(3, "o")),
                   TableBatch(a, upserts=[(11, "n11")], deletes=[(1,)], updates={(1,): [((3,), ("u3",))]})]
        seen = []

        def crash(name: str) -> None:
            seen.append(name)
            if name == point and seen.count(name) == nth:
                raise Crash(name)
        monkeypatch.setattr(faults, "point", crash)
        with pytest.raises(Crash):
            applier.apply_file("run-2", 3, batches, ME, 60)
        left = applier.stage.keys(applier.stage.file_prefix("run-2", 3))
        assert left, "a crash leaves the file's staged objects"
        assert records(b) == ([("run-2", 3, 9)] if point == dbx_applier.FILE_RECORDED else [])
        monkeypatch.setattr(faults, "point", lambda name: None)
        again = db.open_applier()   # the loader's next life
        try:
            again.apply_file("run-2", 3, batches, ME, 60)
        finally:
            again.close()
        assert b.read(a) == [(2, "u2"), (3, "u3"), (4, "old4"), (5, "old5"), (10, "n10"), (11, "n11")]
        assert b.read(o) == rows(3, "o") and records(b) == [("run-2", 3, 9)]
        assert applier.stage.keys(applier.stage.file_prefix("run-2", 3)) == []


def test_a_loader_sigkilled_mid_file_resumes_and_ends_equal(tmp_path):
    """A real kill (SIGKILL in a process of its own) after the second batch's COPY INTO."""
    with BACKENDS["sqlite"](tmp_path, "src") as src, backend(tmp_path, "tgt") as tgt:
        table = items(src.schema)
        src.create([table])
        src.insert(table, rows(40))
        write_configs(tmp_path, src, tgt, ["items"], file_mb=8)
        (tmp_path / "apply.cfg").write_text("targetType=databricks\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                            "inputDirectory=emit\ndoneDirectory=done\n")
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        tgt.insert(table.renamed(tgt.schema), rows(30, "old")[10:])
        assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
        assert F.ckt_numbers(tmp_path / "emit") == [0]
        p = start("apply", tmp_path / "apply.cfg", crash_at=f"{dbx_applier.BATCH_STAGED}:1")
        _, err = p.communicate(timeout=120)
        assert p.returncode == -signal.SIGKILL, err
        assert records(tgt) == []
        p = start("apply", tmp_path / "apply.cfg")
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert tgt.read(table.renamed(tgt.schema)) == src.read(table) and len(records(tgt)) == 1


def test_a_lease_another_live_loader_holds_is_refused_and_nothing_is_applied(tmp_path):
    with applying(tmp_path) as (b, db, applier):
        give_lease_to_rival(b, os.getpid())
        with pytest.raises(LeaseHeld, match=rf"another loader \(pid {os.getpid()} on {socket.gethostname()}\) holds"):
            applier.apply_file("run", 0, [TableBatch(items(b.schema), upserts=rows(3))], ME, 60)
        assert b.read(items(b.schema)) == [] and records(b) == []


def test_a_lease_taken_mid_file_stops_it_before_its_record(tmp_path, monkeypatch):
    """A rival takes the lease after the first batch: the record's MERGE, conditional on
    the holder, inserts nothing and the loader stops; once the lease is free again the
    file is applied in full."""
    with applying(tmp_path) as (b, db, applier):
        table = items(b.schema)
        taken = []

        def point(name: str) -> None:
            if name == dbx_applier.BATCH_APPLIED and not taken:
                taken.append(give_lease_to_rival(b, os.getpid()))
        monkeypatch.setattr(faults, "point", point)
        batches = [TableBatch(table, upserts=rows(2)), TableBatch(table, upserts=rows(4)[2:])]
        with pytest.raises(LeaseHeld, match="before this file's record"):
            applier.apply_file("run", 0, batches, ME, 60)
        assert records(b) == [] and lease_row(b)[1] == "rival"
        with pytest.raises(LeaseHeld, match="another loader"):   # its own next renewal stops too
            applier.acquire_lease(ME, 60)
        b.raw.execute(f"UPDATE `{meta(b)}`.`lease` SET holder = '', expires_at = 0 WHERE name = 'loader';\n")
        with pytest.raises(LeaseHeld, match="since this one last held it"):   # free now, but taken meanwhile
            applier.acquire_lease(ME, 60)
        fresh = db.open_applier()
        try:
            fresh.apply_file("run", 0, batches, ME, 60)
        finally:
            fresh.close()
        assert b.read(table) == rows(4) and records(b) == [("run", 0, 4)]


def dead_pid() -> int:
    import subprocess
    import sys
    p = subprocess.Popen([sys.executable, "-c", ""])
    p.wait()
    return p.pid


@pytest.mark.parametrize("stale", ["expired, on another host", "of a dead process on this host"])
def test_a_stale_lease_is_taken_over_and_released(tmp_path, stale):
    with applying(tmp_path) as (b, db, applier):
        if stale.startswith("expired"):
            give_lease_to_rival(b, 1, "elsewhere", -1)
        else:
            give_lease_to_rival(b, dead_pid())
        applier.acquire_lease(ME, 60)
        assert lease_row(b)[1] == "me"
        applier.release_lease(ME)
        assert lease_row(b)[1] == ""


def test_the_bookkeeping_schema_can_be_named_in_the_dsn(tmp_path):
    from dataclasses import replace
    with applying(tmp_path) as (b, db, applier):
        other = replace(b, url=b.url + "&metaSchema=ts_books")
        assert other.db.meta_schema == "ts_books" and meta(b) == "_targetsync"
        mine = other.db.open_applier()
        try:
            mine.apply_file("run", 0, [TableBatch(items(b.schema), upserts=rows(2))], ME, 60)
        finally:
            mine.close()
        assert records(other) == [("run", 0, 2)] and records(b) == []
        assert b.read(items(b.schema)) == rows(2)


def test_a_file_failing_to_decode_part_way_applies_nothing(tmp_path):
    with applying(tmp_path) as (b, db, applier):
        table = items(b.schema)

        def batches():
            yield TableBatch(table, upserts=rows(10))
            raise DataError("7.ckt:12: a malformed line")
        with pytest.raises(DataError, match="malformed"):
            applier.apply_file("run", 7, batches(), ME, 60)
        assert b.read(table) == [] and records(b) == []


def test_copy_into_skips_a_file_it_loaded_before_unless_forced(tmp_path, monkeypatch):
    """Databricks' rule, which the stand-in keeps (so that an adapter forgetting ``force``
    fails the replay tests): a replay's COPY INTO without ``force`` loads nothing from an
    object of a name it loaded before; with it, the rows come back."""
    with applying(tmp_path) as (b, db, applier):
        table = items(b.schema)
        plain = applier.copy_sql
        monkeypatch.setattr(applier, "copy_sql", lambda *a: plain(*a).replace(" COPY_OPTIONS ('force' = 'true')", ""))
        applier.apply_file("run", 0, [TableBatch(table, upserts=rows(3))], ME, 60)
        assert b.read(table) == rows(3)

        def forget() -> None:   # the rows and the record gone: file 0 is applied again
            b.raw.execute(f"DELETE FROM `{meta(b)}`.`applied`;\n")
            b.raw.execute(f"DELETE FROM `{b.schema}`.`items`;\n")
        forget()
        applier.apply_file("run", 0, [TableBatch(table, upserts=rows(3))], ME, 60)
        assert b.read(table) == []
        forget()
        monkeypatch.setattr(applier, "copy_sql", plain)
        applier.apply_file("run", 0, [TableBatch(table, upserts=rows(3))], ME, 60)
        assert b.read(table) == rows(3)
