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


def test_no_databricks_command_reveals_its_token_or_aws_secret(tmp_path):
    """SQLite → Databricks at the translated tier (``cloud/databricks.py``), the access
    token in the target DSN and an AWS secret key in the staging area's credentials file:
    neither appears in any output, log or file the run writes, on success nor when the
    staging bucket cannot be reached (with and without --debug)."""
    from dataclasses import replace

    from tests.conformance.backends import BACKENDS
    from tests.conformance.cloud.databricks import backend
    token = "dapi" + uuid.uuid4().hex + "@:/%x"
    run, aws = tmp_path / "run", tmp_path / "aws"
    run.mkdir()
    aws.mkdir()
    with BACKENDS["sqlite"](run, "src") as src, backend(aws, "tgt") as tgt:
        src.create(tables(src.schema))
        src.insert(tables(src.schema)[3], [(i, f"v{i}", i / 3) for i in range(200)])
        user = tgt.url.split("://", 1)[1].split("@")[0]
        url = tgt.url.replace(f"://{user}@", f"://{user}:{quote(token, safe='')}@", 1)
        write_cfg(run, src, replace(tgt, url=url))
        out = []
        for args in [("schema", "--config", "schema.cfg", "--apply"),
                     ("validate", "--config", "emit.cfg", "--logFile", "validate.log"),
                     ("emit", "--config", "emit.cfg", "--logFile", "emit.log"),
                     ("apply", "--config", "apply.cfg", "--logFile", "apply.log", "--debug"),
                     ("sync", "--config", "sync.cfg", "--logFile", "sync.log", "--debug")]:
            r = cli(*args, cwd=run)
            assert r.returncode in (0, 1), (args, r.stderr)
            out += [r.stdout, r.stderr]
        bucket = url.split("awsBucket=", 1)[1].split("%2F", 1)[0]
        (run / "target.dsn").write_text(url.replace(f"awsBucket={bucket}", f"awsBucket={bucket}-gone", 1) + "\n")
        src.insert(tables(src.schema)[3], [(1000, "new", 1.0)])
        for debug in ((), ("--debug",)):
            r = cli("sync", "--config", "sync.cfg", *debug, cwd=run)
            assert r.returncode == 3 and f"{bucket}-gone" in r.stderr, r.stderr
            out += [r.stdout, r.stderr]
        aws_secret = next(aws.glob("*.credentials")).read_text().split("aws_secret_access_key = ")[1].strip()
        assert (run / "sync.log").exists() and list((run / "done").glob("*.ckt"))
        for pw in (token, aws_secret):
            assert_hidden("\n".join(out), pw, "stdout/stderr")
            assert_hidden(files_text(run), pw, "a file the run wrote")


def migrate_sync_validate(d: Path) -> list[str]:
    """``schema --apply``, ``sync`` and ``validate`` (with --debug) in ``d``, each exiting
    0; returns everything they printed."""
    out = []
    for args in [("schema", "--config", "schema.cfg", "--apply"),
                 ("sync", "--config", "sync.cfg", "--logFile", "sync.log", "--debug"),
                 ("validate", "--config", "emit.cfg", "--debug")]:
        r = cli(*args, cwd=d)
        assert r.returncode == 0, (args, r.stderr)
        out += [r.stdout, r.stderr]
    return out


