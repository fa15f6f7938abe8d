"""Firebolt as a target, on the relational kit, through firebolt-sdk (Firebolt 2.0: a
service account's client id and secret, an account, a database and an engine).

**DSN** ``firebolt://<client_id>@<account>/<database>?engine=<engine>&clientSecretFile=<path>``
and the S3 staging parameters of ``adapters.staging.s3`` (``awsBucket``, ``awsRegion``,
``awsCredentialsFile``, …). The client secret is read from ``clientSecretFile`` (relative to
the DSN file's folder; the file holds the secret alone) or, less safely, given as the
URL's password (``firebolt://id:secret@account/db``); either way it is remembered as a
secret (scrubbed from anything shown) and never in a message. ``awsRoleArn=`` makes
Firebolt read the staged objects through an IAM role instead of the staging access key.
``apiEndpoint`` and ``authEndpoint`` name another Firebolt environment (the tests' stand-in).

**Apply.** Per table of a file: its records as one CSV object on S3, ``COPY FROM`` into
the table's shadow ``_targetsync_<table>_wkm<n>`` (a table of the same schema — Firebolt
has no temporary tables — made by the loader, dropped when it closes; the prefix keeps it
clear of the user's tables, which a replaced shadow must never be), then ``statements``' ``DELETE … USING``, ``INSERT … SELECT`` and
``UPDATE … FROM``; the file's record and the lease in ``public._targetsync_applied`` and
``public._targetsync_lease`` — all in one transaction (Firebolt's ``BEGIN``/``COMMIT``,
which the SDK opens when autocommit is off), so a file applies exactly once, and the
staged objects are deleted after it. Firebolt locks no row: the lease is a plain row
read and written in the transaction (see the README).

**Reads.** Windows in key order: Firebolt compares ``TEXT`` and ``BYTEA`` by their bytes
(UTF-8: code-point order) and has no collations. Shapes come from
``information_schema.columns`` and the primary index (``information_schema.indexes``):
Firebolt enforces no primary key; generated DDL declares the ``.skt`` key as the table's
``PRIMARY INDEX`` and reads it back as the key.
"""
from __future__ import annotations

import re
import threading
from pathlib import Path
from urllib.parse import parse_qsl

from targetsync_core import dsn as _dsn
from targetsync_core.adapters.base import Capabilities, TableBatch
from targetsync_core.adapters.firebolt import statements as fs
from targetsync_core.adapters.firebolt import types as ft
from targetsync_core.adapters.sql.kit import KitApplier, KitDatabase
from targetsync_core.adapters.sql.server import discard, first_line
from targetsync_core.adapters.sql.sqlapply import shadow_rows
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch, read_user_file
from targetsync_core.model.schema import Table
from targetsync_core.model.types import Kind

INSTALL_HINT = "firebolt-sdk: pip install 'targetsync[firebolt]'"
META_SCHEMA = "public"
APPLIED, LEASE = "_targetsync_applied", "_targetsync_lease"

_COLUMNS = ("SELECT column_name, data_type, is_nullable, is_in_primary_index FROM information_schema.columns "
            "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position")
_PRIMARY_INDEX = ("SELECT index_definition FROM information_schema.indexes "
                  "WHERE table_schema = ? AND table_name = ? AND index_type = 'primary'")
_IDENT = re.compile(r'"((?:[^"]|"")*)"|([A-Za-z_][A-Za-z0-9_$]*)')


def index_columns(definition: str) -> list[str]:
    """The column names of a primary index's definition, in order, whatever brackets or
    quotes Firebolt writes around them (``[a, "B c"]``, ``(a, b)``, ``a, b``)."""
    return [q.replace('""', '"') if q else bare for q, bare in _IDENT.findall(definition or "")]


