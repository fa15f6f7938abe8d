"""The PostgreSQL adapter (psycopg 3), as source and target; ``tigerdata`` is the same.

DSN: ``postgresql://user:password@host:port/database`` (``postgresql+psycopg://`` too).
Sessions run with ``TimeZone=UTC``, ``DateStyle=ISO`` and ``extra_float_digits=3``
(doubles print exactly: shortest-exact since version 12, 17 digits before). String keys are ordered and compared with
``COLLATE "C"`` (byte order of UTF-8, which is code-point order) whatever the column's
collation. A window is one statement, so one snapshot: a ``SELECT`` streamed in chunks, or
text lines that the diff compares before it decodes any row. A table whose every column
has a canonical rendering is read as canonical text lines (``adapters.sql.canonical``), all of
a window aggregated into one value, whatever the other side's engine; between two
PostgreSQL databases any other table is read with one ``COPY (SELECT …) TO STDOUT``
(PostgreSQL renders a value of a type one way, so equal lines are equal rows; floats print
shortest-exact since version 12). Between two PostgreSQL databases a window may first be
proved unchanged by its row count and hash sum, or, for a single integer key, compared
block by block (``diff.blocks``) so that only the rows of differing blocks are read.

Apply stages a file's rows per table with COPY into a session-private TEMP table
``<table>_wkm``, then runs ``DELETE … USING``, ``INSERT … ON CONFLICT DO UPDATE`` and one
``UPDATE … FROM`` per set of changed columns, all in the transaction that records the file
as applied (metadata in schema ``_targetsync``).
"""
from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Iterator

from targetsync_core.adapters.sql import canonical as C, catalog, references, sqla
from targetsync_core.adapters.base import BlockReader, Capabilities, TableBatch, WindowText
from targetsync_core.adapters.sql.server import ServerDatabase, apply_error, bounds_sql, first_line, keyset_predicate
from targetsync_core.adapters.coerce import row_converter
from targetsync_core.adapters.sql.canonical import unescape
from targetsync_core.adapters.postgres import copytext
from targetsync_core.adapters.sql.sqlapply import SqlApplier, shadow_rows
from targetsync_core.diff.blocks import CANONICAL, canonical
from targetsync_core.diff.merge import split_lines
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConnectError, DataError, SchemaMismatch
from targetsync_core.model import graph
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind

META_SCHEMA = "_targetsync"
TEXT_KINDS = (Kind.CHAR, Kind.VARCHAR, Kind.TEXT)

#: canonical kind → the PostgreSQL type a value is read as (text COPY, then typed by psycopg)
READ_TYPE = {
    Kind.BOOLEAN: "bool", Kind.INT16: "int2", Kind.INT32: "int4", Kind.INT64: "int8", Kind.UINT16: "int4",
    Kind.UINT32: "int8", Kind.UINT64: "numeric", Kind.DECIMAL: "numeric", Kind.FLOAT32: "float4",
    Kind.FLOAT64: "float8", Kind.CHAR: "text", Kind.VARCHAR: "text", Kind.TEXT: "text", Kind.JSON: "text",
    Kind.BINARY: "bytea", Kind.VARBINARY: "bytea", Kind.BLOB: "bytea", Kind.DATE: "date", Kind.TIME: "time",
    Kind.TIMESTAMP: "timestamp", Kind.TIMESTAMPTZ: "timestamptz", Kind.UUID: "uuid",
}

#: kinds psycopg already returns as the canonical Python value (with json read as text)
IDENTITY = frozenset(Kind) - {Kind.UINT64, Kind.FLOAT32}
STREAM_ROWS = 10_000   # rows a chunk when streaming a window (libpq chunked mode)
COPY_LINES = 2_000     # staged COPY text lines joined into one write

#: how a canonical kind is stored here when it has no exact PostgreSQL type
STORED_AS = {Kind.UINT16: Kind.INT32, Kind.UINT32: Kind.INT64, Kind.UINT64: Kind.DECIMAL,
             Kind.BINARY: Kind.BLOB, Kind.VARBINARY: Kind.BLOB}


