"""Snowflake for the conformance suites: fakesnow (0.12.1, Snowflake's SQL on DuckDB behind
Snowflake's own HTTP protocol) run as a server by the test command from a venv of its own
(``tests.standins``), through :mod:`fakesnow_launcher` (one fix: NULL timestamps), reached
through the real connector; or the account ``TARGETSYNC_TEST_SNOWFLAKE_DSN`` names. Each
backend is a database of its own, dropped afterwards.

What fakesnow does not do as Snowflake does is listed in docs/TESTING.md (Snowflake)."""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from pathlib import Path

from targetsync_core.dsn import parse_dsn
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind
from tests.standins import start_service, tool_venv

REQUIREMENTS = ["fakesnow[server]==0.12.1", "snowflake-connector-python>=4,<5"]
LAUNCHER = Path(__file__).with_name("fakesnow_launcher.py")
INSERT_ROWS = 1000     # rows an INSERT of the raw insert


def fakesnow():
    """The session's fakesnow server (started once)."""
    python = tool_venv("fakesnow", REQUIREMENTS) / "python"
    # -P: the launcher's folder (which holds this module, snowflake.py) stays off sys.path
    return start_service("fakesnow", lambda port, workdir: [str(python), "-P", str(LAUNCHER), "-s", "-p", str(port)])


#: fakesnow takes any password; this one is remembered as a secret (scrubbed from every
#: message of the test process), so it is no word a message would hold
PASSWORD = "fakesnow-pw-7e1c"


def fake_dsn(port: int, database: str, schema: str) -> str:
    return (f"snowflake://ts:{PASSWORD}@fake/{database}/{schema}?host=127.0.0.1&port={port}&protocol=http"
            "&networkTimeout=5")


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class Raw:
    """The suite's own access through the connector (never the adapter)."""

    def __init__(self, url: str):
        d = parse_dsn(url)
        self.options = dict(p.split("=", 1) for p in d.query.split("&") if p)
        self.database, self.schema = (d.database.split("/") + ["PUBLIC"])[:2]
        password = d.password or Path(self.options["passwordFile"]).read_text().strip()
        self.kwargs = dict(account=d.host, user=d.username, password=password, database=self.database,
                           autocommit=True)
        if "host" in self.options:
            self.kwargs.update(host=self.options["host"], port=int(self.options["port"]),
                               protocol=self.options.get("protocol", "https"),
                               network_timeout=int(self.options.get("networkTimeout", 60)))
        if "warehouse" in self.options:
            self.kwargs["warehouse"] = self.options["warehouse"]

    def connect(self):
        import snowflake.connector
        return snowflake.connector.connect(**self.kwargs)

    def execute(self, sql: str) -> None:
        conn = self.connect()
        try:
            body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
            for stmt in (s.strip().rstrip(";") for s in body.split(";\n")):
                if stmt:
                    conn.cursor().execute(stmt)
        finally:
            conn.close()

    def natives(self, conn, table: Table) -> dict:
        cur = conn.cursor()
        cur.execute(f"DESC TABLE {q(self.database)}.{q(table.schema)}.{q(table.name)}")
        return {r[0]: r[1] for r in cur.fetchall()}

    def insert(self, table: Table, rows: list[tuple]) -> None:
        """``INSERT … SELECT … FROM VALUES`` of literal rows, each value cast to its
        column's type (JSON parsed into the VARIANT, bytes as hex)."""
        conn = self.connect()
        try:
            natives = self.natives(conn, table)
            cols = ", ".join(q(c.name) for c in table.columns)

            def expr(i: int, c) -> str:
                native = natives[c.name].upper()
                if native.startswith(("VARIANT", "OBJECT", "ARRAY")):
                    return f"PARSE_JSON(v{i})"
                if native.startswith(("BINARY", "VARBINARY")):
                    return f"TO_BINARY(v{i}, 'HEX')"
                return f"v{i}::{natives[c.name]}"

            def value(c, v):
                if v is None:
                    return None
                if isinstance(v, (bytes, bytearray)):
                    return bytes(v).hex()
                if c.kind is Kind.TIMESTAMPTZ:
                    return v.astimezone(dt.timezone.utc).isoformat(sep=" ")
                if isinstance(v, dt.datetime):
                    return v.isoformat(sep=" ")
                if isinstance(v, float):
                    return repr(v)
                return str(v)   # every value as text: the SELECT casts it
            select = ", ".join(expr(i, c) for i, c in enumerate(table.columns))
            names = ", ".join(f"v{i}" for i in range(len(table.columns)))
            one = "(" + ", ".join(["%s"] * len(table.columns)) + ")"
            for i in range(0, len(rows), INSERT_ROWS):
                chunk = rows[i:i + INSERT_ROWS]
                sql = (f"INSERT INTO {q(self.database)}.{q(table.schema)}.{q(table.name)} ({cols}) SELECT {select} "
                       f"FROM (VALUES {', '.join([one] * len(chunk))}) AS t ({names})")
                conn.cursor().execute(sql, [value(c, v) for r in chunk for c, v in zip(table.columns, r)])
        finally:
            conn.close()

    def read(self, table: Table) -> list[tuple]:
        conn = self.connect()
        try:
            cur = conn.cursor()
            cur.execute(f"SELECT {', '.join(q(c.name) for c in table.columns)} FROM "
                        f"{q(self.database)}.{q(table.schema)}.{q(table.name)}")
            return [tuple(r) for r in cur.fetchall()]
        finally:
            conn.close()


def in_database(url: str, database: str, schema: str) -> str:
    """``url`` with its path naming ``database`` and ``schema``."""
    head, _, rest = url.partition("://")
    authority, _, path = rest.partition("/")
    query = path.partition("?")[2]
    return f"{head}://{authority}/{database}/{schema}" + (f"?{query}" if query else "")


@contextlib.contextmanager
def backend(tmp: Path, name: str):
    """A database of its own (``TS_<random>``, dropped afterwards, so that each backend has
    its own ``_targetsync`` record and lease) holding a schema ``ts_<random>``."""
    from tests.conformance.backends import Backend
    schema = f"ts_{uuid.uuid4().hex[:10]}"
    database = f"TS_{uuid.uuid4().hex[:10].upper()}"
    real = os.environ.get("TARGETSYNC_TEST_SNOWFLAKE_DSN")
    url = in_database(real, database, schema) if real else fake_dsn(fakesnow().port, database, schema)
    admin = Raw(url)
    admin.kwargs.pop("database")
    admin.execute(f"CREATE DATABASE {q(database)}")
    try:
        admin.execute(f"CREATE SCHEMA {q(database)}.{q(schema)}")
        yield Backend("snowflake", "snowflake", url, schema, raw=Raw(url))
    finally:
        with contextlib.suppress(Exception):
            admin.execute(f"DROP DATABASE IF EXISTS {q(database)}")
