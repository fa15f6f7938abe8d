"""A stand-in for Firebolt's HTTP API, for firebolt-sdk: an in-process threaded HTTP server
on a free port of 127.0.0.1 that answers what the SDK asks of the service (read from its
source, firebolt-sdk 1.19) and runs the SQL on PostgreSQL.

* ``POST /oauth/token`` (the client-credentials login: form ``client_id``,
  ``client_secret``) → ``{"access_token", "expires_in"}``; a wrong pair → 401;
* ``GET /web/v3/account/<account>/engineUrl`` (bearer token) → ``{"engineUrl"}``: this
  server again (an unknown account → 404);
* ``POST /?database=…&…`` with a statement as the body (bearer token): ``USE DATABASE``
  and ``USE ENGINE`` answer with ``Firebolt-Update-Parameters``; ``BEGIN`` opens a
  PostgreSQL transaction named by a ``transaction_id`` parameter, which the SDK sends
  back with every statement until ``COMMIT``/``ROLLBACK`` removes it
  (``Firebolt-Remove-Parameters``); any other statement runs on the database's own
  PostgreSQL database (in that transaction, if any) and a result comes back as
  ``JSON_Compact`` (``meta`` with Firebolt's type names, ``data``, ``statistics``); an
  error as 400 with ``{"errors": [{"description"}]}``.

Statements are parsed as PostgreSQL by sqlglot (a statement it cannot parse fails) and
written back for PostgreSQL, except those only Firebolt has, translated by hand:
``CREATE TABLE … PRIMARY INDEX a, b`` (a PostgreSQL primary key: stricter than Firebolt,
which enforces none), ``COPY INTO t (c $1, …) FROM 's3://…' WITH …`` (the object is
fetched from S3 — moto — with the statement's credentials and loaded by PostgreSQL's
``COPY … CSV``, whose quoting and ``\\N`` are those the adapter asks of Firebolt), and the
catalog queries of ``information_schema.columns`` / ``.indexes`` (answered from
``pg_catalog`` with Firebolt's spelling of the types).

Every statement received is kept in ``sent`` (tests look at what the adapter asked), and
``fail_next`` makes a chosen statement fail once (tests of a crash between steps), or, with
no message, the connection close without an answer (a lost engine).
"""
from __future__ import annotations

import datetime as dt
import functools
import itertools
import json
import queue
import re
import secrets
import threading
import uuid
from collections import deque
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

#: PostgreSQL type oids → Firebolt's type names in a result's ``meta``
FB_TYPES = {16: "boolean", 20: "bigint", 21: "integer", 23: "integer", 700: "real", 701: "double precision",
            25: "text", 1043: "text", 1042: "text", 19: "text", 17: "bytea", 1082: "date",
            1114: "timestamp", 1184: "timestamptz", 2950: "text", 1083: "text"}
#: PostgreSQL ``format_type`` names → Firebolt's spelling in ``information_schema.columns``
FB_NAMES = {"integer": "integer", "smallint": "integer", "bigint": "bigint", "real": "real",
            "double precision": "double precision", "boolean": "boolean", "text": "text", "bytea": "bytea",
            "date": "date", "timestamp without time zone": "timestamp", "timestamp with time zone": "timestamptz"}

_COLUMNS = re.compile(r"^SELECT column_name, data_type, is_nullable, is_in_primary_index FROM information_schema\.columns "
                      r"WHERE table_schema = '((?:[^']|'')*)' AND table_name = '((?:[^']|'')*)' ORDER BY ordinal_position$")
_INDEXES = re.compile(r"^SELECT index_definition FROM information_schema\.indexes WHERE table_schema = "
                      r"'((?:[^']|'')*)' AND table_name = '((?:[^']|'')*)' AND index_type = 'primary'$")
_PG_COLUMNS = """SELECT a.attname, format_type(a.atttypid, a.atttypmod), CASE WHEN a.attnotnull THEN 'NO' ELSE 'YES' END,
  CASE WHEN a.attnum = ANY(coalesce(i.indkey::int2[], '{}')) THEN 'YES' ELSE 'NO' END
FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_index i ON i.indrelid = c.oid AND i.indisprimary
WHERE n.nspname = %s AND c.relname = %s AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum"""
_PG_INDEX = """SELECT '[' || string_agg(quote_ident(a.attname), ', ' ORDER BY k.ord) || ']'
FROM pg_index i JOIN pg_class c ON c.oid = i.indrelid JOIN pg_namespace n ON n.oid = c.relnamespace
CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum = k.attnum
WHERE i.indisprimary AND n.nspname = %s AND c.relname = %s GROUP BY i.indexrelid"""
_CREATE_INDEXED = re.compile(r"^(CREATE TABLE .*)\)\s*PRIMARY INDEX (.+)$", re.S | re.I)
_COPY = re.compile(r"^COPY INTO (?P<table>\S+) \((?P<map>.*?)\) FROM '(?P<uri>[^']*)' WITH (?P<opts>.*)$", re.S | re.I)
_MAP = re.compile(r'("(?:[^"]|"")*"|\w+)\s+\$(\d+)')
_CREDS = re.compile(r"CREDENTIALS = \(AWS_KEY_ID = '((?:[^']|'')*)' AWS_SECRET_KEY = '((?:[^']|'')*)'\)")
_COPY_OPTIONS = ("TYPE = CSV", "HEADER = FALSE", "NULL_STRING = '\\N'", "EMPTY_FIELD_AS_NULL = FALSE")


