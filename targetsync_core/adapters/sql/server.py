"""What the server adapters (PostgreSQL, MySQL family) share: a small connection pool,
a lazily made SQLAlchemy engine for reflection, reflection with connection errors named
by DSN file, and the keyset predicate that cuts a window out of a table."""
from __future__ import annotations

import abc
import queue
import re
import threading
from contextlib import contextmanager

from targetsync_core.adapters.sql import sqla
from targetsync_core.adapters.base import Database
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, TargetSyncError
from targetsync_core.model.schema import Table


#: pyodbc's message prefixes: ``[SQLSTATE] [vendor][driver][server]``
_ODBC_PREFIX = re.compile(r"^(\[[^\]]*\]\s*)+")


def first_line(exc: BaseException) -> str:
    """A driver error's first line (PyMySQL keeps the text in args[1]; pyodbc keeps the
    SQLSTATE in args[0] and a message behind bracketed prefixes in args[1])."""
    args = getattr(exc, "args", ())
    if len(args) > 1 and isinstance(args[0], int):
        text = str(args[1])
    elif len(args) > 1 and isinstance(args[0], str) and re.fullmatch(r"[0-9A-Z]{5}", args[0]):
        text = _ODBC_PREFIX.sub("", str(args[1]))
    else:
        text = str(exc)
    return (text.strip().splitlines() or [type(exc).__name__])[0]


def keyset_predicate(exprs: list[str], window: Window, mark: str, params_of,
                     row_values: bool = True) -> tuple[str, list]:
    """`` WHERE (k1, k2) >= (…) AND (k1, k2) < (…)`` for ``window`` over the key
    expressions ``exprs``; ``params_of(key)`` turns a bound into driver parameters, one per
    key column. Where the dialect has no row-value comparison (SQL Server, Oracle) a
    composite bound is spelled out: ``k1 > a OR (k1 = a AND k2 >= b)``."""
    preds, params = [], []
    for bound, op in ((window.lo, ">=" if window.lo_inclusive else ">"), (window.hi, "<")):
        if bound is None:
            continue
        values = list(params_of(bound))
        if len(exprs) == 1 or row_values:
            lhs = f"({', '.join(exprs)})" if len(exprs) > 1 else exprs[0]
            marks = f"({', '.join([mark] * len(exprs))})" if len(exprs) > 1 else mark
            preds.append(f"{lhs} {op} {marks}")
            params += values
        else:
            text, more = _expanded(exprs, op, mark, values)
            preds.append(text)
            params += more
    return (" WHERE " + " AND ".join(preds) if preds else ""), params


def _expanded(exprs: list[str], op: str, mark: str, values: list) -> tuple[str, list]:
    """A lexicographic comparison of ``exprs`` with ``values`` without row values."""
    strict = op[0]   # > or <
    terms, params = [], []
    for i, e in enumerate(exprs):
        last = i == len(exprs) - 1
        equal = [f"{x} = {mark}" for x in exprs[:i]]
        terms.append("(" + " AND ".join([*equal, f"{e} {op if last else strict} {mark}"]) + ")")
        params += [*values[:i], values[i]]
    return "(" + " OR ".join(terms) + ")", params


def bounds_sql(inner: str, names: str, order: str, source: str, every: str) -> str:
    """The query that returns every n-th key (the window bounds) in one pass, numbered by
    ``row_number()`` over the key order; ``every`` tests ``ts_rn - 1`` against n in the
    dialect's syntax (``mod(ts_rn - 1, %s) = 0``)."""
    return (f"SELECT {names} FROM (SELECT {inner}, row_number() OVER (ORDER BY {order}) AS ts_rn "
            f"FROM {source}) AS numbered WHERE ts_rn > 1 AND {every} ORDER BY ts_rn")


