"""Backends for the conformance suite: a throwaway database of each kind, a raw driver
read and insert that do not go through the adapters (so the suite checks the tool, not
itself), and the data limits each backend declares.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import sqlite3
import struct
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from targetsync_core.adapters.registry import TARGETS, adapter_class
from targetsync_core.adapters.sqlite.types import to_storage
from targetsync_core.dsn import parse_dsn
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.servers import cassandra_keyspace, mariadb_database, mongodb_database, postgres_database

UTC = dt.timezone.utc


@dataclass
class Limits:
    """What values a backend can hold exactly (the suite only generates those)."""

    max_integer: int = 2**64 - 1
    nonfinite_floats: bool = True
    min_year: int = 1
    folds_case: bool = False
    pad_space: bool = False          # keys differing only by trailing spaces collide
    empty_is_null: bool = False      # '' is stored as NULL (no empty key; '' reads back NULL)
    #: the DataStax driver writes a timestamp's milliseconds through a float, which rounds
    #: the last instants of 9999 into year 10000, a value it then cannot read back
    max_year: int = 9999


def adapter_of(type_name: str):
    """The adapter class of a database type, as a target where it can be one (a source
    only, Cassandra, as a source)."""
    return adapter_class(type_name, "type", "target" if type_name in TARGETS else "source")


@dataclass
class Backend:
    kind: str
    type_name: str
    url: str
    schema: str
    path: Path | None = None
    #: a cloud target's own raw access (``tests/conformance/cloud``): an object with
    #: ``execute(sql)``, ``insert(table, rows)`` and ``read(table)`` (rows as its client
    #: returns them) through the vendor's client or the stand-in, never the adapter
    raw: object | None = None

    @property
    def db(self):
        return adapter_of(self.type_name).from_dsn(self.type_name, parse_dsn(self.url))

    @property
    def limits(self) -> Limits:
        """What the adapter declares it can hold: the suite asks capabilities, not names."""
        caps = adapter_of(self.type_name).capabilities
        return Limits(caps.max_integer, caps.nonfinite_floats, pad_space=caps.pads_key_spaces,
                      empty_is_null=caps.empty_is_null, max_year=9998 if self.kind == "cassandra" else 9999)

    # -- raw access --
    def execute(self, sql: str) -> None:
        if self.raw is not None:
            return self.raw.execute(sql)
        if self.kind in ("kit", "mongodb"):
            self.db.execute_script(sql)
        elif self.kind == "sqlite":
            conn = sqlite3.connect(self.path)
            conn.executescript(sql)
            conn.close()
        elif self.kind == "postgres":
            import psycopg
            with psycopg.connect(self.url, autocommit=True) as conn:
                conn.execute(sql)
        else:
            conn = self._mysql()
            with conn.cursor() as cur:
                body = "\n".join(ln for ln in sql.splitlines() if not ln.startswith("--"))
                for stmt in (s.strip() for s in body.split(";\n")):
                    if stmt.rstrip(";"):
                        cur.execute(stmt.rstrip(";"))
            conn.close()

    def _mysql(self):
        import pymysql
        d = parse_dsn(self.url)
        conn = pymysql.connect(host=d.host, port=d.port or 3306, user=d.username, password=d.password or "",
                               database=d.database, charset="utf8mb4", autocommit=True)
        with conn.cursor() as cur:
            cur.execute("SET time_zone = '+00:00'")
        return conn

    def create(self, tables: list[Table]) -> None:
        if self.kind == "cassandra":
            return cassandra_create(self, tables)
        ddl = type(self.db).generate_ddl(tables)
        self.execute(ddl["c.sql"] + ddl["i.sql"])

    def insert(self, table: Table, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.raw is not None:
            return self.raw.insert(table, rows)
        if self.kind == "kit":
            return self._kit_insert(table, rows)
        if self.kind == "mongodb":
            return self._mongo_insert(table, rows)
        if self.kind == "cassandra":
            return cassandra_insert(self, table, rows)
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        if self.kind == "sqlite":
            store = [to_storage(c) for c in table.columns]
            conn = sqlite3.connect(self.path)
            conn.executemany(f'INSERT INTO "{table.name}" ({cols}) VALUES ({", ".join("?" * len(store))})',
                             [tuple(v if v is None or f is None else f(v) for f, v in zip(store, r)) for r in rows])
            conn.commit()
            conn.close()
        elif self.kind == "postgres":
            import psycopg
            with psycopg.connect(self.url, autocommit=True) as conn, conn.cursor() as cur:
                with cur.copy(f'COPY "{table.schema}"."{table.name}" ({cols}) FROM STDIN') as copy:
                    for r in rows:
                        copy.write_row(r)
        else:
            conn = self._mysql()
            cols = ", ".join(f"`{c.name}`" for c in table.columns)
            fix = [(lambda v: str(v)) if c.kind is Kind.UUID else
                   (lambda v: v.astimezone(UTC).replace(tzinfo=None)) if c.kind is Kind.TIMESTAMPTZ else None
                   for c in table.columns]
            data = [tuple(v if v is None or f is None else f(v) for f, v in zip(fix, r)) for r in rows]
            with conn.cursor() as cur:
                cur.executemany(f"INSERT INTO `{table.schema}`.`{table.name}` ({cols}) VALUES "
                                f"({', '.join(['%s'] * len(fix))})", data)
            conn.close()

    def _kit_insert(self, table: Table, rows: list[tuple]) -> None:
        """Rows into a kit adapter's table through its driver connection alone (its
        parameter binding, none of its apply)."""
        db = self.db
        conn = db.connect(autocommit=False)
        cols = ", ".join(db.quote(c.name) for c in table.columns)
        marks = ", ".join([db.mark] * len(table.columns))
        conn.cursor().executemany(f"INSERT INTO {db.qualified(table)} ({cols}) VALUES ({marks})",
                                  [tuple(db.bind(c.kind, v) for c, v in zip(table.columns, r)) for r in rows])
        conn.commit()
        conn.close()

    def _mongo(self, table: Table):
        import pymongo
        d = parse_dsn(self.url)
        return pymongo.MongoClient(f"mongodb://{d.host}:{d.port}/?directConnection=true")[table.schema][table.name]

    def _mongo_insert(self, table: Table, rows: list[tuple]) -> None:
        """Documents as the adapter lays them out (``_id`` and one field a column)."""
        db = self.db
        docs = [{"_id": db.key_id(table, tuple(r[p] for p in table.key_positions)),
                 **{c.name: db.to_bson(c, v) for c, v in zip(table.columns, r)}} for r in rows]
        coll = self._mongo(table)
        coll.insert_many(docs)
        coll.database.client.close()

    def _mongo_read(self, table: Table) -> list[tuple]:
        """Every document's fields in column order, as pymongo returns them: a date as the
        datetime of its midnight, a decimal as Decimal128, JSON as a document."""
        coll = self._mongo(table)
        live = self.db.shape(table.schema, table.name)   # JSON kept as a document, or as text
        held = [next(x for x in live.columns if x.name == c.name) for c in table.columns]
        raw = [tuple(_from_document(c, d.get(c.name)) for c in held) for d in coll.find()]
        coll.database.client.close()
        return raw

    def _kit_read(self, table: Table) -> list[tuple]:
        db = self.db
        conn = db.connect()
        cur = conn.cursor()
        cur.execute(f"SELECT {', '.join(db.quote(c.name) for c in table.columns)} FROM {db.qualified(table)}")
        raw = [tuple(r) for r in cur.fetchall()]
        conn.close()
        return raw

    def read(self, table: Table, empty_is_null: bool = False, millis: bool = False) -> list[tuple]:
        """Every row, canonicalised by the test's own rules, sorted by key in Python;
        ``empty_is_null``: as a target that stores an empty string or bytes as NULL would
        hold them; ``millis``: timestamps cut to the millisecond, as MongoDB holds them."""
        cols = ", ".join(f'"{c.name}"' for c in table.columns)
        if self.raw is not None:
            raw = self.raw.read(table)
        elif self.kind == "kit":
            raw = self._kit_read(table)
        elif self.kind == "mongodb":
            raw = self._mongo_read(table)
        elif self.kind == "cassandra":
            raw = cassandra_read(self, table)
        elif self.kind == "sqlite":
            conn = sqlite3.connect(self.path)
            raw = conn.execute(f'SELECT {cols} FROM "{table.name}"').fetchall()
            conn.close()
        elif self.kind != "postgres":
            conn = self._mysql()
            with conn.cursor() as cur:
                # MySQL prints FLOAT with 6 digits in text: read it as the exact DOUBLE
                sel = ", ".join(f"CAST(`{c.name}` AS DOUBLE)" if c.kind is Kind.FLOAT32 else f"`{c.name}`"
                                for c in table.columns)
                cur.execute(f"SELECT {sel} FROM `{table.schema}`.`{table.name}`")
                raw = cur.fetchall()
            conn.close()
        else:
            import psycopg
            cols = ", ".join(f'"{c.name}"::text' if c.kind is Kind.JSON else f'"{c.name}"' for c in table.columns)
            with psycopg.connect(self.url) as conn:
                conn.execute("SET TimeZone = 'UTC'")
                raw = conn.execute(f'SELECT {cols} FROM "{table.schema}"."{table.name}"').fetchall()
        rows = [tuple(canon(c, v) for c, v in zip(table.columns, r)) for r in as_held(raw, empty_is_null)]
        if millis:
            rows = [tuple(v.replace(microsecond=v.microsecond // 1000 * 1000) if isinstance(v, dt.datetime) else v
                          for v in r) for r in rows]
        kp = table.key_positions
        return sorted(rows, key=lambda r: tuple(r[p] for p in kp))


def _from_document(col: Column, v):
    if v is None:
        return None
    if hasattr(v, "to_decimal"):
        return v.to_decimal()
    if col.kind in (Kind.DECIMAL, Kind.UINT64) and isinstance(v, str):
        return Decimal(v)
    if col.kind is Kind.JSON:   # an embedded document
        return json.dumps(v)
    return v


def canon(col: Column, v):
    """The test's own idea of a value, from whatever a driver or SQLite storage gives."""
    if v is None:
        return None
    k = col.kind
    if k is Kind.BOOLEAN:
        return bool(int(v))
    if k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32, Kind.UINT64):
        return int(v)
    if k is Kind.DECIMAL:
        return Decimal(str(v))
    if k in (Kind.FLOAT32, Kind.FLOAT64):
        f = float(v)
        if k is Kind.FLOAT32 and math.isfinite(f):
            f = struct.unpack("f", struct.pack("f", f))[0]
        return "nan" if math.isnan(f) else f + 0.0
    if k is Kind.CHAR:
        return v.rstrip(" ")
    if k is Kind.JSON:
        return json.dumps(json.loads(v) if isinstance(v, (str, bytes)) else v, sort_keys=True)
    if k in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return bytes(v)
    if k is Kind.DATE:   # Oracle's DATE holds seconds: its driver returns a datetime
        if isinstance(v, str):
            v = dt.datetime.fromisoformat(v) if len(v) > 10 else dt.date.fromisoformat(v)
        return v.date() if isinstance(v, dt.datetime) else v
    if k is Kind.TIME:
        if isinstance(v, dt.timedelta):
            return (dt.datetime.min + v).time()
        return v if isinstance(v, dt.time) else dt.time.fromisoformat(v)
    if k in (Kind.TIMESTAMP, Kind.TIMESTAMPTZ):
        ts = v if isinstance(v, dt.datetime) else dt.datetime.fromisoformat(v)
        return ts.astimezone(UTC).replace(tzinfo=None) if ts.tzinfo else ts
    if k is Kind.UUID:
        return uuid.UUID(bytes=v) if isinstance(v, bytes) and len(v) == 16 else uuid.UUID(str(v))
    return v


