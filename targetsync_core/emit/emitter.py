"""The emitter (SPEC 3.3): windows → part files → gapless ``N.ckt`` + ``.hw`` + CHANGE.DONE.

Windows of every table are diffed ``max_threads`` at a time, each into its own part file.
The publisher then takes finished windows strictly in (table, window) order and copies
their records into ``building.tmp``; when that reaches the file target it is fsync'd, its
``.hw`` sidecar (what it holds, up to which key) is made durable, and it is renamed to
the next ``N.ckt``. Because the order is fixed and the sidecar names the last key, a
resumed emitter knows exactly where published output ends and re-diffs only what comes
after: every difference lands in exactly one published file.

With no output directory the same machinery validates: it diffs and counts, writing
nothing.
"""
from __future__ import annotations

import hashlib
import logging
import os
import threading
import time
from collections import deque
from contextlib import closing
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

from targetsync_core.adapters.base import Database
from targetsync_core.adapters.sql.canonical import LINES
from targetsync_core.codec.ckt import TableCodec
from targetsync_core.diff.blocks import CANONICAL, blockable, block_ranges, block_widths, common_format, compare_blocks
from targetsync_core.diff.compare import RowComparer
from targetsync_core.diff.folding import refuse_folded_keys
from targetsync_core.diff.merge import Counts, diff_lines, diff_rows
from targetsync_core.diff.windows import ProbePolicy, Window, windows
from targetsync_core.emit import files as F
from targetsync_core.emit import plan as P
from targetsync_core.emit.unordered import SortedReads, SortSettings
from targetsync_core.errors import ConfigError, OutputError, SchemaMismatch, TargetSyncError
from targetsync_core.model import graph
from targetsync_core.model.graph import ALL, DELETES, UPSERTS
from targetsync_core.model.schema import Table, check_same_shape

log = logging.getLogger("targetsync.emit")


@dataclass(frozen=True)
class EmitSettings:
    window_size: int = 10_000
    max_threads: int = 4
    file_target_bytes: int = 64 * 1024 * 1024
    output_dir: Path | None = None        # None: validate only
    checkpoint_dir: Path | None = None
    resume: bool = False
    float_tolerance: float = 0.0
    #: publish at every window end, so each finished window is durable on its own (the
    #: Dagster layer checkpoints per window); otherwise files fill up to the target size
    publish_every_window: bool = False
    #: how a source that cannot read in key order is sorted (``emit.unordered``)
    sorting: SortSettings = SortSettings()


@dataclass(frozen=True)
class TablePair:
    """One table as both sides see it: ``source`` from the .skt, ``target`` renamed and
    in the target's own column types (:func:`as_read`)."""

    index: int
    source: Table
    target: Table
    codec: TableCodec
    comparer: RowComparer
    #: which records this pair emits (``model.graph``: all, or a table's two passes over
    #: foreign keys), the group whose records share one file, and the table's place in
    #: the table list (its line of the summary)
    ops: str = ALL
    group: int | None = None
    slot: int = 0


@dataclass
class TableSummary:
    name: str
    counts: Counts = field(default_factory=Counts)
    windows: int = 0


@dataclass
class EmitSummary:
    tables: list[TableSummary]
    files: int = 0
    records: int = 0
    bytes: int = 0
    seconds: float = 0.0
    already_complete: bool = False

    @property
    def changes(self) -> int:
        return sum(t.counts.changes for t in self.tables)


@dataclass(frozen=True)
class WindowDone:
    """Reported to the observer after each window is consolidated (in order)."""

    pair: TablePair
    window: Window
    counts: Counts
    files_published: int


