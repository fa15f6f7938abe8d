"""Spanner-specific behaviour (``targetsync_core/adapters/spanner``), against Google's
emulator (``tests/conformance/cloud/spanner.py``): DSN and credentials refusals, a file
committed in chunks under the mutation limit (which the emulator does not enforce, so the
adapter's own count is checked), a loader stopped between chunks resuming without
re-applying one, U records whose row is gone, BYTES through the client's base64, decimals
NUMERIC cannot hold, the lease, Spanner's default schema and code-point ordered windows."""
from __future__ import annotations

import datetime as dt
import json
import os
import socket
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest

from targetsync_core import faults
from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.spanner import applier as A
from targetsync_core.adapters.spanner.adapter import SpannerDatabase
from targetsync_core.diff.windows import boundaries, windows
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import ConfigError, DataError, LeaseHeld, SchemaMismatch
from targetsync_core.model.schema import Column, ForeignKey, Table
from targetsync_core.model.types import Kind
from tests.conformance.cloud.spanner import spanner_database

ME = LeaseHolder("me", socket.gethostname(), os.getpid())
URL = "spanner://projects/p1/instances/i1/databases/d1"


@pytest.fixture(scope="module")
def spanner():
    """(DSN, raw client access) of one emulator database for this module's tests."""
    with spanner_database() as found:
        found[1].execute("CREATE SCHEMA IF NOT EXISTS app")   # tests that make tables by hand need it
        yield found


def adapter(url: str, source: str = "target.dsn") -> SpannerDatabase:
    return SpannerDatabase.from_dsn("spanner", parse_dsn(url, source=source))


def made(spanner, *tables: Table) -> SpannerDatabase:
    """The adapter of the module's database, with ``tables`` created by its generated DDL."""
    url, raw = spanner
    ddl = SpannerDatabase.generate_ddl(list(tables))
    raw.execute(ddl["c.sql"] + ddl["i.sql"] + ddl["f.sql"])
    return adapter(url)


def table(name: str, schema: str = "app", *more: Column) -> Table:
    cols = (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=20), Column("n", Kind.INT32), *more)
    return Table(schema, name, cols, ("id",))


def read(spanner, t: Table) -> list[tuple]:
    return sorted(spanner[1].read(t))


# ---- DSN and credentials, no server needed --------------------------------------------------

@pytest.mark.parametrize("url,says", [
    ("spanner://projects/p1/instances/i1", "not of the form"),
    ("spanner://projects/p1/instances/i1/databases/d1/extra", "not of the form"),
    ("spanner://someone:Sekr3tPw@projects/p1/instances/i1/databases/d1", "no user, password"),
    ("spanner://projects/p1/instances/i1/databases/d1?credential=/k.json", "unknown spanner DSN option(s) credential"),
    ("postgresql://projects/p1/instances/i1/databases/d1", "needs a DSN of the form"),
])
def test_a_malformed_dsn_is_refused_in_one_line_naming_the_dsn_file(url, says):
    with pytest.raises(ConfigError) as err:
        adapter(url, "/cfg/target.dsn")
    text = str(err.value)
    assert says in text and "/cfg/target.dsn" in text and len(text.splitlines()) == 1, text
    assert "Sekr3tPw" not in text


def test_credentials_come_from_the_dsn_relative_to_its_file_or_from_gcpcredfile_not_both(tmp_path):
    db = adapter(URL + "?credentials=key.json", str(tmp_path / "target.dsn"))
    assert (db.project, db.instance, db.database) == ("p1", "i1", "d1")
    assert adapter(URL.replace("://", ":///")).path == "projects/p1/instances/i1/databases/d1"
    assert db.credentials == str(tmp_path / "key.json")
    from dataclasses import replace
    given = replace(parse_dsn(URL, source="t.dsn"), credentials_file="/etc/k.json")
    assert SpannerDatabase.from_dsn("spanner", given).credentials == "/etc/k.json"
    with pytest.raises(ConfigError, match="keep one"):
        SpannerDatabase.from_dsn("spanner", replace(parse_dsn(URL + "?credentials=/a.json", source="t"),
                                                    credentials_file="/etc/k.json"))


