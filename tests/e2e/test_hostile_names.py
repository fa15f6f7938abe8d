"""Hostile names end to end (issue 6): tables and columns named with quotes, backticks,
semicolons, spaces, mixed case, non-ASCII and reserved words, given through the table
list, are migrated, synced and validated on SQLite→SQLite, PostgreSQL→MariaDB and
MariaDB→PostgreSQL; a name that smuggles SQL is only ever a (missing) name."""
from __future__ import annotations

import contextlib
import sqlite3

import pytest

from tests.conformance.test_conformance import write_cfg
from tests.e2e.test_bad_input import one_line_error
from tests.helpers import cli
from tests.servers import mariadb_database, postgres_database

TABLES = ["Mixed Case", 'we"ird', "back`tick", "semi;colon", "ünï-cødé", "select", "a.b", "w", "t", "ts_w"]
COLUMNS = ["order", '"quoted"', "`bt`", "a;b", "Sp Ace", "ñame", "group", "x'y"]
TYPES = ["BIGINT NOT NULL", "VARCHAR(20)", "INTEGER", "VARCHAR(20)", "INTEGER", "VARCHAR(20)", "INTEGER",
         "VARCHAR(20) NOT NULL"]
SMUGGLED = 'x"; DROP TABLE "victim"; --'


class Side:
    """Raw access with each database's own identifier quoting (not the tool's)."""

    def __init__(self, kind: str, url: str, schema: str, path=None):
        self.kind, self.url, self.schema, self.path = kind, url, schema, path

    @property
    def type_name(self) -> str:
        return self.kind

    def q(self, name: str) -> str:
        if self.kind == "mariadb":
            return "`" + name.replace("`", "``") + "`"
        return '"' + name.replace('"', '""') + '"'

    def table(self, name: str) -> str:
        return self.q(name) if self.kind == "sqlite" else f"{self.q(self.schema)}.{self.q(name)}"

    @contextlib.contextmanager
    def cursor(self):
        if self.kind == "sqlite":
            conn = sqlite3.connect(self.path)
            yield conn.cursor()
            conn.commit()
        elif self.kind == "postgres":
            import psycopg
            conn = psycopg.connect(self.url, autocommit=True)
            yield conn.cursor()
        else:
            import pymysql
            from targetsync_core.dsn import parse_dsn
            d = parse_dsn(self.url)
            conn = pymysql.connect(host=d.host, port=d.port, user=d.username, password=d.password or "",
                                   database=d.database, charset="utf8mb4", autocommit=True)
            yield conn.cursor()
        conn.close()

    @property
    def mark(self) -> str:
        return "?" if self.kind == "sqlite" else "%s"

    def create(self, name: str, composite: bool) -> None:
        cols = ", ".join(f"{self.q(c)} {t}" for c, t in zip(COLUMNS, TYPES))
        key = ", ".join(self.q(c) for c in (["order", "x'y"] if composite else ["order"]))
        with self.cursor() as cur:
            cur.execute(f"CREATE TABLE {self.table(name)} ({cols}, PRIMARY KEY ({key}))")

    def write(self, name: str, rows: list[tuple]) -> None:
        cols = ", ".join(self.q(c) for c in COLUMNS)
        with self.cursor() as cur:
            cur.execute(f"DELETE FROM {self.table(name)}")
            cur.executemany(f"INSERT INTO {self.table(name)} ({cols}) VALUES ({', '.join([self.mark] * 8)})", rows)

    def read(self, name: str) -> list[tuple]:
        with self.cursor() as cur:
            cur.execute(f"SELECT {', '.join(self.q(c) for c in COLUMNS)} FROM {self.table(name)}")
            return sorted(tuple(r) for r in cur.fetchall())


def rows(n: int, salt: str = "") -> list[tuple]:
    return [(i, f"v{i}{salt}"[:20], i * 3, f"';--{i}", -i, f"ü{i}", i % 7, f"k{i % 3}") for i in range(n)]


@contextlib.contextmanager
def side(kind: str, tmp_path, role: str):
    if kind == "sqlite":
        path = tmp_path / f"{role}.db"
        sqlite3.connect(path).close()
        yield Side("sqlite", f"sqlite:///{path}", "main", path)
    elif kind == "postgres":
        with postgres_database() as db:
            yield Side("postgres", db.url, "public")
    else:
        with mariadb_database() as db:
            yield Side("mariadb", db.url, db.schema)


def configs(d, src: Side, tgt: Side, names: list[str]) -> None:
    write_cfg(d, src, tgt)  # the conformance suite's configs, with this test's table list
    (d / "tables.txt").write_text("".join(f"{src.schema}.{n}\n" for n in names))


PAIRS = [("sqlite", "sqlite"), ("postgres", "mariadb"), ("mariadb", "postgres")]


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_hostile_names_migrate_sync_and_validate(tmp_path, source_kind, target_kind):
    with side(source_kind, tmp_path, "source") as src, side(target_kind, tmp_path, "target") as tgt:
        for i, name in enumerate(TABLES):
            src.create(name, composite=i % 2 == 1)
            src.write(name, rows(40))
        configs(tmp_path, src, tgt, TABLES)
        r = cli("schema", "--config", "schema.cfg", "--apply", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        for name in TABLES:  # drift: some rows gone, some changed, some extra
            tgt.write(name, [r for r in rows(45, "x") if r[0] % 4])
        r = cli("validate", "--config", "emit.cfg", cwd=tmp_path)
        assert r.returncode == 1, r.stderr
        r = cli("sync", "--config", "sync.cfg", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        for name in TABLES:
            assert src.read(name) == tgt.read(name), name
        r = cli("validate", "--config", "emit.cfg", cwd=tmp_path)
        assert r.returncode == 0 and "validate: 0 difference(s)" in r.stdout, r.stdout + r.stderr


@pytest.mark.parametrize("kind", ["sqlite", "postgres", "mariadb"])
def test_a_table_list_cannot_run_sql(tmp_path, kind):
    with side(kind, tmp_path, "source") as src:
        src.create("victim", composite=False)
        src.write("victim", rows(3))
        configs(tmp_path, src, src, [SMUGGLED])
        one_line_error(cli("schema", "--config", "schema.cfg", cwd=tmp_path), 2, "not found")
        assert len(src.read("victim")) == 3
