"""The loader (SPEC 3.4): drains ``N.ckt`` files into the target, in order, exactly once.

For each next expected file it decodes the records a chunk at a time (``CHUNK_RECORDS``,
so memory stays bounded whatever the file's size), groups them per table, and has the
target's applier apply them *and* record ``(run, N)`` as applied in one transaction (the
next chunk is decoded in a thread while the server applies this one, see ``ahead``): a
malformed line anywhere rolls the whole file back, so nothing of it is committed. Only
then is the file moved to the done directory. A crash before the commit re-applies the
whole file later (nothing of it was committed); a crash after it finds the record and
only moves the file.

A target whose applier stages rows as text (``Applier.text_stage``; PostgreSQL's COPY)
gets the records the fast reader matches as ready lines of that text instead of Python
values (``ckt.StagingDecoder``), written in the decoding thread.

Records name target-side tables. The apply config has no ``schemaRename``, so a name that
is not in the ``.skt`` as written is matched to the ``.skt`` table with the same table
name (the emitter renamed its schema); an ambiguous match is refused.
"""
from __future__ import annotations

import logging
import os
import queue
import shutil
import socket
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, TypeVar

from targetsync_core import faults
from targetsync_core.adapters.base import Database, LeaseHolder, TableBatch
from targetsync_core.codec.ckt import DELETE, INSERT, UPDATE, TableCodec, read_changes, read_records
from targetsync_core.emit import files as F
from targetsync_core.errors import (ConfigError, CktFormatError, DataError, LeaseHeld, OutputError, SchemaMismatch,
                                    TargetSyncError)
from targetsync_core.model.schema import Table, check_same_shape

log = logging.getLogger("targetsync.load")


@dataclass(frozen=True)
class LoadSettings:
    input_dir: Path
    done_dir: Path
    poll_seconds: float = 0.25
    lease_ttl: float = 60.0
    lock_wait: float = 30.0   # for load.lock, which an emitter holds while it resets the directory
    #: give up after waiting this long for a run or its next file (None: wait on)
    wait_seconds: float | None = None
    #: how often a loader that waits says so
    say_every: float = 60.0
    #: how long to wait for another loader's lease on the target (0: refuse at once)
    lease_wait: float = 0.0


@dataclass
class LoadSummary:
    files: int = 0
    records: int = 0
    per_table: dict[str, Counter] = field(default_factory=dict)
    seconds: float = 0.0
    #: U records that found no row to update, per table (``Applier.missed``)
    missed: Counter = field(default_factory=Counter)


class _Codecs:
    """Resolves the table field of a record to a codec, checking each table once against
    the live target."""

    def __init__(self, skt: list[Table], target: Database):
        self.exact = {t.qualified: t for t in skt}
        self.by_name: dict[str, list[Table]] = {}
        for t in skt:
            self.by_name.setdefault(t.name, []).append(t)
        self.target = target
        self.codecs: dict[str, TableCodec] = {}
        #: the applier's Applier.text_stage, once it is open
        self.text_stage: Callable[[Table], tuple | None] = lambda table: None

    def get(self, name: str) -> TableCodec | None:
        codec = self.codecs.get(name)
        if codec is None:
            table = self._resolve(name)
            if table is None:
                return None
            live = self.target.shape(table.schema, table.name)
            if live is None:
                raise SchemaMismatch(f"target table {table.qualified} not found")
            check_same_shape(table, live, "target", self.target.stored_as)
            codec = self.codecs[name] = TableCodec(table, name)
            codec.stage(self.text_stage(table))
        return codec

    def _resolve(self, name: str) -> Table | None:
        if name in self.exact:
            return self.exact[name]
        for i, ch in enumerate(name):
            if ch == ".":
                found = self.by_name.get(name[i + 1:], [])
                if len(found) == 1:
                    return found[0].renamed(name[:i])
                if len(found) > 1:
                    raise SchemaMismatch(f"change-file table {name} matches {len(found)} tables of the schema file")
        return None


#: records decoded and applied at a time, inside the file's one transaction
CHUNK_RECORDS = 50_000