def prepare_pairs(names: list[str], skt: list[Table], source: Database, target: Database,
                  rename: dict[str, str], float_tolerance: float = 0.0, ordered: bool = False) -> list[TablePair]:
    """Check every listed table before any work: in the .skt, keyed, live on both sides
    with the .skt's shape. Raises SchemaMismatch naming the first culprit.

    ``ordered`` (emit and sync): lay the tables out over the foreign keys among them
    (those of the .skt and those the target enforces) so that every change file leaves
    them satisfied (``model.graph``), after checking that the source's data satisfies the
    target's."""
    by_name = {t.qualified: t for t in skt}
    pairs = []
    for i, name in enumerate(names):
        table = by_name.get(name)
        if table is None:
            raise SchemaMismatch(f"table {name} is in the table list but not in the schema file")
        table.check_keyed()
        live_src = source.shape(table.schema, table.name)
        if live_src is None:
            raise SchemaMismatch(f"source table {name} not found")
        check_same_shape(table, live_src, "source")
        tgt = table.with_rename(rename)
        live_tgt = target.shape(tgt.schema, tgt.name)
        if live_tgt is None:
            raise SchemaMismatch(f"target table {tgt.qualified} not found")
        check_same_shape(tgt, live_tgt, "target", target.stored_as)
        folding = target.key_folding(tgt)
        if folding:
            refuse_folded_keys(table, source.read_keys(table), folding, tgt.qualified)
        fits = target.capabilities.fits_values
        reading = as_read(tgt, live_tgt, target.stored_as) if fits else tgt
        comparer = RowComparer(table, reading, float_tolerance, fits, target.capabilities.empty_is_null)
        pairs.append(TablePair(i, table, reading, TableCodec(table, tgt.qualified), comparer, slot=i))
    return ordered_pairs(pairs, source, target) if ordered else pairs


def ordered_pairs(pairs: list[TablePair], source: Database, target: Database) -> list[TablePair]:
    """``pairs`` as the steps of ``graph.plan`` over the foreign keys among them."""
    by_target = {p.codec.name: p for p in pairs}
    enforced = [r for r in target.foreign_keys({p.target.schema for p in pairs})
                if r.table in by_target and r.ref_table in by_target]
    declared = [graph.Reference(fk.name, p.codec.name, fk.columns, f"{fk.ref_schema}.{fk.ref_table}", fk.ref_columns)
                for p in pairs for fk in p.target.foreign_keys]
    for r in enforced:   # the source's rows must satisfy what the target will refuse
        child, parent = by_target[r.table].source, by_target[r.ref_table].source
        orphan = source.find_orphan(child, r.columns, parent, r.ref_columns)
        if orphan is not None:
            raise SchemaMismatch(
                f"source table {child.qualified} row {orphan!r} has {', '.join(r.columns)} with no row in "
                f"{parent.qualified}: the target's foreign key {r.name} ({r.table} -> {r.ref_table}) would refuse "
                "it; fix the source's rows or drop the constraint on the target")
    steps = graph.plan(list(by_target), enforced + declared)
    return [replace(by_target[st.table], index=i, ops=st.ops, group=st.group) for i, st in enumerate(steps)]


def as_read(expected: Table, live: Table, stored_as: dict) -> Table:
    """The target table as the diff reads it: ``expected`` (the ``.skt`` table, renamed)
    with each value column in its live kind and parameters, so that its values come back
    as the target holds them. Key columns keep the ``.skt`` column, and a column the
    database keeps in its own stand-in for the ``.skt`` kind (``stored_as``: a uuid in
    CHAR(36)) keeps the ``.skt`` kind with the live parameters: the adapter reads those
    as the source's kind."""
    keys = set(expected.primary_key)

    def column(e, g):
        if e.name in keys:
            return e
        if g.kind != e.kind and stored_as.get(e.kind) == g.kind:
            return replace(e, length=g.length, precision=g.precision, scale=g.scale, native=g.native)
        return replace(g, nullable=e.nullable)
    return replace(expected, columns=tuple(map(column, expected.columns, live.columns)))