#: a table's columns in order (none: an outer-joined row of NULLs) with their type as
#: ``format_type`` spells it, its ``typtype``, ``attnotnull``, an enum's longest label
#: and the column's place in the primary key
_SHAPE = """
SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typtype, a.attnotnull,
       CASE WHEN t.typtype = 'e' THEN (SELECT max(length(e.enumlabel)) FROM pg_enum e WHERE e.enumtypid = t.oid) END,
       array_position(p.conkey, a.attnum)
FROM pg_class c
JOIN pg_namespace n ON n.oid = c.relnamespace
LEFT JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
LEFT JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_constraint p ON p.conrelid = c.oid AND p.contype = 'p'
WHERE n.nspname = %s AND c.relname = %s AND c.relkind IN ('r', 'p', 'v', 'm', 'f')
ORDER BY a.attnum"""


#: the foreign keys touching some schemas: one row per column pair, in key order
_REFERENCES = """
SELECT c.conname, n.nspname || '.' || r.relname, a.attname, fn.nspname || '.' || fr.relname, fa.attname,
       c.condeferrable
FROM pg_constraint c
JOIN pg_class r ON r.oid = c.conrelid JOIN pg_namespace n ON n.oid = r.relnamespace
JOIN pg_class fr ON fr.oid = c.confrelid JOIN pg_namespace fn ON fn.oid = fr.relnamespace
CROSS JOIN LATERAL unnest(c.conkey, c.confkey) WITH ORDINALITY AS k(attnum, fattnum, i)
JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
JOIN pg_attribute fa ON fa.attrelid = c.confrelid AND fa.attnum = k.fattnum
WHERE c.contype = 'f' AND (n.nspname = ANY(%s) OR fn.nspname = ANY(%s))
ORDER BY n.nspname, r.relname, c.conname, k.i"""


def copy_fields(line: bytes) -> list:
    """One ``COPY … TO STDOUT`` text line as raw field values (None for NULL)."""
    return [None if f == b"\\N" else unescape(f) if b"\\" in f else f for f in line.split(b"\t")]


def quote_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def qualified(table: Table) -> str:
    return f"{quote_ident(table.schema)}.{quote_ident(table.name)}"