def read_batches(path: Path, codecs: _Codecs) -> Iterator[list[TableBatch]]:
    """Decode a change file into batches of at most ``CHUNK_RECORDS`` in all, one per run
    of consecutive records of a table, in the file's order, refusing a key changed twice.

    A table's records come as one run, or two where the emitter ordered tables over
    foreign keys (``model.graph``: its inserts and updates, later its deletes, with other
    tables' records between): the two stay two batches, applied in that order, since an
    applier runs a batch's deletes first. The emitter writes each run's keys in ascending
    order, which proves no key repeats without remembering any; a file out of that order
    is checked once in full, remembering every key."""
    batches: list[TableBatch] = []
    batch: TableBatch | None = None
    batch_name = ""
    groups: dict[tuple, int] = {}   # of the current batch: U offsets → group number
    last: dict[str, tuple] = {}
    checked = False
    n = 0
    for lineno, op, table, key, payload, body in read_changes(str(path), codecs):
        prev = last.get(table)
        if prev is not None and not prev < key and not checked:
            _refuse_repeated_keys(path, codecs)
            checked = True
        last[table] = key
        if batch is None or batch_name != table:
            batch, batch_name, groups = TableBatch(codecs.get(table).table), table, {}
            batches.append(batch)
        if body is not None:   # the target's staging text (TableBatch.staged)
            if op == UPDATE:
                grp = _group(batch, groups, payload)
                batch.staged.append(f"U\t{grp}\t{body}")
            else:
                batch.staged.append(("I\t\\N\t" if op == INSERT else "D\t\\N\t") + body)
            batch.staged_ops[op] += 1
        elif op == INSERT:
            batch.upserts.append(payload)
        elif op == DELETE:
            batch.deletes.append(key)
        else:
            offsets, values = payload
            _group(batch, groups, offsets)
            batch.updates[offsets].append((key, values))
        n += 1
        if n >= CHUNK_RECORDS:
            yield batches
            batches, batch, n = [], None, 0
    if batches:
        yield batches


def _group(batch: TableBatch, groups: dict[tuple, int], offsets: tuple) -> int:
    """The number of the group of U records setting ``offsets`` (its place in
    ``batch.updates``), adding the group if it is new."""
    grp = groups.get(offsets)
    if grp is None:
        grp = groups[offsets] = len(batch.updates)
        batch.updates[offsets] = []
    return grp


T = TypeVar("T")


