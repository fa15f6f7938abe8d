"""Firebolt's own behaviour (issue 24), at the stand-in tier (``cloud/firebolt.py``): DSN
refusals, the login, the statements a file's apply sends and their order, a failure
between two of them (nothing applied, the replay applies once), the staged objects
deleted, U records that find no row, type refusals, secrets kept out of every message."""
from __future__ import annotations

import contextlib
import datetime as dt
import re
from decimal import Decimal

import pytest

from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.firebolt import FireboltDatabase
from targetsync_core.adapters.firebolt.adapter import index_columns
from targetsync_core.dsn import parse_dsn
from targetsync_core.errors import ConfigError, LeaseHeld, SchemaMismatch
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, write_configs
from tests.conformance.cloud.firebolt import firebolt_backend
from tests.helpers import cli

HOLDER = LeaseHolder("test-holder", "test-host", 1)


def table(schema: str, name: str = "items") -> Table:
    c = Column
    return Table(schema, name, (c("id", Kind.INT64, False), c("name", Kind.VARCHAR, True, length=20),
                                c("price", Kind.DECIMAL, True, precision=10, scale=2),
                                c("at", Kind.TIMESTAMP, True, precision=6)), ("id",))


def rows(n: int, start: int = 0) -> list[tuple]:
    return [(i, f"n{i}", Decimal(i) / 4, dt.datetime(2020, 1, 1) + dt.timedelta(seconds=i)) for i in range(start, n)]


def needs_standin(standin) -> None:
    """Tests that read the statements sent or inject a failure run on the stand-in only
    (against real Firebolt, ``TARGETSYNC_TEST_FIREBOLT_DSN``, they are skipped)."""
    if standin is None:
        pytest.skip("reads the stand-in's statement log or injects a failure: stand-in tier only")


def open_db(b) -> FireboltDatabase:
    return FireboltDatabase.from_dsn("firebolt", parse_dsn(b.url, source="target.dsn"))


# ---- the DSN, without a server ----------------------------------------------------------

def dsn(tmp_path, text: str):
    return parse_dsn(text, source=str(tmp_path / "target.dsn"))


@pytest.mark.parametrize("text,needle", [
    ("postgresql://id@acct/db?engine=e", "firebolt://<client_id>@<account>/<database>?engine=<engine>"),
    ("firebolt://id@acct/db?clientSecretFile=s", "lacks ?engine="),
    ("firebolt://acct/db?engine=e&clientSecretFile=s", "lacks the client id"),
    ("firebolt://id@acct/?engine=e&clientSecretFile=s", "lacks the database"),
    ("firebolt://id@acct/db?engine=e", "names no client secret: add clientSecretFile="),
    ("firebolt://id:pw-in-url@acct/db?engine=e&clientSecretFile=s", "gives the client secret twice"),
    ("firebolt://id@acct/db?engine=e&clientSecretFile=missing.secret", "clientSecretFile"),
])
def test_dsn_refusals_are_one_line_naming_the_dsn_file_and_the_fix(tmp_path, text, needle):
    (tmp_path / "s").write_text("the-secret-value\n")
    with pytest.raises(ConfigError) as e:
        FireboltDatabase.from_dsn("firebolt", dsn(tmp_path, text.replace("Secretfile=s", f"SecretFile={tmp_path}/s")
                                                   .replace("clientSecretFile=s", f"clientSecretFile={tmp_path}/s")))
    msg = str(e.value)
    assert needle in msg and len(msg.splitlines()) == 1, msg
    assert "the-secret-value" not in msg and "pw-in-url" not in msg
    assert str(tmp_path) in msg or "missing.secret" in msg


def test_the_secret_file_is_read_relative_to_the_dsn_file_and_remembered_as_a_secret(tmp_path):
    from targetsync_core.dsn import scrub
    (tmp_path / "fb.secret").write_text("  s3cr3t-firebolt-value \n")
    db = FireboltDatabase.from_dsn("firebolt", dsn(tmp_path, "firebolt://id@acct/db?engine=e&clientSecretFile=fb.secret"))
    assert db.secret == "s3cr3t-firebolt-value"
    assert "s3cr3t-firebolt-value" not in repr(db.dsn) + db.identity() + db.where()
    assert scrub("said s3cr3t-firebolt-value") == "said ***"