class PostgresDatabase(ServerDatabase):
    capabilities = Capabilities(name="postgres", max_integer=2**64 - 1, max_identifier_length=63)
    stored_as = STORED_AS
    driver = "postgresql+psycopg"
    default_port = 5432
    engine_args = {"options": "-c TimeZone=UTC", "connect_timeout": 10}
    #: session settings of every connection (canonical text needs ISO dates and exact doubles)
    session_options = "-c TimeZone=UTC -c DateStyle=ISO,YMD -c extra_float_digits=3"
    line_format = "postgres-copy-text"
    checksum_format = "postgres-row-hash"
    #: block sums of :func:`_row_hash` (PostgreSQL pairs only)
    native_blocks = "postgres-row-hash-blocks"

    def __init__(self, dsn: Dsn, type_name: str):
        super().__init__(dsn, type_name)
        self._oids: dict[str, list[int]] = {}
        self._oids_lock = threading.Lock()

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "PostgresDatabase":
        if dsn.scheme not in ("postgresql", "postgres"):
            raise SchemaMismatch(f"{dsn.source}: a {type_name} database needs a postgresql:// DSN, not {dsn.scheme}")
        return cls(dsn, type_name)

    def connect(self, autocommit: bool = True):
        import psycopg
        d = self.dsn
        try:
            return psycopg.connect(host=d.host or None, port=d.port or None, user=d.username or None,
                                   password=d.password or None, dbname=d.database or None, autocommit=autocommit,
                                   connect_timeout=10, options=self.session_options)
        except psycopg.Error as exc:
            raise ConnectError(f"cannot connect to {self.where()}: {first_line(exc)}") from None

    def lost(self, exc: BaseException) -> bool:
        import psycopg
        return isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError))

    def reusable(self, conn) -> bool:
        return not conn.closed and conn.info.transaction_status == 0

    # -- source contract --
    def reflect(self, schema: str, name: str) -> Table | None:
        return self.reflect_with(schema, name, sqla.REFLECTED)

    def shape(self, schema: str, name: str) -> Table | None:
        """Columns and primary key from one ``pg_catalog`` query (``adapters.sql.catalog``);
        tables, views, materialized views and foreign tables, as SQLAlchemy finds them."""
        import psycopg
        try:
            with self.borrow() as conn:
                rows = conn.execute(_SHAPE, (schema, name)).fetchall()
        except psycopg.Error as exc:
            if self.lost(exc):
                raise ConnectError(f"lost the connection to {self.where()}: {first_line(exc)}") from None
            raise DataError(f"reading the catalog of {schema}.{name} on {self.where()}: {first_line(exc)}") from None
        if not rows:
            return None
        where = f"table {schema}.{name}"
        keyed = sorted((pos, col) for col, *_, pos in rows if pos is not None)
        columns = tuple(catalog.pg_column(col, fmt, typtype, not_null, enum_length, pos is not None, where)
                        for col, fmt, typtype, not_null, enum_length, pos in rows if col is not None)
        return Table(schema, name, columns, tuple(col for _, col in keyed))

    def connection_room(self) -> tuple[int, int] | None:
        """``max_connections`` less the superusers' reserve, and the sessions open now."""
        import psycopg
        try:
            with self.borrow() as conn:
                allowed, used = conn.execute(
                    "SELECT current_setting('max_connections')::int - current_setting('superuser_reserved_connections')"
                    "::int, (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')").fetchone()
        except psycopg.Error:
            return None   # a catalog this login may not read: the servers' own refusal says it later
        return int(allowed), int(used)

    def foreign_keys(self, schemas: set[str]) -> list:
        import psycopg
        try:
            with self.borrow() as conn:
                rows = conn.execute(_REFERENCES, (sorted(schemas), sorted(schemas))).fetchall()
        except psycopg.Error as exc:
            if self.lost(exc):
                raise ConnectError(f"lost the connection to {self.where()}: {first_line(exc)}") from None
            raise DataError(f"reading the foreign keys on {self.where()}: {first_line(exc)}") from None
        return references.grouped(rows)

    def find_orphan(self, child: Table, columns: tuple[str, ...], parent: Table,
                    ref_columns: tuple[str, ...]) -> tuple | None:
        return references.first_orphan(child, columns, parent, ref_columns, quote_ident, qualified,
                                       lambda t, cols, sql: self._stream(t, cols, sql, ()))

    def read_keys(self, table: Table) -> Iterator[tuple]:
        cols = list(table.key_columns)
        yield from self._stream(table, cols, f"SELECT {_select_list(cols)} FROM {qualified(table)} "
                                             f"ORDER BY {_order_by(table)}", ())

    def window_bounds(self, table: Table, window_size: int) -> list[tuple]:
        """Every ``window_size``-th key. A key without text columns (ordered as its
        index is) steps along the primary key's index, one ``OFFSET n LIMIT 1`` query a
        bound (1M rows: 0.06 s); a text key, ordered ``COLLATE "C"`` whatever its index's
        collation, numbers every row with ``row_number()`` (0.22 s)."""
        cols = list(table.key_columns)
        names = ", ".join(quote_ident(c.name) for c in cols)
        if _order_by(table) == names:
            return self._stepped_bounds(table, cols, window_size)
        sql = bounds_sql(_select_list(cols), names, _order_by(table), qualified(table), "mod(ts_rn - 1, %s) = 0")
        return list(self._stream(table, cols, sql, (window_size,)))

    def _stepped_bounds(self, table: Table, cols: list[Column], window_size: int) -> list[tuple]:
        import psycopg
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols], IDENTITY)
        select = f"SELECT {_select_list(cols)} FROM {qualified(table)}"
        bounds: list[tuple] = []
        with self.borrow() as conn:
            try:
                while True:
                    after = Window(0, 0, bounds[-1], None, lo_inclusive=False) if bounds else Window(0, 0, None, None)
                    where, params = _window_predicate(table, after)
                    row = conn.execute(f"{select}{where} ORDER BY {_order_by(table)} OFFSET %s LIMIT 1",
                                       [*params, window_size - 1 if bounds else window_size]).fetchone()
                    if row is None:
                        return bounds
                    bounds.append(row if convert is None else convert(row))
            except psycopg.Error as exc:
                raise self.read_error(exc, table) from None
            except ValueError as exc:
                raise DataError(f"reading postgres {exc}") from None

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        where, params = _window_predicate(table, window)
        sql = f"SELECT {_select_list(table.columns)} FROM {qualified(table)}{where} ORDER BY {_order_by(table)}"
        yield from self._stream(table, list(table.columns), sql, params)

    def line_formats(self, table: Table) -> tuple[str, ...]:
        """Canonical lines first where the table has them, between two PostgreSQL
        databases too: the server aggregates them into one value a window, where COPY
        hands psycopg one message a row (PG->PG 1M rows at 10% drift: 3.25 -> 2.66 s)."""
        return (C.LINES, self.line_format) if canonical(table) else (self.line_format,)

    def read_window_text(self, table: Table, window: Window, fmt: str | None = None) -> WindowText:
        where, params = _window_predicate(table, window)
        with self.borrow() as conn:
            if fmt == C.LINES:
                return self._canonical_lines(conn, table, f"{qualified(table)}{where}", params)
            return self._copy_text(conn, table, f"{qualified(table)}{where} ORDER BY {_order_by(table)}", params)

    def _canonical_lines(self, conn, table: Table, source: str, params: list) -> WindowText:
        """The window's canonical text lines (``adapters.sql.canonical``) as one value, the
        texts joined by ``string_agg`` (in no particular order: the diff sorts the rows it
        decodes), or, where a text needs escaping, ``COPY (SELECT <text> …) TO STDOUT``,
        which escapes."""
        import psycopg
        text = _canonical_text(table)
        try:
            count, agg = conn.execute(f"SELECT count(*), convert_to(string_agg({text}, E'\\n'), 'UTF8') "
                                      f"FROM {source}", params, binary=True).fetchone()
            lines = C.joined(count, agg)
            if lines is None:
                with conn.cursor() as cur, cur.copy(f"COPY (SELECT {text} FROM {source}) TO STDOUT", params) as copy:
                    lines = b"".join(copy)
        except psycopg.Error as exc:
            raise self.read_error(exc, table) from None
        return C.window_text(lines, table, self.type_name)

    def _copy_text(self, conn, table: Table, source: str, params: list, alias: str = "") -> WindowText:
        """``COPY (SELECT <columns> FROM <source>) TO STDOUT`` on ``conn``, as lines with
        their parser; ``alias`` qualifies the columns when ``source`` joins."""
        import psycopg
        from psycopg.adapt import Transformer
        from psycopg.pq import Format
        select = f"SELECT {_select_list(table.columns)} FROM {qualified(table)}"
        try:
            with conn.cursor() as cur:
                oids = self._column_oids(cur, table, select)
                buf = bytearray()
                with cur.copy(f"COPY (SELECT {_select_list(table.columns, alias)} FROM {source}) TO STDOUT",
                              params) as copy:
                    for chunk in copy:
                        buf += chunk
                lines = bytes(buf)
                tx = Transformer.from_context(cur)
        except psycopg.Error as exc:
            raise self.read_error(exc, table) from None
        tx.set_loader_types(oids, Format.TEXT)
        cols = list(table.columns)
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols], IDENTITY)

        def parse(chosen: list[bytes]) -> Iterator[tuple]:
            try:
                for line in chosen:
                    row = tx.load_sequence(copy_fields(line))
                    yield row if convert is None else convert(row)
            except (psycopg.Error, ValueError) as exc:
                raise self.read_error(exc, table) from None
        return WindowText(lines, parse)

    def window_checksum(self, table: Table, window: Window) -> tuple | None:
        """``count(*)`` and the ``bit_xor`` of the rows' hashes (:func:`_row_hash`) over
        the window (PostgreSQL 14+; a third cheaper than a numeric sum of them)."""
        import psycopg
        where, params = _window_predicate(table, window)
        sql = f"SELECT count(*), coalesce(bit_xor({_row_hash(table)}), 0) FROM {qualified(table)}{where}"
        with self.borrow() as conn:
            if conn.info.server_version < 140000:
                return None
            try:
                count, total = conn.execute(sql, params).fetchone()
            except psycopg.Error as exc:
                raise self.read_error(exc, table) from None
        return count, int(total)

    def block_formats(self, table: Table) -> tuple[str, ...]:
        return (self.native_blocks, CANONICAL) if canonical(table) else (self.native_blocks,)

    @contextmanager
    def window_blocks(self, table: Table, window: Window, width: int, fmt: str) -> Iterator["PostgresBlocks | None"]:
        """Block sums are ``bit_xor`` of the rows' hashes (:func:`_row_hash`, or
        :func:`_canonical_hash`; PostgreSQL 14+) grouped by ``key / width``; sums and rows
        come from one REPEATABLE READ transaction, so the rows read are those the sums
        described. The canonical text needs ISO dates and exact doubles, which every
        session has (``session_options``)."""
        import psycopg
        with self.borrow() as conn:
            if conn.info.server_version < 140000:
                yield None
                return
            try:
                # a window's statements are small, but the block read's estimate (a range
                # join of unknown size) passes jit_above_cost: compiling costs ~10 ms each
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY; SET LOCAL jit = off")
            except psycopg.Error as exc:
                raise self.read_error(exc, table) from None
            try:
                yield PostgresBlocks(self, conn, table, window, width, fmt)
            finally:
                try:
                    conn.execute("ROLLBACK")
                except psycopg.Error:
                    conn.close()  # not reusable: the pool drops it

    def _column_oids(self, cur, table: Table, select: str) -> list[int]:
        """The type of each selected column, as its text loader needs it (asked once)."""
        with self._oids_lock:
            oids = self._oids.get(table.qualified)
            if oids is None:
                cur.execute(select + " LIMIT 0")
                oids = self._oids[table.qualified] = [d.type_code for d in cur.description]
            return oids

    def _stream(self, table: Table, cols: list[Column], sql: str, params) -> Iterator[tuple]:
        """One statement (one snapshot), streamed in chunks; rows converted where needed."""
        import psycopg
        convert = row_converter([c.kind for c in cols], table.qualified, [c.name for c in cols], IDENTITY)
        with self.borrow() as conn:
            try:
                with conn.cursor() as cur:
                    rows = cur.stream(sql, params, size=STREAM_ROWS)
                    yield from rows if convert is None else map(convert, rows)
            except psycopg.Error as exc:
                raise self.read_error(exc, table) from None
            except ValueError as exc:
                raise DataError(f"reading postgres {exc}") from None

    # -- target contract --
    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        from sqlalchemy.dialects import postgresql
        # DEFERRABLE INITIALLY IMMEDIATE: others see no change; the loader defers them
        # inside each file's transaction (self-references and cycles, model.graph)
        return sqla.generate_ddl(tables, postgresql.dialect(), _sqla_type,
                                 {"deferrable": True, "initially": "IMMEDIATE"})

    def execute_script(self, sql: str) -> None:
        import psycopg
        with self.connect(autocommit=False) as conn:
            try:
                conn.execute(sql)
            except psycopg.Error as exc:
                raise DataError(f"running DDL on {self.where()}: {first_line(exc)}") from None

    def open_applier(self) -> "PostgresApplier":
        return PostgresApplier(self.connect(autocommit=False), self)