@contextlib.contextmanager
def sqlite_backend(tmp: Path, name: str):
    path = tmp / f"{name}.db"
    sqlite3.connect(path).close()
    yield Backend("sqlite", "sqlite", f"sqlite:///{path}", "main", path)


@contextlib.contextmanager
def postgres_backend(tmp: Path, name: str):
    with postgres_database() as db:
        yield Backend("postgres", "postgres", db.url, db.schema)


@contextlib.contextmanager
def mariadb_backend(tmp: Path, name: str):
    with mariadb_database("mariadb") as db:
        yield Backend("mariadb", "mariadb", db.url, db.schema)


@contextlib.contextmanager
def mysql_mode_backend(tmp: Path, name: str):
    """The plain mysql adapter (MySQL 8's dialect choices) run against MariaDB."""
    with mariadb_database("mysql") as db:
        yield Backend("mysql", "mysql", db.url, db.schema)


@contextlib.contextmanager
def sqlserver_backend(tmp: Path, name: str):
    """SQL Server at the translated tier (``tests.conformance.translated``): the adapter's
    SQL, parsed as T-SQL and run on a PostgreSQL database of its own, in schema dbo."""
    from tests.conformance.translated import real_schema, translated_adapter
    real = os.environ.get("TARGETSYNC_TEST_SQLSERVER_DSN")
    if real:   # the same suite against a real server
        with real_schema("sqlserver", real) as schema:
            yield Backend("kit", "sqlserver", real, schema)
        return
    with postgres_database() as db, translated_adapter("sqlserver", db.url, ["dbo"]) as url:
        yield Backend("kit", "sqlserver", url, "dbo")