class FireboltDatabase(KitDatabase):
    #: a uint64 is a NUMERIC(20, 0): every integer the canonical kinds hold fits
    capabilities = Capabilities(name="firebolt", source=False, max_integer=2**64 - 1, nonfinite_floats=False,
                                max_identifier_length=255)
    dialect = "postgres"        # Firebolt's SQL is PostgreSQL's; the apply statements are its own
    driver = "postgresql"       # quoting only (no SQLAlchemy engine is ever made)
    schemes = ("firebolt",)
    stored_as = ft.STORED_AS
    identity_kinds = frozenset()   # every value converted: the SDK returns rows as lists
    to_driver = ft.TO_DRIVER
    read_as = ft.READ_AS
    lease_hint, for_update = "", ""    # Firebolt locks no row (see the module's docstring)
    every_nth = "mod(ts_rn - 1, ?) = 0"
    #: a composite bound spelled out (``a > ? OR (a = ? AND b >= ?)``): Firebolt's
    #: documentation promises no row-value comparison
    row_values = False
    driver_module, driver_hint = "firebolt.db", INSTALL_HINT
    lost_marks = ("ConnectError", "ReadError", "RemoteProtocolError", "ConnectTimeout", "ReadTimeout",
                  "Server disconnected", "Connection refused")

    def __init__(self, dsn, type_name: str):
        super().__init__(dsn, type_name)
        self.options = dict(parse_qsl(dsn.query, keep_blank_values=True))
        self.secret = self._client_secret()
        self._stage = self._auth = None
        self._made = threading.Lock()   # guards the two, made on first use

    @classmethod
    def from_dsn(cls, type_name: str, dsn) -> "FireboltDatabase":
        form = "firebolt://<client_id>@<account>/<database>?engine=<engine>&clientSecretFile=<path>&awsBucket=<bucket>"
        if dsn.scheme not in cls.schemes:
            raise ConfigError(f"{dsn.source}: {type_name} needs a DSN of the form {form}, not {dsn.scheme}://")
        missing = [what for what, ok in (("the client id (user name)", dsn.username), ("the account (host)", dsn.host),
                                         ("the database (path)", dsn.database),
                                         ("?engine=", dict(parse_qsl(dsn.query)).get("engine"))) if not ok]
        if missing:
            raise ConfigError(f"the DSN in {dsn.source} lacks {', '.join(missing)}: write it as {form}")
        return cls(dsn, type_name)

    def _client_secret(self) -> str:
        """The service account's secret: the file ``clientSecretFile`` names, or the
        URL's password; remembered as a secret, never quoted."""
        d, path = self.dsn, self.options.get("clientSecretFile")
        if path and d.password:
            raise ConfigError(f"the DSN in {d.source} gives the client secret twice (a password and "
                              "clientSecretFile): keep the file, drop the password")
        if not path:
            if not d.password:
                raise ConfigError(f"the DSN in {d.source} names no client secret: add "
                                  "clientSecretFile=<file holding the service account's secret>")
            return d.password
        p = Path(path)
        if not p.is_absolute() and d.source not in ("<dsn>", ""):
            p = Path(d.source).parent / p
        secret = read_user_file(p, "clientSecretFile").strip()
        if not secret:
            raise ConfigError(f"clientSecretFile {p} is empty: it must hold the service account's secret")
        _dsn.remember(secret)
        return secret

    # -- names and identity --------------------------------------------------------------
    @classmethod
    def quote(cls, name: str) -> str:
        return fs.quote(name)

    def server(self) -> str:
        return f"{self.dsn.host}/{self.options['engine']}"

    def identity(self) -> str:
        return f"firebolt account {self.dsn.host} engine {self.options['engine']} database {self.dsn.database}"

    # -- connections -----------------------------------------------------------------------
    def auth(self):
        """The SDK's client-credentials login (no token cache on disk), one for every
        connection of this database (one token), at ``authEndpoint`` where one is given
        (the SDK would derive ``id.<rest of the API host>``, which no local stand-in can
        answer)."""
        with self._made:
            if self._auth is None:
                self._auth = self._make_auth()
            return self._auth

    def _make_auth(self):
        self.import_driver()
        from firebolt.client.auth import ClientCredentials
        token_url = self.options.get("authEndpoint")

        class Credentials(ClientCredentials):
            def copy(self):
                return Credentials(self.client_id, self.client_secret, False)

            def _make_auth_request(self):
                request = super()._make_auth_request()
                if token_url:   # an absolute URL: the client leaves it as it is
                    request.url = request.url.copy_with(**_url_parts(token_url, request.url.path))
                return request
        return Credentials(self.dsn.username, self.secret, use_token_cache=False)

    def connect(self, autocommit: bool = True):
        fb = self.import_driver()
        kwargs = {"api_endpoint": self.options["apiEndpoint"]} if self.options.get("apiEndpoint") else {}
        conn = None
        try:
            conn = fb.connect(auth=self.auth(), account_name=self.dsn.host, database=self.dsn.database,
                              engine_name=self.options["engine"], autocommit=autocommit, **kwargs)
            conn.cursor().execute("SET time_zone = 'UTC'")   # timestamptz values read in UTC
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            if conn is not None:
                discard(conn)
            if not self.driver_error(exc):
                raise
            raise self.connect_error(exc) from None
        return conn

    def connect_error(self, exc: BaseException) -> Exception:
        text = _dsn.scrub(first_line(exc))
        if type(exc).__name__ in ("AuthenticationError", "AuthorizationError", "AccountNotFoundOrNoAccessError"):
            return ConfigError(f"{self.where()} refused the login: {text}")
        return ConnectError(f"cannot connect to {self.where()}: {type(exc).__name__}: {text}")

    def driver_error(self, exc: BaseException) -> bool:
        import httpx
        from firebolt.utils.exception import FireboltError
        return isinstance(exc, (self.import_driver().Error, FireboltError, httpx.HTTPError))

    def lost(self, exc: BaseException) -> bool:
        import httpx
        return isinstance(exc, httpx.TransportError) or super().lost(exc)

    def __del__(self):
        """Close pooled connections with the database (the SDK warns of one left open)."""
        try:
            self.close()
        except Exception:  # noqa: BLE001 - nothing to report at collection
            pass

    def read_error(self, exc: BaseException, table: Table):
        text = _dsn.scrub(first_line(exc))
        if self.lost(exc):
            return ConnectError(f"lost the connection to {self.where()} reading {table.qualified}: {text}")
        return DataError(f"reading firebolt table {table.qualified}: {text}")

    def reusable(self, conn) -> bool:
        return not conn.closed

    # -- catalog ---------------------------------------------------------------------------
    def shape(self, schema: str, name: str) -> Table | None:
        """Columns from ``information_schema.columns``; the key from the primary index's
        definition (its columns in order), else the columns marked in it."""
        try:
            with self.borrow() as conn:
                cur = conn.cursor()
                cur.execute(_COLUMNS, (schema, name))
                rows = cur.fetchall()
                cur.execute(_PRIMARY_INDEX, (schema, name))
                index = cur.fetchall()
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            if not self.driver_error(exc):
                raise
            if self.lost(exc):
                raise ConnectError(f"lost the connection to {self.where()}: {first_line(exc)}") from None
            raise DataError(f"reading the catalog of {schema}.{name} on {self.where()}: {first_line(exc)}") from None
        if not rows:
            return None
        names = [r[0] for r in rows]
        key = [c for c in index_columns(index[0][0]) if c in names] if index else []
        if not key:
            key = [r[0] for r in rows if str(r[3]).upper() == "YES"]
        where = f"table {schema}.{name}"
        cols = tuple(ft.column(n, t, str(nullable).upper() == "YES", n in key, where) for n, t, nullable, _ in rows)
        return Table(schema, name, cols, tuple(key))

    reflect = shape

    # -- DDL -------------------------------------------------------------------------------
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """``c.sql``: each table with its key as its ``PRIMARY INDEX`` (Firebolt's only
        place for it: it sorts the table and enforces nothing); ``i.sql`` and ``f.sql``
        say why they hold nothing; ``d.sql`` drops the tables."""
        create, drop = [], []
        for t in tables:
            where = f"table {t.qualified}"
            cols = ",\n".join(f"    {fs.quote(c.name)} {ft.declared(c, where)} "
                              f"{'NULL' if c.nullable and c.name not in t.primary_key else 'NOT NULL'}"
                              for c in t.columns)
            name = f"{fs.quote(t.schema)}.{fs.quote(t.name)}"
            create.append(f"CREATE TABLE IF NOT EXISTS {name} (\n{cols}\n) PRIMARY INDEX "
                          f"{', '.join(map(fs.quote, t.primary_key))};\n")
            drop.append(f"DROP TABLE IF EXISTS {name};\n")
        return {"c.sql": "".join(create),
                "i.sql": "-- Firebolt: each table's key is its PRIMARY INDEX, declared in c.sql; it enforces no "
                         "uniqueness (targetsync's apply keeps one row a key)\n",
                "f.sql": "-- Firebolt has no foreign keys\n",
                "d.sql": "".join(reversed(drop))}

    # -- apply -----------------------------------------------------------------------------
    def stage(self):
        """The S3 staging area of the DSN (``adapters.staging.s3``), made on first use."""
        from targetsync_core.adapters.staging.s3 import S3Settings, S3Stage
        with self._made:
            if self._stage is None:
                self._stage = S3Stage(S3Settings.from_query(self.dsn.query, source=self.dsn.source))
            return self._stage

    def copy_credentials(self) -> str:
        """The ``CREDENTIALS`` clause by which Firebolt reads the staged objects: the IAM
        role ``awsRoleArn`` names, else the staging access key (never logged: the SDK
        leaves statements naming credentials out of its log, and the secret is scrubbed)."""
        role = self.options.get("awsRoleArn")
        if role:
            return f"(AWS_ROLE_ARN = {fs.literal(role)})"
        key = self.stage().settings.key
        if key is None:
            raise ConfigError(f"the DSN in {self.dsn.source}: Firebolt reads the staged objects itself and needs "
                              "their credentials: add awsCredentialsFile=<file> (an access key) or awsRoleArn=<arn>")
        token = f" AWS_SESSION_TOKEN = {fs.literal(key.session_token)}" if key.session_token else ""
        return (f"(AWS_KEY_ID = {fs.literal(key.access_key_id)} "
                f"AWS_SECRET_KEY = {fs.literal(key.secret_access_key)}{token})")

    def shadow_name(self, table: Table, n: int) -> str:
        return f"_targetsync_{table.name[:40]}_wkm{n}"

    def open_applier(self) -> "FireboltApplier":
        stage = self.stage()
        self.copy_credentials()   # refuse a DSN that cannot load before touching anything
        return FireboltApplier(self.connect(autocommit=False), self, stage)

    def meta_table(self, name: str) -> tuple[str, tuple]:
        stored = {"applied": APPLIED, "lease": LEASE}[name]
        return f"{fs.quote(META_SCHEMA)}.{fs.quote(stored)}", (META_SCHEMA, stored)

    def create_meta_schema(self, applier) -> None:
        """The record and the lease live in the database's ``public`` schema."""

    def shadow_columns(self, table: Table) -> str:
        live = self.shape(table.schema, table.name)
        if live is None:
            raise SchemaMismatch(f"table {table.qualified} does not exist on {self.where()}")
        types = {c.name: c.native for c in live.columns}
        return ", ".join(f"{fs.quote(c.name)} {types[c.name]} NULL" for c in table.columns)


