"""The contracts every database adapter implements, with their invariants.

An adapter is a :class:`Database` (one DSN) that can act as a source (reflect tables,
stream keys and windows in primary-key order) and/or a target (open an :class:`Applier`
that applies a change file in one transaction together with the record that it did).
Shared code branches on :class:`Capabilities`, never on a database's name. Drivers are
imported lazily inside the adapter package, so importing the core needs none of them.
"""
from __future__ import annotations

import abc
from dataclasses import dataclass, field
from typing import Callable, ContextManager, Iterable, Iterator

from targetsync_core.diff.windows import Window
from targetsync_core.model.schema import Table


@dataclass(frozen=True)
class Capabilities:
    """What a database can do, declared as data."""

    name: str
    source: bool = True
    target: bool = True
    #: the file's changes and the applied-file record commit in one transaction. Where
    #: that depends on the server (MongoDB: not on a standalone one), the class says False
    #: and an instance says what its server does once ``open_applier`` has asked it
    transactional_apply: bool = True
    #: string keys compare case-insensitively (a case-distinct key set would collide)
    folds_key_case: bool = False
    #: largest integer value a column can hold
    max_integer: int = 2**64 - 1
    max_identifier_length: int = 0
    #: can store NaN and ±Infinity in float columns
    nonfinite_floats: bool = True
    #: the key collation of generated DDL ignores trailing spaces (keys "a" and "a " collide)
    pads_key_spaces: bool = False
    #: a stored value is fitted to its column (rounded to a decimal's scale, a timestamp's
    #: fractional digits, a float32; a BINARY(n) padded): values then compare as the
    #: target holds them (``diff.compare``). False where a column keeps what it is given
    fits_values: bool = True
    #: an empty string or byte string is stored as NULL (Oracle): a source ``''`` equals
    #: a target NULL there, and cannot be a key
    empty_is_null: bool = False
    #: reads a table in primary-key order (:meth:`Database.read_window`); False where it
    #: cannot (Cassandra): the emitter scans it (:meth:`Database.scan`) and sorts it on
    #: disk (``emit.unordered``)
    ordered_reads: bool = True


@dataclass(frozen=True)
class WindowText:
    """A window as the database itself renders it: ``lines`` holds one ``\\n``-ended line
    per row, in any order, and ``parse`` turns any of those lines into canonical rows (in
    the order given).

    Two databases rendering in one line format (:meth:`Database.line_formats`) render equal
    lines only for rows the diff deems equal, and equal rows mostly as equal lines; the
    diff relies on that to skip every row whose line the other side also holds without
    decoding it."""

    lines: bytes
    parse: Callable[[list[bytes]], Iterator[tuple]]


class BlockReader(abc.ABC):
    """One window of one table, read block by block (see ``diff.blocks``) from a single
    snapshot: the block sums and then the rows of the blocks that differ."""

    @abc.abstractmethod
    def sums(self) -> bytes:
        """One ``block\\tcount\\thash`` line per non-empty block of the window, in any
        order; databases hashing in one block format render equal blocks alike."""

    def read_text(self, ranges: list[tuple[int, int]]) -> WindowText:
        """The window's rows whose key lies in one of the inclusive ``ranges``, as lines
        (databases with a :attr:`Database.line_format` only)."""
        raise NotImplementedError

    @abc.abstractmethod
    def read_rows(self, ranges: list[tuple[int, int]]) -> list[tuple]:
        """The window's rows whose key lies in one of the inclusive ``ranges``, in key
        order, as canonical rows."""


@dataclass(frozen=True)
class LeaseHolder:
    """Who holds the apply lease: enough to tell a live holder from a crashed one."""

    id: str
    host: str
    pid: int