def _sqla_type(col: Column, is_key: bool):
    import sqlalchemy as sa
    from sqlalchemy.dialects import postgresql as pg
    k = col.kind
    simple = {
        Kind.BOOLEAN: sa.Boolean, Kind.INT16: sa.SmallInteger, Kind.INT32: sa.Integer, Kind.INT64: sa.BigInteger,
        Kind.UINT16: sa.Integer, Kind.UINT32: sa.BigInteger, Kind.FLOAT32: pg.REAL, Kind.FLOAT64: pg.DOUBLE_PRECISION,
        Kind.TEXT: sa.Text, Kind.BINARY: pg.BYTEA, Kind.VARBINARY: pg.BYTEA, Kind.BLOB: pg.BYTEA,
        Kind.DATE: sa.Date, Kind.UUID: pg.UUID, Kind.JSON: pg.JSON,
    }
    if k in simple:
        return simple[k]()
    if k is Kind.UINT64:
        return sa.Numeric(20, 0)
    if k is Kind.DECIMAL:
        return sa.Numeric(col.precision, col.scale) if col.precision else sa.Numeric()
    if k is Kind.CHAR:
        return sa.CHAR(col.length)
    if k is Kind.VARCHAR:
        return sa.VARCHAR(col.length)
    if k is Kind.TIME:
        return pg.TIME(precision=col.precision)
    return pg.TIMESTAMP(timezone=k is Kind.TIMESTAMPTZ, precision=col.precision)


