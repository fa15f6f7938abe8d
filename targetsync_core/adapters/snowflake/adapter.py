"""Snowflake as a target, on the relational kit, through snowflake-connector-python (no
SQLAlchemy dialect: names are quoted here, tables read from ``DESC TABLE`` and ``SHOW
PRIMARY KEYS``, DDL written here).

DSN ``snowflake://user@account/database[/schema]?warehouse=WH&role=R`` with the password
in the DSN (percent-encoded) or, better, in a file of its own: ``passwordFile=PATH``; or
key-pair authentication: ``privateKeyFile=PATH`` (PEM, PKCS#8) and, for an encrypted key,
``privateKeyPassphraseFile=PATH``. Relative paths are taken from the DSN file's folder.
``host``, ``port`` and ``protocol`` reach Snowflake through another endpoint (a private
link, a proxy, the tests' stand-in). No secret is logged: each is scrubbed from any text
the tool prints (``dsn.scrub``).

Every name is quoted (``"name"``, ``"`` doubled), so tables keep the case the ``.skt``
gives them. Keys are ordered by Snowflake's default collation, which compares strings by
their UTF-8 bytes: binary, code-point order.

Apply: DDL commits Snowflake's open transaction, and the stand-in cannot load a stage
inside one, so a file is applied in two steps. First each table's records are staged
outside any transaction into a temporary shadow ``<table>_wkm<n>`` of this session: one
Parquet file per chunk, ``PUT`` to a temporary stage of the session and ``COPY INTO`` the
shadow. Then one transaction claims the lease, checks the applied-file record, deletes the
``D`` rows' and ``I`` rows' keys, inserts the ``I`` rows, updates the ``U`` rows group by
group (``UPDATE … FROM``, whose row count tells the updates that found no row) and
records the file: it commits as a whole or not at all. Snowflake has no ``SELECT … FOR
UPDATE``: the lease is claimed by a conditional ``UPDATE`` whose row count says whether it
took it, and Snowflake runs DML on one table one statement at a time, so of two loaders
exactly one takes it.
"""
from __future__ import annotations

import contextlib
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl

from targetsync_core import dsn as dsn_module
from targetsync_core.adapters.base import Capabilities, LeaseHolder, TableBatch
from targetsync_core.adapters.snowflake import types as T
from targetsync_core.adapters.sql.kit import KitApplier, KitDatabase
from targetsync_core.adapters.sql.server import apply_error, first_line
from targetsync_core.adapters.sql.sqlapply import _alive, shadow_rows
from targetsync_core.errors import ConfigError, ConnectError, DataError, LeaseHeld, SchemaMismatch, read_user_file
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import BINARY_KINDS, Kind

#: DSN query parameters, and the connector's keyword for each passed on as it is
OPTIONS = {"warehouse": "warehouse", "role": "role", "host": "host", "port": "port", "protocol": "protocol",
           "networkTimeout": "network_timeout"}
SECRET_FILES = ("passwordFile", "privateKeyFile", "privateKeyPassphraseFile")
#: shadow rows a staged Parquet file holds at most (chunks of a file are gathered up to it)
STAGE_ROWS = 50_000


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def flat(exc: BaseException) -> BaseException:
    """A connector error with its message on one line (Snowflake puts the detail on the
    second: ``SQL compilation error:\nObject … does not exist``), else ``exc``."""
    msg = getattr(exc, "msg", None)
    if not isinstance(msg, str) or "\n" not in msg:
        return exc
    try:
        return type(exc)(msg=" ".join(msg.split()), errno=exc.errno, sqlstate=exc.sqlstate)
    except TypeError:
        return exc