def fb_type_name(pg: str) -> str:
    """A PostgreSQL ``format_type`` as Firebolt's catalog spells the type."""
    if pg.endswith("[]"):
        return f"array({fb_type_name(pg[:-2])})"
    found = re.match(r"^numeric\((\d+),(\d+)\)$", pg)
    if found:
        return f"numeric({found.group(1)}, {found.group(2)})"
    base = re.sub(r"\(\d+\)", "", pg)
    if base not in FB_NAMES:
        raise StandinError(f"the stand-in has no Firebolt name for PostgreSQL's {pg}")
    return FB_NAMES[base]


class StandinError(Exception):
    """What the stand-in answers with a 400 and a structured error."""


class HangUp(Exception):
    """The stand-in closes the connection without an answer (a lost engine)."""


def _unq(text: str) -> str:
    return text.replace("''", "'")


def _value(v):
    """A PostgreSQL value as Firebolt's JSON_Compact writes it."""
    if isinstance(v, (bytes, memoryview)):
        return "\\x" + bytes(v).hex()
    if isinstance(v, dt.datetime):
        return v.isoformat(sep=" ")
    if isinstance(v, (dt.date, dt.time, uuid.UUID)):
        return v.isoformat() if not isinstance(v, uuid.UUID) else str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float) and (v != v or v in (float("inf"), float("-inf"))):
        return str(v)   # JSON has no NaN: Firebolt writes these as text
    return v


def _meta_type(col) -> str:
    if col.type_code == 1700:
        p, s = (col.precision, col.scale) if col.precision is not None else (38, 9)
        return f"numeric({p}, {s}) null"
    return FB_TYPES.get(col.type_code, "text") + " null"


class Account:
    def __init__(self, client_id: str, secret: str, databases: dict[str, str]):
        self.client_id, self.secret, self.databases = client_id, secret, dict(databases)