def test_an_empty_secret_file_is_refused(tmp_path):
    (tmp_path / "fb.secret").write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        FireboltDatabase.from_dsn("firebolt", dsn(tmp_path, "firebolt://id@acct/db?engine=e&clientSecretFile=fb.secret"))


def test_staging_without_credentials_for_copy_is_refused_before_connecting(tmp_path):
    (tmp_path / "fb.secret").write_text("fb-test-secret-91\n")
    db = FireboltDatabase.from_dsn("firebolt", dsn(
        tmp_path, "firebolt://id@acct/db?engine=e&clientSecretFile=fb.secret&awsBucket=my-bucket/p"))
    with pytest.raises(ConfigError, match="awsCredentialsFile=<file> .* or awsRoleArn=<arn>"):
        db.open_applier()


def test_an_iam_role_is_what_copy_reads_the_stage_with_when_given(tmp_path):
    (tmp_path / "fb.secret").write_text("fb-test-secret-91\n")
    db = FireboltDatabase.from_dsn("firebolt", dsn(
        tmp_path, "firebolt://id@acct/db?engine=e&clientSecretFile=fb.secret&awsBucket=my-bucket/p"
                  "&awsRoleArn=arn:aws:iam::123:role/fb"))
    assert db.copy_credentials() == "(AWS_ROLE_ARN = 'arn:aws:iam::123:role/fb')"


def test_a_missing_driver_is_one_line_saying_what_to_install(tmp_path, monkeypatch):
    import sys
    from targetsync_core.errors import ConnectError
    (tmp_path / "fb.secret").write_text("fb-test-secret-91\n")
    db = FireboltDatabase.from_dsn("firebolt", dsn(tmp_path, "firebolt://id@acct/db?engine=e&clientSecretFile=fb.secret"))
    monkeypatch.setitem(sys.modules, "firebolt.db", None)   # as if firebolt-sdk were not installed
    with pytest.raises(ConnectError) as e:
        db.connect()
    assert "needs firebolt-sdk: pip install 'targetsync[firebolt]'" in str(e.value)
    assert len(str(e.value).splitlines()) == 1


def test_applying_without_a_staging_bucket_is_refused_naming_the_parameter(tmp_path):
    (tmp_path / "fb.secret").write_text("fb-test-secret-91\n")
    db = FireboltDatabase.from_dsn("firebolt", dsn(tmp_path, "firebolt://id@acct/db?engine=e&clientSecretFile=fb.secret"))
    with pytest.raises(ConfigError, match=r"names no S3 staging bucket: add \?awsBucket="):
        db.open_applier()


@pytest.mark.parametrize("definition,columns", [
    ("[id, name]", ["id", "name"]), ('("a b", "Q""x")', ["a b", 'Q"x']), ("id", ["id"]), ("", [])])
def test_primary_index_definitions_are_read_in_key_order(definition, columns):
    assert index_columns(definition) == columns


def test_generated_ddl_declares_the_key_as_the_primary_index_and_refuses_a_too_wide_decimal():
    t = Table("public", "t", (Column("b", Kind.UUID, False), Column("a", Kind.INT16, False),
                              Column("tm", Kind.TIME, True, precision=6), Column("j", Kind.JSON, True),
                              Column("u", Kind.UINT64, True), Column("n", Kind.DECIMAL, True)), ("a", "b"))
    ddl = FireboltDatabase.generate_ddl([t])
    assert ddl["c.sql"] == ('CREATE TABLE IF NOT EXISTS "public"."t" (\n    "b" TEXT NOT NULL,\n    "a" INTEGER NOT NULL,'
                            '\n    "tm" TEXT NULL,\n    "j" TEXT NULL,\n    "u" NUMERIC(20, 0) NULL,\n'
                            '    "n" NUMERIC(38, 9) NULL\n) PRIMARY INDEX "a", "b";\n')
    assert ddl["d.sql"] == 'DROP TABLE IF EXISTS "public"."t";\n'
    wide = Table("public", "w", (Column("id", Kind.INT32, False), Column("d", Kind.DECIMAL, True, precision=40,
                                                                          scale=2)), ("id",))
    with pytest.raises(SchemaMismatch, match=r"w column d is decimal\(40, 2\): Firebolt's NUMERIC holds at most 38"):
        FireboltDatabase.generate_ddl([wide])


# ---- against the stand-in ------------------------------------------------------------------