class SnowflakeDatabase(KitDatabase):
    capabilities = Capabilities(name="snowflake", source=False, max_identifier_length=255, max_integer=2**64 - 1)
    dialect = "snowflake"
    schemes = ("snowflake",)
    mark = "%s"
    stored_as = T.STORED_AS
    identity_kinds = frozenset({Kind.BOOLEAN, Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16, Kind.UINT32,
                                Kind.FLOAT64, Kind.VARCHAR, Kind.TEXT, Kind.CHAR, Kind.DATE})
    every_nth = "mod(ts_rn - 1, %s) = 0"
    row_values = False
    driver_module = "snowflake.connector"
    driver_hint = "snowflake-connector-python: pip install 'targetsync[snowflake]'"
    #: a refused login (bad password, bad key / JWT, locked or missing user)
    login_refused = ("390100", "390144", "390101", "390102", "390114", "251005")
    #: a missing privilege
    denied_marks = ("003001", "003011")
    #: a lost session or connection (expired token, network)
    lost_marks = ("390111", "390112", "250001", "250003")

    def __init__(self, dsn, type_name: str):
        super().__init__(dsn, type_name)
        self.account = dsn.host or ""
        parts = [p for p in dsn.database.split("/") if p]
        self.database = parts[0] if parts else ""
        self.schema = parts[1] if len(parts) > 1 else "PUBLIC"
        self.options = dict(parse_qsl(dsn.query))
        self._secrets: dict | None = None

    @classmethod
    def from_dsn(cls, type_name: str, dsn) -> "SnowflakeDatabase":
        form = "snowflake://user@account/database[/schema]?warehouse=WH (password in passwordFile=PATH)"
        if dsn.scheme not in cls.schemes:
            raise ConfigError(f"{dsn.source}: {type_name} needs a DSN of the form {form}, not {dsn.scheme}://")
        db = cls(dsn, type_name)
        parts = [p for p in dsn.database.split("/") if p]
        if not dsn.host or not dsn.username:
            raise ConfigError(f"{dsn.source}: a snowflake DSN names the user and the account: {form}")
        if not 1 <= len(parts) <= 2:
            raise ConfigError(f"{dsn.source}: a snowflake DSN names the database (and a schema) in its path: {form}")
        unknown = sorted(set(db.options) - set(OPTIONS) - set(SECRET_FILES))
        if unknown:
            raise ConfigError(f"{dsn.source}: unknown snowflake DSN parameter {unknown[0]} (known: "
                              f"{', '.join(sorted([*OPTIONS, *SECRET_FILES]))})")
        for number in ("port", "networkTimeout"):
            if number in db.options and not db.options[number].isdigit():
                raise ConfigError(f"{dsn.source}: snowflake DSN parameter {number} must be a whole number")
        ways = [w for w in (dsn.password and "a password", "passwordFile" in db.options and "passwordFile",
                            "privateKeyFile" in db.options and "privateKeyFile") if w]
        if len(ways) != 1:
            raise ConfigError(f"{dsn.source}: a snowflake DSN needs exactly one credential: a password, "
                              f"passwordFile=PATH or privateKeyFile=PATH ({' and '.join(ways) or 'none'} given)")
        return db

    # -- names ---------------------------------------------------------------------------
    @classmethod
    def quote(cls, name: str) -> str:
        return quote(name)

    def identity(self) -> str:
        return f"{self.type_name} {self.server()}/{self.database}"

    def server(self) -> str:
        host = self.options.get("host")
        return f"{host}:{self.options.get('port', 443)}" if host else f"{self.account}.snowflakecomputing.com"

    # -- the connection ------------------------------------------------------------------
    def secret_file(self, key: str) -> str:
        path = Path(self.options[key])
        if not path.is_absolute():
            path = Path(self.dsn.source).parent / path
        return str(path)

    def credentials(self) -> dict:
        """The connector's credential keywords, read from the DSN or its secret files once;
        each secret is remembered for scrubbing."""
        if self._secrets is None:
            made: dict = {}
            if self.dsn.password:
                made["password"] = self.dsn.password
            elif "passwordFile" in self.options:
                made["password"] = read_user_file(self.secret_file("passwordFile"),
                                                  f"{self.dsn.source}: passwordFile").strip()
                dsn_module.remember(made["password"])
            else:
                made["private_key"] = self.private_key()
                made["authenticator"] = "SNOWFLAKE_JWT"
            self._secrets = made
        return self._secrets

    def private_key(self) -> bytes:
        """The DER bytes of the PEM key ``privateKeyFile`` names (decrypted with the
        passphrase of ``privateKeyPassphraseFile``)."""
        from cryptography.hazmat.primitives import serialization
        pem = read_user_file(self.secret_file("privateKeyFile"), f"{self.dsn.source}: privateKeyFile").encode()
        passphrase = None
        if "privateKeyPassphraseFile" in self.options:
            text = read_user_file(self.secret_file("privateKeyPassphraseFile"),
                                  f"{self.dsn.source}: privateKeyPassphraseFile").strip()
            dsn_module.remember(text)
            passphrase = text.encode()
        try:
            key = serialization.load_pem_private_key(pem, password=passphrase)
        except (ValueError, TypeError) as exc:
            raise ConfigError(f"{self.dsn.source}: privateKeyFile {self.options['privateKeyFile']} is not a usable "
                              f"PEM private key ({type(exc).__name__}: wrong or missing passphrase?)") from None
        return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption())

    def import_driver(self):
        from targetsync_core.adapters.mysql import native
        native.preload()   # before the connector's Arrow libraries take the static TLS
        return super().import_driver()

    def connect(self, autocommit: bool = True):
        """A session, always in autocommit: the applier opens its transaction with BEGIN.
        The network time-out bounds the connector's retries (it retries an HTTP 5xx)."""
        sf = self.import_driver()
        kwargs = {OPTIONS[k]: v for k, v in self.options.items() if k in OPTIONS}
        for number in ("port", "network_timeout"):
            if number in kwargs:
                kwargs[number] = int(kwargs[number])
        kwargs.setdefault("network_timeout", 60)
        kwargs["login_timeout"] = min(30, kwargs["network_timeout"])
        try:
            return sf.connect(account=self.account, user=self.dsn.username, database=self.database,
                              schema=self.schema, autocommit=True,
                              session_parameters={"TIMEZONE": "UTC", "QUERY_TAG": "targetsync"},
                              **self.credentials(), **kwargs)
        except sf.Error as exc:
            raise self.connect_error(exc) from None

    def reusable(self, conn) -> bool:
        return not conn.is_closed()

    def connect_error(self, exc: BaseException) -> Exception:
        return super().connect_error(flat(exc))

    def read_error(self, exc: BaseException, table: Table):
        return super().read_error(flat(exc), table)

    def execute_script(self, sql: str) -> None:
        """The kit's, its error reported whole on one line (the driver's error is the
        context of the kit's)."""
        try:
            super().execute_script(sql)
        except DataError as exc:
            cause = exc.__context__
            if cause is None or not self.driver_error(cause):
                raise
            raise DataError(f"running DDL on {self.where()}: {first_line(flat(cause))}") from None

    # -- reading -------------------------------------------------------------------------
    def key_param(self, col: Column, value):
        return self.bind(col.kind, value)

    def bind(self, kind: Kind, value):
        if value is None:
            return None
        if kind is Kind.UUID:
            return str(value)
        if kind is Kind.TIMESTAMPTZ:
            return value.isoformat(sep=" ")
        if kind in (Kind.BINARY, Kind.VARBINARY, Kind.BLOB):
            return bytes(value)
        return value

    def key_expr(self, col: Column) -> str:
        q = self.quote(col.name)
        return f"TO_VARCHAR({q})" if col.kind is Kind.UUID else q

    def reflect(self, schema: str, name: str) -> Table | None:
        where = f"table {schema}.{name}"
        target = f"{self.quote(self.database)}.{self.quote(schema)}.{self.quote(name)}"
        sf = self.import_driver()
        try:
            with self.borrow() as conn:
                cur = conn.cursor()
                try:
                    cur.execute(f"DESC TABLE {target}")
                except sf.errors.ProgrammingError as exc:
                    if "does not exist" in str(exc):
                        return None
                    raise
                described = cur.fetchall()
                if not described:   # fakesnow describes a missing table as no columns
                    return None
                cur.execute(f"SHOW PRIMARY KEYS IN TABLE {target}")
                names = [d[0].lower() for d in cur.description]
                keys = [dict(zip(names, r)) for r in cur.fetchall()]
        except sf.errors.Error as exc:
            if self.lost(exc):
                raise ConnectError(f"cannot reach {self.where()}: {first_line(exc)}") from None
            raise DataError(f"reading {where} on {self.where()}: {first_line(exc)}") from None
        pk = tuple(k["column_name"] for k in sorted(keys, key=lambda k: int(k["key_sequence"])))
        cols = tuple(T.column_of(r[0], r[1], r[3] == "Y" and r[0] not in pk, where)
                     for r in described if (r[2] or "COLUMN") == "COLUMN")
        return Table(schema, name, cols, pk)

    def shape(self, schema: str, name: str) -> Table | None:
        return self.reflect(schema, name)

    def shadow_columns(self, table: Table) -> str:
        return self.shadow_spec(table)[0]

    def shadow_spec(self, table: Table) -> tuple[str, dict]:
        """The shadow's columns, in the live table's types, all nullable (a BINARY without
        its length: fakesnow refuses one, and every value fits a BINARY), and the live
        table's types by column."""
        live = self.shape(table.schema, table.name)
        if live is None:
            raise SchemaMismatch(f"table {table.qualified} does not exist on {self.where()}")
        types = {c.name: "BINARY" if c.kind in BINARY_KINDS else c.native for c in live.columns}
        columns = ", ".join(f"{self.quote(c.name)} {types[c.name]} NULL" for c in table.columns)
        return columns, {c.name: c.native for c in live.columns}

    # -- DDL -----------------------------------------------------------------------------
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """``c.sql`` creates each table with its primary key (Snowflake declares it and
        enforces none); the shadows are temporary tables the loader makes per session.
        Snowflake enforces no unique or foreign key either: none are declared."""
        head = "-- generated by targetsync for snowflake\n"
        c_sql, d_sql = [], []
        for t in tables:
            cols = [f"{quote(c.name)} {T.declared(c)}{'' if c.nullable and c.name not in t.primary_key else ' NOT NULL'}"
                    for c in t.columns]
            pk = f"CONSTRAINT {quote(t.name[:200] + '_pk')} PRIMARY KEY ({', '.join(map(quote, t.primary_key))})"
            c_sql.append(f"CREATE TABLE {quote(t.schema)}.{quote(t.name)} (\n\t" + ",\n\t".join([*cols, pk]) + "\n);\n")
            d_sql.append(f"DROP TABLE IF EXISTS {quote(t.schema)}.{quote(t.name)};\n")
        none = "-- Snowflake enforces no unique or foreign key: none is declared\n"
        return {"c.sql": head + "".join(c_sql), "i.sql": head + none, "f.sql": head + none,
                "d.sql": head + "".join(reversed(d_sql))}

    # -- apply ---------------------------------------------------------------------------
    def open_applier(self) -> "SnowflakeApplier":
        return SnowflakeApplier(self.connect(), self)

    def meta_table(self, name: str) -> tuple[str, tuple]:
        return (f"{self.quote(self.database)}.{self.quote(self.meta_schema)}.{self.quote(name)}",
                (self.meta_schema, name))


