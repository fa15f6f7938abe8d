"""Databricks at the translated tier: the adapter's Databricks SQL, parsed by sqlglot in
its ``databricks`` dialect (a statement that does not parse fails the test), run on a
PostgreSQL database of its own whose strings compare in byte order (Databricks'
``UTF8_BINARY``), with S3 on moto (``cloud/s3.py``).

:class:`DatabricksConnection` stands where the connector's connection would. What it
does by hand, since PostgreSQL has no such statement:

* ``COPY INTO t FROM (SELECT … FROM 's3://…') FILEFORMAT = JSON FILES = (…)``: fetches
  each named object from moto with boto3, reads its JSON lines as Databricks'
  ``primitivesAsString`` would (every value text, or NULL; a malformed line fails, as
  ``FAILFAST``), loads them into a temporary table and runs the statement's own select,
  translated, into ``t``. As Databricks does, a file already loaded into a table is
  skipped unless ``COPY_OPTIONS ('force' = 'true')``;
* ``CREATE OR REPLACE TABLE``: a drop and a create; ``TBLPROPERTIES`` are dropped;
* the catalog query of the columns (``information_schema.columns.full_data_type``):
  PostgreSQL's catalog, each type spelled as Databricks spells the type the adapter's
  DDL declared (``string``, ``timestamp_ntz``, ``decimal(20,0)``…);
* a DML statement returns its counts as a result row (``num_affected_rows`` first), as
  the warehouse does; ``SET TIME ZONE`` is a no-op (the session is in UTC).

What this tier cannot show: Delta's optimistic concurrency (PostgreSQL locks rows
instead), the warehouse's planner and its own casts of staged text (PostgreSQL's casts
stand in), Unity Catalog's names (case-insensitive there; kept as given here), the
connector's type conversions and its parameter binding. ``TARGETSYNC_TEST_DATABRICKS_DSN``
(with ``TARGETSYNC_TEST_S3_STAGE``) runs the same backend against a real workspace.
"""
from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import uuid

import pytest
import sqlglot
from sqlglot import exp

from targetsync_core.adapters.databricks import DatabricksDatabase
from targetsync_core.adapters.databricks.adapter import COLUMNS_SQL
from targetsync_core.adapters.databricks.types import TO_DRIVER
from targetsync_core.adapters.sql.kit import script_statements
from targetsync_core.dsn import parse_dsn
from tests.conformance import translated
from tests.conformance.backends import Backend
from tests.conformance.cloud.s3 import REAL as S3_REAL, s3_stage
from tests.servers import postgres_database

REAL = "TARGETSYNC_TEST_DATABRICKS_DSN"
VARIABLE = "TARGETSYNC_ADAPTER_DATABRICKS"

_PG_TYPE = "format_type(a.atttypid, a.atttypmod)"
#: Databricks' catalog query of a table's columns, answered by PostgreSQL's
COLUMNS_PG = (
    f"SELECT a.attname, CASE {_PG_TYPE} WHEN 'text' THEN 'string' WHEN 'bytea' THEN 'binary' "
    "WHEN 'integer' THEN 'int' WHEN 'real' THEN 'float' WHEN 'double precision' THEN 'double' "
    "WHEN 'timestamp with time zone' THEN 'timestamp' WHEN 'timestamp without time zone' THEN 'timestamp_ntz' "
    f"ELSE replace(replace(replace(replace({_PG_TYPE}, 'numeric', 'decimal'), 'character varying', 'varchar'), "
    "'character', 'char'), ' ', '') END, CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END "
    "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE lower(n.nspname) = lower(%s) AND lower(c.relname) = lower(%s) AND c.relkind = 'r' "
    "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")
BY_HAND = {COLUMNS_SQL: COLUMNS_PG, "SET TIME ZONE 'UTC'": ""}
DML = (exp.Insert, exp.Update, exp.Delete, exp.Merge)


def _as_postgres(node):
    """Databricks' spellings PostgreSQL lacks, then the shared translation."""
    if isinstance(node, exp.FromBase64):
        return exp.Anonymous(this="decode", expressions=[node.this.copy(), exp.Literal.string("base64")])
    return translated._as_postgres(node, "databricks")