def _select_list(cols, alias: str = "") -> str:
    dot = f"{alias}." if alias else ""
    return ", ".join(f"{dot}{quote_ident(c.name)}::{READ_TYPE[c.kind]}" if c.kind is Kind.JSON
                     else dot + quote_ident(c.name) for c in cols)


#: canonical kind → (cast, extended hash function) of the column hashes; a kind not here
#: hashes as a one-field record (slower, any type)
_HASHED = {**{k: ("int8", "hashint8extended") for k in (Kind.INT16, Kind.INT32, Kind.INT64, Kind.UINT16,
                                                       Kind.UINT32)},
           Kind.UINT64: ("numeric", "hash_numeric_extended"), Kind.DECIMAL: ("numeric", "hash_numeric_extended"),
           Kind.FLOAT32: ("float8", "hashfloat8extended"), Kind.FLOAT64: ("float8", "hashfloat8extended"),
           Kind.TIMESTAMP: ("timestamp", "timestamp_hash_extended")}
_NULL_HASH = 0x5BD1E995  # what a NULL hashes to, XORed with the column's position


def _row_hash(table: Table) -> str:
    """A row's 64-bit hash computed from typed values (none is rendered): each column
    hashed with its position as seed (so equal values in two columns differ), NULL as a
    constant, the column hashes XORed and hashed once more (so that XORing rows' hashes
    into a block or window sum cannot cancel two rows swapping a value). Strings hash
    under ``COLLATE "C"`` (a case-insensitive collation would hash "a" like "A");
    ``char`` casts to text without its padding; numeric, float and integer hashes are
    the types' own, equal for values that compare equal (1.5 and 1.50; 0.0 and -0.0)."""
    parts = []
    for i, c in enumerate(table.columns, 1):
        q = quote_ident(c.name)
        if c.kind in TEXT_KINDS + (Kind.JSON,):
            h = f'hashtextextended({q}::text COLLATE "C", {i})'
        elif c.kind in _HASHED:
            cast, fn = _HASHED[c.kind]
            h = f"{fn}({q}::{cast}, {i})"
        else:
            h = f"hash_record_extended(ROW({q}), {i})"
        parts.append(f"coalesce({h}, {_NULL_HASH ^ i})")
    return f"hashint8extended({' # '.join(parts)}, 0)"


