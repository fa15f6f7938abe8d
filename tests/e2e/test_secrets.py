"""Secrets (issue 6): with a password in both DSNs, every command — on success and on
the failures a user meets (a wrong database, a wrong password, --debug) — and the Dagster
job leave the password in no stdout/stderr, no log file, no file the run writes (.ckt,
.skt, DDL, checkpoints) and no Dagster event or run record.

PostgreSQL → MariaDB, each through a login made for the test with a password holding
URL-special characters (percent-encoded in the DSN, so both spellings are searched)."""
from __future__ import annotations

import contextlib
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from targetsync_core.dsn import parse_dsn
from tests.conformance.backends import Backend
from tests.conformance.test_conformance import tables, write_cfg
from tests.helpers import cli
from tests.servers import _maria_admin, _pg_admin, mariadb_database, postgres_database


def secret() -> str:
    return f"Pw#{uuid.uuid4().hex[:10]}@:/%x"


@contextlib.contextmanager
def pg_login(db, password: str):
    role = "ts_u_" + uuid.uuid4().hex[:10]
    admin = _pg_admin()
    admin.execute(f"CREATE ROLE {role} LOGIN PASSWORD %s".replace("%s", "'" + password.replace("'", "''") + "'"))
    admin.execute(f'ALTER DATABASE "{db.name}" OWNER TO {role}')
    d = parse_dsn(db.url)
    try:
        yield f"postgresql://{role}:{quote(password, safe='')}@{d.host}:{d.port}/{db.name}"
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{db.name}" WITH (FORCE)')  # what the role owns, first
        admin.execute(f"DROP ROLE {role}")
        admin.close()


@contextlib.contextmanager
def maria_login(db, password: str):
    user = "ts_u_" + uuid.uuid4().hex[:10]
    admin = _maria_admin()
    with admin.cursor() as cur:
        cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (password,))
        cur.execute(f"GRANT ALL ON `{db.name}`.* TO '{user}'@'%'")
    d = parse_dsn(db.url)
    try:
        yield f"mariadb+pymysql://{user}:{quote(password, safe='')}@{d.host}:{d.port}/{db.name}"
    finally:
        with admin.cursor() as cur:
            cur.execute(f"DROP USER '{user}'@'%'")
        admin.close()


def files_text(root: Path) -> str:
    return "\n".join(p.read_bytes().decode("utf-8", "replace") for p in root.rglob("*")
                     if p.is_file() and not p.name.endswith(".dsn"))


def assert_hidden(text: str, password: str, where: str) -> None:
    for spelling in (password, quote(password, safe=""), password[3:13]):
        assert spelling not in text, f"the password appears in {where}"


@pytest.fixture
def secured(tmp_path):
    with postgres_database() as pdb, mariadb_database() as mdb:
        pw_src, pw_tgt = secret(), secret()
        with pg_login(pdb, pw_src) as src_url, maria_login(mdb, pw_tgt) as tgt_url:
            src = Backend("postgres", "postgres", src_url, "public")
            tgt = Backend("mariadb", "mariadb", tgt_url, mdb.name)
            src.create(tables(src.schema))
            src.insert(tables(src.schema)[3], [(i, f"v{i}", i / 3) for i in range(200)])
            write_cfg(tmp_path, src, tgt)
            yield tmp_path, (pw_src, pw_tgt), f"public:{mdb.name}"


def test_no_command_reveals_a_password(secured):
    d, passwords, _ = secured
    runs = [
        ("schema", "--config", "schema.cfg", "--apply"),
        ("validate", "--config", "emit.cfg", "--logFile", "validate.log"),
        ("emit", "--config", "emit.cfg", "--logFile", "emit.log"),
        ("apply", "--config", "apply.cfg", "--logFile", "apply.log"),
        ("validate", "--config", "emit.cfg", "--debug"),
        ("sync", "--config", "sync.cfg", "--logFile", "sync.log", "--debug"),
    ]
    out = []
    for args in runs:
        r = cli(*args, cwd=d)
        assert r.returncode in (0, 1), (args, r.stderr)
        out += [r.stdout, r.stderr]
    # failures: a database that does not exist, a wrong password, with and without --debug
    src_dsn, tgt_dsn = (d / "source.dsn").read_text(), (d / "target.dsn").read_text()
    (d / "source.dsn").write_text(src_dsn.replace("/ts_", "/missing_ts_"))
    for debug in ((), ("--debug",)):
        r = cli("validate", "--config", "emit.cfg", *debug, cwd=d)
        assert r.returncode == 3 and "cannot connect" in r.stderr, r.stderr
        out += [r.stdout, r.stderr]
    (d / "source.dsn").write_text(src_dsn)
    user_pw = tgt_dsn.split("://", 1)[1].split("@")[0]
    (d / "target.dsn").write_text(tgt_dsn.replace(user_pw, user_pw + "WRONG"))
    for debug in ((), ("--debug",)):
        r = cli("apply", "--config", "apply.cfg", *debug, cwd=d)
        assert r.returncode == 3 and "cannot connect" in r.stderr and "denied" in r.stderr, r.stderr
        out += [r.stdout, r.stderr]
    assert (d / "sync.log").exists() and (d / "schema.skt").exists() and list((d / "done").glob("*.ckt"))
    for pw in passwords:
        assert_hidden("\n".join(out), pw, "stdout/stderr")
        assert_hidden(files_text(d), pw, "a file the run wrote")