def to_postgres(tree) -> list[str]:
    """One parsed Databricks statement as the PostgreSQL statements that do the same."""
    out = []
    if isinstance(tree, exp.Create):
        tree.set("properties", None)
        if tree.args.get("replace"):
            tree.set("replace", False)
            out.append(exp.Drop(tables=[tree.this.this.copy() if isinstance(tree.this, exp.Schema) else tree.this.copy()],
                                kind="TABLE", exists=True).sql(dialect="postgres"))
    text = tree.transform(_as_postgres).sql(dialect="postgres")
    out.append(text.replace("%", "%%").replace(translated.MARK, "%s") if translated.MARK in text else text)
    return out


@functools.lru_cache(maxsize=4096)
def translation(sql: str) -> tuple:
    """(tree, PostgreSQL statements) of each statement in ``sql``, parsed as Databricks
    SQL (ParseError: it is not), kept: an apply sends the same texts batch after batch."""
    out = []
    for tree in sqlglot.parse(sql, read="databricks"):
        if tree is not None:
            out.append((tree, () if isinstance(tree, exp.Copy) else tuple(to_postgres(tree.copy()))))
    return tuple(out)


class DatabricksCursor:
    def __init__(self, conn: "DatabricksConnection"):
        self.conn = conn
        self.cur = conn.pg.cursor()
        self.rowcount = -1
        self.description = None
        self._counts = None

    def execute(self, sql: str, params=None):
        self.conn.sent.append(sql)
        self.description, self._counts = None, None
        key = sql.strip()
        params = list(params or [])
        if key in BY_HAND:
            if BY_HAND[key]:
                self._run(BY_HAND[key], params)
            return self
        for tree, texts in translation(key):
            if isinstance(tree, exp.Copy):
                self._copy(tree.copy())
                continue
            for text in texts:
                self._run(text, params if "%s" in text else [])
            if isinstance(tree, DML):   # the warehouse returns the counts as a row
                self._counts = (max(self.rowcount, 0),)
                self.description = [("num_affected_rows", "bigint", None, None, None, None, None)]
        return self

    def _run(self, text: str, params: list) -> None:
        self.cur.execute(text, params or None)
        self.rowcount = self.cur.rowcount
        if self.cur.description is not None:
            self.description = self.cur.description

    def _copy(self, tree: exp.Copy) -> None:
        """COPY INTO: the staged objects from S3 into a temporary table, then the
        statement's select into the target (see the module)."""
        params = {p.this.name.upper(): p for p in tree.args.get("params") or []}
        assert params["FILEFORMAT"].expression.name.upper() == "JSON", tree.sql(dialect="databricks")

        def options(name: str) -> dict:
            p = params.get(name)
            return {e.this.name: e.args["value"].name for e in (p.expressions if p else []) if isinstance(e, exp.Property)}
        fmt, copy_opts = options("FORMAT_OPTIONS"), options("COPY_OPTIONS")
        assert fmt.get("primitivesAsString") == "true", "the adapter's select expects every staged value as text"
        files_node = params["FILES"].expression
        files = [e.name for e in (files_node.expressions if isinstance(files_node, exp.Tuple) else [files_node.this])]
        select = tree.args["files"][0].this.copy()
        folder = select.args["from_"].this.name
        target = tree.this.sql(dialect="postgres")
        rows = []
        width = 1 + max(int(c.name[1:]) for c in select.find_all(exp.Column) if re.fullmatch(r"c\d+", c.name))
        for name in files:
            uri = folder.rstrip("/") + "/" + name
            if copy_opts.get("force") != "true" and self.conn.loaded(target, uri):
                continue   # Databricks' COPY INTO skips a file it loaded before
            for n, line in enumerate(self.conn.stage.get(uri).decode("utf-8").splitlines(), 1):
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except ValueError:
                    raise AssertionError(f"COPY INTO {uri}: line {n} is not JSON (FAILFAST)") from None
                assert all(re.fullmatch(r"c\d+", k) and int(k[1:]) < width for k in doc), f"{uri}: {sorted(doc)}"
                rows.append({int(k[1:]): None if v is None else v if isinstance(v, str) else json.dumps(v)
                             for k, v in doc.items()})
            self.conn.remember_loaded(target, uri)
        self.cur.execute("DROP TABLE IF EXISTS pg_temp.ts_copy_src")
        self.cur.execute(f"CREATE TEMPORARY TABLE ts_copy_src ({', '.join(f'c{i} text' for i in range(width))})")
        with self.cur.copy(f"COPY ts_copy_src ({', '.join(f'c{i}' for i in range(width))}) FROM STDIN") as cp:
            for r in rows:
                cp.write_row([r.get(i) for i in range(width)])
        select.set("from_", exp.From(this=exp.to_table("ts_copy_src")))
        names = ", ".join(f'"{e.alias}"' for e in select.expressions)
        self._run(f"INSERT INTO {target} ({names}) {select.transform(_as_postgres).sql(dialect='postgres')}", [])
        self._counts = (max(self.rowcount, 0),)
        self.description = [("num_affected_rows", "bigint", None, None, None, None, None)]

    def fetchone(self):
        if self._counts is not None:
            row, self._counts = self._counts, None
            return row
        return self.cur.fetchone()

    def fetchmany(self, n: int):
        if self._counts is not None:
            return [self.fetchone()]
        return self.cur.fetchmany(n)

    def fetchall(self):
        if self._counts is not None:
            return [self.fetchone()]
        return self.cur.fetchall()

    def close(self):
        self.cur.close()


