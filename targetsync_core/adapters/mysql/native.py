"""Reading MySQL-family rows through MySQL Connector/Python's C extension.

PyMySQL parses every result packet in Python: ~15 µs a row of the benchmark table here,
most of a cross-engine ``validate`` that has to read MariaDB windows whole. The C
extension ``_mysql_connector`` that the ``mysql-connector-python`` wheels carry (with
their own libmysqlclient and OpenSSL) builds the same rows in C, ~3 µs a row. So reads
(windows, keys, bounds and the block reader's snapshot) go through it when it imports;
everything else (metadata, apply) stays on PyMySQL.

The connection here offers the small part of the DB-API the adapter uses (``cursor()``
with ``execute`` / ``fetchmany`` / ``fetchall``, ``rollback``, ``close``, ``thread_id``)
and raises PyMySQL's own exception classes with the server's error number, so the
adapter's error handling (lost connections, one-line read errors) is the same for both.

Parameters are written into the SQL as literals (the extension has no client-side
binding): the session runs with ``NO_BACKSLASH_ESCAPES``, as PyMySQL's does, so a string
only doubles its quotes and bytes are hex literals.

Two differences from PyMySQL are handled by the adapter, not here: a zero date
(``0000-00-00``) comes back as None from the extension, so temporal columns are read as
text (``CAST(… AS CHAR)``) and parsed strictly; and TLS follows the client library's
default (``PREFERRED``, the certificate unchecked), as PyMySQL's does without TLS options.

``TARGETSYNC_MYSQL_DRIVER=pymysql`` keeps every read on PyMySQL.
"""
from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import uuid
from decimal import Decimal

log = logging.getLogger(__name__)

FETCH = 2000            # rows per fetchmany when the caller gives no size
_CONNECTING = threading.Lock()
_MODULE: list = []      # [(module, plugin_dir) or None], decided once per process


def load():
    """``(_mysql_connector, plugin_dir)``, or None when the extension is missing, cannot
    load (a wheel built against a newer OpenSSL than the system's), or is turned off."""
    if not _MODULE:
        _MODULE.append(_load())
    return _MODULE[0]


def preload() -> None:
    """Load the extension now, if it is installed, before a library that uses up glibc's
    static TLS is loaded into this process: after pyarrow's libraries (which Snowflake's
    connector and BigQuery's client load) it can no longer load ("cannot allocate memory
    in static TLS block") and MySQL reads would fall back to PyMySQL. Loaded first, both
    work in one process (a Dagster code location serving several pairs)."""
    import importlib.util
    if not _MODULE and importlib.util.find_spec("_mysql_connector") is not None:
        load()


def _load():
    if os.environ.get("TARGETSYNC_MYSQL_DRIVER", "").strip().lower() == "pymysql":
        return None
    try:
        import _mysql_connector
        import mysql
    except (ImportError, OSError) as exc:
        log.info("MySQL Connector/Python's C extension is not usable (%s); reading with PyMySQL",
                 str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        return None
    base = os.path.dirname(mysql.__file__ or "")
    return _mysql_connector, os.path.join(base, "vendor", "plugin")


def _error(exc: Exception) -> Exception:
    """The extension's error as the PyMySQL exception PyMySQL raises for that number."""
    import pymysql.err as err
    errno = getattr(exc, "errno", None) or 2000      # 2000: CR_UNKNOWN_ERROR
    msg = getattr(exc, "msg", None) or (exc.args[0] if exc.args else str(exc))
    cls = err.error_map.get(errno) or (err.InternalError if errno < 1000 else err.OperationalError)
    return cls(errno, str(msg))


def literal(v) -> str:
    """A parameter as a MySQL literal (under NO_BACKSLASH_ESCAPES)."""
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, float):
        text = repr(v)
        return text if "e" in text else text + "e0"
    if isinstance(v, (bytes, bytearray, memoryview)):
        return f"X'{bytes(v).hex()}'"
    if isinstance(v, dt.datetime):
        return f"'{v.isoformat(' ')}'"
    if isinstance(v, (dt.date, dt.time)):
        return f"'{v.isoformat()}'"
    if isinstance(v, (str, uuid.UUID)):
        return "'" + str(v).replace("'", "''") + "'"
    raise TypeError(f"no MySQL literal for {type(v).__name__}")


def bind(sql: str, params) -> str:
    """``sql`` with its ``%s`` marks replaced by literals, as PyMySQL does (``%%`` is a
    percent sign only when there are parameters)."""
    if params is None:
        return sql
    return sql % tuple(literal(v) for v in params)


class NativeConnection:
    """One C-extension session, set up as the adapter's PyMySQL sessions are."""

    def __init__(self, module, plugin_dir: str, *, host: str, port: int, user: str | None, password: str,
                 database: str | None, init: str, connect_timeout: int = 10):
        self._error_type = module.MySQLInterfaceError
        # libmysqlclient's mysql_init and connect are not documented safe to run in several
        # threads at once before the library is set up (mysql_library_init), and windows open
        # their connections from many threads: a rare SIGSEGV of an emit on a loaded machine
        # (about one run in twenty of a connection-fault test) is suspected to start there.
        # One at a time costs about a millisecond a connection.
        with _CONNECTING:
            self._c = module.MySQL(buffered=False, raw=False, charset_name="utf8mb4", use_unicode=True,
                                   connection_timeout=connect_timeout, plugin_dir=plugin_dir)
            try:
                self._c.connect(host=host, port=port, user=user or "", password=password, database=database or "")
            except self._error_type as exc:
                raise _error(exc) from None
        try:
            self._c.autocommit(True)
            self._c.query(init)
        except self._error_type as exc:
            raise _error(exc) from None
        self.open = True

    def cursor(self, *_ignored) -> "NativeCursor":
        return NativeCursor(self)

    def query(self, sql: str) -> None:
        try:
            self._c.consume_result()      # what an earlier unbuffered read left unread
            self._c.query(sql)
        except self._error_type as exc:
            raise _error(exc) from None

    def rollback(self) -> None:
        self.query("ROLLBACK")

    def thread_id(self) -> int:
        return self._c.thread_id()

    def close(self) -> None:
        """Close without reading what is left of a result (PyMySQL's unbuffered cursor
        reads it all first); a second close does nothing."""
        if self.open:
            self.open = False
            try:
                self._c.close()
            except self._error_type:
                pass


class NativeCursor:
    """Unbuffered: rows come off the socket as they are fetched."""

    def __init__(self, conn: NativeConnection):
        self.conn = conn

    def __enter__(self) -> "NativeCursor":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def execute(self, sql: str, params=None) -> None:
        self.conn.query(bind(sql, params))

    def fetchmany(self, size: int = FETCH) -> list[tuple]:
        fetch, rows = self.conn._c.fetch_row, []
        try:
            for _ in range(size):
                row = fetch()
                if row is None:
                    break
                rows.append(row)
        except self.conn._error_type as exc:
            raise _error(exc) from None
        return rows

    def fetchall(self) -> list[tuple]:
        rows = []
        while batch := self.fetchmany():
            rows.extend(batch)
        return rows

    def close(self) -> None:
        """Nothing to do: the connection's next query skips what this one left unread."""