def _canonical_text(table: Table, signed_zero: bool = True) -> str:
    """A row's canonical text (``diff.blocks``). Integers, numerics, dates and timestamps
    (``DateStyle`` ISO) print canonically as they are; doubles (``extra_float_digits`` 3)
    drop the ``+`` of an exponent, and without ``signed_zero`` the sign of zero. MariaDB
    writes numbers below 1e-4 without an exponent (0.00001 where PostgreSQL writes 1e-05):
    such rows only read as differing."""
    parts = []
    for c in table.columns:
        q = quote_ident(c.name)
        if c.kind in TEXT_KINDS:
            text = f"length({q})::text || ':' || {q}"
        elif c.kind is Kind.BOOLEAN:
            text = f"{q}::int::text"
        elif c.kind is Kind.FLOAT64:
            text = f"replace({q}::text, 'e+', 'e')" if signed_zero else f"replace(({q} + 0::float8)::text, 'e+', 'e')"
        else:
            text = f"{q}::text"
        parts.append(f"coalesce({text}, 'N')")
    return " || ',' || ".join(parts)


def _canonical_hash(table: Table) -> str:
    """A row's hash in the canonical block format: the first 64 bits of the md5 of its
    canonical text, as int8; zero hashes without its sign (MariaDB keeps none)."""
    return f"('x' || left(md5({_canonical_text(table, signed_zero=False)}), 16))::bit(64)::int8"