@contextlib.contextmanager
def oracle_backend(tmp: Path, name: str):
    """Oracle at the translated tier: the adapter's SQL, parsed as Oracle's and run on a
    PostgreSQL database of its own whose strings compare in byte order (as the adapter's
    sessions set NLS_SORT=BINARY), tables in schema APP and its bookkeeping in the login's."""
    from tests.conformance.translated import real_schema, translated_adapter
    real = os.environ.get("TARGETSYNC_TEST_ORACLE_DSN")
    if real:   # the same suite against a real server
        with real_schema("oracle", real) as schema:
            yield Backend("kit", "oracle", real, schema)
        return
    with postgres_database(byte_order=True) as db:
        login = parse_dsn(db.url).username.upper()
        with translated_adapter("oracle", db.url, ["APP", login]) as url:
            yield Backend("kit", "oracle", url, "app")


@contextlib.contextmanager
def mongodb_backend(tmp: Path, name: str):
    """MongoDB (secantusdb unless TARGETSYNC_TEST_MONGODB_DSN names a server): a database
    of its own, which both keeps the bookkeeping and holds the tables (schema = database)."""
    with mongodb_database() as db:
        yield Backend("mongodb", "mongodb", db.url, db.schema)


#: the CQL type the suite's source tables use for each canonical kind
CQL = {Kind.BOOLEAN: "boolean", Kind.INT16: "smallint", Kind.INT32: "int", Kind.INT64: "bigint",
       Kind.UINT16: "int", Kind.UINT32: "bigint", Kind.UINT64: "varint", Kind.DECIMAL: "decimal",
       Kind.FLOAT32: "float", Kind.FLOAT64: "double", Kind.CHAR: "text", Kind.VARCHAR: "text", Kind.TEXT: "text",
       Kind.BINARY: "blob", Kind.VARBINARY: "blob", Kind.BLOB: "blob", Kind.DATE: "date", Kind.TIME: "time",
       Kind.TIMESTAMP: "timestamp", Kind.TIMESTAMPTZ: "timestamp", Kind.UUID: "uuid", Kind.JSON: "text"}