def test_a_credentials_file_that_is_missing_or_not_a_key_is_refused_without_its_text(tmp_path):
    missing = adapter(URL + f"?credentials={tmp_path / 'nope.json'}")
    with pytest.raises(ConfigError, match="cannot read the credentials file .*nope.json"):
        missing.db()
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----TOPSECRET"}))
    with pytest.raises(ConfigError) as err:
        adapter(URL + f"?credentials={bad}").db()
    assert "is not a service-account JSON key" in str(err.value) and "TOPSECRET" not in str(err.value)


def test_a_missing_client_library_is_one_line_saying_what_to_install(monkeypatch):
    from targetsync_core.errors import ConnectError
    import google.cloud
    monkeypatch.setitem(sys.modules, "google.cloud.spanner", None)   # import fails as if not installed
    monkeypatch.delattr(google.cloud, "spanner", raising=False)      # (not found on the package either)
    with pytest.raises(ConnectError, match=r"pip install 'targetsync\[spanner\]'") as err:
        adapter(URL).db()
    assert len(str(err.value).splitlines()) == 1


def test_no_credentials_at_all_is_one_line_saying_where_they_come_from(monkeypatch, tmp_path):
    monkeypatch.delenv("SPANNER_EMULATOR_HOST", raising=False)
    monkeypatch.delenv("GOOGLE_APPLICATION_CREDENTIALS", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))   # no gcloud application-default login either
    monkeypatch.setenv("CLOUDSDK_CONFIG", str(tmp_path))
    monkeypatch.setenv("GCE_METADATA_HOST", "127.0.0.1:1")   # nor a metadata server
    with pytest.raises(ConfigError, match="no credentials: name a service-account key file with gcpCredfile"):
        adapter(URL, "/cfg/target.dsn").db()


def test_an_unreachable_server_is_refused_in_one_line_naming_the_dsn_file(monkeypatch):
    from targetsync_core.adapters.spanner import adapter as S
    from targetsync_core.errors import ConnectError
    from tests.standins import free_port
    monkeypatch.setenv("SPANNER_EMULATOR_HOST", f"127.0.0.1:{free_port()}")
    monkeypatch.setattr(S, "CONNECT_TIMEOUT", 1.0)
    with pytest.raises(ConnectError) as err:
        adapter(URL, "/cfg/target.dsn").db()
    text = str(err.value)
    assert text.startswith("cannot connect to spanner 127.0.0.1:") and "(DSN file /cfg/target.dsn)" in text, text
    assert len(text.splitlines()) == 1


def test_a_missing_database_is_refused_as_configuration(spanner):
    url = spanner[0].rsplit("/", 1)[0] + "/nosuchdb"
    with pytest.raises(ConfigError, match="no such database"):
        adapter(url).db()


def test_generated_ddl_refuses_a_decimal_key_numeric_cannot_hold_and_caps_lengths():
    t = Table("app", "wide", (Column("k", Kind.DECIMAL, False, precision=38, scale=0),), ("k",))
    with pytest.raises(SchemaMismatch, match="key column k is .*NUMERIC cannot hold"):
        SpannerDatabase.generate_ddl([t])
    ok = Table("app", "fits", (Column("k", Kind.DECIMAL, False, precision=20, scale=9),
                               Column("w", Kind.DECIMAL, precision=38, scale=10)), ("k",))
    assert "`k` NUMERIC NOT NULL" in SpannerDatabase.generate_ddl([ok])["c.sql"]
    assert "`w` STRING(MAX)" in SpannerDatabase.generate_ddl([ok])["c.sql"]
    long = Table("app", "long", (Column("k", Kind.INT64, False), Column("s", Kind.VARCHAR, length=10**7),
                                 Column("b", Kind.VARBINARY, length=10**8), Column("t", Kind.CHAR, length=10)), ("k",))
    ddl = SpannerDatabase.generate_ddl([long])["c.sql"]
    assert "`s` STRING(MAX)" in ddl and "`b` BYTES(MAX)" in ddl and "`t` STRING(10)" in ddl