def _key_expr(col: Column) -> str:
    q = quote_ident(col.name)
    return f'{q} COLLATE "C"' if col.kind in TEXT_KINDS else q


def _order_by(table: Table) -> str:
    return ", ".join(_key_expr(c) for c in table.key_columns)


def _window_predicate(table: Table, w: Window) -> tuple[str, list]:
    return keyset_predicate([_key_expr(c) for c in table.key_columns], w, "%s", list)


class PostgresBlocks(BlockReader):
    """One window of one table on one connection inside a read-only snapshot."""

    def __init__(self, db: PostgresDatabase, conn, table: Table, window: Window, width: int, fmt: str):
        self.db, self.conn, self.table, self.window, self.width = db, conn, table, window, width
        self.key = quote_ident(table.key_columns[0].name)
        self.sum = (f"to_hex(bit_xor({_canonical_hash(table)}))" if fmt == CANONICAL
                    else f"bit_xor({_row_hash(table)})")

    def sums(self) -> bytes:
        import psycopg
        where, params = _window_predicate(self.table, self.window)
        sql = (f"COPY (SELECT {self.key} / %s::int8, count(*), {self.sum} "
               f"FROM {qualified(self.table)}{where} GROUP BY 1) TO STDOUT")
        buf = bytearray()
        try:
            with self.conn.cursor() as cur, cur.copy(sql, [self.width, *params]) as copy:
                for chunk in copy:
                    buf += chunk
        except psycopg.Error as exc:
            raise self.db.read_error(exc, self.table) from None
        return bytes(buf)

    def read_text(self, ranges: list[tuple[int, int]]) -> WindowText:
        """One index range scan per range, so only the rows of differing blocks are read
        and rendered: the subquery is LATERAL and fenced with ``OFFSET 0``, so the planner
        cannot flatten it into a join that scans the whole window once per range (it did
        on a table whose statistics predicted many rows a range)."""
        where, params = _window_predicate(self.table, self.window)
        within = f" AND {where.removeprefix(' WHERE ')}" if where else ""
        source = (f"unnest(%s::int8[], %s::int8[]) AS ts_r(ts_lo, ts_hi) CROSS JOIN LATERAL "
                  f"(SELECT * FROM {qualified(self.table)} WHERE {self.key} BETWEEN ts_r.ts_lo AND ts_r.ts_hi"
                  f"{within} OFFSET 0) AS ts_t ORDER BY ts_t.{self.key}")
        los, his = [lo for lo, _ in ranges], [hi for _, hi in ranges]
        return self.db._copy_text(self.conn, self.table, source, [los, his, *params], alias="ts_t")

    def read_rows(self, ranges: list[tuple[int, int]]) -> list[tuple]:
        text = self.read_text(ranges)
        return list(text.parse(split_lines(text.lines)))


