"""MongoDB on a standalone server (no replica set, so no multi-document transactions):
the applier falls back to applying a file in chunks of ``standalone.CHUNK_OPS`` writes,
each followed by its record, the file's record last (``adapters/mongodb/standalone.py``).

Against secantusdb ``--standalone`` (or TARGETSYNC_TEST_MONGODB_STANDALONE_DSN), with
transactions refused as mongod refuses them there (``mongodb_standalone_backend``), so
nothing here passes by using one."""
from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time

import pytest

from targetsync_core import faults
from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.mongodb import standalone
from targetsync_core.adapters.mongodb.adapter import MongoDatabase
from targetsync_core.cli import main
from targetsync_core.emit import files as F
from targetsync_core.errors import DataError, LeaseHeld
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, mongodb_backend, mongodb_standalone_backend, write_configs
from tests.conformance.test_conformance import assert_same, prepare
from tests.e2e.test_crash import start

APPLIED, LEASE = "_targetsync_applied", "_targetsync_lease"
ME = LeaseHolder("me", socket.gethostname(), os.getpid())


@contextlib.contextmanager
def bookkeeping(backend):
    """The target's bookkeeping database, through a client of its own."""
    db = backend.db
    try:
        yield db.meta()
    finally:
        db.close()


def file_records(backend) -> list[dict]:
    with bookkeeping(backend) as meta:
        return list(meta[APPLIED].find({"chunk": {"$exists": False}}))


def chunk_records(backend) -> list[dict]:
    with bookkeeping(backend) as meta:
        return list(meta[APPLIED].find({"chunk": {"$exists": True}}).sort([("file_no", 1), ("chunk", 1)]))


def assert_chunks_cover_each_file_once(backend) -> None:
    """Every applied file's chunks are numbered 0, 1, … and cover its writes end to end,
    each once (a chunk record's ``_id`` is unique, so none was recorded twice)."""
    chunks = chunk_records(backend)
    for f in file_records(backend):
        own = [c for c in chunks if (c["run_id"], c["file_no"]) == (f["run_id"], f["file_no"])]
        assert [c["chunk"] for c in own] == list(range(len(own))), f
        assert [c["_id"] for c in own] == [f"{f['_id']}/{c['chunk']}" for c in own]
        ends = [0] + [c["end"] for c in own]
        assert [c["start"] for c in own] == ends[:-1] and ends[-1] == f["records"], (f, own)


def items(schema: str, name: str = "items") -> Table:
    return Table(schema, name, (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=20)), ("id",))


def rows(n: int, tag: str = "v") -> list[tuple]:
    return [(i, f"{tag}{i}") for i in range(n)]


def rival(pid: int, host: str = socket.gethostname(), expires_in: float = 60.0) -> dict:
    return {"_id": "loader", "holder": "rival", "host": host, "pid": pid, "expires_at": time.time() + expires_in}


@pytest.mark.parametrize("source_kind", ["sqlite", "postgres"])
def test_a_standalone_target_syncs_converges_and_a_second_sync_emits_nothing(tmp_path, source_kind, capsys,
                                                                            monkeypatch):
    monkeypatch.setattr(standalone, "CHUNK_OPS", 25)
    with BACKENDS[source_kind](tmp_path, "src") as src, mongodb_standalone_backend(tmp_path, "tgt") as tgt:
        src_tables, tgt_tables = prepare(tmp_path, src, tgt, seed=31)
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert "sync: 0 file(s)" not in capsys.readouterr().out
        assert_same(src, tgt, src_tables, tgt_tables)
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert "sync: 0 file(s), 0 record(s) applied" in capsys.readouterr().out
        assert_same(src, tgt, src_tables, tgt_tables)
        assert len(chunk_records(tgt)) > len(file_records(tgt)) > 1   # files of several chunks
        assert_chunks_cover_each_file_once(tgt)


class Killed(Exception):
    """The loader dying between a chunk's writes and its record."""


def test_a_loader_killed_mid_file_resumes_after_its_recorded_chunks(tmp_path, monkeypatch):
    monkeypatch.setattr(standalone, "CHUNK_OPS", 5)
    passes = []   # one per chunk whose writes were all made

    def point(name: str) -> None:
        if name == standalone.CHUNK_WRITTEN:
            passes.append(name)
            if len(passes) == 3:
                raise Killed("after the third chunk's writes, before its record")
    with BACKENDS["sqlite"](tmp_path, "src") as src, mongodb_standalone_backend(tmp_path, "tgt") as tgt:
        src_tables, tgt_tables = prepare(tmp_path, src, tgt, seed=32)
        assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
        run_id = F.read_run(tmp_path / "emit")
        monkeypatch.setattr(faults, "point", point)
        assert main(["apply", "--config", str(tmp_path / "apply.cfg")]) == 3
        # file 0 is half applied: two chunks recorded, no record of the file
        assert [(c["file_no"], c["chunk"]) for c in chunk_records(tgt)] == [(0, 0), (0, 1)]
        assert file_records(tgt) == []
        db = tgt.db
        assert db.open_applier().applied_files(run_id) == set()
        db.close()
        assert main(["apply", "--config", str(tmp_path / "apply.cfg")]) == 0
        assert_same(src, tgt, src_tables, tgt_tables)
        chunks = chunk_records(tgt)
        # the killed chunk's writes were made twice (idempotent), every other chunk's once
        assert len(passes) == len(chunks) + 1
        assert_chunks_cover_each_file_once(tgt)
        assert {f["file_no"] for f in file_records(tgt)} == set(F.ckt_numbers(tmp_path / "done"))
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0