def test_chunks_hold_at_most_the_budget_and_never_split_a_write():
    t = table("x")
    ws = [A.Write(t, "I", ("a",), [i], (), cells, size) for i, (cells, size)
          in enumerate([(3, 1), (3, 1), (3, 1), (5, 1), (1, 1), (9, 1), (1, 50), (1, 60), (1, 1)])]
    got = [[w.values[0] for w in c] for c in A.chunks(ws, 9, 100)]
    assert got == [[0, 1, 2], [3, 4], [5], [6], [7, 8]]


def test_mutations_are_counted_as_spanner_counts_them_indexes_included():
    t = Table("app", "counted", (Column("id", Kind.INT64, False), Column("a", Kind.INT64), Column("b", Kind.TEXT),
                                 Column("p", Kind.INT64)), ("id",), unique=(("a", "b"),),
              foreign_keys=(ForeignKey(("p",), "app", "parent", ("id",)),))
    ws = list(A.writes([batch(t, [(1, 2, "x" * 100, 4)], [(5,)], {(2,): [((6,), ("yy",))]})]))
    # index rows: (a, b) + id = 3 cells, (p) + id = 2 cells
    assert [(w.op, w.cells) for w in ws] == [("D", 1 + 2), ("I", 4 + 5), ("U", 2 + 5)]
    assert ws[1].size == 8 * 3 + 100


# ---- against the emulator ------------------------------------------------------------------

def batch(t: Table, upserts=(), deletes=(), updates=None) -> TableBatch:
    return TableBatch(t, list(upserts), list(deletes), dict(updates or {}))


def commits(monkeypatch) -> list[list]:
    """Every chunk the applier commits (its writes), recorded as it commits it."""
    seen: list[list] = []
    real = A.SpannerApplier._commit_chunk

    def spy(self, tx, chunk, *args):
        out = real(self, tx, chunk, *args)
        seen.append(chunk)
        return out
    monkeypatch.setattr(A.SpannerApplier, "_commit_chunk", spy)
    return seen


def chunk_rows(spanner, run_id: str) -> list[list]:
    return spanner[1].query(f"SELECT chunk, end_write FROM targetsync_chunks WHERE run_id = '{run_id}' ORDER BY chunk")


def test_a_large_file_commits_in_recorded_chunks_under_the_mutation_limit(spanner, monkeypatch):
    t = table("chunked")
    db = made(spanner, t)
    spanner[1].insert(t, [(i, f"old{i}", 0) for i in range(0, 400, 2)])
    seen = commits(monkeypatch)
    monkeypatch.setattr(A, "MAX_MUTATIONS", 100 + A.BOOKKEEPING)
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    b = batch(t, [(i, f"new{i}", i) for i in range(1, 400, 2)], [(i,) for i in range(0, 100, 2)],
              {(2,): [((i,), (7,)) for i in range(100, 400, 2)]})
    ap.apply_file("run-c", 0, [b], ME, 60)
    cells = [sum(w.cells for w in c) for c in seen]
    assert len(seen) >= 10 and max(cells) <= 100 and sum(cells) == 50 + 200 * 3 + 150 * 2, cells
    assert sum(len(c) for c in seen) == b.records
    assert [r[0] for r in chunk_rows(spanner, "run-c")] == list(range(len(seen)))
    assert chunk_rows(spanner, "run-c")[-1][1] == b.records and ap.applied_files("run-c") == {0}
    want = sorted([(i, f"new{i}", i) for i in range(1, 400, 2)] + [(i, f"old{i}", 7) for i in range(100, 400, 2)])
    assert read(spanner, t) == want
    ap.apply_file("run-c", 0, [b], ME, 60)   # applied: nothing more is committed
    assert len(chunk_rows(spanner, "run-c")) == len(seen)