class FireboltStandin:
    """The server (see the module); one a test session (:meth:`shared`), accounts added by
    each backend."""

    _shared: "FireboltStandin | None" = None
    _lock = threading.Lock()

    def __init__(self):
        self.accounts: dict[str, Account] = {}
        self.tokens: dict[str, str] = {}          # token → account's client id
        self.transactions: dict[str, tuple] = {}  # id → (psycopg connection, database url)
        self.pools: dict[str, queue.SimpleQueue] = {}
        self.sent: deque = deque(maxlen=20_000)
        self.fail_next: list = []                 # (pattern, message): the next matching statement fails
        self.s3_endpoint: str | None = None
        self.logins = 0
        self._ids = itertools.count(1)
        self.server = _QuietServer(("127.0.0.1", 0), _handler(self))
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, name="firebolt-standin", daemon=True)
        self.thread.start()

    @classmethod
    def shared(cls) -> "FireboltStandin":
        with cls._lock:
            if cls._shared is None:
                cls._shared = cls()
            return cls._shared

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add_account(self, name: str, client_id: str, secret: str, databases: dict[str, str]) -> None:
        self.accounts[name] = Account(client_id, secret, databases)

    def remove_account(self, name: str) -> None:
        account = self.accounts.pop(name, None)
        for url in (account.databases.values() if account else ()):
            pool = self.pools.pop(url, None)
            while pool is not None and not pool.empty():
                pool.get_nowait().close()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- PostgreSQL ---------------------------------------------------------------------
    def _pg(self, url: str, autocommit: bool = True):
        import psycopg
        pool = self.pools.setdefault(url, queue.SimpleQueue())
        if autocommit:
            try:
                return pool.get_nowait()
            except queue.Empty:
                pass
        return psycopg.connect(url, autocommit=autocommit, options="-c TimeZone=UTC")

    def _give_back(self, url: str, conn) -> None:
        if conn.closed or conn.info.transaction_status != 0:
            conn.close()
        else:
            self.pools.setdefault(url, queue.SimpleQueue()).put(conn)

    # -- statements ---------------------------------------------------------------------
    def run(self, account: Account, params: dict, sql: str) -> tuple[dict, bytes]:
        """Headers and body answering one statement."""
        sql = sql.strip().rstrip(";").strip()
        self.sent.append(sql)
        for i, (pattern, message) in enumerate(self.fail_next):
            if re.search(pattern, sql):
                del self.fail_next[i]
                raise StandinError(message) if message is not None else HangUp()
        upper = sql.upper()
        found = re.match(r'^USE (DATABASE|ENGINE)\s+"?([^"]+)"?$', sql, re.I)
        if found:
            kind, name = found.group(1).lower(), found.group(2)
            if kind == "database" and name not in account.databases:
                raise StandinError(f"Database '{name}' does not exist or not authorized")
            return {"Firebolt-Update-Parameters": f"{kind}={name}"}, b""
        url = account.databases.get(params.get("database", ""))
        if url is None:
            if upper.startswith("SELECT 1"):   # the SDK's check of a SET before any database
                return {}, _result(["?column?"], ["integer null"], [[1]])
            raise StandinError("no database selected: USE DATABASE first")
        if upper in ("BEGIN", "BEGIN TRANSACTION", "START TRANSACTION"):
            txid = f"tx{next(self._ids)}-{secrets.token_hex(4)}"
            self.transactions[txid] = (self._pg(url, autocommit=False), url)
            return {"Firebolt-Update-Parameters": f"transaction_id={txid},transaction_sequence_id=0"}, b""
        if upper in ("COMMIT", "ROLLBACK", "END", "COMMIT TRANSACTION", "ROLLBACK TRANSACTION"):
            held = self.transactions.pop(params.get("transaction_id", ""), None)
            if held is None:
                raise StandinError(f"cannot {upper.split()[0]}: no transaction is in progress")
            conn, _ = held
            try:
                conn.commit() if upper.startswith(("COMMIT", "END")) else conn.rollback()
            finally:
                conn.close()
            return {"Firebolt-Remove-Parameters": "transaction_id,transaction_sequence_id"}, b""
        held = self.transactions.get(params.get("transaction_id", ""))
        if params.get("transaction_id") and held is None:
            raise StandinError(f"transaction {params['transaction_id']} does not exist")
        conn = held[0] if held else self._pg(url)
        try:
            return {}, self._execute(conn, sql)
        finally:
            if not held:
                self._give_back(url, conn)

    def _execute(self, conn, sql: str) -> bytes:
        import psycopg
        try:
            copy = _COPY.match(sql)
            if copy:
                self._copy(conn, copy)
                return b""
            text, args = self.translate(sql)
            cur = conn.execute(text, args or None)
            if cur.description is None:
                return b""
            rows = [[_value(v) for v in r] for r in cur.fetchall()]
            if _COLUMNS.match(sql):
                rows = [[name, fb_type_name(t), *rest] for name, t, *rest in rows]
            return _result([c.name for c in cur.description], [_meta_type(c) for c in cur.description], rows)
        except psycopg.Error as exc:
            raise StandinError(str(exc).strip().splitlines()[0]) from None

    def translate(self, sql: str) -> tuple[str, list]:
        """A Firebolt statement as PostgreSQL runs it, and its parameters."""
        return _translated(sql)

    def _copy(self, conn, found) -> None:
        """``COPY INTO`` a table from a staged CSV object (or every object of a folder)."""
        import boto3
        opts = found.group("opts")
        for needed in _COPY_OPTIONS:
            if needed not in opts:
                raise StandinError(f"the stand-in loads only CSV without a header, NULL_STRING '\\N' and "
                                   f"EMPTY_FIELD_AS_NULL FALSE; this COPY lacks {needed}")
        creds = _CREDS.search(opts)
        mapping = sorted((int(n), col) for col, n in _MAP.findall(found.group("map")))
        if [n for n, _ in mapping] != list(range(1, len(mapping) + 1)):
            raise StandinError("COPY's column mapping must name $1…$n in order")
        bucket, _, key = found.group("uri")[len("s3://"):].partition("/")
        client = boto3.client("s3", endpoint_url=self.s3_endpoint, region_name="us-east-1",
                              aws_access_key_id=_unq(creds.group(1)) if creds else None,
                              aws_secret_access_key=_unq(creds.group(2)) if creds else None)
        try:
            keys = ([o["Key"] for p in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key)
                     for o in p.get("Contents", [])] if key.endswith("/") else [key])
            bodies = [client.get_object(Bucket=bucket, Key=k)["Body"].read() for k in keys]
        except Exception as exc:  # noqa: BLE001 - what Firebolt would say: it cannot read the object
            raise StandinError(f"COPY cannot read {found.group('uri')}: {type(exc).__name__}") from None
        cols = ", ".join(col for _, col in mapping)
        with conn.cursor().copy(f"COPY {found.group('table')} ({cols}) FROM STDIN WITH (FORMAT csv, NULL '\\N')") as cp:
            for body in bodies:
                cp.write(body)