def write_cfg_apply(d, tgt) -> None:
    (d / "apply.cfg").write_text(f"targetType={tgt.type_name}\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                 "inputDirectory=emit\ndoneDirectory=done\n")


def test_a_loader_sigkilled_mid_file_resumes_and_ends_equal(tmp_path):
    """A real kill (SIGKILL at the fault point, in a process of its own) in a file of
    3,500 inserts, four chunks of the default 1,000 writes."""
    with BACKENDS["sqlite"](tmp_path, "src") as src, mongodb_standalone_backend(tmp_path, "tgt") as tgt:
        table = items(src.schema)
        src.create([table])
        src.insert(table, rows(3500))
        write_configs(tmp_path, src, tgt, ["items"], file_mb=8)
        write_cfg_apply(tmp_path, tgt)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
        assert F.ckt_numbers(tmp_path / "emit") == [0]
        p = start("apply", tmp_path / "apply.cfg", crash_at=f"{standalone.CHUNK_WRITTEN}:3")
        _, err = p.communicate(timeout=120)
        assert p.returncode == -signal.SIGKILL, err
        assert [c["chunk"] for c in chunk_records(tgt)] == [0, 1] and file_records(tgt) == []
        assert len(tgt.read(table.renamed(tgt.schema))) == 3000
        p = start("apply", tmp_path / "apply.cfg")
        _, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        assert [c["chunk"] for c in chunk_records(tgt)] == [0, 1, 2, 3]
        assert [f["records"] for f in file_records(tgt)] == [3500]
        assert_chunks_cover_each_file_once(tgt)
        assert tgt.read(table.renamed(tgt.schema)) == src.read(table)


def test_the_fallback_is_said_once_in_one_line_without_the_password(tmp_path, capsys):
    secret = "s3cret-pw-" + os.urandom(4).hex()
    with BACKENDS["sqlite"](tmp_path, "src") as src, mongodb_standalone_backend(tmp_path, "tgt") as tgt:
        user = "ts_" + os.urandom(4).hex()
        with bookkeeping(tgt) as meta:
            meta.client.admin.command("createUser", user, pwd=secret, roles=["root"])
        try:
            src_tables, tgt_tables = prepare(tmp_path, src, tgt, seed=33)
            (tmp_path / "target.dsn").write_text(tgt.url.replace("mongodb://", f"mongodb://{user}:{secret}@") + "\n")
            capsys.readouterr()
            assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
            out = capsys.readouterr()
            assert_same(src, tgt, src_tables, tgt_tables)
        finally:
            with bookkeeping(tgt) as meta:
                meta.client.admin.command("dropUser", user)
    said = [line for line in out.err.splitlines() if "standalone" in line]
    assert len(said) == 1, out.err
    assert " WARNING targetsync.mongodb " in said[0]
    assert f"mongodb {tgt.url.split('//')[1].split('?')[0]} is a standalone server" in said[0], said
    assert "no multi-document transactions" in said[0] and "chunks" in said[0]
    assert secret not in out.err + out.out and "***" not in said[0]


@contextlib.contextmanager
def applying(tmp_path, lease: dict | None = None):
    """A standalone target with an ``items`` and an ``other`` collection, its adapter, and
    an applier holding the lease, unless ``lease`` (another loader's) is there first."""
    with mongodb_standalone_backend(tmp_path, "m") as m:
        m.create([items(m.schema), items(m.schema, "other")])
        db = m.db
        try:
            applier = db.open_applier()
            if lease:
                db.meta()[LEASE].insert_one(lease)
            else:
                applier.acquire_lease(ME, 60)
            yield m, db, applier
        finally:
            db.close()


def test_a_lease_another_live_loader_holds_is_refused_and_nothing_is_applied(tmp_path):
    with applying(tmp_path, lease=rival(os.getpid())) as (m, db, applier):
        table = items(m.schema)
        with pytest.raises(LeaseHeld, match=rf"another loader \(pid {os.getpid()} on {socket.gethostname()}\) holds"):
            applier.acquire_lease(ME, 60)
        with pytest.raises(LeaseHeld):
            applier.apply_file("run", 0, [TableBatch(table, upserts=rows(12))], ME, 60)
        assert m.read(table) == [] and db.meta()[APPLIED].count_documents({}) == 0
        assert db.meta()[LEASE].find_one()["holder"] == "rival"


def test_a_lease_lost_between_chunks_stops_the_file_before_the_next(tmp_path, monkeypatch):
    monkeypatch.setattr(standalone, "CHUNK_OPS", 4)
    with applying(tmp_path) as (m, db, applier):
        table, taken = items(m.schema), []

        def point(name: str) -> None:   # a rival takes the lease over after the first chunk
            if name == standalone.CHUNK_WRITTEN and not taken:
                taken.append(db.meta()[LEASE].replace_one({"_id": "loader"}, rival(os.getpid())))
        monkeypatch.setattr(faults, "point", point)
        batch = TableBatch(table, upserts=rows(10))
        with pytest.raises(LeaseHeld):
            applier.apply_file("run", 0, [batch], ME, 60)
        assert len(m.read(table)) == 4 and [c["chunk"] for c in chunk_records(m)] == [0]
        assert file_records(m) == []
        db.meta()[LEASE].update_one({"_id": "loader"}, {"$set": {"holder": "", "expires_at": 0}})   # released
        applier.apply_file("run", 0, [batch], ME, 60)
        assert m.read(table) == rows(10) and [c["chunk"] for c in chunk_records(m)] == [0, 1, 2]
        assert applier.applied_files("run") == {0}
        assert db.meta()[LEASE].find_one()["holder"] == "me"


def dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", ""])
    p.wait()
    return p.pid


@pytest.mark.parametrize("stale", ["expired, on another host", "of a dead process on this host"])
def test_a_stale_lease_is_taken_over(tmp_path, stale):
    lease = rival(1, "elsewhere", -1) if stale.startswith("expired") else rival(dead_pid())
    with applying(tmp_path, lease=lease) as (m, db, applier):
        applier.acquire_lease(ME, 60)
        assert db.meta()[LEASE].find_one()["holder"] == "me"


def test_deletes_upserts_and_updates_across_chunk_boundaries_and_a_replay_changes_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(standalone, "CHUNK_OPS", 3)
    passes = []
    monkeypatch.setattr(faults, "point", passes.append)
    with applying(tmp_path) as (m, db, applier):
        a, b = items(m.schema), items(m.schema, "other")
        m.insert(a, rows(10, "old"))
        m.insert(b, rows(4, "old"))
        batches = [TableBatch(a, upserts=[(20, "new20"), (21, "new21")], deletes=[(0,), (1,), (2,), (3,)],
                              updates={(1,): [((5,), ("upd5",)), ((6,), ("upd6",)), ((99,), ("gone",))]}),
                   TableBatch(b, deletes=[(0,)], upserts=[(2, "new2")])]
        applier.apply_file("run", 0, batches, ME, 60)
        want_a = [(4, "old4"), (5, "upd5"), (6, "upd6"), *rows(10, "old")[7:], (20, "new20"), (21, "new21")]
        assert m.read(a) == want_a and m.read(b) == [(1, "old1"), (2, "new2"), (3, "old3")]
        assert applier.missed == {a.qualified: 1}   # key 99 had no document
        assert len(passes) == 4   # 11 writes in chunks of 3
        applier.apply_file("run", 0, batches, ME, 60)   # the file's record: nothing is written again
        assert len(passes) == 4 and m.read(a) == want_a and applier.applied_files("run") == {0}
        assert_chunks_cover_each_file_once(m)


def test_a_file_failing_to_decode_part_way_applies_nothing(tmp_path, monkeypatch):
    monkeypatch.setattr(standalone, "CHUNK_OPS", 2)
    with applying(tmp_path) as (m, db, applier):
        table = items(m.schema)

        def batches():
            yield TableBatch(table, upserts=rows(10))
            raise DataError("7.ckt:12: a malformed line")
        with pytest.raises(DataError, match="malformed"):
            applier.apply_file("run", 7, batches(), ME, 60)
        assert m.read(table) == [] and db.meta()[APPLIED].count_documents({}) == 0


def test_transactional_apply_is_reported_once_the_server_is_known(tmp_path):
    assert MongoDatabase.capabilities.transactional_apply is False   # not every server has transactions
    with mongodb_backend(tmp_path, "rs") as rs, mongodb_standalone_backend(tmp_path, "sa") as sa:
        replica, alone = rs.db, sa.db
        assert type(replica.open_applier()) is not standalone.ChunkedApplier
        assert type(alone.open_applier()) is standalone.ChunkedApplier
        assert replica.capabilities.transactional_apply is True
        assert alone.capabilities.transactional_apply is False
        assert replica.capabilities.name == alone.capabilities.name == "mongodb"
        replica.close()
        alone.close()
