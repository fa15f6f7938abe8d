"""BigQuery as a target, through Google's client (``google-cloud-bigquery``).

**DSN.** ``bigquery://PROJECT/DATASET``, with optional query parameters:
``credentials=/path/to/service-account.json`` (a service account's key file, relative to
the DSN file's folder; without it the client's Application Default Credentials, e.g.
``GOOGLE_APPLICATION_CREDENTIALS``; the config key ``gcpCredfile`` names one too, the two at
once refused), ``location=EU`` (where jobs run) and
``endpoint=http://host:port`` (another API endpoint: an emulator; without credentials it
is then reached anonymously). The key file is read by the adapter and its text, like its
path, appears in no message. ``DATASET`` keeps targetsync's bookkeeping (tables
``_targetsync_applied`` and ``_targetsync_lease``); table ``schema.name`` is table
``name`` of dataset ``schema`` in ``PROJECT``.

**Keys.** BigQuery enforces no primary key: ``schema --apply`` declares it
``PRIMARY KEY (…) NOT ENFORCED`` and also writes it into the table's description
(``targetsync primary key: [...]``, which the emulator the tests run keeps where it
drops the constraint); a target table must declare one or the other. Windows are read
``ORDER BY`` the key columns, which BigQuery sorts in binary order (strings by UTF-8
bytes, i.e. code points; a uuid is held as its lower-case text, which sorts as its bytes).

**Apply** (``applier.py``): per table of a file one load job (NDJSON) into a staging
table ``<table>_wkm<n>`` in the table's dataset, its rows replaced per file, the table
dropped when the loader ends; then the file is ONE script, one job: ``BEGIN
TRANSACTION``, the lease checked and renewed, and unless the file's record exists the
DELETE, the upsert MERGE and the update MERGEs (``sql/statements.py``) of every staged
table and the INSERT of the file's record, ``COMMIT TRANSACTION``.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Iterator
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities, Database
from targetsync_core.adapters.bigquery import types as T
from targetsync_core.adapters.coerce import row_converter
from targetsync_core.adapters.sql.server import bounds_sql, keyset_predicate
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch, TargetSyncError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

PARAMS = ("credentials", "location", "endpoint")
KEY_NOTE = "targetsync primary key: "
FETCH_ROWS = 10_000
#: seconds the client retries a failing API call (its default is 600) and waits for a job
RETRY_DEADLINE = 30.0
JOB_TIMEOUT = 600.0


def quote(name: str) -> str:
    """``name`` as a BigQuery quoted identifier."""
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def first_line(exc: BaseException) -> str:
    """A client error's message, first line, without the request URL it may carry."""
    text = getattr(exc, "message", None) or str(exc)
    return (str(text).strip().splitlines() or [type(exc).__name__])[0][:400]