@dataclass
class TableBatch:
    """The changes of one change file for one table, ready to apply.

    ``upserts`` are full rows (I records), ``deletes`` key tuples (D records), and
    ``updates`` maps a tuple of changed column offsets to (key, values) pairs (U records
    grouped by the columns they set; a group's number is its place in ``updates``).

    For an applier that stages rows as text (:meth:`Applier.text_stage`), records may
    instead come as ``staged`` lines, ``op TAB group TAB column… NL``: the group ``\\N``
    for I and D, every column in the target's text with ``\\N`` for those a U or D
    record does not set. ``staged_ops`` counts them per op; a U line's group is also a key
    of ``updates``, possibly with no (key, values) pairs."""

    table: Table
    upserts: list[tuple] = field(default_factory=list)
    deletes: list[tuple] = field(default_factory=list)
    updates: dict[tuple[int, ...], list[tuple[tuple, tuple]]] = field(default_factory=dict)
    staged: list[str] = field(default_factory=list)
    staged_ops: dict[str, int] = field(default_factory=lambda: {"I": 0, "U": 0, "D": 0})

    def count(self, op: str) -> int:
        """The number of records of ``op`` (I, U or D), staged or not."""
        own = (len(self.upserts) if op == "I" else len(self.deletes) if op == "D"
               else sum(map(len, self.updates.values())))
        return own + self.staged_ops[op]

    @property
    def records(self) -> int:
        return self.count("I") + self.count("U") + self.count("D")


class Applier(abc.ABC):
    """One loader's session on a target. Not thread-safe; one per loader.

    ``missed`` counts, per table, the U records of the last :meth:`apply_file` that found
    no row to update (the target lost the row after the emit read it): an update cannot
    make a row, so the loader reports them and a later sync inserts the rows."""

    missed: dict[str, int]

    @abc.abstractmethod
    def acquire_lease(self, holder: LeaseHolder, ttl: float) -> None:
        """Take or renew the target's apply lease; raise LeaseHeld naming the live holder."""

    @abc.abstractmethod
    def release_lease(self, holder: LeaseHolder) -> None:
        """Give the lease up if ``holder`` still has it."""

    @abc.abstractmethod
    def applied_files(self, run_id: str) -> set[int]:
        """Numbers of the files of emit run ``run_id`` already applied to this target."""

    @abc.abstractmethod
    def apply_file(self, run_id: str, file_no: int, batches: Iterable[TableBatch],
                   holder: LeaseHolder, ttl: float) -> None:
        """Apply every batch and record (run_id, file_no) as applied, atomically (without
        ``transactional_apply``: in recorded chunks, each file's record last, resuming after
        the last recorded chunk). ``batches`` may be decoded lazily and raise part-way:
        then nothing is applied.

        Idempotent in effect: replaying a file leaves the target unchanged. Raises
        LeaseHeld, and applies nothing, if ``holder`` no longer holds the lease."""

    def text_stage(self, table: Table) -> tuple | None:
        """One function per column of ``table`` from a fast-form ``.ckt`` field text to
        the text this applier stages (None: the same text), for the loader to hand
        batches ``staged`` lines (see :class:`TableBatch`, ``ckt.StagingDecoder``); None
        (the default) to receive Python values only."""
        return None

    @abc.abstractmethod
    def close(self) -> None: ...