class DatabricksConnection:
    """The connector's connection, over psycopg (autocommit, as Databricks is) and moto."""

    def __init__(self, pg, stage, sent):
        self.pg, self.stage, self.sent = pg, stage, sent
        pg.execute('CREATE SCHEMA IF NOT EXISTS "_twin"')
        pg.execute('CREATE TABLE IF NOT EXISTS "_twin".copy_loaded (target TEXT, uri TEXT, PRIMARY KEY (target, uri))')

    def loaded(self, target: str, uri: str) -> bool:
        return bool(self.pg.execute('SELECT 1 FROM "_twin".copy_loaded WHERE target = %s AND uri = %s',
                                    (target, uri)).fetchone())

    def remember_loaded(self, target: str, uri: str) -> None:
        self.pg.execute('INSERT INTO "_twin".copy_loaded VALUES (%s, %s) ON CONFLICT DO NOTHING', (target, uri))

    def cursor(self):
        return DatabricksCursor(self)

    def commit(self):
        pass

    def rollback(self):
        pass

    def close(self):
        self.pg.close()


class TranslatedDatabricks(DatabricksDatabase):
    """The Databricks adapter, its SQL translated onto the PostgreSQL database its DSN's
    host, port, user and path name, its staging area on moto."""

    sent = translated.Translated.sent

    def connect(self, autocommit: bool = True):
        import psycopg
        if self.dsn.password or self.params.get("tokenFile"):
            self.token()   # read (and remembered as a secret) as the real adapter does; unused here
        d = self.dsn
        pg = psycopg.connect(host=d.host, port=d.port, user=d.username, dbname=d.database, autocommit=True,
                             options="-c TimeZone=UTC")
        return DatabricksConnection(pg, self.stage(), TranslatedDatabricks.sent)

    def driver_error(self, exc: BaseException) -> bool:
        import psycopg
        return isinstance(exc, psycopg.Error)

    def lost(self, exc: BaseException) -> bool:
        import psycopg
        return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))


class RawTranslated:
    """Raw access to the translated twin's tables: DDL scripts parsed as Databricks SQL
    and run on PostgreSQL; rows written and read with psycopg (never the adapter)."""

    def __init__(self, pg_url: str):
        self.pg_url = pg_url

    def execute(self, sql: str) -> None:
        import psycopg
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            for statement in script_statements(sql):
                for tree in sqlglot.parse(statement.rstrip(";"), read="databricks"):
                    for text in to_postgres(tree):
                        conn.execute(text)

    def insert(self, table, rows) -> None:
        import psycopg
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        fix = [TO_DRIVER.get(c.kind) for c in table.columns]
        with psycopg.connect(self.pg_url, autocommit=True) as conn, conn.cursor() as cur:
            with cur.copy(f'COPY "{table.schema}"."{table.name}" ({cols}) FROM STDIN') as copy:
                for r in rows:
                    copy.write_row([v if f is None or v is None else f(v) for f, v in zip(fix, r)])

    def run(self, statements: list[str], insert: str | None = None, rows=()) -> None:
        """Databricks statements, then ``insert`` (with ``?`` marks) of ``rows``."""
        import psycopg
        with psycopg.connect(self.pg_url, autocommit=True) as conn:
            for statement in statements:
                for tree in sqlglot.parse(statement, read="databricks"):
                    for text in to_postgres(tree):
                        conn.execute(text)
            if insert and rows:
                (text,) = to_postgres(sqlglot.parse_one(insert, read="databricks"))
                conn.cursor().executemany(text, [list(r) for r in rows])

    def fetch(self, sql: str) -> list[tuple]:
        import psycopg
        (text,) = to_postgres(sqlglot.parse_one(sql, read="databricks"))
        with psycopg.connect(self.pg_url, autocommit=True, options="-c TimeZone=UTC") as conn:
            return [tuple(r) for r in conn.execute(text).fetchall()]

    def read(self, table) -> list[tuple]:
        import psycopg
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        with psycopg.connect(self.pg_url) as conn:
            conn.execute("SET TimeZone = 'UTC'")
            return conn.execute(f'SELECT {cols} FROM "{table.schema}"."{table.name}"').fetchall()


