"""The hostile-input audit's cases that need a database server (issue 23): each ends in
its exit code and one line naming the culprit, with nothing lost; the lines join the
hostile-input report (``tests/e2e/test_hostile_input.py``)."""
from __future__ import annotations

import uuid
from urllib.parse import quote

import pytest

from targetsync_core.cli import main
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS, write_configs
from tests.e2e.test_hostile_input import RESULTS
from tests.servers import _maria_admin, _pg_admin

PASSWORD = "S3cr@:/%#Pä!x"
ITEMS = Table("", "items", (Column("id", Kind.INT32, False), Column("v", Kind.VARCHAR, length=20)), ("id",))


def items(schema: str) -> Table:
    return Table(schema, ITEMS.name, ITEMS.columns, ITEMS.primary_key)


def outcome(item: str, name: str, code: int, capsys, stream: str = "err") -> str:
    out = capsys.readouterr()
    text = out.err if stream == "err" else out.out
    lines = [ln for ln in text.splitlines() if ln.startswith("targetsync:") or (stream == "out" and ln.strip())]
    line = lines[-1] if lines else ""
    RESULTS.append((item, name, code, line))
    assert "Traceback" not in out.err
    return line


def seeded(tmp_path, src, tgt, rows=((1, "a"), (2, "b"), (3, "c")), **kw) -> None:
    src.create([items(src.schema)])
    src.insert(items(src.schema), list(rows))
    write_configs(tmp_path, src, tgt, ["items"], **kw)


@pytest.mark.parametrize("kind", ["mariadb", "postgres"])
def test_a_non_ascii_password_logs_in(tmp_path, kind, capsys):
    """6: PyMySQL was given the password as str and sent it latin-1 encoded."""
    user = "ts_pw_" + uuid.uuid4().hex[:8]
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[kind](tmp_path, "t") as tgt:
        if kind == "mariadb":
            admin = _maria_admin()
            with admin.cursor() as cur:
                cur.execute(f"CREATE USER '{user}'@'%%' IDENTIFIED BY %s", (PASSWORD,))
                cur.execute(f"GRANT ALL ON `{tgt.schema}`.* TO '{user}'@'%'")
            url = f"mysql://{user}:{quote(PASSWORD, safe='')}@127.0.0.1:3306/{tgt.schema}"
        else:
            admin = _pg_admin()
            admin.execute(f"CREATE ROLE {user} LOGIN PASSWORD '{PASSWORD}' SUPERUSER")
            url = tgt.url.replace("root@", f"{user}:{quote(PASSWORD, safe='')}@")
        try:
            seeded(tmp_path, src, tgt)
            (tmp_path / "target.dsn").write_text(url + "\n")
            assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0, capsys.readouterr().err
            code = main(["sync", "--config", str(tmp_path / "sync.cfg")])
            outcome("6", f"a non-ASCII password, {kind}", code, capsys, "out")
            assert code == 0
            assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
        finally:
            if kind == "mariadb":
                with admin.cursor() as cur:
                    cur.execute(f"DROP USER IF EXISTS '{user}'@'%'")
            else:
                admin.execute(f'DROP DATABASE IF EXISTS "{tgt.url.rsplit("/", 1)[1]}" WITH (FORCE)')
                admin.execute(f"DROP ROLE IF EXISTS {user}")
            admin.close()


@pytest.mark.parametrize("kind", ["mariadb", "postgres"])
def test_schema_apply_creates_what_is_missing_and_checks_what_exists(tmp_path, kind, capsys):
    """8: a target holding one of the tables ended in "Table 'z9' already exists" after
    creating the others, and every rerun failed the same way."""
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[kind](tmp_path, "t") as tgt:
        other = Table(src.schema, "z9", (Column("id", Kind.INT64, False), Column("n", Kind.INT32)), ("id",))
        src.create([items(src.schema), other])
        write_configs(tmp_path, src, tgt, ["items", "z9"])
        tgt.create([other.renamed(tgt.schema)])
        code = main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"])
        outcome("8", f"schema --apply with one table already there, {kind}", code, capsys, "out")
        assert code == 0
        assert tgt.db.shape(tgt.schema, "items") is not None
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0   # and again
        capsys.readouterr()
        q = "`" if kind == "mariadb" else '"'
        tgt.execute(f"DROP TABLE {q}{tgt.schema}{q}.{q}items{q};\n"
                    f"CREATE TABLE {q}{tgt.schema}{q}.{q}items{q} (id INT PRIMARY KEY, v DATE);\n")
        code = main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"])
        line = outcome("8", f"schema --apply with a table of another shape, {kind}", code, capsys)
        assert code == 2 and "items.v" in line and "date" in line.lower()