class ServerDatabase(Database):
    """A database reached over the network through one DSN."""

    driver = ""               # SQLAlchemy drivername for reflection
    default_port = 0
    engine_args: dict = {}

    def __init__(self, dsn: Dsn, type_name: str):
        self.dsn, self.type_name = dsn, type_name
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        self._engine = None
        self._lock = threading.Lock()

    def where(self) -> str:
        return f"{self.identity()} (DSN file {self.dsn.source})"

    def identity(self) -> str:
        return f"{self.type_name} {self.server()}/{self.dsn.database}"

    def server(self) -> str:
        return f"{self.dsn.host or 'localhost'}:{self.dsn.port or self.default_port}"

    @abc.abstractmethod
    def connect(self, autocommit: bool = True):
        """A new driver connection, or ConnectError naming where."""

    def lost(self, exc: BaseException) -> bool:
        """Whether a driver error means the connection is gone (the server closed or
        killed it, the network dropped): worth a retry, unlike a bad value."""
        return False

    def read_error(self, exc: BaseException, table: Table) -> TargetSyncError:
        """A driver error met while reading ``table``, as the one line a user sees."""
        if self.lost(exc):
            return ConnectError(f"lost the connection to {self.where()} reading {table.qualified}: "
                                f"{first_line(exc)}")
        if denied(exc):   # a missing privilege: retrying cannot help
            return ConfigError(f"reading {self.type_name} table {table.qualified} on {self.where()}: "
                               f"{first_line(exc)}")
        return DataError(f"reading {self.type_name} table {table.qualified}: {first_line(exc)}")

    def reusable(self, conn) -> bool:
        """Whether a connection handed back is idle and fit for the next borrower."""
        return True

    @contextmanager
    def borrow(self):
        """A pooled autocommit connection; returned to the pool only if left reusable."""
        try:
            conn = self._idle.get_nowait()
        except queue.Empty:
            conn = self.connect()
        ok = False
        try:
            yield conn
            ok = True
        finally:
            if ok and self.reusable(conn):
                self._idle.put(conn)
            else:
                discard(conn)

    def close(self) -> None:
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                break

    def engine(self):
        with self._lock:
            if self._engine is None:
                self._engine = sqla.make_engine(self.driver, self.dsn, connect_args=self.engine_args)
            return self._engine

    def reflect_with(self, schema: str, name: str, mapping: dict) -> Table | None:
        import sqlalchemy as sa
        try:
            return sqla.reflect(self.engine(), schema, name, mapping)
        except sa.exc.OperationalError as exc:
            if denied(exc.orig):  # a missing privilege: retrying cannot help
                raise ConfigError(f"reading {schema}.{name} on {self.where()}: {first_line(exc.orig)}") from None
            raise ConnectError(f"cannot connect to {self.where()}: {first_line(exc.orig)}") from None


def apply_error(db: "ServerDatabase", exc: Exception, batch, driver_error: type) -> Exception:
    """A driver error met while applying ``batch`` (None: outside any table's batch), as
    the tool's own: a lost connection (retryable) or a data error naming the table."""
    if db.lost(exc):
        return ConnectError(f"lost the connection to {db.where()}: {first_line(exc)}")
    if isinstance(exc, (driver_error, ValueError, TypeError)):
        what = f"{db.type_name} table {batch.table.qualified}" if batch is not None else db.where()
        kind = ConfigError if denied(exc) else DataError   # a missing privilege: retrying cannot help
        return kind(f"applying to {what}: {first_line(exc)}")
    return exc


#: MySQL-family errors that PyMySQL reports as OperationalError but that are missing
#: privileges on a reachable server: table/column command denied, and "need privilege"
_PRIVILEGE_CODES = {1142, 1143, 1227}


def denied(exc: BaseException) -> bool:
    """Whether a driver error is a missing privilege (MySQL's error numbers above,
    PostgreSQL's SQLSTATE 42501), not a bad value or a lost connection."""
    if getattr(exc, "sqlstate", None) == "42501":
        return True
    args = getattr(exc, "args", ())
    return bool(args) and args[0] in _PRIVILEGE_CODES


def discard(conn) -> None:
    """Close a connection that is not handed back, whatever state it is in: closing must
    never replace the error that ended its use (PyMySQL raises ``Already closed`` on a
    second close; a connection the server dropped may fail to say goodbye)."""
    try:
        conn.close()
    except Exception:  # noqa: BLE001 - the error that ended the borrow is the one to report
        pass