class PostgresApplier(SqlApplier):
    def __init__(self, conn, db: PostgresDatabase):
        meta = quote_ident(META_SCHEMA)
        super().__init__(conn, f"{meta}.{quote_ident('applied')}", f"{meta}.{quote_ident('lease')}")
        self.db = db
        self._shadows: dict[str, str] = {}
        self._in_transaction(lambda: self.sql(f"CREATE SCHEMA IF NOT EXISTS {meta}"))
        self.create_metadata()

    def begin(self) -> None:
        pass  # psycopg opens a transaction on the first statement

    def commit(self) -> None:
        self.conn.commit()

    def rollback(self) -> None:
        self.conn.rollback()

    def begin_file(self) -> None:
        """Foreign keys declared DEFERRABLE (``f.sql``'s are) are checked at the file's
        commit: the rows of a table that refers to itself, or of tables that refer to each
        other, may come in any order inside one file (``model.graph``). Others are checked
        per statement, as always."""
        self.sql("SET CONSTRAINTS ALL DEFERRED")

    def translate(self, exc: Exception, batch: TableBatch | None) -> Exception:
        import psycopg
        if isinstance(exc, psycopg.errors.ForeignKeyViolation):
            return self._refused(exc)
        return apply_error(self.db, exc, batch, psycopg.Error)

    def _refused(self, exc) -> DataError:
        """A foreign key that refused the file's rows, named, with what the target holds
        against them and, for a key that cannot be deferred, what to do."""
        diag = exc.diag
        name, table = diag.constraint_name or "?", diag.table_name or "?"
        line = (f"applying to postgres table {diag.schema_name}.{table}: the target's foreign key {name} refused "
                f"the rows ({diag.message_detail or first_line(exc)})")
        try:
            refs = {r.name: r for r in self.db.foreign_keys({diag.schema_name})}
        except Exception:  # noqa: BLE001 - the refusal is the error to report
            refs = {}
        ref = refs.get(name)
        if ref is not None and not ref.deferrable and ref.table in graph.cycles(list(refs.values())):
            line += (f"; {name} is NOT DEFERRABLE on a table that refers to itself or back to itself, whose rows "
                     f"can only be ordered inside a transaction: ALTER TABLE {ref.table} ALTER CONSTRAINT "
                     f"{name} DEFERRABLE")
        return DataError(line)

    def text_stage(self, table: Table) -> tuple:
        return copytext.renderers(table.columns)

    def _shadow(self, t: Table) -> str:
        name = self._shadows.get(t.qualified)
        if name is None:
            name = quote_ident(f"{t.name[:40]}_wkm{len(self._shadows)}")
            self.sql(f"CREATE TEMP TABLE IF NOT EXISTS {name} ON COMMIT DELETE ROWS AS SELECT "
                     f"NULL::char(1) AS __op, NULL::int AS __grp, * FROM {qualified(t)} WITH NO DATA")
            self._shadows[t.qualified] = name
        return name

    def apply_batch(self, batch: TableBatch) -> None:
        t = batch.table
        shadow = self._shadow(t)
        # a file comes in chunks inside one transaction: the last chunk's rows must go
        # (ON COMMIT DELETE ROWS only empties it at the commit)
        self.sql(f"TRUNCATE {shadow}")
        names = [quote_ident(c.name) for c in t.columns]
        with self.conn.cursor() as cur:
            with cur.copy(f"COPY {shadow} (__op, __grp, {', '.join(names)}) FROM STDIN") as copy:
                staged = batch.staged
                for i in range(0, len(staged), COPY_LINES):   # already COPY text (copytext)
                    copy.write("".join(staged[i:i + COPY_LINES]))
                for row in shadow_rows(batch):
                    copy.write_row(row)
        target = qualified(t)
        keys = [quote_ident(c.name) for c in t.key_columns]
        # both sides aliased: an unaliased target named like the shadow's alias ("w") clashed
        match = " AND ".join(f"ts_t.{k} = ts_w.{k}" for k in keys)
        if batch.count("D"):
            self.sql(f"DELETE FROM {target} AS ts_t USING {shadow} AS ts_w WHERE ts_w.__op = 'D' AND {match}")
        if batch.count("I"):
            rest = [n for n, c in zip(names, t.columns) if c.name not in t.primary_key]
            action = ("DO UPDATE SET " + ", ".join(f"{n} = EXCLUDED.{n}" for n in rest)) if rest else "DO NOTHING"
            self.sql(f"INSERT INTO {target} ({', '.join(names)}) SELECT {', '.join(names)} FROM {shadow} "
                     f"WHERE __op = 'I' ON CONFLICT ({', '.join(keys)}) {action}")
        updated = 0
        for grp, offsets in enumerate(batch.updates):
            sets = ", ".join(f"{names[o]} = ts_w.{names[o]}" for o in offsets)
            updated += self.sql(f"UPDATE {target} AS ts_t SET {sets} FROM {shadow} AS ts_w WHERE ts_w.__op = 'U' "
                                f"AND ts_w.__grp = %s AND {match}", (grp,)).rowcount
        self.count_missed(batch, updated)