@functools.lru_cache(maxsize=4096)
def _translated(sql: str) -> tuple[str, list]:
    """A Firebolt statement as PostgreSQL runs it, and its parameters (cached: the
    adapter sends the same few statements again and again)."""
    import sqlglot
    for pattern, pg in ((_COLUMNS, _PG_COLUMNS), (_INDEXES, _PG_INDEX)):
        found = pattern.match(sql)
        if found:
            return pg, [_unq(found.group(1)), _unq(found.group(2))]
    created = _CREATE_INDEXED.match(sql)
    if created:
        sql = f"{created.group(1)}, PRIMARY KEY ({created.group(2)}))"
    try:
        trees = [t for t in sqlglot.parse(sql, read="postgres") if t is not None]
    except sqlglot.errors.ParseError as exc:
        raise StandinError(f"syntax error (as PostgreSQL parses it): {str(exc).splitlines()[0]}") from None
    for tree in trees:
        _refuse_postgres_only(tree)
    return "; ".join(t.sql(dialect="postgres") for t in trees), []


#: what PostgreSQL runs and Firebolt (as its documentation stands) does not, or what the
#: adapter says it never sends: row locks, upserts, RETURNING, temporary tables, MERGE
POSTGRES_ONLY = {"Lock": "a row lock (FOR UPDATE)", "OnConflict": "ON CONFLICT", "Returning": "RETURNING",
                 "TemporaryProperty": "a temporary table", "Merge": "MERGE (the adapter promises none)"}


def _refuse_postgres_only(tree) -> None:
    from sqlglot import exp
    for cmp in tree.find_all(exp.GT, exp.GTE, exp.LT, exp.LTE):
        if isinstance(cmp.this, exp.Tuple) or isinstance(cmp.expression, exp.Tuple):
            raise StandinError(f"the stand-in refuses a row-value comparison: {cmp.sql()}")
    for node in tree.walk():
        what = POSTGRES_ONLY.get(type(node).__name__)
        if what:
            raise StandinError(f"the stand-in refuses {what}, which Firebolt does not run")


class _QuietServer(ThreadingHTTPServer):
    def handle_error(self, request, client_address):   # a client that hung up: nothing to report
        pass


def _result(names: list[str], types: list[str], rows: list) -> bytes:
    doc = {"meta": [{"name": n, "type": t} for n, t in zip(names, types)], "data": rows, "rows": len(rows),
           "statistics": {"elapsed": 0.001, "rows_read": len(rows), "bytes_read": 0}}
    return json.dumps(doc).encode()


def _handler(standin: FireboltStandin):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True   # a response in one segment, not held for an ACK

        def log_message(self, *args):   # quiet
            pass

        def _send(self, status: int, body: bytes = b"", headers: dict | None = None,
                  content_type: str = "application/json") -> None:
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def _account(self) -> Account | None:
            token = self.headers.get("Authorization", "").removeprefix("Bearer ")
            client_id = standin.tokens.get(token)
            return next((a for a in standin.accounts.values() if a.client_id == client_id), None)

        def do_GET(self):
            parts = urlsplit(self.path)
            found = re.match(r"^/web/v3/account/([^/]+)/engineUrl$", parts.path)
            if not found:
                return self._send(404, b'{"message": "not found"}')
            account = self._account()
            if account is None:
                return self._send(401, b'{"message": "unauthorized"}')
            if standin.accounts.get(found.group(1)) is not account:
                return self._send(404, b'{"message": "account not found"}')
            self._send(200, json.dumps({"engineUrl": standin.url}).encode())

        def do_POST(self):
            parts = urlsplit(self.path)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if parts.path == "/oauth/token":
                form = dict(parse_qsl(body.decode()))
                if not any(a.client_id == form.get("client_id") and a.secret == form.get("client_secret")
                           for a in standin.accounts.values()):
                    return self._send(401, b'{"error": "access_denied", "message": "Unauthorized"}')
                token = secrets.token_hex(16)
                standin.tokens[token] = form["client_id"]
                standin.logins += 1
                return self._send(200, json.dumps({"access_token": token, "expires_in": 3600}).encode())
            account = self._account()
            if account is None:
                return self._send(401, b'{"message": "unauthorized"}')
            try:
                headers, out = standin.run(account, dict(parse_qsl(parts.query)), body.decode("utf-8"))
            except StandinError as exc:
                err = {"errors": [{"severity": "ERROR", "description": str(exc)}]}
                return self._send(400, json.dumps(err).encode())
            except HangUp:
                self.close_connection = True
                return
            self._send(200, out, headers)
    return Handler