def service_account_key(token_uri: str = "https://oauth2.googleapis.com/token") -> dict:
    """A service account's key file as Google issues it, with a fresh RSA key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption()).decode()
    return {"type": "service_account", "project_id": "ts-test", "private_key_id": uuid.uuid4().hex,
            "private_key": pem, "client_email": "loader@ts-test.iam.gserviceaccount.com", "client_id": "1",
            "token_uri": token_uri}


def test_no_command_reveals_a_spanner_credentials_file(tmp_path):
    """Spanner (at the emulator tier) with ``gcpCredfile`` naming a service-account key:
    the key's text is in no output, log or file a run writes; a file that is no key is
    refused in one line without its text."""
    from tests.conformance.backends import sqlite_backend
    from tests.conformance.cloud.spanner import backend
    d = tmp_path
    import json
    key = service_account_key()
    (d / "key.json").write_text(json.dumps(key))
    secret_line = key["private_key"].splitlines()[5]
    with sqlite_backend(d, "src") as src, backend(d, "tgt") as tgt:
        src.create(tables(src.schema))
        src.insert(tables(src.schema)[3], [(i, f"v{i}", i / 3) for i in range(200)])
        write_cfg(d, src, tgt)
        for name in ("schema.cfg", "emit.cfg", "sync.cfg", "apply.cfg"):
            with open(d / name, "a") as fh:
                fh.write("gcpCredfile=key.json\n")
        out = migrate_sync_validate(d)
        (d / "key.json").write_text('{"type": "service_account", "private_key": "' + secret_line + '"}')
        for debug in ((), ("--debug",)):
            r = cli("validate", "--config", "emit.cfg", *debug, cwd=d)
            assert r.returncode == 2 and "is not a service-account JSON key" in r.stderr, r.stderr
            out += [r.stdout, r.stderr]
        assert secret_line not in "\n".join(out), "the private key appears in stdout/stderr"
        written = "\n".join(p.read_bytes().decode("utf-8", "replace") for p in d.rglob("*")
                            if p.is_file() and p.name != "key.json")
        assert (d / "sync.log").exists() and secret_line not in written, "the private key appears in a file"


def test_no_firebolt_command_reveals_its_client_secret_or_staging_key(tmp_path):
    """Firebolt (issue 24, at its stand-in tier): the service account's secret (its own
    file) and the S3 staging key (the credentials file, which COPY FROM hands Firebolt)
    appear in no output or file of any command, on success, with --debug, with a wrong
    secret (a refused login) and with an error that quotes the COPY statement back."""
    from urllib.parse import unquote

    from tests.conformance.backends import BACKENDS
    from tests.conformance.cloud.firebolt import firebolt_backend
    d, creds = tmp_path / "run", tmp_path / "creds"
    d.mkdir()
    creds.mkdir()
    with BACKENDS["postgres"](d, "src") as src, firebolt_backend(creds, "secrets") as (tgt, standin, stage):
        if standin is None:
            pytest.skip("injects a failure that quotes COPY back: stand-in tier only")
        src.create(tables(src.schema))
        src.insert(tables(src.schema)[3], [(i, f"v{i}", i / 3) for i in range(200)])
        write_cfg(d, src, tgt)
        secret_file = Path(unquote(tgt.url.split("clientSecretFile=")[1].split("&")[0]))
        client_secret = secret_file.read_text().strip()
        out = []
        for args in [("schema", "--config", "schema.cfg", "--apply"),
                     ("validate", "--config", "emit.cfg", "--logFile", "validate.log", "--debug"),
                     ("sync", "--config", "sync.cfg", "--logFile", "sync.log", "--debug")]:
            r = cli(*args, cwd=d)
            assert r.returncode in (0, 1), (args, r.stderr)
            out += [r.stdout, r.stderr]
        standin.fail_next.append((r"^COPY INTO", f"cannot read s3: query COPY … AWS_SECRET_KEY = '{stage.secret}'"))
        src.insert(tables(src.schema)[3], [(1000, "new", 1.5)])
        r = cli("sync", "--config", "sync.cfg", "--debug", cwd=d)
        assert r.returncode == 3 and "cannot read s3" in r.stderr, r.stderr
        out += [r.stdout, r.stderr]
        secret_file.write_text(client_secret + "WRONG\n")
        for debug in ((), ("--debug",)):
            r = cli("validate", "--config", "emit.cfg", *debug, cwd=d)
            assert r.returncode == 2 and "refused the login" in r.stderr, r.stderr
            out += [r.stdout, r.stderr]
        assert (d / "sync.log").exists() and list((d / "done").glob("*.ckt"))
        for hidden in (client_secret, client_secret + "WRONG", stage.secret):
            assert_hidden("\n".join(out), hidden, "stdout/stderr")
            assert_hidden(files_text(d), hidden, "a file the run wrote")


# ---- BigQuery: a service account's key file named by the DSN -----------------------------

@contextlib.contextmanager
def token_server():
    """A loopback OAuth token endpoint answering with a bearer token, as Google's would for
    a service account's signed assertion (the emulator takes any), or, at ``/revoked``,
    refusing the key as Google's does a deleted one."""
    import http.server
    import threading

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_POST(self):   # noqa: N802 - http.server's name
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            body = b'{"access_token": "ts-test-token", "expires_in": 3600, "token_type": "Bearer"}'
            status = 200
            if self.path == "/revoked":
                body, status = b'{"error": "invalid_grant", "error_description": "Invalid JWT Signature."}', 400
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass
    server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/token"
    finally:
        server.shutdown()
        server.server_close()