def cql_of(c: Column) -> str:
    return "varint" if c.kind is Kind.DECIMAL and c.scale == 0 else CQL[c.kind]


def cql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _session(b: Backend):
    """The driver session of ``b``'s own adapter (one a backend, closed with it)."""
    if "_db" not in b.__dict__:
        b.__dict__["_db"] = b.db
    return b.__dict__["_db"].session()


def cassandra_create(b: Backend, tables: list[Table], types: dict | None = None) -> None:
    """Tables in CQL: the first key column is the partition key, the others clustering
    columns; ``types`` (column name → CQL type) overrides :data:`CQL`."""
    session = _session(b)
    for t in tables:
        cols = ", ".join(f"{cql_name(c.name)} {(types or {}).get(c.name) or cql_of(c)}" for c in t.columns)
        part, *clustering = t.primary_key
        key = ", ".join([f"({cql_name(part)})", *map(cql_name, clustering)])
        session.execute(f"CREATE TABLE {cql_name(t.schema)}.{cql_name(t.name)} ({cols}, PRIMARY KEY ({key}))")


def cassandra_insert(b: Backend, table: Table, rows: list[tuple]) -> None:
    session = _session(b)
    cols = ", ".join(cql_name(c.name) for c in table.columns)
    stmt = session.prepare(f"INSERT INTO {cql_name(table.schema)}.{cql_name(table.name)} ({cols}) VALUES "
                           f"({', '.join('?' * len(table.columns))})")
    for r in rows:
        session.execute(stmt, tuple(int(v) if cql_of(c) == "varint" and v is not None else v
                                    for c, v in zip(table.columns, r)))


