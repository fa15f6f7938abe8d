"""Cloud Spanner (GoogleSQL dialect) as a target, through ``google-cloud-spanner``.

**DSN** ``spanner://projects/P/instances/I/databases/D``, optionally
``?credentials=/path/key.json``: a service-account JSON key file (a relative path is taken
from the DSN file's folder). The config key ``gcpCredfile`` names one too (the two at once
are refused); with neither, the client's Application Default Credentials are used, and
with ``SPANNER_EMULATOR_HOST`` set, the emulator, without credentials. The key file is
read by the client library only; its text is never logged or quoted.

**Tables.** Table ``schema.name`` is table ``name`` of Spanner's named schema ``schema``;
the schema ``default`` is Spanner's default (unnamed) schema. Spanner names cannot start
with an underscore, so the bookkeeping lives in the default schema as
``targetsync_applied`` and ``targetsync_lease`` (``applier.py``). Types map as ``types.py``
says; a column of a type it does not list (ARRAY, STRUCT, PROTO…) is refused naming it.

**Reading.** Each read is one query, a single-use read-only snapshot (one consistent
point in time), ``ORDER BY`` the key columns: Spanner orders STRING by code point and
BYTES by byte, the diff's own order. Window bounds are spelled out
(``a > @p0 OR (a = @p0 AND b >= @p1)``): Spanner has no row-value comparison.

**Schema.** ``generate_ddl`` writes Spanner DDL: ``CREATE SCHEMA IF NOT EXISTS`` for a
named schema, ``CREATE TABLE … PRIMARY KEY (…)``, unique keys as ``NULL_FILTERED``
unique indexes (several NULLs allowed, as elsewhere), foreign keys in ``f.sql`` (Spanner
enforces them at each commit; see ``applier.py`` for what that means for chunks);
interleaving is left to the user. ``execute_script`` splits a script on ``;`` line ends
and sends the statements in one ``update_ddl`` batch.
"""
from __future__ import annotations

import logging
import os
import re
import socket
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities, Database
from targetsync_core.adapters.spanner import types as T
from targetsync_core.adapters.sql.server import keyset_predicate
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch
from targetsync_core.model.schema import ForeignKey, Table, describe
from targetsync_core.model.types import Kind

log = logging.getLogger("targetsync.spanner")

#: the targetsync schema naming Spanner's default (unnamed) schema
DEFAULT_SCHEMA = "default"
_PATH = re.compile(r"projects/([^/]+)/instances/([^/]+)/databases/([^/]+)\Z")
#: what the client library reads from the environment, set before it is imported: without
#: the first it exports metrics to Cloud Monitoring and hangs ~30 s at exit off GCP; without
#: the second two threads doing read-then-write transactions fail ("Transaction not found")
CLIENT_ENV = {"SPANNER_DISABLE_BUILTIN_METRICS": "true", "GOOGLE_CLOUD_SPANNER_MULTIPLEXED_SESSIONS_FOR_RW": "false"}
SCOPE = "https://www.googleapis.com/auth/spanner.data"
#: seconds the first query may take before the server counts as unreachable
CONNECT_TIMEOUT = 30.0
FORM = "spanner://projects/P/instances/I/databases/D[?credentials=/path/key.json]"


def q(name: str) -> str:
    return f"`{name}`"


def spanner_schema(schema: str) -> str:
    return "" if schema == DEFAULT_SCHEMA else schema


def qualified(table: Table) -> str:
    s = spanner_schema(table.schema)
    return f"{q(s)}.{q(table.name)}" if s else q(table.name)


def mutation_name(table: Table) -> str:
    """The table's name as mutations and reads by key give it (unquoted)."""
    s = spanner_schema(table.schema)
    return f"{s}.{table.name}" if s else table.name


