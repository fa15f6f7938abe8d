"""Databricks (a SQL warehouse over Unity Catalog Delta tables), a target and a source,
through ``databricks-sql-connector``; no SQLAlchemy dialect (names quoted here, in
backticks; DDL written here).

DSN: ``databricks://token:<personal access token>@<workspace host>/<http path>?catalog=…``
(``http path`` as the warehouse's connection details give it, e.g.
``sql/1.0/warehouses/abc123``). The token is the DSN's password, or the first line of the
file ``tokenFile=`` names (relative to the DSN file's folder); it is remembered as a secret
and never shown. ``catalog`` (default: the workspace's) is the session's catalog; tables
are named ``schema.table`` inside it. ``metaSchema`` (default ``_targetsync``) holds the
applied-file record, the lease and the staging tables; ``retrySeconds`` (default 600)
bounds the connector's retries of a request (a stopped warehouse answers 503 while it
starts). The S3 staging area of the apply is set by the
same query (``awsBucket=bucket/prefix``, ``awsRegion``, ``awsCredentialsFile``,
``awsEndpointUrl``: ``adapters/staging/s3.py``); the warehouse must be able to read that
bucket (a Unity Catalog external location or the warehouse's instance profile).

Reads: windows in key order, keyset predicates spelled out (no row values), strings
compared as ``UTF8_BINARY`` (the default collation: bytes of UTF-8, i.e. code points),
the session in UTC. Apply: ``applier.py``. Types: ``types.py``.
"""
from __future__ import annotations

import hashlib
import logging
from pathlib import Path
from urllib.parse import parse_qsl

from targetsync_core import dsn as dsn_module
from targetsync_core.adapters.base import Capabilities
from targetsync_core.adapters.databricks.types import STORED_AS, TO_DRIVER, collation, declared, reflected
from targetsync_core.adapters.sql.kit import KitDatabase
from targetsync_core.adapters.sql.server import first_line
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, SchemaMismatch, read_user_file
from targetsync_core.model.schema import Table

#: the query parameters of the DSN this adapter reads itself (the rest: S3 staging)
OWN_PARAMS = ("catalog", "schema", "tokenFile", "retrySeconds", "metaSchema")
#: a live table's columns, in order: (name, full data type, 'YES'/'NO')
COLUMNS_SQL = ("SELECT column_name, full_data_type, is_nullable FROM information_schema.columns "
               "WHERE lower(table_schema) = lower(?) AND lower(table_name) = lower(?) ORDER BY ordinal_position")
#: its primary key's columns, in key order
PRIMARY_KEY_SQL = ("SELECT k.column_name FROM information_schema.table_constraints AS c "
                   "JOIN information_schema.key_column_usage AS k ON k.constraint_schema = c.constraint_schema "
                   "AND k.constraint_name = c.constraint_name WHERE c.constraint_type = 'PRIMARY KEY' "
                   "AND lower(c.table_schema) = lower(?) AND lower(c.table_name) = lower(?) "
                   "ORDER BY k.ordinal_position")
SESSION = ("SET TIME ZONE 'UTC'",)
#: how long (seconds) the connector retries a request by default (a stopped warehouse
#: answers 503 until it has started, minutes); ``retrySeconds=`` in the DSN sets it
RETRY_SECONDS = 600
#: properties of every table generated DDL and the applier create: column mapping by
#: name lets a column be named anything (spaces, punctuation)
TABLE_PROPERTIES = ("TBLPROPERTIES ('delta.columnMapping.mode' = 'name', 'delta.minReaderVersion' = '2', "
                    "'delta.minWriterVersion' = '5')")


def quote(name: str) -> str:
    """A name in backticks (a backtick inside doubled): any name, as it is."""
    return "`" + name.replace("`", "``") + "`"