class RawDatabricks:
    """Raw access to a real workspace through databricks-sql-connector (not the adapter)."""

    def __init__(self, url: str):
        self.d = parse_dsn(url)
        self.params = dict(re.findall(r"([^&=?]+)=([^&]*)", self.d.query))

    def _conn(self):
        from databricks import sql
        return sql.connect(server_hostname=self.d.host, http_path="/" + self.d.database, access_token=self.d.password,
                           catalog=self.params.get("catalog"))

    def execute(self, sql_text: str) -> None:
        with self._conn() as conn, conn.cursor() as cur:
            for statement in script_statements(sql_text):
                cur.execute(statement.rstrip(";"))

    def insert(self, table, rows) -> None:
        cols = ", ".join(f"`{c.name}`" for c in table.columns)
        fix = [TO_DRIVER.get(c.kind) for c in table.columns]
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.executemany(f"INSERT INTO `{table.schema}`.`{table.name}` ({cols}) VALUES "
                            f"({', '.join('?' * len(table.columns))})",
                            [[v if f is None or v is None else f(v) for f, v in zip(fix, r)] for r in rows])

    def run(self, statements: list[str], insert: str | None = None, rows=()) -> None:
        with self._conn() as conn, conn.cursor() as cur:
            for statement in statements:
                cur.execute(statement)
            if insert and rows:
                cur.executemany(insert, [list(r) for r in rows])

    def fetch(self, sql: str) -> list[tuple]:
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]

    def read(self, table) -> list[tuple]:
        with self._conn() as conn, conn.cursor() as cur:
            cur.execute("SET TIME ZONE 'UTC'")
            cur.execute(f"SELECT {', '.join(f'`{c.name}`' for c in table.columns)} "
                        f"FROM `{table.schema}`.`{table.name}`")
            return [tuple(r) for r in cur.fetchall()]


@contextlib.contextmanager
def twin():
    """While open, ``databricks`` is served by :class:`TranslatedDatabricks` (through the
    registry's environment override, which command lines the tests start see too)."""
    before = os.environ.get(VARIABLE)
    os.environ[VARIABLE] = f"{__name__}:TranslatedDatabricks"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop(VARIABLE, None)
        else:
            os.environ[VARIABLE] = before


@contextlib.contextmanager
def backend(tmp, name: str):
    """A Databricks target for the conformance suite: the translated tier (a PostgreSQL
    database of its own, schema ``app``, S3 on moto), or the workspace
    ``TARGETSYNC_TEST_DATABRICKS_DSN`` names (a schema of its own, dropped afterwards)."""
    real = os.environ.get(REAL)
    if real and not os.environ.get(S3_REAL):
        pytest.fail(f"{REAL} needs {S3_REAL} too: a bucket the workspace can read (it cannot read moto)")
    with s3_stage(tmp, f"dbx-{name}") as fx:
        if real:
            schema = "ts_" + uuid.uuid4().hex[:12]   # its bookkeeping in a schema of its own too
            url = real + ("&" if "?" in real else "?") + fx.query + f"&metaSchema={schema}_meta"
            raw = RawDatabricks(url)
            raw.execute(f"CREATE SCHEMA `{schema}`;\n")
            try:
                yield Backend("databricks", "databricks", url, schema, raw=raw)
            finally:
                raw.execute(f"DROP SCHEMA IF EXISTS `{schema}` CASCADE;\nDROP SCHEMA IF EXISTS `{schema}_meta` CASCADE;\n")
            return
        with postgres_database(byte_order=True) as db, twin():
            import psycopg
            with psycopg.connect(db.url, autocommit=True) as conn:
                conn.execute('CREATE SCHEMA IF NOT EXISTS "app"')
            d = parse_dsn(db.url)
            url = f"databricks://{d.username}@{d.host}:{d.port or 5432}/{d.database}?catalog=main&{fx.query}"
            yield Backend("databricks", "databricks", url, "app", raw=RawTranslated(db.url))