class Database(abc.ABC):
    """One database reached through one DSN. Methods are safe to call from many threads:
    each read opens (or borrows) its own connection."""

    capabilities: Capabilities
    #: kind → the kind this database stores it as, where it has no exact type of its own
    stored_as: dict = {}
    #: how :meth:`read_window_text` renders rows of any table in this engine's own way;
    #: None where it has none (see :meth:`line_formats`)
    line_format: str | None = None
    #: how :meth:`window_checksum` hashes rows; None where it is not implemented. Pairs of
    #: databases with the same format may prove a window unchanged without reading it.
    checksum_format: str | None = None

    @abc.abstractmethod
    def reflect(self, schema: str, name: str) -> Table | None:
        """The live table in canonical types, or None if it does not exist."""

    def shape(self, schema: str, name: str) -> Table | None:
        """The live table's columns and primary key as :meth:`reflect` gives them (its
        unique and foreign keys may be missing, and ``native`` spelled the database's
        way): what checking it against the ``.skt`` and comparing its values need. Server
        adapters read it from their catalogs, much faster (``adapters.sql.catalog``)."""
        return self.reflect(schema, name)

    @abc.abstractmethod
    def read_keys(self, table: Table) -> Iterator[tuple]:
        """Every primary-key tuple, ascending in binary (code-point) order."""

    def window_bounds(self, table: Table, window_size: int) -> list[tuple]:
        """Every ``window_size``-th key in key order (the lower bounds of windows 1..n).
        Server adapters compute it in the database; this default scans the keys."""
        from targetsync_core.diff.windows import boundaries
        return boundaries(self.read_keys(table), window_size)

    @abc.abstractmethod
    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        """Full rows (``.skt`` column order, canonical values) inside ``window``, ascending
        by key, read from one consistent snapshot."""

    def scan(self, table: Table, threads: int = 1) -> Iterator[tuple]:
        """Every row of ``table`` (full rows, canonical values) in any order, read on up to
        ``threads`` threads: how a source without :attr:`Capabilities.ordered_reads` is read."""
        raise NotImplementedError

    def fetch(self, table: Table, keys: list[tuple]) -> Iterator[tuple]:
        """The rows of ``table`` whose keys are among ``keys``, in any order; a key with no
        row is left out (sources without :attr:`Capabilities.ordered_reads`)."""
        raise NotImplementedError

    def line_formats(self, table: Table) -> tuple[str, ...]:
        """How :meth:`read_window_text` can render ``table``'s rows, preferred first: the
        engine's own :attr:`line_format`, and ``adapters.sql.canonical.LINES`` where other
        engines render alike. Two databases sharing a format compare windows line by line."""
        return (self.line_format,) if self.line_format else ()

    def read_window_text(self, table: Table, window: Window, fmt: str | None = None) -> WindowText:
        """The rows of ``window`` rendered in line format ``fmt`` (one of
        :meth:`line_formats`; None: :attr:`line_format`), see :class:`WindowText`, from
        one snapshot."""
        raise NotImplementedError

    def window_checksum(self, table: Table, window: Window) -> tuple | None:
        """(row count, hash sum) of ``window``, computed in the database from one snapshot;
        equal results on two databases of the same :attr:`checksum_format` mean rows the
        diff deems equal (up to a 64-bit hash collision). None when this server cannot."""
        return None

    def block_formats(self, table: Table) -> tuple[str, ...]:
        """How :meth:`window_blocks` can hash ``table``'s blocks, preferred first (see
        ``diff.blocks``); none where it is not implemented. Two databases sharing a format
        may read only the blocks of a window that differ."""
        return ()

    def window_blocks(self, table: Table, window: Window, width: int, fmt: str) -> ContextManager[BlockReader | None]:
        """A :class:`BlockReader` over ``window`` cut into blocks of ``width`` keys hashed
        in block format ``fmt`` (one of :meth:`block_formats`), held open (one snapshot)
        for the ``with`` block; None when this server cannot."""
        raise NotImplementedError

    def identity(self) -> str:
        """Which database this is, without secrets (``postgres db.example:5432/shop``): what
        a resumed emit checks it still talks to."""
        return self.capabilities.name

    def server(self) -> str | None:
        """The server this database lives on (``host:port``), for telling two databases
        on one server apart from two servers; None for an embedded one."""
        return None

    def connection_room(self) -> tuple[int, int] | None:
        """(connections the server allows this login, connections open now), for bounding
        ``maxThreads``; None where there is no such limit."""
        return None

    def foreign_keys(self, schemas: set[str]) -> list:
        """Every foreign key (``model.graph.Reference``, names as ``schema.table``) whose
        referencing or referenced table lies in one of ``schemas``, as this database
        enforces them; none where it has none."""
        return []

    def find_orphan(self, child: Table, columns: tuple[str, ...], parent: Table,
                    ref_columns: tuple[str, ...]) -> tuple | None:
        """The key of one row of ``child`` whose ``columns`` are all set and match no row of
        ``parent`` on ``ref_columns`` (a row a foreign key would refuse), or None."""
        return None

    def key_folding(self, table: Table) -> dict[str, str]:
        """Key columns whose live collation treats distinct strings as equal, mapped to
        how: ``"case"`` (case- and accent-insensitive), ``"space"`` (trailing spaces
        ignored) or ``"case,space"``. Empty for databases that compare bytes."""
        return {}

    def open_applier(self) -> Applier:
        raise NotImplementedError(f"{self.capabilities.name} cannot be a target")

    @classmethod
    def generate_ddl(cls, tables: list[Table]) -> dict[str, str]:
        """``c.sql``, ``i.sql``, ``f.sql``, ``d.sql`` creating ``tables`` on this database."""
        raise NotImplementedError

    def execute_script(self, sql: str) -> None:
        """Run generated DDL."""
        raise NotImplementedError

    def close(self) -> None:  # noqa: B027 - optional hook, most adapters hold nothing
        """Release pooled connections, if any."""