def _url_parts(url: str, path: str) -> dict:
    from httpx import URL
    u = URL(url)
    return {"scheme": u.scheme, "host": u.host, "port": u.port, "path": u.path.rstrip("/") + path}


class FireboltApplier(KitApplier):
    """A file's batches through S3 and ``COPY FROM`` into each table's shadow, then the
    statements of ``statements``, in the file's transaction (see the module)."""

    def __init__(self, conn, db: FireboltDatabase, stage):
        self.stage = stage
        self._file: tuple[str, int] | None = None
        self._seq = 0
        self._staged: set[str] = set()
        self._made: dict[str, fs.Shadowed] = {}
        super().__init__(conn, db)

    def create_metadata(self) -> None:
        """The record and lease tables (their keys as primary indexes) and the lease row."""
        applied, lease = self.applied, self.lease

        def tables():
            self.sql(f"CREATE TABLE IF NOT EXISTS {applied} (run_id TEXT NOT NULL, file_no BIGINT NOT NULL, "
                     "records BIGINT NOT NULL, applied_at DOUBLE PRECISION NOT NULL) PRIMARY INDEX run_id, file_no")
            self.sql(f"CREATE TABLE IF NOT EXISTS {lease} (name TEXT NOT NULL, holder TEXT NOT NULL, "
                     "host TEXT NOT NULL, pid BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL) "
                     "PRIMARY INDEX name")

        def lease_row():
            if not self.sql(f"SELECT 1 FROM {lease} WHERE name = 'loader'").fetchone():
                self.sql(f"INSERT INTO {lease} VALUES ('loader', '', '', 0, 0)")
        self._in_transaction(tables)
        self._in_transaction(lease_row)

    def sql(self, text: str, params=()):
        """One statement; without parameters unparsed by the SDK (its sqlparse pass
        costs more than the round trip)."""
        cur = self.conn.cursor()
        if params:
            cur.execute(text, list(params))
        else:
            cur.execute(text, skip_parsing=True)
        return cur

    def shadow(self, t: Table) -> fs.Shadowed:
        """The shadow of ``t`` for this loader, made (afresh: the live table's columns)
        on first use inside the file's transaction."""
        s = self._made.get(t.qualified)
        if s is None:
            name = self.db.shadow_name(t, len(self._made))
            s = fs.Shadowed((t.schema, t.name), (t.schema, name), tuple(t.primary_key),
                            tuple(c.name for c in t.columns))
            self.sql(fs.drop_shadow_sql(s))
            self.sql(fs.create_shadow_sql(s, self.db.shadow_columns(t)))
            self._made[t.qualified] = s
            self._fresh.add(t.qualified)
        return s

    def rollback(self) -> None:
        for name in self._fresh:   # a shadow made in the transaction went with it
            self._made.pop(name, None)
        super().rollback()

    def apply_file(self, run_id: str, file_no: int, batches, holder, ttl: float) -> None:
        self._file, self._seq = (run_id, file_no), 0
        try:
            super().apply_file(run_id, file_no, batches, holder, ttl)
        finally:
            self._unstage()

    def _unstage(self) -> None:
        """Delete the file's staged objects (committed or not, they are read no more)."""
        staged, self._staged = self._staged, set()
        for prefix in staged:
            try:
                self.stage.delete(prefix)
            except Exception:  # noqa: BLE001 - a leftover object is harmless; its replay overwrites it
                pass

    def put_batch(self, batch: TableBatch) -> str:
        """The batch's shadow rows as one CSV object; its URI."""
        t = batch.table
        kinds = [Kind.TEXT, Kind.INT32, *(c.kind for c in t.columns)]
        lines = [",".join(ft.csv_field(k, v) for k, v in zip(kinds, row)) + "\n" for row in shadow_rows(batch)]
        run_id, file_no = self._file or ("adhoc", 0)
        prefix = self.stage.prefix_for(run_id, file_no, t.qualified)
        self._staged.add(prefix)
        self._seq += 1
        return self.stage.put(f"{prefix}{self._seq:05d}.csv", "".join(lines).encode("utf-8"))

    def apply_batch(self, batch: TableBatch) -> None:
        t = batch.table
        try:
            uri = self.put_batch(batch)
        except (ValueError, TypeError) as exc:
            raise DataError(f"applying to firebolt table {t.qualified}: {exc}") from None
        s = self.shadow(t)
        self.sql(fs.empty_shadow_sql(s))
        self.sql(fs.copy_sql(s, uri, self.db.copy_credentials()))
        if batch.count("D") or batch.count("I"):
            self.sql(fs.delete_sql(s))
        if batch.count("I"):
            self.sql(fs.insert_sql(s))
        if batch.count("U"):
            found = int(self.sql(fs.found_sql(s)).fetchone()[0])
            for grp, offsets in enumerate(batch.updates):
                self.sql(fs.update_sql(s, grp, tuple(t.columns[o].name for o in offsets)))
            self.count_missed(batch, found)

    def translate(self, exc: Exception, batch: TableBatch | None) -> Exception:
        """A driver error as the tool's own, naming the table; a driver's message may
        quote a statement, so it is scrubbed of secrets."""
        if not (self.db.driver_error(exc) or isinstance(exc, (ValueError, TypeError))):
            return exc
        text = _dsn.scrub(first_line(exc))
        if self.db.lost(exc):
            return ConnectError(f"lost the connection to {self.db.where()}: {text}")
        what = f"firebolt table {batch.table.qualified}" if batch is not None else self.db.where()
        return DataError(f"applying to {what}: {text}")

    def close(self) -> None:
        """Drop this loader's shadows, then close (best effort: the next loader replaces a
        shadow it finds)."""
        try:
            if self._made and not self.conn.closed:
                made, self._made = list(self._made.values()), {}
                self._in_transaction(lambda: [self.sql(fs.drop_shadow_sql(s)) for s in made])
        except Exception:  # noqa: BLE001 - closing must not replace the error that ended the work
            pass
        finally:
            try:
                self.conn.close()
            except Exception:  # noqa: BLE001
                pass
