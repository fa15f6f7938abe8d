"""Firebolt for the conformance suite, at the **stand-in tier**: firebolt-sdk's own HTTP
calls (login, engine lookup, queries, transactions) answered by
``firebolt_standin.FireboltStandin`` (an in-process HTTP server running the SQL on a fresh
PostgreSQL database whose strings compare in byte order), S3 staging on moto
(``cloud/s3.py``). What it cannot show: Firebolt's own engine (its planner, its
``COPY FROM`` reader and CSV dialect, its transactions' isolation and conflicts, its
type conversions), its catalog beyond the two queries the adapter sends, and that the
engine rather than PostgreSQL enforces no primary key (the stand-in's tables have one).

With ``TARGETSYNC_TEST_FIREBOLT_DSN`` set (a DSN as the adapter takes it, its client
secret in ``clientSecretFile`` by an absolute path, without the ``aws…`` parameters) the
same backend runs against real Firebolt: a database of its own is created through the
account's system engine and dropped afterwards, attached to the DSN's engine, its staging
the bucket of ``TARGETSYNC_TEST_S3_STAGE`` (``cloud/s3.py``).
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import uuid
from decimal import Decimal
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from targetsync_core.dsn import parse_dsn
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import Backend
from tests.conformance.cloud.s3 import s3_stage

REAL = "TARGETSYNC_TEST_FIREBOLT_DSN"
ENGINE = "ts_engine"
INSERT_ROWS = 500   # rows one raw INSERT carries


class Raw:
    """The backend's own access, through firebolt-sdk (never the adapter's code)."""

    def __init__(self, url: str):
        self.url = url
        self._conn = None

    def conn(self):
        """One connection, kept (the SDK inspects the whole stack for its user agent on
        every connect: slow under pytest)."""
        if self._conn is None or self._conn.closed:
            self._conn = self.connect()
        return self._conn

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def connect(self, system: bool = False):
        """A connection to the DSN's database and engine (``system``: to the account's
        system engine, where databases are made and dropped)."""
        from firebolt.client.auth import ClientCredentials
        from firebolt.db import connect
        d = parse_dsn(self.url)
        q = dict(parse_qsl(d.query))
        secret = Path(q["clientSecretFile"]).read_text().strip() if q.get("clientSecretFile") else d.password
        auth = ClientCredentials(d.username, secret, use_token_cache=False)
        if q.get("authEndpoint"):   # the stand-in: its token endpoint, as the adapter reaches it
            auth = _at(auth, q["authEndpoint"])
        extra = {"api_endpoint": q["apiEndpoint"]} if q.get("apiEndpoint") else {}
        where = {} if system else {"database": d.database, "engine_name": q["engine"]}
        conn = connect(auth=auth, account_name=d.host, **where, **extra)
        conn.cursor().execute("SET time_zone = 'UTC'")
        return conn

    def execute(self, sql: str) -> None:
        body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
        conn = self.conn()
        for statement in (s.strip() for s in body.split(";\n")):
            if statement.rstrip(";"):
                conn.cursor().execute(statement.rstrip(";"))

    def insert(self, table: Table, rows: list[tuple]) -> None:
        cols = ", ".join(_q(c.name) for c in table.columns)
        conn = self.conn()
        for i in range(0, len(rows), INSERT_ROWS):
            values = ", ".join("(" + ", ".join(_literal(_param(c.kind, v)) for c, v in zip(table.columns, r)) + ")"
                               for r in rows[i:i + INSERT_ROWS])
            conn.cursor().execute(f"INSERT INTO {_q(table.schema)}.{_q(table.name)} ({cols}) VALUES {values}",
                                  skip_parsing=True)

    def read(self, table: Table) -> list[tuple]:
        cols = ", ".join(_q(c.name) for c in table.columns)
        cur = self.conn().cursor()
        cur.execute(f"SELECT {cols} FROM {_q(table.schema)}.{_q(table.name)}")
        return [tuple(r) for r in cur.fetchall()]


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _param(kind: Kind, v):
    """A value as this raw access binds it: as the column's Firebolt type holds it."""
    if v is None:
        return None
    if kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
        return "\\x" + bytes(v).hex()
    if kind is Kind.TIME:
        return v.isoformat(timespec="microseconds")
    if kind is Kind.UUID:
        return str(v)
    if isinstance(v, dt.datetime):   # the SDK's strftime writes the year 51 as "51"
        return (v.astimezone(dt.timezone.utc) if v.tzinfo else v).isoformat(sep=" ")
    return v