def test_a_wrong_client_secret_is_refused_as_a_login_in_one_line_without_the_secret(tmp_path):
    with firebolt_backend(tmp_path, "login") as (b, _, _):
        secret_file = re.search(r"clientSecretFile=([^&]+)", b.url).group(1)
        from urllib.parse import unquote
        path = unquote(secret_file)
        right = open(path).read().strip()
        wrong = right + "-WRONG"
        open(path, "w").write(wrong + "\n")
        db = open_db(b)
        with pytest.raises(ConfigError) as e:
            db.shape("public", "nothing")
        msg = str(e.value)
        assert "refused the login" in msg and "DSN file target.dsn" in msg and len(msg.splitlines()) == 1, msg
        assert wrong not in msg and right not in msg


def test_composite_keys_are_windowed_without_row_value_comparisons(tmp_path):
    from targetsync_core.diff.windows import Window
    with firebolt_backend(tmp_path, "composite") as (b, standin, _):
        needs_standin(standin)
        t = Table("public", "pairs", (Column("a", Kind.INT32, False), Column("b", Kind.VARCHAR, False, length=5),
                                      Column("v", Kind.INT32, True)), ("a", "b"))
        b.create([t])
        b.insert(t, [(a, s, a) for a in range(3) for s in ("x", "y", "é")])
        db = open_db(b)
        assert db.window_bounds(t, 4) == [(1, "y"), (2, "é")]   # the 5th and 9th keys in code-point order
        got = list(db.read_window(t, Window(0, 1, (1, "y"), (2, "é"))))
        assert [r[:2] for r in got] == [(1, "y"), (1, "é"), (2, "x"), (2, "y")]
        assert not [s for s in standin.sent if re.search(r"\) [<>]=? \(", s)]
        db.close()


@pytest.mark.parametrize("sql", [
    "SELECT 1 FROM t WHERE (a, b) >= (1, 'x')", "SELECT 1 FROM t FOR UPDATE", "CREATE TEMPORARY TABLE t (a INT)",
    "INSERT INTO t VALUES (1) ON CONFLICT DO NOTHING", "DELETE FROM t RETURNING a",
    "MERGE INTO t USING s ON t.a = s.a WHEN MATCHED THEN DELETE"])
def test_the_standin_refuses_what_firebolt_does_not_run(sql):
    from tests.conformance.cloud.firebolt_standin import StandinError, _translated
    with pytest.raises(StandinError, match="the stand-in refuses"):
        _translated(sql)


def test_an_unmapped_live_type_is_refused_naming_the_column(tmp_path):
    with firebolt_backend(tmp_path, "types") as (b, _, _):
        b.execute('CREATE TABLE "public"."odd" ("id" INTEGER NOT NULL, "xs" INTEGER[] NULL) PRIMARY INDEX "id";\n')
        with pytest.raises(SchemaMismatch, match="table public.odd column xs has type"):
            open_db(b).shape("public", "odd")


def apply_one(db, run_id: str, file_no: int, batch: TableBatch):
    applier = db.open_applier()
    try:
        applier.acquire_lease(HOLDER, 60)
        applier.apply_file(run_id, file_no, [batch], HOLDER, 60)
        return dict(applier.missed)
    finally:
        applier.close()


@contextlib.contextmanager
def items_table(tmp_path, name: str, n: int):
    """Table ``public.items`` holding ``n`` rows on the stand-in, and an adapter on it:
    (backend, stand-in, stage, table, database)."""
    with firebolt_backend(tmp_path, name) as (b, standin, stage):
        t = table("public")
        b.create([t])
        b.insert(t, rows(n))
        db = open_db(b)
        try:
            yield b, standin, stage, t, db
        finally:
            db.close()