@dataclass
class _Staged:
    """One table's records of the file being applied, staged in its shadow."""

    table: Table
    shadow: str
    counts: dict = field(default_factory=lambda: {"I": 0, "U": 0, "D": 0})
    groups: list = field(default_factory=list)     # the columns each update group sets
    natives: dict = field(default_factory=dict)     # the live table's types, by column
    pending: list = field(default_factory=list)     # shadow rows not yet staged


class SnowflakeApplier(KitApplier):
    """See the module: stage outside the transaction, then one transaction of DML."""

    def __init__(self, conn, db: SnowflakeDatabase):
        self._tmp = Path(tempfile.mkdtemp(prefix="ts-snowflake-"))
        self.stage = f"{db.quote(db.database)}.{db.quote(db.meta_schema)}.{db.quote('ts_' + uuid.uuid4().hex[:16])}"
        self._made: dict[str, tuple[str, dict]] = {}     # table → its shadow in this session, the live types
        super().__init__(conn, db)

    # explicit transactions on an autocommit session
    def begin(self) -> None:
        self.sql("BEGIN")

    def commit(self) -> None:
        self.sql("COMMIT")

    def rollback(self) -> None:
        self.sql("ROLLBACK")

    def _auto(self, work) -> None:
        """Run ``work`` outside any transaction, its driver errors translated."""
        try:
            work()
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            translated = self.translate(exc, None)
            if translated is exc:
                raise
            raise translated from None

    def create_metadata(self) -> None:
        """The schema, the two tables, the lease row and the session's stage, each DDL
        statement on its own (DDL commits a transaction in Snowflake)."""
        db = self.db

        def make():
            if not self.sql(db.schema_exists_sql, (db.meta_schema,)).fetchone():
                self.sql(f"CREATE SCHEMA IF NOT EXISTS {db.quote(db.database)}.{db.quote(db.meta_schema)}")
            self.create_table(self.applied, "run_id VARCHAR(64) NOT NULL, file_no BIGINT NOT NULL, "
                              "records BIGINT NOT NULL, applied_at DOUBLE PRECISION NOT NULL, "
                              "PRIMARY KEY (run_id, file_no)")
            self.create_table(self.lease, "name VARCHAR(16) NOT NULL PRIMARY KEY, holder VARCHAR(64) NOT NULL, "
                              "host VARCHAR(255) NOT NULL, pid BIGINT NOT NULL, expires_at DOUBLE PRECISION NOT NULL")
            # a conditional insert: of two loaders starting at once, one row
            self.sql(f"INSERT INTO {self.lease} SELECT 'loader', '', '', 0, 0 WHERE NOT EXISTS "
                     f"(SELECT 1 FROM {self.lease} WHERE name = 'loader')")
            self.sql(f"CREATE TEMPORARY STAGE IF NOT EXISTS {self.stage}")
        self._auto(make)

    def _claim(self, holder: LeaseHolder, ttl: float) -> None:
        """Inside the transaction: a conditional UPDATE takes the lease if it is free, ours,
        expired, or held by a dead process on this host; its row count says whether it did."""
        now = time.time()
        taken = self.sql(f"UPDATE {self.lease} SET holder = ?, host = ?, pid = ?, expires_at = ? "
                         "WHERE name = 'loader' AND (holder = '' OR holder = ? OR expires_at <= ?)",
                         (holder.id, holder.host, holder.pid, now + ttl, holder.id, now)).rowcount
        if taken:
            return
        row = self.sql(f"SELECT holder, host, pid, expires_at FROM {self.lease} WHERE name = 'loader'").fetchone()
        if row and not _alive(row[1], row[2], holder.host):
            if self.sql(f"UPDATE {self.lease} SET holder = ?, host = ?, pid = ?, expires_at = ? "
                        "WHERE name = 'loader' AND holder = ? AND pid = ?",
                        (holder.id, holder.host, holder.pid, now + ttl, row[0], row[2])).rowcount:
                return
            row = self.sql(f"SELECT holder, host, pid, expires_at FROM {self.lease} WHERE name = 'loader'").fetchone()
        raise LeaseHeld(f"another loader (pid {row[2]} on {row[1]}) holds the apply lease on this target "
                        f"until {time.strftime('%H:%M:%S', time.localtime(row[3]))}; refusing to run a second")

    # -- staging -------------------------------------------------------------------------
    def shadow_of(self, t: Table) -> tuple[str, dict]:
        """The session's temporary shadow of ``t``, made on first use (outside any
        transaction), and the live table's types by column."""
        made = self._made.get(t.qualified)
        if made is None:
            name = self.db.shadow_name(t, len(self._made))
            columns, natives = self.db.shadow_spec(t)
            self.sql(f"CREATE TEMPORARY TABLE {self.db.quote(name)} ({self.db.quote('__op')} CHAR(1), "
                     f"{self.db.quote('__grp')} INT, {columns})")
            made = self._made[t.qualified] = (name, natives)
        return made

    def stage_batch(self, batch: TableBatch, staged: dict) -> None:
        t = batch.table
        s = staged.get(t.qualified)
        if s is None:
            shadow, natives = self.shadow_of(t)
            s = staged[t.qualified] = _Staged(t, shadow, natives=natives)
            self.sql(f"DELETE FROM {self.db.quote(s.shadow)}")
        offset = len(s.groups)
        s.groups += [tuple(t.columns[o].name for o in offsets) for offsets in batch.updates]
        for op in s.counts:
            s.counts[op] += batch.count(op)
        for op, grp, *values in shadow_rows(batch):
            s.pending.append((op, None if grp is None else grp + offset, *values))
            if len(s.pending) == STAGE_ROWS:
                self.flush(s)

    def flush(self, s: _Staged) -> None:
        if s.pending:
            rows, s.pending = s.pending, []
            self.load_rows(s, rows)

    def load_rows(self, s: _Staged, rows: list[tuple]) -> None:
        """``rows`` into the shadow: a Parquet file, PUT to the session's stage and copied."""
        import pyarrow as pa
        import pyarrow.parquet as pq
        t = s.table
        kinds = [c.kind for c in t.columns]
        arrays = [pa.array([r[0] for r in rows], pa.string()), pa.array([r[1] for r in rows], pa.int64())]
        for i, kind in enumerate(kinds, start=2):
            f = T.staged_value(kind)
            values = [r[i] for r in rows] if f is None else [None if r[i] is None else f(r[i]) for r in rows]
            arrays.append(pa.array(values, T.arrow_type(kind)))
        names = [f"c{i}" for i in range(len(arrays))]
        part = uuid.uuid4().hex
        path = self._tmp / f"{part}.parquet"
        pq.write_table(pa.table(arrays, names=names), path)
        try:
            natives = s.natives
            casts = ["$1:c0::CHAR(1) AS c0", "$1:c1::INT AS c1"] + [
                f"{T.cast_expr(f'$1:c{i}', c.kind, natives[c.name])} AS c{i}" for i, c in enumerate(t.columns, start=2)]
            cols = ", ".join(self.db.quote(c) for c in ("__op", "__grp", *(c.name for c in t.columns)))
            self.sql(f"PUT 'file://{path}' @{self.stage}/{part} AUTO_COMPRESS=FALSE")
            self.sql(f"COPY INTO {self.db.quote(s.shadow)} ({cols}) FROM (SELECT {', '.join(casts)} "
                     f"FROM @{self.stage}/{part}) FILE_FORMAT=(TYPE=PARQUET) PURGE=TRUE")
        finally:
            path.unlink(missing_ok=True)

    # -- the transaction -------------------------------------------------------------------
    def move(self, s: _Staged) -> int:
        """The staged records of one table into it; returns the rows the updates found."""
        q, t = self.db.quote, s.table
        target = f"{q(self.db.database)}.{q(t.schema)}.{q(t.name)}"
        on = " AND ".join(f"ts_t.{q(k)} = ts_w.{q(k)}" for k in t.primary_key)
        if s.counts["D"] or s.counts["I"]:
            self.sql(f"DELETE FROM {target} AS ts_t USING (SELECT {', '.join(q(k) for k in t.primary_key)} "
                     f"FROM {q(s.shadow)} WHERE {q('__op')} IN ('D', 'I')) AS ts_w WHERE {on}")
        cols = ", ".join(q(c.name) for c in t.columns)
        if s.counts["I"]:
            self.sql(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {q(s.shadow)} WHERE {q('__op')} = 'I'")
        updated = 0
        for grp, names in enumerate(s.groups):
            picked = ", ".join(q(n) for n in (*t.primary_key, *names))
            sets = ", ".join(f"{q(n)} = ts_w.{q(n)}" for n in names)
            updated += self.sql(
                f"UPDATE {target} AS ts_t SET {sets} FROM (SELECT {picked} FROM {q(s.shadow)} "
                f"WHERE {q('__op')} = 'U' AND {q('__grp')} = {grp}) AS ts_w WHERE {on}").rowcount
        return updated

    def apply_file(self, run_id: str, file_no: int, batches, holder: LeaseHolder, ttl: float) -> None:
        self.missed = {}
        applied = []
        self._auto(lambda: applied.extend(self.sql(f"SELECT 1 FROM {self.applied} WHERE run_id = ? AND file_no = ?",
                                                   (run_id, file_no)).fetchall()))
        if applied:
            return   # applied by an earlier life of this loader: never twice
        staged: dict[str, _Staged] = {}
        current: list = [None]
        try:
            for current[0] in batches:   # decoded lazily, a chunk at a time
                self.stage_batch(current[0], staged)
            for s in staged.values():
                current[0] = TableBatch(s.table)
                self.flush(s)
        except Exception as exc:  # noqa: BLE001 - sorted into the tool's errors here
            translated = self.translate(exc, current[0])
            if translated is exc:
                raise
            raise translated from None
        moving: list = [None]

        def work():
            self.missed = {}
            self._claim(holder, ttl)
            if self.sql(f"SELECT 1 FROM {self.applied} WHERE run_id = ? AND file_no = ?",
                        (run_id, file_no)).fetchone():
                return
            records = 0
            for s in staged.values():
                moving[0] = s
                updated = self.move(s)
                short = s.counts["U"] - updated
                if short > 0:
                    self.missed[s.table.qualified] = self.missed.get(s.table.qualified, 0) + short
                records += sum(s.counts.values())
            moving[0] = None
            self.sql(f"INSERT INTO {self.applied} VALUES (?, ?, ?, ?)", (run_id, file_no, records, time.time()))

        self._in_transaction(work, lambda: moving[0] and TableBatch(moving[0].table))

    def translate(self, exc: Exception, batch) -> Exception:
        if not self.db.driver_error(exc):
            return exc
        return apply_error(self.db, flat(exc), batch, type(exc))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.conn.close()
        shutil.rmtree(self._tmp, ignore_errors=True)


__all__ = ["SnowflakeDatabase", "SnowflakeApplier"]