def ahead(items: Iterable[T], depth: int = 1) -> Iterator[T]:
    """``items``, produced in a worker thread up to ``depth`` items ahead of the consumer.

    The loader decodes chunk N+1 (Python work) while the server applies chunk N (the
    driver waits on the socket without the GIL). An exception in the worker is raised
    here, as it was raised there; a consumer that stops early stops the worker, which
    closes ``items``."""
    q: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()
    end = object()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                q.put(entry, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def work() -> None:
        it = iter(items)
        try:
            for item in it:
                if not put((item, None)):
                    return
            put((end, None))
        except BaseException as exc:   # handed to the consumer, raised there
            put((None, exc))
        finally:
            close = getattr(it, "close", None)
            if close is not None:
                close()

    worker = threading.Thread(target=work, name="decode", daemon=True)
    worker.start()
    try:
        while True:
            item, exc = q.get()
            if exc is not None:
                raise exc
            if item is end:
                return
            yield item
    finally:
        stop.set()
        worker.join()


def _refuse_repeated_keys(path: Path, codecs: _Codecs) -> None:
    seen: dict[str, dict[tuple, int]] = {}
    for lineno, ch in read_records(str(path), codecs):
        first = seen.setdefault(ch.table, {}).setdefault(ch.key, lineno)
        if first != lineno:
            raise CktFormatError(f"key of {ch.table} already changed at line {first}", str(path), lineno)


class _Waiting:
    """A loader waiting for ``what``: says so in the log at once and every
    ``say_every`` seconds, and gives up after ``wait_seconds`` (when set)."""

    def __init__(self, settings: LoadSettings, what: str):
        self.s, self.what = settings, what
        self.start = self.said = time.monotonic()
        self.first = True

    def tick(self) -> None:
        now = time.monotonic()
        if self.first or now - self.said >= self.s.say_every:
            log.info("waiting for %s%s", self.what, "" if self.first else f" ({now - self.start:.0f} s so far)")
            self.first, self.said = False, now
        if self.s.wait_seconds is not None and now - self.start > self.s.wait_seconds:
            raise TargetSyncError(f"apply: waited {self.s.wait_seconds:g} s for {self.what}; giving up "
                                  "(waitSeconds); nothing was lost, run apply again once the emitter has written it")


def _arrived(path: Path, done: bool) -> bool:
    """Whether the missing file ``path`` has just been published, or else refuse to pass
    over it: files are published in order, so a
    later file (or, once CHANGE.DONE is there, its own sidecar) proves it was published and
    is gone (deleted, moved, a dangling link), and applying on would lose its changes. The
    later files are looked for before ``path`` is looked at again, so a file an emitter
    publishes meanwhile (``sync``) is never taken for a gap."""
    d = path.parent
    n = int(path.name.split(".")[0])
    later = [m for m in F.ckt_numbers(d) if m > n]
    sidecars = [m for m in F.hw_numbers(d) if m >= n] if done else []
    if path.exists():   # published between the loader's look and this one (sync): no gap
        return True
    if path.is_symlink() or later or sidecars:
        how = "is a link to nothing" if path.is_symlink() else "is missing"
        after = (f", but {min(later)}.ckt was published after it" if later else
                 f", though {F.DONE} and {min(sidecars)}.ckt.hw say it was published" if sidecars else "")
        raise TargetSyncError(f"{path} {how}{after}: its changes would be lost; put the file back, or emit again "
                              "(a fresh emit rewrites every file)")
    return False


def _check_whole(path: Path) -> None:
    """Refuse a file that is not what the emitter published: its sidecar ``N.ckt.hw``
    holds its size and SHA-256 (a file without a sidecar, copied by hand, is applied as it
    is)."""
    side = path.with_name(path.name + ".hw")
    try:
        hw = F.HighWater.load(side)
    except FileNotFoundError:
        log.debug("%s has no sidecar %s: its size and checksum cannot be checked", path.name, side.name)
        return
    except (OSError, ValueError, TypeError) as exc:
        raise DataError(f"{side} cannot be read ({type(exc).__name__}): it is not the sidecar the emitter "
                        "wrote; emit again") from None
    size = path.stat().st_size
    if size != hw.size or _sha256(path) != hw.sha256:
        what = f"{size:,} bytes where {hw.size:,} were published" if size != hw.size else "other bytes than were published"
        raise DataError(f"{path} holds {what} (its sidecar {side.name} says so): it was cut short or changed; "
                        "nothing of it was applied; restore it, or emit again")


def _sha256(path: Path) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _move(src: Path, done_dir: Path) -> None:
    dest = done_dir / src.name
    try:
        os.replace(src, dest)
    except OSError:
        shutil.move(str(src), str(dest))
    F.fsync_dir(done_dir)
    F.fsync_dir(src.parent)


class Loader:
    """Applies the files of one emit run to one target, then exits on CHANGE.DONE."""

    def __init__(self, target: Database, skt: list[Table], settings: LoadSettings, progress=None,
                 should_stop: Callable[[], bool] | None = None):
        self.target, self.s, self.progress = target, settings, progress
        self.codecs = _Codecs(skt, target)
        self.should_stop = should_stop or (lambda: False)
        self.holder = LeaseHolder(uuid.uuid4().hex, socket.gethostname(), os.getpid())
        self._dir_lock = None  # load.lock in the input directory, once a run is found

    def run(self) -> LoadSummary:
        t0 = time.monotonic()
        try:
            self.s.done_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError.of(exc, "done directory", self.s.done_dir) from None
        applier = self.target.open_applier()
        self.codecs.text_stage = applier.text_stage
        try:
            self._take_lease(applier)
            try:
                summary = self._drain(applier)
            except BaseException:
                try:  # best effort: the lease also expires, and a dead holder is recognised
                    applier.release_lease(self.holder)
                except Exception:  # noqa: BLE001 - e.g. the connection is gone; keep the cause
                    pass
                raise
            applier.release_lease(self.holder)
        finally:
            applier.close()
            if self._dir_lock is not None:
                self._dir_lock.close()
                self._dir_lock = None
        summary.seconds = time.monotonic() - t0
        return summary

    def _take_lease(self, applier) -> None:
        """Take the target's apply lease, waiting up to ``lease_wait`` seconds for another
        loader of this target to finish (Dagster runs of other tables do); refuse after."""
        deadline = time.monotonic() + self.s.lease_wait
        while True:
            try:
                applier.acquire_lease(self.holder, self.s.lease_ttl)
                return
            except LeaseHeld:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(min(1.0, max(0.05, self.s.poll_seconds)))

    def _done(self, path: Path) -> None:
        """Move an applied file to the done directory; a failure says it *was* applied."""
        try:
            _move(path, self.s.done_dir)
        except OSError as exc:
            raise OutputError(f"{path.name} was applied (its changes are committed) but cannot be moved to "
                              f"{self.s.done_dir}: {exc.strerror or type(exc).__name__}; fix that directory and run "
                              "apply again, which moves it and goes on (it is never applied twice)") from None

    def _wait_for_run(self, applier) -> str | None:
        d = self.s.input_dir
        if not d.is_dir():
            what = "is not a directory" if d.exists() else "does not exist"
            raise ConfigError(f"inputDirectory {d} {what}: give the emitter's emitOutputDirectory")
        renewed = time.monotonic()
        waiting = _Waiting(self.s, f"an emit run in {d} (no {F.RUN} yet)")
        while not self.should_stop():
            run_id = F.read_run(d)
            if run_id is not None:
                return run_id
            if (d / F.RUN).exists() and F.read_run(d) is None and (d / F.RUN).stat().st_size:
                raise DataError(f"{d / F.RUN} is not a run file an emitter wrote; remove it and emit again")
            waiting.tick()
            renewed = self._idle(applier, renewed)
        return None

    def _attach(self) -> str:
        """Hold the input directory's load.lock while applying its run, so a fresh emit
        cannot clear the files of the run being applied (it is refused instead), nor a
        second loader apply them. An emitter holds the lock only while it resets the
        directory, hence the short wait; the run id is read again under the lock."""
        d = self.s.input_dir
        try:
            self._dir_lock = F.lock_directory(d, F.LOAD_LOCK, F.SECOND_LOADER, wait=self.s.lock_wait)
        except OSError as exc:
            raise OutputError.of(exc, "emit directory", d) from None
        run_id = F.read_run(d)
        if run_id is None:
            raise TargetSyncError(f"{d} lost its run file ({F.RUN}) while loading; restart the loader")
        return run_id

    def _idle(self, applier, renewed: float) -> float:
        time.sleep(self.s.poll_seconds)
        if time.monotonic() - renewed > self.s.lease_ttl / 3:
            applier.acquire_lease(self.holder, self.s.lease_ttl)
            return time.monotonic()
        return renewed

    def _drain(self, applier) -> LoadSummary:
        summary = LoadSummary()
        if self._wait_for_run(applier) is None:
            return summary
        run_id = self._attach()
        applied = applier.applied_files(run_id)
        n, renewed = 0, time.monotonic()
        waiting = None
        while not self.should_stop():
            path = self.s.input_dir / f"{n}.ckt"
            if n in applied:
                if path.exists():
                    self._done(path)  # committed before a crash, not yet moved
                n += 1
                continue
            if path.exists():
                self._apply(applier, run_id, n, path, summary)
                n += 1
                renewed = time.monotonic()
                waiting = None
                continue
            done = (self.s.input_dir / F.DONE).exists()
            if _arrived(path, done):
                continue
            if done:
                log.info("CHANGE.DONE - exiting")
                break
            if F.read_run(self.s.input_dir) != run_id:
                raise TargetSyncError(f"{self.s.input_dir} was reset by a new emit run while loading; "
                                      "restart the loader")
            waiting = waiting or _Waiting(self.s, f"{path} or {F.DONE} (emit run {run_id})")
            waiting.tick()
            renewed = self._idle(applier, renewed)
        return summary

    def _apply(self, applier, run_id: str, n: int, path: Path, summary: LoadSummary) -> None:
        if not path.is_file():
            raise DataError(f"{path} is not a file (a directory?): it cannot be a change file; remove it and emit again")
        _check_whole(path)
        tally: dict[str, Counter] = {}

        def counted() -> Iterator[TableBatch]:
            for chunk in ahead(read_batches(path, self.codecs)):
                for b in chunk:
                    c = tally.setdefault(b.table.qualified, Counter())
                    c["inserts"] += b.count(INSERT)
                    c["deletes"] += b.count(DELETE)
                    c["updates"] += b.count(UPDATE)
                    yield b
        batches = counted()
        try:
            faults.point("load.before_commit")
            applier.apply_file(run_id, n, batches, self.holder, self.s.lease_ttl)
            faults.point("load.after_commit")
            for _ in batches:  # a file found applied by an earlier life: counted all the same
                pass
        finally:
            batches.close()   # a failed apply stops the decoding thread now
        self._done(path)
        records = sum(sum(c.values()) for c in tally.values())
        summary.files += 1
        summary.records += records
        for name, c in tally.items():
            summary.per_table.setdefault(name, Counter()).update(c)
        missed = getattr(applier, "missed", {})
        summary.missed.update(missed)
        for name, k in missed.items():
            log.warning("%s: %d update(s) found no row in %s (the target lost them after the emit read it); "
                        "a sync run inserts them", path.name, k, name)
        log.info("applied %s records=%d", path.name, records)
        if self.progress:
            self.progress.advance(1, changes=summary.records)
