"""Refusals on real servers (issue 3, done-when 3): each one clear line, nothing applied."""
from __future__ import annotations

import pytest

from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.conformance.test_conformance import write_cfg
from tests.helpers import cli


def one_line(r, code: int, *needles: str, secret: str | None = None) -> str:
    assert r.returncode == code, (r.returncode, r.stdout, r.stderr)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and "Traceback" not in r.stderr, r.stderr
    for n in needles:
        assert n in lines[0], lines[0]
    if secret:
        assert secret not in r.stdout + r.stderr
    return lines[0]


def keyed(schema: str) -> Table:
    return Table(schema, "names", (Column("k", Kind.VARCHAR, False, length=20), Column("v", Kind.INT32)), ("k",))


def set_up(tmp_path, src, tgt, rows, target_ddl: str | None = None):
    t = keyed(src.schema)
    src.create([t])
    src.insert(t, rows)
    write_cfg(tmp_path, src, tgt)
    (tmp_path / "tables.txt").write_text(f"{src.schema}.names\n")
    if target_ddl is None:
        assert cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply").returncode == 0
    else:
        assert cli("schema", "--config", str(tmp_path / "schema.cfg")).returncode == 0
        tgt.execute(target_ddl)
    return t


def test_case_sensitive_source_into_case_folding_target_is_refused_naming_the_keys(tmp_path):
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS["mariadb"](tmp_path, "t") as tgt:
        set_up(tmp_path, src, tgt, [("a", 1), ("A", 2), ("b", 3)],
               f"CREATE TABLE `{tgt.schema}`.`names` (k VARCHAR(20) NOT NULL PRIMARY KEY, v INT) "
               "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;")
        one_line(cli("sync", "--config", str(tmp_path / "sync.cfg")), 2, "'A'", "'a'", "names")
        assert not (tmp_path / "emit").exists() or not list((tmp_path / "emit").glob("*.ckt"))
        assert tgt.read(keyed(tgt.schema)) == []


def test_case_folding_source_into_case_sensitive_target_works(tmp_path):
    with BACKENDS["mariadb"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        src.execute(f"CREATE TABLE `{src.schema}`.`names` (k VARCHAR(20) NOT NULL PRIMARY KEY, v INT) "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci;")
        t = keyed(src.schema)
        src.insert(t, [("a", 1), ("B", 2), ("c ", 3), ("É", 4)])
        write_cfg(tmp_path, src, tgt)
        (tmp_path / "tables.txt").write_text(f"{src.schema}.names\n")
        assert cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply").returncode == 0
        tgt.insert(keyed(tgt.schema), [("A", 1), ("b", 2)])
        r = cli("sync", "--config", str(tmp_path / "sync.cfg"))
        assert r.returncode == 0, r.stderr
        assert tgt.read(keyed(tgt.schema)) == src.read(t)
        assert cli("validate", "--config", str(tmp_path / "emit.cfg")).returncode == 0


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_table_without_primary_key_is_refused(tmp_path, kind):
    with BACKENDS[kind](tmp_path, "s") as src, BACKENDS["sqlite"](tmp_path, "t") as tgt:
        q = '"' if kind == "postgres" else "`"
        src.execute(f"CREATE TABLE {q}{src.schema}{q}.{q}loose{q} (a INT, b INT);")
        write_cfg(tmp_path, src, tgt)
        (tmp_path / "tables.txt").write_text(f"{src.schema}.loose\n")
        one_line(cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply"), 2,
                 f"{src.schema}.loose", "primary key")


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_skt_that_disagrees_with_the_live_target_is_refused(tmp_path, kind):
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[kind](tmp_path, "t") as tgt:
        set_up(tmp_path, src, tgt, [("a", 1), ("b", 2)])
        q = '"' if kind == "postgres" else "`"
        change = "TYPE TEXT" if kind == "postgres" else "TEXT"
        verb = "ALTER COLUMN v" if kind == "postgres" else "MODIFY COLUMN v"
        tgt.execute(f"ALTER TABLE {q}{tgt.schema}{q}.{q}names{q} {verb} {change};")
        one_line(cli("sync", "--config", str(tmp_path / "sync.cfg")), 2, "target column", "names.v", "text", "INT")
        assert tgt.read(keyed(tgt.schema)) == []


@pytest.mark.parametrize("kind", ["postgres", "mariadb"])
def test_wrong_credentials_and_unreachable_host_are_one_line_without_the_password(tmp_path, kind):
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[kind](tmp_path, "t") as tgt:
        set_up(tmp_path, src, tgt, [("a", 1)])
        secret = "Sekr1t-pa55"
        scheme = "postgresql" if kind == "postgres" else "mysql"
        port = 5432 if kind == "postgres" else 3306
        user = "no_such_user" if kind == "postgres" else "root"
        (tmp_path / "target.dsn").write_text(f"{scheme}://{user}:{secret}@127.0.0.1:{port}/{tgt.schema if kind != 'postgres' else 'test'}\n")
        one_line(cli("sync", "--config", str(tmp_path / "sync.cfg")), 3, "cannot connect", "target.dsn", secret=secret)
        (tmp_path / "target.dsn").write_text(f"{scheme}://{user}:{secret}@127.0.0.1:1/x\n")
        one_line(cli("validate", "--config", str(tmp_path / "emit.cfg")), 3, "cannot connect", "127.0.0.1:1",
                 secret=secret)
        assert tgt.read(keyed(tgt.schema)) == []