class _Publisher:
    """Consolidates finished windows, in order, into gapless ``N.ckt`` files."""

    def __init__(self, directory: Path, run_id: str, next_file: int, target_bytes: int, every_window: bool):
        self.dir, self.run_id, self.next_file, self.target = directory, run_id, next_file, max(1, target_bytes)
        self.every_window = every_window
        self.fh = None
        self.size = self.records = 0
        self.sha = None
        self.position: tuple | None = None
        self.group: int | None = None     # the group of the last record in the file being built
        self.last_pair: TablePair | None = None   # and its pair
        self.published: list[int] = []
        self.total_records = self.total_bytes = 0

    def add_window(self, pair: TablePair, window: Window, part: Path, keep_open: bool = False) -> None:
        """Copy the window's records into the file being built, publishing whenever it
        reaches the target size, except inside a group (``TablePair.group``: its records
        of one pass share one file); ``keep_open``: the next window is of the same group,
        so the file is not published at this window's end."""
        grouped = pair.group is not None
        last = self.last_pair
        if last is not None and last.index != pair.index and last.codec.name == pair.codec.name:
            # a table's second pass right after its first (a table referring only to
            # itself): the loader must not merge the two into one batch, which would run
            # the deletes first
            self._publish()
        with open(part, "rb") as fh:
            for line in fh:
                if self.size >= self.target and not (grouped and self.group == pair.group):
                    self._publish()
                if self.fh is None:
                    self.fh = open(self.dir / F.BUILDING, "wb")
                    self.sha = hashlib.sha256()
                self.fh.write(line)
                self.sha.update(line)
                self.size += len(line)
                self.records += 1
                self.position = (pair.index, pair.codec.name, window.index, _key_fields(line, pair), False)
                self.group, self.last_pair = pair.group, pair
        self.position = (pair.index, pair.codec.name, window.index, None, True)
        if self.fh is not None and (self.size >= self.target or self.every_window) and not keep_open:
            self._publish()

    @property
    def empty(self) -> bool:
        """Nothing consolidated is waiting: everything up to ``position`` is published."""
        return self.fh is None

    def finish(self) -> None:
        if self.fh is not None:
            self._publish()

    def _publish(self) -> None:
        self.fh.flush()
        os.fsync(self.fh.fileno())
        self.fh.close()
        ti, name, wi, through, complete = self.position
        hw = F.HighWater(self.run_id, self.next_file, ti, name, wi, through, complete,
                         self.records, self.size, self.sha.hexdigest())
        F.publish(self.dir, self.dir / F.BUILDING, hw)
        log.info("published %d.ckt records=%d bytes=%d", hw.file, hw.records, hw.size)
        self.published.append(self.next_file)
        self.total_records += self.records
        self.total_bytes += self.size
        self.next_file += 1
        self.fh, self.size, self.records, self.group, self.last_pair = None, 0, 0, None, None