def test_the_dagster_job_reveals_no_password(secured, monkeypatch, capfd):
    from dagster import DagsterInstance, EnvVar
    from dagster._serdes import serialize_value

    from targetsync_dagster import SyncPair, build_sync_defs
    from targetsync_dagster.resources import DatabaseResource, RunDirectory
    from tests.dagster.support import run
    d, passwords, rename = secured
    monkeypatch.setenv("TS_TEST_SOURCE_DSN", (d / "source.dsn").read_text().strip())
    pair = SyncPair(name="secrets", source=DatabaseResource(type="postgres", dsn=EnvVar("TS_TEST_SOURCE_DSN")),
                    target=DatabaseResource(type="mariadb", dsn_file=str(d / "target.dsn")),
                    run_dir=RunDirectory(path=str(d / "run"), table_file=str(d / "tables.txt"), schema_rename=rename,
                                         window_size=50, max_threads=2, emit_file_target_mb=0.001))
    defs = build_sync_defs(pair)
    instance = DagsterInstance.ephemeral()
    runs = [run(defs, "secrets_schema_migration", instance)]
    for name in sorted(instance.get_dynamic_partitions("secrets_tables"))[:2]:
        runs.append(run(defs, "secrets_table_sync", instance, partition_key=name))
    runs.append(run(defs, "secrets_full_sync", instance))
    # a failing run: the source database is gone
    monkeypatch.setenv("TS_TEST_SOURCE_DSN", (d / "source.dsn").read_text().strip().replace("/ts_", "/gone_ts_"))
    failed = run(defs, "secrets_schema_migration", instance)
    assert all(r.success for r in runs) and not failed.success
    events = []
    for r in [*runs, failed]:
        events += [serialize_value(e) for e in instance.all_logs(r.run_id)]
        events.append(serialize_value(instance.get_run_by_id(r.run_id)))
    assert any("cannot connect" in e for e in events)
    captured = capfd.readouterr()
    for pw in passwords:
        assert_hidden("\n".join(events), pw, "a Dagster event or run record")
        assert_hidden(captured.out + captured.err, pw, "the job's output")
        assert_hidden(files_text(d / "run"), pw, "the run directory")


def test_a_missing_privilege_is_refused_not_retried_as_a_lost_connection(secured):
    d, passwords, _ = secured
    assert cli("schema", "--config", "schema.cfg", "--apply", cwd=d).returncode == 0
    t = parse_dsn((d / "target.dsn").read_text().strip())
    admin = _maria_admin()
    with admin.cursor() as cur:
        cur.execute(f"REVOKE SELECT ON `{t.database}`.* FROM '{t.username}'@'%'")
    admin.close()
    r = cli("validate", "--config", "emit.cfg", cwd=d)
    assert r.returncode == 2, r.stderr  # a configuration problem: retrying cannot help
    line = r.stderr.strip().splitlines()[-1]
    assert "denied" in line and "cannot connect" not in line, line
    for pw in passwords:
        assert_hidden(r.stderr, pw, "stderr")


@pytest.mark.parametrize("kept", ["in the DSN", "in a passwordFile"])
def test_a_snowflake_password_appears_nowhere(tmp_path, kept):
    """SQLite → Snowflake (fakesnow, which takes any password): the password, in the DSN
    or in the file its ``passwordFile`` names, is in no output, log or file of a run, nor
    of a run that cannot connect."""
    from tests.conformance.backends import sqlite_backend
    from tests.conformance.cloud.snowflake import backend as snowflake_backend
    from tests.standins import free_port
    password = secret()
    with sqlite_backend(tmp_path, "src") as src, snowflake_backend(tmp_path, "tgt") as tgt:
        if kept == "in the DSN":
            url = tgt.url.replace("ts:secret@", f"ts:{quote(password, safe='')}@")
        else:
            secrets = tmp_path.parent / f"{tmp_path.name}-secrets"   # beside the run, as a mounted secret is
            secrets.mkdir()
            (secrets / "snowflake.pw").write_text(password + "\n")
            url = tgt.url.replace("ts:secret@", "ts@") + f"&passwordFile={secrets / 'snowflake.pw'}"
        target = Backend("snowflake", "snowflake", url, tgt.schema, raw=tgt.raw)
        src.create(tables(src.schema))
        src.insert(tables(src.schema)[3], [(i, f"v{i}", i / 3) for i in range(200)])
        write_cfg(tmp_path, src, target)
        out = []
        for args in (("schema", "--config", "schema.cfg", "--apply"),
                     ("sync", "--config", "sync.cfg", "--logFile", "sync.log", "--debug"),
                     ("validate", "--config", "emit.cfg", "--debug")):
            r = cli(*args, cwd=tmp_path)
            assert r.returncode == 0, (args, r.stderr)
            out += [r.stdout, r.stderr]
        port = parse_dsn(url).query.split("port=")[1].split("&")[0]
        (tmp_path / "target.dsn").write_text(url.replace(f"port={port}", f"port={free_port()}") + "\n")
        r = cli("validate", "--config", "emit.cfg", "--debug", cwd=tmp_path)
        assert r.returncode == 3 and "cannot connect" in r.stderr, r.stderr
        out += [r.stdout, r.stderr]
        assert_hidden("\n".join(out), password, "stdout/stderr")
        assert_hidden(files_text(tmp_path), password, "a file the run wrote")