def test_no_command_reveals_a_bigquery_key_file(tmp_path):
    """sqlite → BigQuery (the emulator) through a key file the DSN names: the key's private
    key and id appear in no output or file the run writes, on success and when the token
    endpoint refuses the key (exit 2, not retried)."""
    import json
    import sqlite3

    from tests.conformance.cloud import bigquery as cloud
    d = tmp_path / "run"
    d.mkdir()
    src = Backend("sqlite", "sqlite", f"sqlite:///{d / 'src.db'}", "main", d / "src.db")
    sqlite3.connect(d / "src.db").close()
    src.create(tables("main"))
    src.insert(tables("main")[3], [(i, f"v{i}", i / 3) for i in range(200)])
    with token_server() as token_uri, cloud.dataset(cloud.base_url(), "secret") as (url, _, ds):
        key = service_account_key(token_uri)
        keys = tmp_path / "keys"
        keys.mkdir()
        (keys / "loader.json").write_text(json.dumps(key))
        tgt = Backend("bigquery", "bigquery", url + "&credentials=../keys/loader.json", ds)
        write_cfg(d, src, tgt)
        (d / "target.dsn").write_text(tgt.url + "\n")   # the key file: relative to the DSN file's folder
        out = migrate_sync_validate(d)
        (keys / "loader.json").write_text(json.dumps(dict(key, token_uri=token_uri.replace("/token", "/revoked"))))
        for debug in ((), ("--debug",)):
            r = cli("validate", "--config", "emit.cfg", *debug, cwd=d, timeout=180)
            assert r.returncode == 2 and "refused" in r.stderr and "invalid_grant" in r.stderr, r.stderr
            out += [r.stdout, r.stderr]
    text = "\n".join(out) + files_text(d)
    for secret_text in (key["private_key"].splitlines()[1], key["private_key"].splitlines()[-2], key["private_key_id"]):
        assert secret_text not in text, "the key file's private key appears in the output or a file the run wrote"


@pytest.mark.parametrize("kept", ["in the DSN", "in a passwordFile"])
def test_a_snowflake_password_appears_nowhere(tmp_path, kept):
    """SQLite → Snowflake (fakesnow, which takes any password): the password, in the DSN
    or in the file its ``passwordFile`` names, is in no output, log or file of a run, nor
    of a run that cannot connect."""
    from tests.conformance.backends import sqlite_backend
    from tests.conformance.cloud.snowflake import PASSWORD
    from tests.conformance.cloud.snowflake import backend as snowflake_backend
    from tests.standins import free_port
    password = secret()
    with sqlite_backend(tmp_path, "src") as src, snowflake_backend(tmp_path, "tgt") as tgt:
        if kept == "in the DSN":
            url = tgt.url.replace(f"ts:{PASSWORD}@", f"ts:{quote(password, safe='')}@")
        else:
            secrets = tmp_path.parent / f"{tmp_path.name}-secrets"   # beside the run, as a mounted secret is
            secrets.mkdir()
            (secrets / "snowflake.pw").write_text(password + "\n")
            url = tgt.url.replace(f"ts:{PASSWORD}@", "ts@") + f"&passwordFile={secrets / 'snowflake.pw'}"
        target = Backend("snowflake", "snowflake", url, tgt.schema, raw=tgt.raw)
        src.create(tables(src.schema))
        src.insert(tables(src.schema)[3], [(i, f"v{i}", i / 3) for i in range(200)])
        write_cfg(tmp_path, src, target)
        out = migrate_sync_validate(tmp_path)
        port = parse_dsn(url).query.split("port=")[1].split("&")[0]
        (tmp_path / "target.dsn").write_text(url.replace(f"port={port}", f"port={free_port()}") + "\n")
        r = cli("validate", "--config", "emit.cfg", "--debug", cwd=tmp_path)
        assert r.returncode == 3 and "cannot connect" in r.stderr, r.stderr
        out += [r.stdout, r.stderr]
        assert_hidden("\n".join(out), password, "stdout/stderr")
        assert_hidden(files_text(tmp_path), password, "a file the run wrote")