class Emitter:
    """Runs one emit (or, without an output directory, one validation) over table pairs."""

    def __init__(self, pairs: list[TablePair], source: Database, target: Database, settings: EmitSettings,
                 progress=None, on_window: Callable[[WindowDone], None] | None = None):
        self.pairs, self.source, self.target, self.s = pairs, source, target, settings
        self.progress, self.on_window = progress, on_window
        self.run_id: str | None = None
        self._start: F.Position | None = None
        self._next_file = 0
        self._done_before = False
        self._cancel = threading.Event()
        self._lock = None   # the emit directory's lock, from prepare() to the end of run()
        #: a line format both sides share: compare windows line by line before decoding rows
        self._lines: dict[int, str] = {}
        for p in pairs:
            fmt = common_format(source.line_formats(p.source), target.line_formats(p.target))
            if fmt is not None:
                self._lines[p.index] = fmt
        #: same row hashing on both sides: probe window checksums where drift looks sparse
        self._probes = ({p.index: ProbePolicy() for p in pairs}
                        if source.checksum_format is not None and source.checksum_format == target.checksum_format
                        else {})
        #: a block format both sides share: where a window differs, find the differing
        #: blocks and read only those, while that pays (ProbePolicy again). Not canonical
        #: blocks where the pair shares canonical lines: rendering the rows' text without
        #: hashing it in both databases, and comparing it here, measured faster at every
        #: drift (bench/PROFILE.md, round 9). An engine's own block hashes (PostgreSQL's
        #: typed hashes) cost less than rendering text, so they still go first.
        self._blocks: dict[int, tuple[ProbePolicy, str]] = {}
        for p in pairs:
            theirs = target.block_formats(p.target) if blockable(p.source) else ()
            fmt = common_format(source.block_formats(p.source), theirs) if theirs else None
            if fmt is not None and not (fmt == CANONICAL and self._lines.get(p.index) == LINES):
                self._blocks[p.index] = (ProbePolicy(), fmt)
        self._widths: dict[int, list[int] | None] = {}
        self._target_reads: ThreadPoolExecutor | None = None   # during run(): target windows read as text
        #: a table's window bounds, once cut (its second pass over foreign keys reuses them)
        self._cut: dict[int, list[tuple]] = {}
        #: per table (slot) read whole in its first pass: the deletes that pass saw and dropped
        self._whole_first_pass: set[int] = set()
        self._deletes_seen: dict[int, int] = {}
        #: the index of each pair's last window, and of the last pair of each group
        self._last_window: dict[int, int] = {}
        #: a source read in no key order (Cassandra): its tables sorted on disk
        self._sorted = (None if source.capabilities.ordered_reads
                        else SortedReads(source, settings.sorting, settings.window_size, settings.max_threads))

    def cancel(self) -> None:
        """Stop after the windows already running (``sync`` calls it when the loader fails)."""
        self._cancel.set()

    # -- the emit directory --
    def prepare(self) -> None:
        """Clear or recover the emit directory; after this the run id is on disk, so a
        loader started now (``sync``) reads the right one."""
        d = self.s.output_dir
        if d is None:
            return
        try:
            d.mkdir(parents=True, exist_ok=True)
            self._lock = F.lock_directory(d)
            self._prepare(d)
        except OSError as exc:
            self.close()
            raise OutputError.of(exc, "emit directory", d) from None
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        """Release the emit directory and the sorted scans (``run`` does it when it ends)."""
        if self._sorted is not None:
            self._sorted.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def _prepare(self, d: Path) -> None:
        if self.s.checkpoint_dir:
            try:
                self.s.checkpoint_dir.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise OutputError.of(exc, "checkpoint directory (checkpointDir)", self.s.checkpoint_dir) from None
        self.run_id = F.read_run(d) if self.s.resume else None
        if self.run_id is None:
            if self.s.resume:
                log.info("resume: no earlier run in %s; starting fresh", d)
            # a loader applying the old run holds load.lock: clearing its files under it
            # would lose them, so a fresh start waits for no one and is refused instead
            with closing(F.lock_directory(d, F.LOAD_LOCK, F.LOADER_BUSY)):
                F.clear_stale(d)
                for p in self._plan_files():
                    p.unlink()
                if self._progress_path() and self._progress_path().exists():
                    self._progress_path().unlink()
                self.run_id = F.new_run(d, self._plan())
            return
        self._recover(d)

    def _plan(self) -> dict:
        """What decides where each of the run's records falls: its windows (the window
        size, the schema file's tables), its steps (tables, renamed, and their passes over
        foreign keys) and the two databases. A resume must find the same (:meth:`_same_plan`)."""
        tables = repr([p.source for p in self.pairs if p.ops != DELETES]).encode()
        return {"windowSize": self.s.window_size, "steps": [[p.codec.name, p.ops] for p in self.pairs],
                "schema": hashlib.sha256(tables).hexdigest(), "source": self.source.identity(),
                "target": self.target.identity()}

    def _same_plan(self, d: Path) -> None:
        """Refuse to resume a run whose recorded plan differs from this one's, naming what
        changed: its published files and positions refer to that plan's windows."""
        was, now = F.read_plan(d), self._plan()
        run = f"run {self.run_id} in {d}"
        if was is None:
            raise ConfigError(f"resume: {run} records no plan (an older version emitted it); run without resume")
        if was.get("windowSize") != now["windowSize"]:
            raise ConfigError(f"resume: {run} cut its tables into windows of {was.get('windowSize')} rows, not "
                              f"{now['windowSize']}: resume with windowSize={was.get('windowSize')}, or run without resume")
        for side in ("source", "target"):
            if was.get(side) != now[side]:
                raise ConfigError(f"resume: {run} was emitted with {side} {was.get(side)}, not {now[side]}; "
                                  "run without resume")
        if [s[0] for s in was.get("steps", [])] != [s[0] for s in now["steps"]]:
            raise ConfigError(f"resume: {run} was emitted for another table list or schemaRename "
                              f"({', '.join(dict.fromkeys(s[0] for s in was.get('steps', [])))}); run without resume")
        if was.get("steps") != now["steps"]:
            raise ConfigError(f"resume: the foreign keys among the tables changed since {run} was emitted "
                              "(its tables' order and passes differ); run without resume")
        if was.get("schema") != now["schema"]:
            raise ConfigError(f"resume: the schema file differs from the one {run} was emitted with; "
                              "run without resume")

    def _plan_files(self) -> list[Path]:
        cp = self.s.checkpoint_dir
        return list(cp.glob("plan.*.json")) if cp and cp.is_dir() else []

    def _recover(self, d: Path) -> None:
        self._same_plan(d)
        self._done_before = (d / F.DONE).exists()
        numbers = F.hw_numbers(d)
        if numbers:
            n = numbers[-1]
            try:
                hw = F.HighWater.load(d / f"{n}.ckt.hw")
            except (OSError, ValueError, TypeError) as exc:
                raise ConfigError(f"resume: {d / f'{n}.ckt.hw'} is not a sidecar the emitter wrote "
                                  f"({type(exc).__name__}); run without resume") from None
            if hw.run != self.run_id:
                raise ConfigError(f"resume: {n}.ckt.hw in {d} belongs to another run; run without resume")
            building = d / F.BUILDING
            if not (d / f"{n}.ckt").exists() and building.exists() and _matches(building, hw):
                os.replace(building, d / f"{n}.ckt")  # crashed between sidecar and rename
                F.fsync_dir(d)
                log.info("resume: completed the interrupted publish of %d.ckt", n)
            self._start, self._next_file = hw.position, n + 1
        progress = F.read_progress(self._progress_path(), self.run_id)
        if progress is not None and (self._start is None or progress.after(self._start)):
            self._start = progress
        start = self._start
        if start is not None and (start.table_index >= len(self.pairs)
                                  or self.pairs[start.table_index].codec.name != start.table):
            raise ConfigError(f"resume: {d} was emitted for another table list; run without resume")
        for p in d.iterdir():
            if p.name == F.BUILDING or p.name.startswith("part_") or p.name.endswith(".tmp"):
                p.unlink()
        log.info("resume: run %s continues at file %d after %s", self.run_id, self._next_file,
                 "the start" if self._start is None else f"{self._start.table} window {self._start.window}")

    def _progress_path(self) -> Path | None:
        return self.s.checkpoint_dir / F.PROGRESS if self.s.checkpoint_dir else None

    # -- windows --
    def _bounds(self, pair: TablePair) -> list[tuple]:
        cp, size = self.s.checkpoint_dir, self.s.window_size
        if cp and self.s.resume:
            saved = P.load(cp, pair.index, pair.codec.name, size, pair.codec)
            if saved is not None:
                return saved
        bounds = self._cut.get(pair.slot)
        if bounds is None:
            bounds = self._cut[pair.slot] = (self._sorted.bounds(pair) if self._sorted is not None
                                             else self.source.window_bounds(pair.source, size))
        if cp and self.s.output_dir is not None:
            P.save(cp, pair.index, pair.codec.name, size, pair.codec, bounds)
        return bounds

    def _todo(self, pair: TablePair) -> list[Window]:
        out = []
        start = self._start
        if pair.ops == DELETES and pair.slot in self._whole_first_pass and not self._deletes_seen.get(pair.slot):
            return out   # its first pass read the whole table and saw no row to delete
        if pair.ops == UPSERTS and (start is None or start.table_index < pair.index):
            self._whole_first_pass.add(pair.slot)
        bounds = self._bounds(pair)
        if pair.index in self._blocks:
            self._widths[pair.index] = block_widths(bounds, self.s.window_size)
        for w in windows(pair.index, bounds):
            if start is not None and (w.table_index, w.index) <= (start.table_index, start.window):
                if (w.table_index, w.index) < (start.table_index, start.window) or start.complete:
                    continue
                w = w.after(pair.codec.decode_key(start.through, "high-water"))
            out.append(w)
        if out:
            self._last_window[pair.index] = out[-1].index
        return out

    def _diff(self, pair: TablePair, window: Window) -> tuple[Counts, Path | None]:
        counts = Counts()
        if self._sorted is not None:
            changes = self._sorted.diff(pair, window, self.target, counts)
        elif self._unchanged(pair, window, counts):
            changes = iter(())
        elif (blocked := self._by_blocks(pair, window, counts)) is not None:
            changes = blocked
        elif (fmt := self._lines.get(pair.index)) is not None:
            # both sides at once: the target's read runs in a thread of its own
            tgt_read = self._target_reads.submit(self.target.read_window_text, pair.target, window, fmt)
            try:
                src = self.source.read_window_text(pair.source, window, fmt)
            except BaseException:
                tgt_read.cancel()
                raise
            tgt = tgt_read.result()
            changes = diff_lines(pair.source, src.lines, tgt.lines, src.parse, tgt.parse, pair.comparer, counts,
                                 pair.codec.name)
        else:
            changes = diff_rows(pair.source, self.source.read_window(pair.source, window),
                                self.target.read_window(pair.target, window), pair.comparer, counts, pair.codec.name)
        if pair.ops != ALL:   # one of a table's two passes over foreign keys
            changes = (c for c in changes if c.op in pair.ops)
        if self.s.output_dir is None:
            for _ in changes:
                pass
            return counts, None
        part = self.s.output_dir / f"part_{pair.index}_{window.index}.part"
        encode = pair.codec.encode
        with open(part, "w", encoding="utf-8", newline="") as fh:
            fh.writelines(encode(c) for c in changes)
        return counts, part

    def _unchanged(self, pair: TablePair, window: Window, counts: Counts) -> bool:
        """Whether matching window checksums prove ``window`` unchanged (then counted)."""
        policy = self._probes.get(pair.index)
        if policy is None or not policy.should_probe():
            return False
        src = self.source.window_checksum(pair.source, window)
        same = src is not None and src == self.target.window_checksum(pair.target, window)
        policy.record(same)
        if same:
            counts.source_rows += src[0]
            counts.target_rows += src[0]
        return same

    def _by_blocks(self, pair: TablePair, window: Window, counts: Counts):
        """The window's changes found block by block (see ``diff.blocks``), or None when
        blocks are not used for it: not available, or not paying lately."""
        policy, fmt = self._blocks.get(pair.index, (None, None))
        widths = self._widths.get(pair.index)
        if policy is None or widths is None or not policy.should_probe():
            return None
        width = widths[window.index]
        with self.source.window_blocks(pair.source, window, width, fmt) as src, \
                self.target.window_blocks(pair.target, window, width, fmt) as tgt:
            if src is None or tgt is None:   # a server too old for block sums
                self._blocks.pop(pair.index, None)
                return None
            found = compare_blocks(src.sums(), tgt.sums())
            policy.record(found.pays)
            counts.source_rows += found.clean_rows
            counts.target_rows += found.clean_rows
            if not found.dirty:
                return iter(())
            # the rows are read whole here, inside the snapshot; the diff runs after it
            ranges = block_ranges(found.dirty, width)
            if pair.index in self._lines:   # the engine's own lines: canonical ones use no blocks
                s, t = src.read_text(ranges), tgt.read_text(ranges)
                return diff_lines(pair.source, s.lines, t.lines, s.parse, t.parse, pair.comparer, counts,
                                  pair.codec.name)
            return diff_rows(pair.source, src.read_rows(ranges), tgt.read_rows(ranges), pair.comparer, counts,
                             pair.codec.name)

    # -- the run --
    def run(self) -> EmitSummary:
        try:
            return self._run()
        except OSError as exc:
            raise OutputError.of(exc, "emit directory", self.s.output_dir) from None
        finally:
            self.close()

    def _run(self) -> EmitSummary:
        t0 = time.monotonic()
        names = {p.slot: p.codec.name for p in self.pairs}
        summary = EmitSummary([TableSummary(names[i]) for i in sorted(names)])
        if self._done_before:
            log.info("resume: emit already complete (%s present)", F.DONE)
            summary.already_complete = True
            return summary
        publisher = _Publisher(self.s.output_dir, self.run_id, self._next_file, self.s.file_target_bytes,
                               self.s.publish_every_window) if self.s.output_dir else None
        limit = max(2, 2 * self.s.max_threads)
        pending: deque = deque()
        with ThreadPoolExecutor(max_workers=self.s.max_threads, thread_name_prefix="window") as pool, \
                ThreadPoolExecutor(max_workers=self.s.max_threads, thread_name_prefix="target") as self._target_reads:
            try:
                for pair in self.pairs:
                    if pair.ops == DELETES:   # whether it has work depends on its first pass
                        while pending:
                            self._consume(pending.popleft(), summary, publisher)
                    todo = self._todo(pair)
                    if self.progress:
                        self.progress.add_total(len(todo))
                    for w in todo:
                        if self._cancel.is_set():
                            raise TargetSyncError("emit cancelled")
                        pending.append((pair, w, pool.submit(self._diff, pair, w)))
                        while len(pending) >= limit:
                            self._consume(pending.popleft(), summary, publisher)
                while pending:
                    self._consume(pending.popleft(), summary, publisher)
            except BaseException:
                for *_, fut in pending:
                    fut.cancel()
                raise
        if publisher:
            publisher.finish()
            F.write_done(self.s.output_dir)
            summary.files, summary.records, summary.bytes = (len(publisher.published),
                                                             publisher.total_records, publisher.total_bytes)
        summary.seconds = time.monotonic() - t0
        return summary

    def _count_pass(self, pair: TablePair, counts: Counts) -> None:
        """Count what a pass emits: a table's first pass over foreign keys emits no delete
        (it remembers how many it saw), its second only deletes and reads no row twice."""
        if pair.ops == UPSERTS:
            self._deletes_seen[pair.slot] = self._deletes_seen.get(pair.slot, 0) + counts.deletes
            counts.deletes = 0
        elif pair.ops == DELETES:
            counts.inserts = counts.updates = counts.source_rows = counts.target_rows = 0

    def _keep_open(self, pair: TablePair, window: Window) -> bool:
        """Whether records of ``pair``'s group come after ``window``: its file must not be
        published yet."""
        if pair.group is None:
            return False
        if window.index != self._last_window.get(pair.index, window.index):
            return True
        nxt = pair.index + 1
        return nxt < len(self.pairs) and self.pairs[nxt].group == pair.group

    def _consume(self, item, summary: EmitSummary, publisher: _Publisher | None) -> None:
        pair, window, fut = item
        counts, part = fut.result()
        self._count_pass(pair, counts)
        table = summary.tables[pair.slot]
        table.counts.add(counts)
        table.windows += 1
        if publisher is not None:
            publisher.add_window(pair, window, part, self._keep_open(pair, window))
            part.unlink()
            if publisher.empty and self._progress_path():  # durable: a resume starts after it
                F.write_progress(self._progress_path(), F.Position(pair.index, pair.codec.name, window.index,
                                                                    None, True), self.run_id)
        if self.progress:
            self.progress.advance(1, changes=summary.changes)
        if self.on_window:
            self.on_window(WindowDone(pair, window, counts, len(publisher.published) if publisher else 0))


def _key_fields(line: bytes, pair: TablePair) -> list[str]:
    """The encoded key of a record line: I records hold every column in .skt order (keys
    anywhere among them); U and D records start with the key."""
    fields = line[:-2].split(b"\t")
    if fields[0] == b"I":
        picked = [fields[2 + p] for p in pair.codec.keypos]
    else:
        picked = fields[2:2 + len(pair.codec.keypos)]
    return [f.decode("utf-8") for f in picked]


def _matches(path: Path, hw: F.HighWater) -> bool:
    if path.stat().st_size != hw.size:
        return False
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest() == hw.sha256