def test_a_blob_larger_than_max_allowed_packet_is_refused_naming_it(tmp_path, capsys):
    """9: it ended as 'lost the connection … gone away', which the Dagster layer retries."""
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS["mariadb"](tmp_path, "t") as tgt:
        conn = tgt._mysql()
        with conn.cursor() as cur:
            cur.execute("SELECT @@max_allowed_packet")
            packet = cur.fetchone()[0]
        conn.close()
        if packet > 256 * 1024 * 1024:
            pytest.fail(f"max_allowed_packet is {packet:,}: a blob above it is too big for this test")
        src.execute('CREATE TABLE blobs (id int PRIMARY KEY, b bytea); '
                    f"INSERT INTO blobs VALUES (1, '\\x00'), (2, decode(repeat('ab', {packet // 2 + 2 ** 20}), 'hex'))")
        write_configs(tmp_path, src, tgt, ["blobs"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        capsys.readouterr()
        code = main(["sync", "--config", str(tmp_path / "sync.cfg")])
        line = outcome("9", "a blob above max_allowed_packet, PostgreSQL into MariaDB", code, capsys)
        assert code == 3 and "blobs" in line and "column b" in line and "(2,)" in line and "max_allowed_packet" in line
        assert "lost the connection" not in line


def test_max_threads_beyond_the_servers_connections_is_refused_naming_it(tmp_path, capsys):
    """10: maxThreads 200 exhausted PostgreSQL ('too many clients already') without naming the setting."""
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        seeded(tmp_path, src, tgt)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        allowed, used = src.db.connection_room()
        threads = min(64, (allowed - used) // 2 + 1)   # both sides on one server: twice over its room
        capsys.readouterr()
        code = main(["sync", "--config", str(tmp_path / "sync.cfg"), "--maxThreads", str(threads)])
        line = outcome("10", f"maxThreads={threads} on a server with room for {allowed - used}", code, capsys)
        assert code == 2 and f"maxThreads={threads}" in line and "max_connections" in line
        assert not (tmp_path / "emit").exists() or not list((tmp_path / "emit").glob("*.ckt"))


@pytest.mark.parametrize("kind", ["mariadb", "postgres"])
def test_updates_of_rows_the_target_lost_are_counted_and_reported(tmp_path, kind, capsys):
    """12: a U record for a key the target lacks was a silent no-op."""
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[kind](tmp_path, "t") as tgt:
        seeded(tmp_path, src, tgt, rows=[(i, f"v{i}") for i in range(1, 30)])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        tgt.insert(items(tgt.schema), [(i, f"old{i}") for i in range(1, 30)])
        assert main(["emit", "--config", str(tmp_path / "emit.cfg")]) == 0
        q = "`" if kind == "mariadb" else '"'
        tgt.execute(f"DELETE FROM {q}{tgt.schema}{q}.{q}items{q} WHERE id IN (3, 4, 5);\n")
        (tmp_path / "apply.cfg").write_text(f"targetType={tgt.type_name}\ntargetDsnFile=target.dsn\n"
                                            "schemaFile=schema.skt\ninputDirectory=emit\ndoneDirectory=done\n")
        capsys.readouterr()
        code = main(["apply", "--config", str(tmp_path / "apply.cfg")])
        line = outcome("12", f"U records for rows the target lost, {kind}", code, capsys, "out")
        assert code == 0 and "3 update(s) found no row" in line
        assert main(["sync", "--config", str(tmp_path / "sync.cfg"), "--doneDirectory", str(tmp_path / "d2")]) == 0
        assert tgt.read(items(tgt.schema)) == src.read(items(src.schema))


def test_a_postgres_numeric_nan_is_refused_naming_table_and_column(tmp_path, capsys):
    """13: it ended as 'unexpected …'."""
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS["mariadb"](tmp_path, "t") as tgt:
        src.execute("CREATE TABLE prices (id int PRIMARY KEY, p numeric(10,2)); "
                    "INSERT INTO prices VALUES (1, 1.50), (2, 'NaN')")
        write_configs(tmp_path, src, tgt, ["prices"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        capsys.readouterr()
        code = main(["sync", "--config", str(tmp_path / "sync.cfg")])
        line = outcome("13", "numeric 'NaN' in a PostgreSQL source", code, capsys)
        assert code == 3 and "prices" in line and "column p" in line and "NaN" in line