class SpannerDatabase(Database):
    #: a change file too large for one commit (80,000 mutations) is applied in recorded
    #: chunks (``applier.py``): not one transaction
    capabilities = Capabilities(name="spanner", source=False, transactional_apply=False, max_integer=2**64 - 1,
                                max_identifier_length=128)
    stored_as = T.STORED_AS

    def __init__(self, dsn: Dsn, project: str, instance: str, database: str, credentials: str | None):
        self.dsn, self.project, self.instance, self.database = dsn, project, instance, database
        self.credentials = credentials
        self._db = None
        self._lock = threading.Lock()

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "SpannerDatabase":
        if dsn.scheme != "spanner":
            raise ConfigError(f"{dsn.source}: spanner needs a DSN of the form {FORM}")
        found = _PATH.match("/".join(filter(None, (dsn.host, dsn.database))))   # spanner:///projects/… too
        if found is None or dsn.username or dsn.password or dsn.port:
            raise ConfigError(f"{dsn.source}: the spanner DSN is not of the form {FORM} (no user, password or "
                              "port: credentials come from a service-account key file)")
        options = dict(parse_qsl(dsn.query, keep_blank_values=True))
        unknown = sorted(set(options) - {"credentials"})
        if unknown:
            raise ConfigError(f"{dsn.source}: unknown spanner DSN option(s) {', '.join(unknown)}; the one option "
                              "is credentials=/path/key.json")
        credentials = options.get("credentials") or None
        if credentials and not Path(credentials).is_absolute():
            credentials = str(Path(dsn.source).parent / credentials)
        given = dsn.credentials_file
        if credentials and given:
            raise ConfigError(f"{dsn.source}: the spanner DSN names a credentials file and so does gcpCredfile; "
                              "keep one")
        return cls(dsn, *found.groups(), credentials or given)

    # -- identity ------------------------------------------------------------------------
    @property
    def path(self) -> str:
        return f"projects/{self.project}/instances/{self.instance}/databases/{self.database}"

    def identity(self) -> str:
        return f"spanner {self.server()}/{self.path}"

    def server(self) -> str:
        return os.environ.get("SPANNER_EMULATOR_HOST") or "spanner.googleapis.com:443"

    def where(self) -> str:
        return f"{self.identity()} (DSN file {self.dsn.source})"

    # -- the client, and its errors sorted at the boundary --------------------------------
    def db(self):
        """The client's Database object, made once (thread-safe) and checked reachable."""
        with self._lock:
            if self._db is None:
                self._db = self._connect()
        return self._db

    def _connect(self):
        for key, value in CLIENT_ENV.items():
            os.environ.setdefault(key, value)
        try:
            from google.cloud import spanner
        except ImportError as exc:
            raise ConnectError(f"{self.where()}: spanner needs google-cloud-spanner: pip install "
                               f"'targetsync[spanner]' ({exc})") from None
        credentials = self._credentials()
        self._reach_emulator()
        try:
            client = spanner.Client(project=self.project, credentials=credentials)
            db = client.instance(self.instance).database(self.database)
            with db.snapshot() as snap:
                list(snap.execute_sql("SELECT 1", timeout=CONNECT_TIMEOUT))
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            raise self.sorted(exc, "connecting", connecting=True) from None
        return db

    def _reach_emulator(self) -> None:
        """Fail fast where the emulator does not listen (the client retries creating a
        session for 30 s before it gives up)."""
        host = os.environ.get("SPANNER_EMULATOR_HOST")
        if not host:
            return
        name, _, port = host.rpartition(":")
        try:
            socket.create_connection((name or "localhost", int(port or 9010)), timeout=CONNECT_TIMEOUT).close()
        except (OSError, ValueError) as exc:
            raise ConnectError(f"cannot connect to {self.identity()} (DSN file {self.dsn.source}): the emulator at "
                               f"SPANNER_EMULATOR_HOST={host} does not answer ({exc})") from None

    def _credentials(self):
        if self.credentials:
            from google.oauth2 import service_account
            try:
                return service_account.Credentials.from_service_account_file(self.credentials, scopes=[SCOPE])
            except OSError as exc:
                raise ConfigError(f"{self.where()}: cannot read the credentials file {self.credentials}: "
                                  f"{exc.strerror or type(exc).__name__}") from None
            except (ValueError, KeyError, TypeError):
                raise ConfigError(f"{self.where()}: the credentials file {self.credentials} is not a "
                                  "service-account JSON key (type, client_email, private_key…)") from None
        if os.environ.get("SPANNER_EMULATOR_HOST"):
            from google.auth.credentials import AnonymousCredentials
            return AnonymousCredentials()
        return None   # Application Default Credentials

    def sorted(self, exc: Exception, what: str, connecting: bool = False) -> Exception:
        """A client error as the tool's: unreachable, refused credentials or a missing
        database (configuration), the rest a data error; one line, no secrets."""
        from google.api_core import exceptions as E
        from google.auth import exceptions as A
        text = _first(exc)
        if isinstance(exc, (E.ServiceUnavailable, E.DeadlineExceeded, E.RetryError)):
            return ConnectError(f"cannot connect to {self.identity()} (DSN file {self.dsn.source}) {what}: {text}")
        if isinstance(exc, A.DefaultCredentialsError):
            return ConfigError(f"{self.where()}: no credentials: name a service-account key file with gcpCredfile "
                               "(or the DSN's ?credentials=), or set up Application Default Credentials")
        if isinstance(exc, (E.Unauthenticated, E.PermissionDenied, A.GoogleAuthError)):
            return ConfigError(f"{what} on {self.where()}: the credentials were refused: {text}")
        if connecting and isinstance(exc, E.NotFound):
            return ConfigError(f"{self.where()}: no such database (or instance): {text}")
        if isinstance(exc, (ValueError, E.GoogleAPICallError)):
            return DataError(f"{what} on {self.where()}: {text}")
        return exc

    def query(self, sql: str, params: dict | None = None, types: dict | None = None,
              what: str = "reading") -> list[list]:
        """Every row of one query, from a single-use read-only snapshot."""
        try:
            with self.db().snapshot() as own:
                return [list(r) for r in own.execute_sql(sql, params=params, param_types=types)]
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            err = self.sorted(exc, what)
            if err is exc:
                raise
            raise err from None

    # -- shape ---------------------------------------------------------------------------
    def reflect(self, schema: str, name: str) -> Table | None:
        return self.shape(schema, name, unique=True)

    def shape(self, schema: str, name: str, unique: bool = False) -> Table | None:
        """Columns from ``information_schema.columns`` (``SPANNER_TYPE``), the key from
        ``index_columns`` (``PRIMARY_KEY``), unique keys from its unique indexes."""
        from google.cloud.spanner_v1 import param_types as P
        params, types = {"s": spanner_schema(schema), "n": name}, {"s": P.STRING, "n": P.STRING}
        where = "table_catalog = '' AND table_schema = @s AND table_name = @n"
        rows = self.query(f"SELECT column_name, spanner_type, is_nullable FROM information_schema.columns "
                          f"WHERE {where} ORDER BY ordinal_position", params, types)
        if not rows:
            return None
        cols = []
        for col_name, spanner_type, nullable in rows:
            col = T.column_of(col_name, spanner_type, nullable == "YES")
            if col is None:
                raise SchemaMismatch(f"target column {schema}.{name}.{col_name} is {spanner_type}, which targetsync "
                                     "cannot hold; use a scalar type (see the README's Spanner types)")
            cols.append(col)
        index = self.query(f"SELECT index_name, column_name FROM information_schema.index_columns WHERE {where} "
                           "AND index_type = 'PRIMARY_KEY' ORDER BY ordinal_position", params, types)
        uniques = self._unique_keys(where, params, types) if unique else ()
        return Table(schema, name, tuple(cols), tuple(c for _, c in index), uniques)

    def _unique_keys(self, where: str, params: dict, types: dict) -> tuple:
        rows = self.query("SELECT c.index_name, c.column_name FROM information_schema.index_columns AS c "
                          "JOIN information_schema.indexes AS i ON i.table_catalog = c.table_catalog AND "
                          "i.table_schema = c.table_schema AND i.table_name = c.table_name AND "
                          "i.index_name = c.index_name WHERE c." + where.replace(" AND ", " AND c.") +
                          " AND i.index_type = 'INDEX' AND i.is_unique ORDER BY c.index_name, c.ordinal_position",
                          params, types)
        keys: dict[str, list[str]] = {}
        for index_name, column in rows:
            keys.setdefault(index_name, []).append(column)
        return tuple(tuple(v) for v in keys.values())

    def foreign_keys(self, schemas: set[str]) -> list:
        """Every foreign key whose referencing or referenced table lies in ``schemas``,
        from ``information_schema`` (the emitter orders a run by them)."""
        from google.cloud.spanner_v1 import param_types as P
        from targetsync_core.adapters.sql import references
        rows = self.query(
            "SELECT rc.constraint_name, c.table_schema, c.table_name, c.column_name, p.table_schema, p.table_name, "
            "p.column_name FROM information_schema.referential_constraints AS rc "
            "JOIN information_schema.key_column_usage AS c ON c.constraint_schema = rc.constraint_schema "
            "AND c.constraint_name = rc.constraint_name "
            "JOIN information_schema.key_column_usage AS p ON p.constraint_schema = rc.unique_constraint_schema "
            "AND p.constraint_name = rc.unique_constraint_name AND p.ordinal_position = c.position_in_unique_constraint "
            "WHERE c.table_schema IN UNNEST(@s) OR p.table_schema IN UNNEST(@s) "
            "ORDER BY c.table_schema, c.table_name, rc.constraint_name, c.ordinal_position",
            {"s": sorted(spanner_schema(s) for s in schemas)}, {"s": P.Array(P.STRING)}, "reading foreign keys")
        named = lambda schema, table: f"{schema or DEFAULT_SCHEMA}.{table}"   # noqa: E731
        return references.grouped((name, named(cs, ct), col, named(ps, pt), pcol, False)
                                  for name, cs, ct, col, ps, pt, pcol in rows)

    # -- reading as a target -------------------------------------------------------------
    def read_keys(self, table: Table) -> Iterator[tuple]:
        yield from self._stream(table, list(table.key_columns), "", {}, {})

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        where, params, types = self.window_predicate(table, window)
        yield from self._stream(table, list(table.columns), where, params, types)

    def window_predicate(self, table: Table, window: Window) -> tuple[str, dict, dict]:
        """`` WHERE …`` of ``window`` with named parameters ``@p0``… and their types."""
        cols = table.key_columns
        write = T.writer(cols)
        where, pairs = keyset_predicate([q(c.name) for c in cols], window, "?",
                                        lambda key: list(zip(write(key), (T.param_type(c.kind) for c in cols))),
                                        row_values=False)
        names = iter(range(len(pairs)))
        where = re.sub(r"\?", lambda _: f"@p{next(names)}", where)
        return (where, {f"p{i}": v for i, (v, _) in enumerate(pairs)},
                {f"p{i}": t for i, (_, t) in enumerate(pairs)})

    def _stream(self, table: Table, cols, where: str, params: dict, types: dict) -> Iterator[tuple]:
        """One query in key order, its rows converted to canonical values."""
        order = ", ".join(q(c.name) for c in table.key_columns)
        sql = f"SELECT {', '.join(q(c.name) for c in cols)} FROM {qualified(table)}{where} ORDER BY {order}"
        convert = T.reader(cols)
        try:
            with self.db().snapshot() as snap:
                for row in snap.execute_sql(sql, params=params or None, param_types=types or None):
                    yield convert(row)
        except (ValueError, TypeError) as exc:
            raise DataError(f"reading spanner table {table.qualified}: {_first(exc)}") from None
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            err = self.sorted(exc, f"reading {table.qualified}")
            if err is exc:
                raise
            raise err from None

    # -- schema --------------------------------------------------------------------------
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        for t in tables:
            for c in t.key_columns:
                if c.kind is Kind.DECIMAL and not T.numeric_holds(c):
                    raise SchemaMismatch(f"table {t.qualified}: key column {c.name} is {describe(c)}, which a Spanner "
                                         f"NUMERIC cannot hold (at most {T.NUMERIC_INTEGER_DIGITS} digits before the "
                                         f"point and {T.NUMERIC_SCALE} after it), and as text it would not sort by "
                                         "value")
        head = "-- generated by targetsync for spanner (GoogleSQL): statements end with ';' at a line end\n"
        schemas = sorted({spanner_schema(t.schema) for t in tables} - {""})
        create = [f"CREATE SCHEMA IF NOT EXISTS {q(s)};\n" for s in schemas] + [_create_table(t) for t in tables]
        indexes = [f"CREATE UNIQUE NULL_FILTERED INDEX {_index(t, n)} ON {qualified(t)} "
                   f"({', '.join(map(q, cols))});\n" for t in tables for n, cols in enumerate(t.unique)]
        fks = [f"ALTER TABLE {qualified(t)} ADD CONSTRAINT {q(_fk_name(t, n, fk))} FOREIGN KEY "
               f"({', '.join(map(q, fk.columns))}) REFERENCES {_ref(fk)} ({', '.join(map(q, fk.ref_columns))});\n"
               for t in tables for n, fk in enumerate(t.foreign_keys)]
        drop = ([f"ALTER TABLE {qualified(t)} DROP CONSTRAINT {q(_fk_name(t, n, fk))};\n"
                 for t in tables for n, fk in enumerate(t.foreign_keys)]
                + [f"DROP INDEX IF EXISTS {_index(t, n)};\n" for t in tables for n, _ in enumerate(t.unique)]
                + [f"DROP TABLE IF EXISTS {qualified(t)};\n" for t in reversed(tables)])
        return {"c.sql": head + "".join(create), "i.sql": head + "".join(indexes), "f.sql": head + "".join(fks),
                "d.sql": head + "".join(drop)}

    def execute_script(self, sql: str) -> None:
        """The script's statements in one ``update_ddl`` batch (Spanner runs DDL as a
        long-running operation, not as statements of a session), waited for."""
        statements = split_script(sql)
        if not statements:
            return
        try:
            self.db().update_ddl(statements).result(600)
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            err = self.sorted(exc, "running DDL")
            if err is exc:
                raise
            if isinstance(err, DataError):   # a statement Spanner refused: the DDL, not the data
                raise ConfigError(f"running DDL on {self.where()}: {_first(exc)}") from None
            raise err from None

    def open_applier(self):
        from targetsync_core.adapters.spanner.applier import SpannerApplier
        return SpannerApplier(self)

    def close(self) -> None:
        with self._lock:
            self._db = None   # the client's sessions go with it