def test_a_file_applies_through_s3_and_copy_then_delete_insert_update_and_its_record_in_one_transaction(tmp_path):
    with items_table(tmp_path, "order", 6) as (b, standin, stage, t, db):
        needs_standin(standin)
        mine = table("public", "items_wkm0")   # a user's table named like another tool's shadow
        b.create([mine])
        b.insert(mine, rows(1))
        batch = TableBatch(t, upserts=[(1, "one", Decimal("9.50"), None), (10, "ten", None, None)], deletes=[(2,)],
                           updates={(1,): [((3,), ("three",)), ((99,), ("gone",))]})
        standin.sent.clear()
        missed = apply_one(db, "run-a", 1, batch)
        assert missed == {"public.items": 1}   # key 99 holds no row
        got = {r[0]: r[1] for r in b.read(t)}
        assert got == {0: "n0", 1: "one", 3: "three", 4: "n4", 5: "n5", 10: "ten"}
        sent = [x for x in standin.sent if not x.startswith(("select 1", "SELECT column_name", "SELECT index_definition"))]
        start = sent.index("SELECT 1 FROM \"public\".\"_targetsync_applied\" WHERE run_id = 'run-a' AND file_no = 1")
        assert sent[start - 3] == "BEGIN" and sent[start - 2].startswith("SELECT holder")   # the lease, then the file
        expected = ['DROP TABLE IF EXISTS "public"."_targetsync_items_wkm0"', 'CREATE TABLE "public"."_targetsync_items_wkm0" ("__op" TEXT',
                    'DELETE FROM "public"."_targetsync_items_wkm0" WHERE TRUE', 'COPY INTO "public"."_targetsync_items_wkm0" ("__op" $1',
                    'DELETE FROM "public"."items" AS ts_t USING', 'INSERT INTO "public"."items" ("id"',
                    'SELECT count(*) FROM "public"."_targetsync_items_wkm0"', 'UPDATE "public"."items" AS ts_t SET "name"',
                    "INSERT INTO \"public\".\"_targetsync_applied\" VALUES ('run-a', 1, 5, ", "COMMIT"]
        got = sent[start + 1:start + 1 + len(expected)]
        assert [g[:len(e)] for g, e in zip(got, expected)] == expected, got
        copy = got[3]
        assert re.search(r"FROM 's3://[^']+/targetsync/run-a/000001/public\.items/00001\.csv' WITH TYPE = CSV", copy)
        assert stage.stage.keys(stage.settings.prefix) == []   # the staged object is gone
        assert b.read(mine) == rows(1)   # untouched


def test_a_failure_between_two_statements_applies_nothing_and_the_replay_applies_once(tmp_path):
    with items_table(tmp_path, "crash", 4) as (b, standin, _, t, db):
        needs_standin(standin)
        before = b.read(t)
        batch = TableBatch(t, upserts=[(7, "seven", None, None)], deletes=[(0,)], updates={(1,): [((1,), ("uno",))]})
        standin.fail_next.append((r'^INSERT INTO "public"\."items"', "the engine went away"))
        with pytest.raises(Exception, match="the engine went away"):
            apply_one(db, "run-b", 1, batch)
        assert b.read(t) == before   # the delete before it was rolled back with it
        applier = db.open_applier()
        assert applier.applied_files("run-b") == set()
        applier.close()
        apply_one(db, "run-b", 1, batch)
        after = b.read(t)
        apply_one(db, "run-b", 1, batch)   # a replay of an applied file: the record stops it
        assert b.read(t) == after and {r[0] for r in after} == {1, 2, 3, 7}
        assert [r[1] for r in after if r[0] == 1] == ["uno"]


def test_a_connection_lost_mid_file_is_a_lost_connection_and_nothing_is_applied(tmp_path):
    from targetsync_core.errors import ConnectError
    with items_table(tmp_path, "lost", 4) as (b, standin, _, t, db):
        needs_standin(standin)
        before = b.read(t)
        batch = TableBatch(t, upserts=[(9, "nine", None, None)], deletes=[(1,)])
        standin.fail_next.append((r'^INSERT INTO "public"\."items"', None))   # the engine hangs up
        with pytest.raises(ConnectError, match=r"lost the connection to firebolt account .* \(DSN file target\.dsn\)"):
            apply_one(db, "run-l", 1, batch)
        assert b.read(t) == before
        apply_one(db, "run-l", 1, batch)
        assert {r[0] for r in b.read(t)} == {0, 2, 3, 9}


def test_a_second_loader_is_refused_while_the_first_holds_the_lease(tmp_path):
    with firebolt_backend(tmp_path, "lease") as (b, _, _):
        db = open_db(b)
        first, second = db.open_applier(), db.open_applier()
        try:
            first.acquire_lease(LeaseHolder("one", "other-host", 1), 60)
            with pytest.raises(LeaseHeld):
                second.acquire_lease(LeaseHolder("two", "other-host", 2), 60)
        finally:
            first.close()
            second.close()
            db.close()