def test_the_default_limit_is_spanners_80000_mutations_counted_per_cell(spanner, monkeypatch):
    t = table("limit", "app", Column("w", Kind.TEXT), Column("x", Kind.FLOAT64))   # 5 cells a row
    db = made(spanner, t)
    seen = commits(monkeypatch)
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    rows = [(i, "v", i, "w", 0.5) for i in range(17_000)]   # 85,000 mutations
    ap.apply_file("run-l", 0, [batch(t, rows)], ME, 60)
    assert A.MAX_MUTATIONS == 80_000
    assert [sum(w.cells for w in c) for c in seen] == [(80_000 - A.BOOKKEEPING) // 5 * 5,
                                                       85_000 - (80_000 - A.BOOKKEEPING) // 5 * 5]
    assert len(spanner[1].query("SELECT id FROM app.`limit`")) == 17_000


class Stop(Exception):
    pass


@pytest.mark.parametrize("point", [A.CHUNK_COMMITTED, A.BEFORE_COMMIT])
def test_a_loader_stopped_mid_file_resumes_after_its_last_committed_chunk(spanner, monkeypatch, point):
    """Stopped after chunk 1 committed (or inside chunk 1's transaction), the next loader
    starts at the first write no recorded chunk covers: no committed chunk twice."""
    t = table("resume_" + point.split(".")[1])
    run = "run-" + t.name
    db = made(spanner, t)
    monkeypatch.setattr(A, "MAX_MUTATIONS", 60 + A.BOOKKEEPING)
    b = batch(t, [(i, f"v{i}", i) for i in range(100)])   # 3 cells a write: 20 a chunk, 5 chunks
    passes = {"n": 0}

    def crash(name):
        if name == point:
            passes["n"] += 1
            if passes["n"] == 2:
                raise Stop
    monkeypatch.setattr(faults, "point", crash)
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    with pytest.raises(Stop):
        ap.apply_file(run, 0, [b], ME, 60)
    committed = 2 if point == A.CHUNK_COMMITTED else 1
    assert [r[1] for r in chunk_rows(spanner, run)] == [20 * (i + 1) for i in range(committed)]
    assert len(read(spanner, t)) == 20 * committed and ap.applied_files(run) == set()
    monkeypatch.setattr(faults, "point", lambda name: None)
    seen = commits(monkeypatch)
    again = db.open_applier()
    again.apply_file(run, 0, [b], ME, 60)
    assert seen[0][0].values[0] == 20 * committed   # the first write no committed chunk covered
    assert sum(len(c) for c in seen) == 100 - 20 * committed
    assert [r[1] for r in chunk_rows(spanner, run)] == [20, 40, 60, 80, 100]
    assert read(spanner, t) == [(i, f"v{i}", i) for i in range(100)] and again.applied_files(run) == {0}


def test_an_update_whose_row_is_gone_is_counted_in_missed_and_makes_no_row(spanner):
    t = table("missed")
    db = made(spanner, t)
    spanner[1].insert(t, [(1, "a", 1), (2, "b", 2)])
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    ap.apply_file("run-m", 0, [batch(t, updates={(1,): [((1,), ("A",)), ((5,), ("E",))],
                                                  (2,): [((2,), (20,)), ((6,), (60,)), ((7,), (70,))]})], ME, 60)
    assert ap.missed == {t.qualified: 3}
    assert read(spanner, t) == [(1, "A", 1), (2, "b", 20)]


def test_bytes_that_read_as_base64_are_stored_as_given(spanner):
    """The client takes and returns BYTES as base64 text: raw bytes that happen to be valid
    base64 (``QUJD``) would be stored decoded (``ABC``) unless encoded first."""
    t = Table("app", "bytes_kept", (Column("k", Kind.VARBINARY, False, length=8), Column("b", Kind.BLOB)), ("k",))
    db = made(spanner, t)
    values = [(b"QUJD", b"QUJD"), (b"\x00", b""), (b"\xff\xfe", b"AP8="), (b"ab==", bytes(range(256)))]
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    ap.apply_file("run-b", 0, [batch(t, values)], ME, 60)
    assert read(spanner, t) == sorted(values)
    assert list(db.read_window(t, next(windows(0, [])))) == sorted(values)


def test_a_value_a_numeric_column_cannot_hold_is_refused_naming_the_column(spanner):
    t = Table("app", "numerics", (Column("id", Kind.INT64, False), Column("n", Kind.DECIMAL, precision=38, scale=0)),
              ("id",))
    spanner[1].execute("CREATE TABLE app.numerics (id INT64 NOT NULL, n NUMERIC) PRIMARY KEY (id)")
    db = adapter(spanner[0])
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    with pytest.raises(DataError, match=r"table app.numerics: column n: .* more than the 29 digits"):
        ap.apply_file("run-n", 0, [batch(t, [(1, Decimal(10) ** 35)])], ME, 60)
    ap.apply_file("run-n", 1, [batch(t, [(2, Decimal("1.1234567895")), (3, Decimal(10) ** 28)])], ME, 60)
    assert read(spanner, t) == [(2, Decimal("1.123456790")), (3, Decimal(10) ** 28)]   # rounded half up, as held


def test_the_lease_held_by_a_live_loader_is_refused_and_a_dead_ones_taken(spanner):
    db = adapter(spanner[0])
    ap = db.open_applier()
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        rival = [["loader", "rival", ME.host, live.pid, time.time() + 60]]
        spanner[1].database.run_in_transaction(lambda tx: tx.insert_or_update(A.LEASE, A.LEASE_COLUMNS, rival))
        with pytest.raises(LeaseHeld, match=f"pid {live.pid}"):
            ap.acquire_lease(ME, 60)
        with pytest.raises(LeaseHeld):
            ap.apply_file("run-x", 0, [], ME, 60)
        assert ap.applied_files("run-x") == set()
    finally:
        live.kill()
        live.wait()
    ap.acquire_lease(ME, 60)   # its pid is gone: taken at once
    ap.apply_file("run-x", 0, [], ME, 60)
    ap.release_lease(ME)
    assert spanner[1].query(f"SELECT holder FROM {A.LEASE}") == [[""]] and ap.applied_files("run-x") == {0}


def test_a_target_column_of_a_type_targetsync_cannot_hold_is_refused_naming_it(spanner):
    spanner[1].execute("CREATE TABLE app.arrays (id INT64 NOT NULL, tags ARRAY<STRING(10)>) PRIMARY KEY (id)")
    with pytest.raises(SchemaMismatch, match=r"target column app.arrays.tags is ARRAY<STRING\(10\)>"):
        adapter(spanner[0]).shape("app", "arrays")


def test_ddl_spanner_refuses_is_one_line_naming_the_target(spanner):
    with pytest.raises(ConfigError) as err:
        adapter(spanner[0], "/cfg/target.dsn").execute_script("CREATE TABLE app.broken (id INT64 NOT NULL);\n")
    text = str(err.value)
    assert text.startswith("running DDL on spanner ") and "(DSN file /cfg/target.dsn)" in text, text
    assert len(text.splitlines()) == 1


def test_schema_default_is_spanners_default_schema(spanner):
    t = table("plain", "default")
    db = made(spanner, t)
    assert "CREATE SCHEMA" not in SpannerDatabase.generate_ddl([t])["c.sql"]
    assert spanner[1].query("SELECT table_schema FROM information_schema.tables WHERE table_name = 'plain'") == [[""]]
    live = db.reflect("default", "plain")
    assert [c.name for c in live.columns] == ["id", "v", "n"] and live.primary_key == ("id",)
    assert db.reflect("app", "plain") is None


def test_unique_and_foreign_keys_are_made_and_reflected(spanner):
    parent = Table("app", "parent", (Column("id", Kind.INT64, False), Column("code", Kind.VARCHAR, length=5)),
                   ("id",), unique=(("code",),))
    child = Table("app", "child", (Column("id", Kind.INT64, False), Column("p", Kind.INT64)), ("id",),
                  foreign_keys=(ForeignKey(("p",), "app", "parent", ("id",), "child_parent"),))
    db = made(spanner, parent, child)
    assert db.reflect("app", "parent").unique == (("code",),)
    from targetsync_core.model.graph import Reference
    assert Reference("child_parent", "app.child", ("p",), "app.parent", ("id",)) in db.foreign_keys({"app"})
    assert not [r for r in db.foreign_keys({"default"}) if r.table == "app.child"]
    ap = db.open_applier()
    ap.acquire_lease(ME, 60)
    ap.apply_file("run-f", 0, [batch(parent, [(1, "a"), (2, None), (3, None)]), batch(child, [(1, 1), (2, None)])],
                  ME, 60)
    with pytest.raises(DataError, match="Foreign key .* drop the constraint"):
        ap.apply_file("run-f", 1, [batch(child, [(3, 99)])], ME, 60)
    assert ap.applied_files("run-f") == {0}


def test_windows_read_composite_string_and_bytes_keys_in_code_point_order(spanner):
    t = Table("app", "ordered", (Column("s", Kind.VARCHAR, False, length=10), Column("b", Kind.VARBINARY, False, length=4),
                                 Column("d", Kind.TIMESTAMP, False, precision=6), Column("v", Kind.INT32)),
              ("s", "b", "d"))
    db = made(spanner, t)
    when = dt.datetime(2020, 1, 1, 12, 0, 0, 123456)
    rows = [(s, b, when + dt.timedelta(microseconds=m), i) for i, (s, b, m) in enumerate(
        (s, b, m) for s in ["a", "B", "é", "😀", "日本", "ß", "a b", ""] for b in [b"", b"\x00", b"\xff", b"a"]
        for m in (0, 1))]
    spanner[1].insert(t, rows)
    want = sorted(rows, key=lambda r: (r[0], r[1], r[2]))
    assert list(db.read_keys(t)) == [r[:3] for r in want]
    for size in (1, 5, 13):
        got = [r for w in windows(0, boundaries(db.read_keys(t), size)) for r in db.read_window(t, w)]
        assert got == want, size


def test_a_loader_killed_between_chunks_applies_each_chunk_once(tmp_path, capsys):
    """``apply`` SIGKILLed (``TARGETSYNC_CRASH_AT``) just after its third chunk committed,
    then run again: the file's chunks are recorded once each, numbered on from where the
    first life stopped, and the target converges."""
    from targetsync_core.cli import main
    from tests.conformance.backends import sqlite_backend, write_configs
    from tests.conformance.cloud.spanner import backend
    items = Table("main", "items", (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=20)), ("id",))
    with sqlite_backend(tmp_path, "src") as src, backend(tmp_path, "tgt") as tgt:
        src.create([items])
        src.insert(items, [(i, f"v{i}") for i in range(300)])
        write_configs(tmp_path, src, tgt, ["items"], file_mb=1)
        (tmp_path / "apply.cfg").write_text("targetType=spanner\ntargetDsnFile=target.dsn\nschemaFile=schema.skt\n"
                                            "inputDirectory=emit\ndoneDirectory=done\n")
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
        code = ("import sys; from targetsync_core.adapters.spanner import applier; applier.MAX_MUTATIONS = 100 + "
                "applier.BOOKKEEPING; from targetsync_core.cli import main; sys.exit(main(sys.argv[1:]))")
        env = {**os.environ, "PYTHONPATH": str(Path(__file__).parents[2]),
               "TARGETSYNC_CRASH_AT": f"{A.CHUNK_COMMITTED}:3"}
        killed = subprocess.run([sys.executable, "-c", code, "apply", "--config", str(tmp_path / "apply.cfg")],
                                env=env, capture_output=True, text=True, timeout=300)
        assert killed.returncode == -9, killed.stderr
        chunks_of = lambda: tgt.raw.query("SELECT file_no, chunk, end_write FROM targetsync_chunks ORDER BY 1, 2")
        assert chunks_of() == [[0, 0, 50], [0, 1, 100], [0, 2, 150]]   # 2 cells a write: 50 a chunk
        assert tgt.raw.query("SELECT COUNT(*) FROM targetsync_applied") == [[0]]
        env.pop("TARGETSYNC_CRASH_AT")
        again = subprocess.run([sys.executable, "-c", code, "apply", "--config", str(tmp_path / "apply.cfg")],
                               env=env, capture_output=True, text=True, timeout=300)
        assert again.returncode == 0, again.stderr
        assert chunks_of() == [[0, n, 50 * (n + 1)] for n in range(6)]
        assert sorted(tgt.raw.read(items.renamed("app"))) == [(i, f"v{i}") for i in range(300)]


def test_a_missing_emulator_skips_in_one_line_and_fails_under_ci(monkeypatch):
    from tests.conformance.cloud import spanner as cloud
    monkeypatch.setattr(cloud, "emulator_binary", lambda: None)
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        cloud.emulator()
    assert "spanner emulator" in str(skipped.value) and len(str(skipped.value).splitlines()) == 1
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="under CI a missing server is a failure"):
        cloud.emulator()