def cassandra_read(b: Backend, table: Table) -> list[tuple]:
    """Every row as the driver returns it, its ``Date`` and ``Time`` as Python's."""
    session = _session(b)
    cols = ", ".join(cql_name(c.name) for c in table.columns)
    rows = session.execute(f"SELECT {cols} FROM {cql_name(table.schema)}.{cql_name(table.name)}")

    def plain(v):
        if hasattr(v, "nanosecond_time"):
            ns = v.nanosecond_time
            return dt.time(ns // 3_600_000_000_000, ns // 60_000_000_000 % 60, ns // 10**9 % 60, ns // 1000 % 10**6)
        if isinstance(v, dt.datetime):   # whole milliseconds, which the driver's float blurs
            return v.replace(microsecond=0) + dt.timedelta(milliseconds=round(v.microsecond / 1000))
        return v.date() if type(v).__name__ == "Date" else v
    return [tuple(map(plain, r)) for r in rows]


@contextlib.contextmanager
def cassandra_backend(tmp: Path, name: str):
    """Cassandra, a source only: the test double behind the driver's API, or the cluster
    TARGETSYNC_TEST_CASSANDRA_DSN names; a keyspace of its own, dropped afterwards."""
    with cassandra_keyspace() as (url, keyspace):
        b = Backend("cassandra", "cassandra", url, keyspace)
        session = _session(b)
        session.execute(f"CREATE KEYSPACE {cql_name(keyspace)} WITH replication = "
                        "{'class': 'SimpleStrategy', 'replication_factor': 1}")
        try:
            yield b
        finally:
            session.execute(f"DROP KEYSPACE IF EXISTS {cql_name(keyspace)}")
            b.__dict__.pop("_db").close()


@contextlib.contextmanager
def mongodb_standalone_backend(tmp: Path, name: str):
    """MongoDB on a standalone server (no replica set): secantusdb ``--standalone``, or
    TARGETSYNC_TEST_MONGODB_STANDALONE_DSN. secantusdb runs a transaction even there, which
    mongod refuses (code 20), so pymongo is made to refuse it as mongod would: a test
    passing here used none."""
    from unittest import mock

    from pymongo.client_session import ClientSession
    from pymongo.errors import OperationFailure

    def refuse(*args, **kwargs):
        raise OperationFailure("Transaction numbers are only allowed on a replica set member or mongos", 20)
    with mongodb_database(standalone=True) as db, mock.patch.object(ClientSession, "start_transaction", refuse):
        yield Backend("mongodb", "mongodb", db.url, db.schema)


def _lazy(spec: str):
    """A backend context manager imported from ``module:function`` when first used (a
    cloud target's client is imported only by the tests that use it)."""
    @contextlib.contextmanager
    def backend(tmp: Path, name: str):
        import importlib
        module, _, function = spec.partition(":")
        with getattr(importlib.import_module(module), function)(tmp, name) as b:
            yield b
    return backend


#: cloud targets (issue 24), each at the tier its module's docstring names (an emulator
#: or stand-in started by the test command, or the real service its
#: ``TARGETSYNC_TEST_<DB>_DSN`` names); targets only, paired with :data:`CLOUD_SOURCES`
CLOUD = {name: _lazy(spec) for name, spec in {
    "databricks": "tests.conformance.cloud.databricks:backend",
    "spanner": "tests.conformance.cloud.spanner:backend",
    "firebolt": "tests.conformance.cloud.firebolt:backend",
    "bigquery": "tests.conformance.cloud.bigquery:backend",
    "snowflake": "tests.conformance.cloud.snowflake:backend",
}.items()}
CLOUD_SOURCES = ("sqlite", "postgres", "mariadb")

BACKENDS = {"sqlite": sqlite_backend, "postgres": postgres_backend, "mariadb": mariadb_backend,
            "mysql": mysql_mode_backend, "sqlserver": sqlserver_backend, "oracle": oracle_backend,
            "mongodb": mongodb_backend, "cassandra": cassandra_backend}
#: a backend of one of BACKENDS' types on a server of another shape, which the suites
#: that name it run too
VARIANTS = {"mongodb-standalone": mongodb_standalone_backend}
ALL_BACKENDS = {**BACKENDS, **VARIANTS, **CLOUD}


def write_configs(d: Path, src: Backend, tgt: Backend, names: list[str], window_size: int = 50,
                  max_threads: int = 4, file_mb: float = 0.02, extra: str = "") -> None:
    """DSN files, the table list (``names`` in the source's schema) and schema, emit and
    sync configs for ``src`` → ``tgt`` in ``d``, renaming the schema where they differ."""
    (d / "source.dsn").write_text(src.url + "\n")
    (d / "target.dsn").write_text(tgt.url + "\n")
    (d / "tables.txt").write_text("".join(f"{src.schema}.{n}\n" for n in names))
    rename = f"schemaRename={src.schema}:{tgt.schema}\n" if src.schema != tgt.schema else ""
    common = (f"sourceType={src.type_name}\nsourceDsnFile=source.dsn\ntargetType={tgt.type_name}\n"
              f"targetDsnFile=target.dsn\ntableFile=tables.txt\nschemaFile=schema.skt\n{rename}")
    (d / "schema.cfg").write_text(common + "outputDirectory=ddl\n")
    emit = (f"emitOutputDirectory=emit\nwindowSize={window_size}\nmaxThreads={max_threads}\n"
            f"emitFileTargetMB={file_mb}\n{extra}")
    (d / "emit.cfg").write_text(common + "targetSyncEmit=true\n" + emit)
    (d / "sync.cfg").write_text(common + emit + "doneDirectory=done\n")


def joint_limits(a: Limits, b: Limits) -> Limits:
    return Limits(min(a.max_integer, b.max_integer), a.nonfinite_floats and b.nonfinite_floats,
                  max(a.min_year, b.min_year), a.folds_case or b.folds_case, a.pad_space or b.pad_space,
                  a.empty_is_null or b.empty_is_null, min(a.max_year, b.max_year))


def as_held(rows: list[tuple], empty_is_null: bool) -> list[tuple]:
    """``rows`` as a target that stores an empty string or bytes as NULL holds them."""
    if not empty_is_null:
        return rows
    return [tuple(None if isinstance(v, (str, bytes)) and len(v) == 0 else v for v in r) for r in rows]


def refused_connection(tmp_path: Path, capsys, target_type: str, dsn_of, secret: str) -> None:
    """``targetsync schema --apply`` from a SQLite table into a ``target_type`` at
    ``dsn_of(port)``, a local port where nothing listens: exit 3 and one line naming the
    server and the DSN file, never ``secret`` (the DSN's password)."""
    import socket
    from targetsync_core.cli import main
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (tmp_path / "target.dsn").write_text(dsn_of(port) + "\n")
    (tmp_path / "source.dsn").write_text(f"sqlite:///{tmp_path / 'src.db'}\n")
    conn = sqlite3.connect(tmp_path / "src.db")
    conn.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    conn.close()
    (tmp_path / "tables.txt").write_text("main.t\n")
    (tmp_path / "schema.cfg").write_text(f"sourceType=sqlite\nsourceDsnFile=source.dsn\ntargetType={target_type}\n"
                                         "targetDsnFile=target.dsn\ntableFile=tables.txt\nschemaFile=schema.skt\n"
                                         "outputDirectory=ddl\nschemaRename=main:app\n")
    code = main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"])
    out = capsys.readouterr()
    lines = out.err.strip().splitlines()
    assert code == 3 and len(lines) == 1, out
    assert f"cannot connect to {target_type} 127.0.0.1:{port}/" in lines[0], lines
    assert f"(DSN file {tmp_path / 'target.dsn'})" in lines[0], lines
    assert secret not in out.err + out.out