class DatabricksDatabase(KitDatabase):
    capabilities = Capabilities(name="databricks", transactional_apply=False, max_integer=2**64 - 1,
                                max_identifier_length=255)
    dialect = "databricks"
    schemes = ("databricks",)
    default_port = 443
    stored_as = STORED_AS
    to_driver = TO_DRIVER
    row_values = False
    driver_module = "databricks.sql"
    driver_hint = "databricks-sql-connector: pip install 'targetsync[databricks]'"
    #: a refused login (words only: a bare "401" would match a port number in a message)
    login_refused = ("Invalid access token", "PERMISSION_DENIED", "UNAUTHENTICATED", "Unauthorized", "Forbidden")
    denied_marks = ("PERMISSION_DENIED", "INSUFFICIENT_PERMISSIONS")
    #: a lost connection, or Delta's optimistic concurrency aborting a write that met
    #: another (an OPTIMIZE, a second writer): worth running again, which replays the file
    lost_marks = ("RequestError", "Connection aborted", "Connection reset", "timed out", "Max retries exceeded",
                  "ConcurrentAppendException", "ConcurrentDeleteReadException", "ConcurrentDeleteDeleteException",
                  "ConcurrentTransactionException", "DELTA_CONCURRENT")

    def __init__(self, dsn: Dsn, type_name: str):
        super().__init__(dsn, type_name)
        self.params = dict(parse_qsl(dsn.query, keep_blank_values=True))
        #: where the applied-file record, the lease and the staging tables live
        self.meta_schema = self.params.get("metaSchema") or type(self).meta_schema
        self._token = None

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "DatabricksDatabase":
        form = ("databricks://token:<access token>@<workspace host>/<http path>?catalog=<catalog>"
                "&awsBucket=<bucket>[/prefix]")
        if dsn.scheme not in cls.schemes:
            raise ConfigError(f"{dsn.source}: {type_name} needs a DSN of the form {form}, not {dsn.scheme}://")
        if not dsn.host or not dsn.database:
            raise ConfigError(f"{dsn.source}: a {type_name} DSN names the workspace host and the warehouse's "
                              f"HTTP path: {form}")
        db = cls(dsn, type_name)
        db.stage_settings()   # refuse a missing or bad staging area before any work
        db.retry_seconds()
        return db

    # -- names ---------------------------------------------------------------------------
    @classmethod
    def quote(cls, name: str) -> str:
        return quote(name)

    def shadow_ref(self, s) -> str:
        return f"{quote(s.shadow_schema)}.{quote(s.shadow)}" if s.shadow_schema else quote(s.shadow)

    def meta_table(self, name: str) -> tuple[str, tuple]:
        return f"{quote(self.meta_schema)}.{quote(name)}", (self.meta_schema, name)

    def shadow_name(self, table: Table, n: int = 0) -> str:
        """The staging Delta table of ``table`` (in the bookkeeping schema, one per table:
        the same name in every session, for the lease admits one loader at a time)."""
        digest = hashlib.sha1(table.qualified.encode()).hexdigest()[:8]
        return f"{table.name[:40]}_wkm{digest}"

    def identity(self) -> str:
        catalog = self.params.get("catalog")
        port = f":{self.dsn.port}" if self.dsn.port else ""
        return f"{self.type_name} {self.dsn.host}{port}/{self.dsn.database}" + (f" catalog {catalog}" if catalog else "")

    # -- connections ---------------------------------------------------------------------
    def token(self) -> str:
        if self._token is None:
            if self.params.get("tokenFile"):
                path = Path(self.params["tokenFile"])
                if not path.is_absolute():
                    path = Path(self.dsn.source).parent / path
                lines = read_user_file(path, "tokenFile").strip().splitlines()
                if not lines or not lines[0].strip():
                    raise ConfigError(f"tokenFile {path} (DSN file {self.dsn.source}) is empty")
                self._token = lines[0].strip()
            elif self.dsn.password:
                self._token = self.dsn.password
            else:
                raise ConfigError(f"the DSN in {self.dsn.source} holds no access token: give it as the password "
                                  "(databricks://token:<token>@host/…) or name a file with ?tokenFile=")
            dsn_module.remember(self._token)
        return self._token

    def retry_seconds(self) -> float:
        text = self.params.get("retrySeconds", str(RETRY_SECONDS))
        try:
            seconds = float(text)
        except ValueError:
            seconds = 0
        if not 1 <= seconds <= 86400:
            raise ConfigError(f"the DSN in {self.dsn.source}: retrySeconds must be a number of seconds from 1 to 86400")
        return seconds

    def connect(self, autocommit: bool = True):
        logging.getLogger("databricks.sql.client").setLevel(logging.ERROR)   # its pyarrow notice
        sql = self.import_driver()
        token = self.token()   # a refusal of its own (ConfigError), not a failed connection
        try:
            conn = sql.connect(server_hostname=self.dsn.host, http_path="/" + self.dsn.database,
                               access_token=token, catalog=self.params.get("catalog") or None,
                               schema=self.params.get("schema") or None, _port=self.dsn.port or 443,
                               _retry_stop_after_attempts_duration=self.retry_seconds())
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            raise self.connect_error(exc) from None
        cur = conn.cursor()
        for statement in SESSION:
            cur.execute(statement)
        cur.close()
        return conn

    def connect_error(self, exc: BaseException) -> Exception:
        err = super().connect_error(exc)
        return type(err)(dsn_module.scrub(str(err)))

    # -- staging -------------------------------------------------------------------------
    def stage_settings(self):
        from targetsync_core.adapters.staging.s3 import S3Settings
        return S3Settings.from_query({k: v for k, v in self.params.items() if k not in OWN_PARAMS},
                                     source=self.dsn.source)

    def stage(self):
        from targetsync_core.adapters.staging.s3 import S3Stage
        return S3Stage(self.stage_settings())

    # -- reading the catalog -------------------------------------------------------------
    def shape(self, schema: str, name: str) -> Table | None:
        where = f"table {schema}.{name}"
        with self.borrow() as conn:
            try:
                cur = conn.cursor()
                cur.execute(COLUMNS_SQL, (schema, name))
                cols = cur.fetchall()
                cur.execute(PRIMARY_KEY_SQL, (schema, name))
                pk = tuple(r[0] for r in cur.fetchall())
            except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
                if not self.driver_error(exc):
                    raise
                if self.lost(exc):
                    raise ConnectError(f"cannot read {where} on {self.where()}: {first_line(exc)}") from None
                raise SchemaMismatch(f"cannot read {where} on {self.where()}: {first_line(exc)}") from None
        if not cols:
            return None
        columns = tuple(reflected(n, t, str(nullable).upper() != "NO", where) for n, t, nullable in cols)
        names = {c.name.lower(): c.name for c in columns}
        table = Table(schema, name, columns, tuple(names.get(k.lower(), k) for k in pk))
        for c in table.key_columns:
            if collation(c.native) != "UTF8_BINARY":
                raise SchemaMismatch(f"{where} key column {c.name} is {c.native}: targetsync reads keys in binary "
                                     "(code-point) order, which only UTF8_BINARY gives; make the key UTF8_BINARY")
        return table

    reflect = shape

    def foreign_keys(self, schemas: set[str]) -> list:
        return []   # informational only on Databricks: none is enforced

    # -- DDL -----------------------------------------------------------------------------
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """``c.sql``: a Delta table per table, its key columns NOT NULL and its primary key
        declared (Unity Catalog keeps it as information, which reflection reads);
        ``i.sql``, ``f.sql``: nothing (no indexes; foreign keys would not be enforced);
        ``d.sql``: the drops."""
        head = "-- generated by targetsync for databricks\n"
        create, drop = [], []
        for t in tables:
            where = f"table {t.qualified}"
            cols = [f"{quote(c.name)} {declared(c, where)}" + ("" if c.nullable and c.name not in t.primary_key
                                                               else " NOT NULL") for c in t.columns]
            pk = f"CONSTRAINT {quote(t.name[:50] + '_pk')} PRIMARY KEY ({', '.join(map(quote, t.primary_key))})"
            create.append(f"CREATE TABLE {quote(t.schema)}.{quote(t.name)} ({', '.join([*cols, pk])}) "
                          f"{TABLE_PROPERTIES};\n")
            drop.append(f"DROP TABLE IF EXISTS {quote(t.schema)}.{quote(t.name)};\n")
        return {"c.sql": head + "".join(create), "i.sql": head + "-- Databricks has no indexes\n",
                "f.sql": head + "-- Databricks does not enforce foreign keys: none generated\n",
                "d.sql": head + "".join(reversed(drop))}

    def open_applier(self):
        from targetsync_core.adapters.databricks.applier import DatabricksApplier
        return DatabricksApplier(self)