def split_script(sql: str) -> list[str]:
    """The statements of a generated script: comment lines dropped, split on ``;`` at a
    line end (Spanner's API takes statements without it)."""
    body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    return [s.strip() for s in re.split(r";[ \t]*(?:\n|\Z)", body) if s.strip()]


def _create_table(t: Table) -> str:
    cols = ",\n".join(f"  {q(c.name)} {T.ddl_type(c)}{'' if c.nullable else ' NOT NULL'}" for c in t.columns)
    return f"CREATE TABLE {qualified(t)} (\n{cols}\n) PRIMARY KEY ({', '.join(map(q, t.primary_key))});\n"


def _index(t: Table, n: int) -> str:
    """A unique index's name: in the table's schema, starting with a letter like every
    Spanner name."""
    s = spanner_schema(t.schema)
    name = q(f"{t.name}_uk{n}")
    return f"{q(s)}.{name}" if s else name


def _fk_name(t: Table, n: int, fk: ForeignKey) -> str:
    own = fk.name if fk.name and re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,127}", fk.name) else ""
    return own or f"{t.name}_fk{n}"


def _ref(fk: ForeignKey) -> str:
    s = spanner_schema(fk.ref_schema)
    return f"{q(s)}.{q(fk.ref_table)}" if s else q(fk.ref_table)


def _first(exc: BaseException) -> str:
    text = getattr(exc, "message", None) or str(exc)
    text = re.sub(r",? request_id = [0-9.]+", "", text)
    return (text.strip().splitlines() or [type(exc).__name__])[0][:300]