class BigQueryDatabase(Database):
    capabilities = Capabilities(name="bigquery", source=False, max_integer=2**64 - 1, max_identifier_length=300)
    stored_as = T.STORED_AS

    def __init__(self, dsn: Dsn, type_name: str = "bigquery"):
        self.dsn, self.type_name = dsn, type_name
        self.project, self.dataset = dsn.host, dsn.database
        options = dict(parse_qsl(dsn.query))
        unknown = sorted(set(options) - set(PARAMS))
        if unknown:
            raise ConfigError(f"{dsn.source}: the bigquery DSN has unknown parameter(s) {', '.join(unknown)} "
                              f"(it takes {', '.join(PARAMS)})")
        self.location = options.get("location") or None
        self.endpoint = options.get("endpoint") or None
        # the DSN's key file, or the one the config key gcpCredfile names (not both)
        self.credentials = options.get("credentials") or dsn.credentials_file or None
        self._client = None
        self._lock = threading.Lock()

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "BigQueryDatabase":
        if dsn.scheme != "bigquery":
            raise ConfigError(f"{dsn.source}: bigquery needs a DSN of the form bigquery://PROJECT/DATASET"
                              f"[?credentials=KEY.json], not {dsn.scheme}://")
        if not dsn.host or not dsn.database or "/" in dsn.database:
            raise ConfigError(f"{dsn.source}: the bigquery DSN must name a project and a dataset: "
                              "bigquery://PROJECT/DATASET (the dataset keeps targetsync's bookkeeping)")
        if dsn.username or dsn.password or dsn.port:
            raise ConfigError(f"{dsn.source}: the bigquery DSN takes no user, password or port; give a service "
                              "account's key file as ?credentials=/path/key.json")
        if dsn.credentials_file and dict(parse_qsl(dsn.query)).get("credentials"):
            raise ConfigError(f"{dsn.source}: the bigquery DSN names a credentials file and so does gcpCredfile; "
                              "keep one")
        return cls(dsn, type_name)

    def identity(self) -> str:
        return f"{self.type_name} {self.project}/{self.dataset}"

    def where(self) -> str:
        return f"{self.identity()} (DSN file {self.dsn.source})"

    # -- the client ------------------------------------------------------------------------
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = self._make_client()
            return self._client

    def _make_client(self):
        from targetsync_core.adapters.mysql import native
        native.preload()   # before the client's pyarrow takes the static TLS
        try:
            from google.cloud import bigquery
        except ImportError as exc:
            raise ConnectError(f"{self.where()}: bigquery needs google-cloud-bigquery: "
                               f"pip install 'targetsync[bigquery]' ({exc})") from None
        credentials = self._credentials()
        options = {"api_endpoint": self.endpoint} if self.endpoint else None
        try:
            return bigquery.Client(project=self.project, credentials=credentials, location=self.location,
                                   client_options=options)
        except Exception as exc:  # noqa: BLE001 - google.auth's DefaultCredentialsError and the like
            raise ConfigError(f"{self.where()}: no credentials for BigQuery ({type(exc).__name__}): give a service "
                              "account's key file as ?credentials=/path/key.json in the DSN") from None

    def _credentials(self):
        if self.credentials is None:
            if self.endpoint:   # an emulator takes anyone
                from google.auth.credentials import AnonymousCredentials
                return AnonymousCredentials()
            return None   # Application Default Credentials
        path = Path(self.credentials).expanduser()
        if not path.is_absolute():
            base = Path(self.dsn.source).parent if self.dsn.source and not self.dsn.source.startswith("<") else Path()
            path = base / path
        from google.oauth2 import service_account
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"{self.dsn.source}: the credentials file the bigquery DSN names cannot be read "
                              f"({exc.strerror or type(exc).__name__})") from None
        try:
            info = json.loads(text)
            return service_account.Credentials.from_service_account_info(
                info, scopes=["https://www.googleapis.com/auth/bigquery"])
        except (ValueError, KeyError, TypeError):
            raise ConfigError(f"{self.dsn.source}: the credentials file the bigquery DSN names is not a service "
                              "account's JSON key file") from None

    def retry(self):
        from google.cloud.bigquery import DEFAULT_RETRY
        return DEFAULT_RETRY.with_deadline(RETRY_DEADLINE)

    def call(self, what: str, fn, *args, **kw):
        """``fn`` with the client's errors sorted: unreachable, refused, the rest."""
        try:
            return fn(*args, **kw)
        except TargetSyncError:
            raise
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            raise self.sorted(exc, what) from None

    def sorted(self, exc: BaseException, what: str) -> TargetSyncError:
        from google.api_core import exceptions as E
        from google.auth import exceptions as A
        if isinstance(exc, (E.Unauthorized, E.Forbidden, A.GoogleAuthError)):
            return ConfigError(f"{what} on {self.where()}: refused: {first_line(exc)}")
        if isinstance(exc, E.NotFound):   # a dataset or project that is not there: retrying cannot help
            return ConfigError(f"{what} on {self.where()}: {first_line(exc)}")
        if isinstance(exc, (E.ServiceUnavailable, E.RetryError, E.DeadlineExceeded, ConnectionError, OSError,
                            E.InternalServerError, E.BadGateway, E.GatewayTimeout)) or _is_transport(exc):
            return ConnectError(f"cannot connect to {self.where()} {what}: {first_line(exc)}")
        return DataError(f"{what} on {self.where()}: {first_line(exc)}")

    def query(self, sql: str, params: list | None = None, what: str = "querying"):
        """Run ``sql`` as one query job and wait for it; returns the job."""
        from google.cloud import bigquery

        def run():
            config = bigquery.QueryJobConfig(query_parameters=params or [])
            job = self.client().query(sql, job_config=config, retry=self.retry(), job_retry=None,
                                      location=self.location)
            job.result(retry=self.retry(), timeout=JOB_TIMEOUT)
            return job
        return self.call(what, run)

    # -- shape ---------------------------------------------------------------------------------
    def table_id(self, schema: str, name: str) -> str:
        return f"{self.project}.{schema}.{name}"

    def get_table(self, schema: str, name: str):
        from google.api_core.exceptions import NotFound
        try:
            return self.client().get_table(self.table_id(schema, name), retry=self.retry())
        except NotFound:
            return None
        except TargetSyncError:
            raise
        except Exception as exc:  # noqa: BLE001
            raise self.sorted(exc, f"reading table {schema}.{name}") from None

    def reflect(self, schema: str, name: str) -> Table | None:
        """The live table; its key from its ``PRIMARY KEY … NOT ENFORCED`` constraint, or
        else from the description ``schema --apply`` writes."""
        live = self.get_table(schema, name)
        if live is None:
            return None
        try:
            columns = tuple(T.field_column(f) for f in live.schema)
        except SchemaMismatch as exc:
            raise SchemaMismatch(f"target table {schema}.{name}: {exc}") from None
        return Table(schema, name, columns, _primary_key(live))

    def read_columns(self, table: Table) -> str:
        return ", ".join(f"TO_JSON_STRING({quote(c.name)})" if c.kind is Kind.JSON else quote(c.name)
                         for c in table.columns)

    # -- reading as a target -----------------------------------------------------------------
    def qualified(self, table: Table) -> str:
        return f"{quote(table.schema)}.{quote(table.name)}"

    def order_by(self, table: Table) -> str:
        return ", ".join(quote(c.name) for c in table.key_columns)

    def params(self, cols: list[Column], values: list) -> list:
        from google.cloud.bigquery import ScalarQueryParameter
        return [ScalarQueryParameter(None, T.parameter_type(c, v), T.parameter_value(c, v)) for c, v in zip(cols, values)]

    def stream(self, table: Table, cols: list[Column], sql: str, params: list) -> Iterator[tuple]:
        special = {c.kind: f for c in cols if (f := T.from_bigquery(c.kind))}
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols],
                                frozenset({Kind.INT64, Kind.FLOAT64, Kind.BOOLEAN, Kind.TEXT, Kind.VARCHAR,
                                           Kind.DATE, Kind.TIMESTAMP}), special) or (lambda r: r)
        job = self.query(sql, params, f"reading {table.qualified}")
        rows = self.call(f"reading {table.qualified}", job.result, page_size=FETCH_ROWS, retry=self.retry())
        try:
            for row in self.call(f"reading {table.qualified}", iter, rows):
                yield convert(tuple(row.values()))
        except ValueError as exc:
            raise DataError(f"reading bigquery {exc}") from None
        except TargetSyncError:
            raise
        except Exception as exc:  # noqa: BLE001 - a page fetched while iterating
            raise self.sorted(exc, f"reading {table.qualified}") from None

    def read_keys(self, table: Table) -> Iterator[tuple]:
        cols = list(table.key_columns)
        sql = (f"SELECT {', '.join(quote(c.name) for c in cols)} FROM {self.qualified(table)} "
               f"ORDER BY {self.order_by(table)}")
        yield from self.stream(table, cols, sql, [])

    def window_bounds(self, table: Table, window_size: int) -> list[tuple]:
        cols = list(table.key_columns)
        inner = ", ".join(f"{quote(c.name)} AS {quote(f'ts_k{i}')}" for i, c in enumerate(cols))
        names = ", ".join(quote(f"ts_k{i}") for i in range(len(cols)))
        sql = bounds_sql(inner, names, self.order_by(table), self.qualified(table), "MOD(ts_rn - 1, ?) = 0")
        from google.cloud.bigquery import ScalarQueryParameter
        return list(self.stream(table, cols, sql, [ScalarQueryParameter(None, "INT64", window_size)]))

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        cols = list(table.key_columns)
        where, params = keyset_predicate([quote(c.name) for c in cols], window, "?",
                                         lambda key: self.params(cols, list(key)), row_values=False)
        sql = (f"SELECT {self.read_columns(table)} FROM {self.qualified(table)}{where} "
               f"ORDER BY {self.order_by(table)}")
        yield from self.stream(table, list(table.columns), sql, params)

    # -- schema --------------------------------------------------------------------------------
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """``c.sql``: one ``CREATE TABLE`` a table, its key ``PRIMARY KEY (…) NOT ENFORCED``
        and in its description; ``i.sql``: none (BigQuery has no indexes); ``f.sql``: the
        foreign keys, ``NOT ENFORCED``; ``d.sql``: the drops."""
        head = "-- generated by targetsync for bigquery\n"
        creates, fks, drops = [], [], []
        for t in tables:
            cols = [f"  {quote(c.name)} {T.column_type(c, t.qualified)}{'' if c.nullable else ' NOT NULL'}"
                    for c in t.columns]
            if t.primary_key:
                cols.append(f"  PRIMARY KEY ({', '.join(quote(k) for k in t.primary_key)}) NOT ENFORCED")
            note = KEY_NOTE + json.dumps(list(t.primary_key), ensure_ascii=False)
            creates.append(f"CREATE TABLE {quote(t.schema)}.{quote(t.name)} (\n" + ",\n".join(cols)
                           + f"\n) OPTIONS (description = {_string(note)});\n")
            for n, fk in enumerate(t.foreign_keys):
                name = fk.name or f"fk_{t.name[:40]}_{n}"
                fks.append(f"ALTER TABLE {quote(t.schema)}.{quote(t.name)} ADD CONSTRAINT {quote(name)} "
                           f"FOREIGN KEY ({', '.join(map(quote, fk.columns))}) REFERENCES "
                           f"{quote(fk.ref_schema or t.schema)}.{quote(fk.ref_table)} "
                           f"({', '.join(map(quote, fk.ref_columns))}) NOT ENFORCED;\n")
            drops.append(f"DROP TABLE IF EXISTS {quote(t.schema)}.{quote(t.name)};\n")
        return {"c.sql": head + "".join(creates), "i.sql": head + "-- BigQuery has no indexes\n",
                "f.sql": head + "".join(fks), "d.sql": head + "".join(reversed(drops))}

    def execute_script(self, sql: str) -> None:
        """Each statement of a generated script as a query job of its own."""
        for statement in _statements(sql):
            self.query(statement, what="running DDL")

    # -- apply -------------------------------------------------------------------------------
    def open_applier(self):
        from targetsync_core.adapters.bigquery.applier import BigQueryApplier
        return BigQueryApplier(self)

    def close(self) -> None:
        with self._lock:
            if self._client is not None:
                self._client.close()
                self._client = None


def _is_transport(exc: BaseException) -> bool:
    try:
        import requests
    except ImportError:
        return False
    return isinstance(exc, requests.exceptions.RequestException)


def _string(text: str) -> str:
    """``text`` as a BigQuery string literal."""
    return json.dumps(text, ensure_ascii=False)


def _primary_key(live) -> tuple[str, ...]:
    constraints = getattr(live, "table_constraints", None)
    pk = getattr(constraints, "primary_key", None) if constraints else None
    if pk is not None and pk.columns:
        return tuple(pk.columns)
    note = live.description or ""
    if note.startswith(KEY_NOTE):
        try:
            return tuple(json.loads(note[len(KEY_NOTE):]))
        except ValueError:
            return ()
    return ()


def _statements(sql: str) -> list[str]:
    body = "\n".join(ln for ln in sql.splitlines() if not ln.lstrip().startswith("--"))
    return [s.strip() for s in body.split(";\n") if s.strip().rstrip(";")]