def _literal(v) -> str:
    """A value as a SQL literal (the SDK's own formatting parses the whole statement)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "TRUE" if v else "FALSE"
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, (dt.date, dt.time)):
        v = v.isoformat()
    return "'" + str(v).replace("'", "''") + "'"


def _at(auth, token_url: str):
    """``auth`` asking for its token at ``token_url``."""
    from httpx import URL
    base = URL(token_url)
    make = auth._make_auth_request

    def made():
        request = make()
        request.url = request.url.copy_with(scheme=base.scheme, host=base.host, port=base.port,
                                            path=base.path.rstrip("/") + request.url.path)
        return request
    auth._make_auth_request = made
    return auth


def with_params(url: str, **params) -> str:
    parts = urlsplit(url)
    query = "&".join(p for p in (parts.query, urlencode(params)) if p)
    return urlunsplit(parts._replace(query=query))


@contextlib.contextmanager
def standin_backend(tmp: Path, name: str):
    """A PostgreSQL database (byte-order strings) behind the stand-in, in an account of
    its own; yields (backend, stand-in, stage fixture)."""
    from tests.conformance.cloud.firebolt_standin import FireboltStandin
    from tests.servers import postgres_database
    with postgres_database(byte_order=True) as db, s3_stage(tmp, f"fb-{name}") as stage:
        standin = FireboltStandin.shared()
        standin.s3_endpoint = stage.endpoint
        unique = uuid.uuid4().hex[:10]
        account, client_id, secret = f"acct_{unique}", f"client-{unique}", f"fb-secret-{uuid.uuid4().hex}"
        standin.add_account(account, client_id, secret, {db.name: db.url})
        secret_file = tmp / f"firebolt-{unique}.secret"
        secret_file.write_text(secret + "\n")
        url = with_params(f"firebolt://{client_id}@{account}/{db.name}", engine=ENGINE,
                          clientSecretFile=str(secret_file), apiEndpoint=standin.url, authEndpoint=standin.url)
        url = f"{url}&{stage.query}"
        raw = Raw(url)
        try:
            yield Backend("firebolt", "firebolt", url, "public", raw=raw), standin, stage
        finally:
            raw.close()
            standin.remove_account(account)


@contextlib.contextmanager
def real_backend(tmp: Path, name: str, dsn: str):
    """A database of its own on real Firebolt (created on the account's system engine)."""
    d = parse_dsn(dsn)
    database = f"ts_{uuid.uuid4().hex[:12]}"
    system = Raw(dsn)
    with contextlib.closing(system.connect(system=True)) as conn:
        conn.cursor().execute(f'CREATE DATABASE "{database}"')
    try:
        with s3_stage(tmp, f"fb-{name}") as stage:
            url = dsn.replace(f"/{d.database}?", f"/{database}?", 1) + "&" + stage.query
            raw = Raw(url)
            try:
                yield Backend("firebolt", "firebolt", url, "public", raw=raw), None, stage
            finally:
                raw.close()
    finally:
        with contextlib.closing(system.connect(system=True)) as conn:
            conn.cursor().execute(f'DROP DATABASE IF EXISTS "{database}"')


@contextlib.contextmanager
def firebolt_backend(tmp: Path, name: str):
    """The stand-in, or real Firebolt where ``TARGETSYNC_TEST_FIREBOLT_DSN`` names it;
    yields (backend, stand-in or None, stage fixture)."""
    real = os.environ.get(REAL)
    with (real_backend(tmp, name, real) if real else standin_backend(tmp, name)) as found:
        yield found


@contextlib.contextmanager
def backend(tmp: Path, name: str):
    """The conformance suite's Firebolt target (see the module)."""
    with firebolt_backend(tmp, name) as (b, _, _):
        yield b