def test_no_secret_reaches_the_output_when_firebolt_quotes_the_copy_statement_back(tmp_path):
    (tmp_path / "creds").mkdir()
    with BACKENDS["sqlite"](tmp_path, "src") as src, firebolt_backend(tmp_path / "creds", "leak") as (tgt, standin,
                                                                                                   stage):
        needs_standin(standin)
        t = table(src.schema)
        src.create([t])
        src.insert(t, rows(30))
        write_configs(tmp_path, src, tgt, ["items"])
        assert cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply").returncode == 0
        standin.fail_next.append((r"^COPY INTO", f"cannot read the object: query was COPY … "
                                                  f"AWS_SECRET_KEY = '{stage.secret}'"))
        r = cli("sync", "--config", str(tmp_path / "sync.cfg"), "--debug")
        assert r.returncode != 0
        assert "cannot read the object" in r.stderr, r.stderr
        secret = open(re.search(r"clientSecretFile=([^&]+)", tgt.url).group(1).replace("%2F", "/")).read().strip()
        for hidden in (stage.secret, secret):
            assert hidden not in r.stdout + r.stderr
        assert cli("sync", "--config", str(tmp_path / "sync.cfg")).returncode == 0   # nothing was half applied
        assert len(tgt.read(t.renamed("public"))) == 30


def test_keys_held_as_text_or_bytes_keep_their_order_and_sync_to_no_difference(tmp_path, capsys):
    """A time key is TEXT ``HH:MM:SS.ffffff`` (fixed width: ``10:00:00`` and ``10:00:00.5``
    in time order), a uuid key TEXT in lower case, a bytes key BYTEA bound as ``\\x`` hex:
    windows over them read in the source's order, and a sync leaves nothing to repair."""
    import uuid

    from targetsync_core.cli import main
    c = Column
    t = Table("public", "odd_keys", (c("tm", Kind.TIME, False, precision=6), c("u", Kind.UUID, False),
                                     c("b", Kind.BLOB, False), c("v", Kind.INT32, True)), ("tm", "u", "b"))
    times = [dt.time(10), dt.time(10, 0, 0, 500000), dt.time(9, 59, 59, 999999), dt.time(0), dt.time(23, 59, 59)]
    ids = [uuid.UUID(int=(i * 0x9E3779B97F4A7C15) % 2**128) for i in range(3)]
    keys = [(tm, u, bytes([i, 255 - i])) for tm in times for i, u in enumerate(ids)]
    with BACKENDS["postgres"](tmp_path, "src") as src, firebolt_backend(tmp_path, "oddkeys") as (tgt, _, _):
        src.create([t])
        src.insert(t, [(*k, n) for n, k in enumerate(keys)])
        write_configs(tmp_path, src, tgt, ["odd_keys"], window_size=4)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        tgt.insert(t, [(*k, -1) for k in keys[::2]])
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
        assert "validate: 0 difference(s)" in capsys.readouterr().out
        assert sorted(r[3] for r in tgt.read(t)) == list(range(len(keys)))
        db = open_db(tgt)
        assert list(db.read_keys(t)) == sorted(keys)   # the diff's order: time, uuid bytes, bytes
        db.close()


def test_an_unreachable_service_is_one_line_naming_the_account_and_the_dsn_file(tmp_path):
    """Nothing listens at the API and login endpoints: exit 3 (a connection problem, which
    a later run may get past), one line, no secret."""
    import socket
    import sqlite3
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "fb.secret").write_text("unreachable-secret-value\n")
    (tmp_path / "target.dsn").write_text(
        f"firebolt://cid@acct_x/db?engine=e&clientSecretFile=fb.secret&apiEndpoint=http://127.0.0.1:{port}"
        f"&authEndpoint=http://127.0.0.1:{port}\n")
    (tmp_path / "source.dsn").write_text(f"sqlite:///{tmp_path / 'src.db'}\n")
    conn = sqlite3.connect(tmp_path / "src.db")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.close()
    (tmp_path / "tables.txt").write_text("main.t\n")
    (tmp_path / "schema.cfg").write_text("sourceType=sqlite\nsourceDsnFile=source.dsn\ntargetType=firebolt\n"
                                         "targetDsnFile=target.dsn\ntableFile=tables.txt\nschemaFile=schema.skt\n"
                                         "outputDirectory=ddl\nschemaRename=main:public\n")
    r = cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply")
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 3 and len(lines) == 1, r.stderr
    assert "cannot connect to firebolt account acct_x engine e database db" in lines[0], lines
    assert f"(DSN file {tmp_path / 'target.dsn'})" in lines[0], lines
    assert "unreachable-secret-value" not in r.stdout + r.stderr
