"""One table's emit and apply for the Dagster layer, as events and metadata. Every bit of
diff and apply work is ``targetsync_core.commands``'; this module decides what Dagster
records of it.

* **Checkpoints.** The emitter publishes every window on its own, so its directory always
  says where a crashed emit stands; a re-executed partition resumes there, and keeps the
  counts of what came before (``counts.json`` in its checkpoint folder). While it runs, a
  checkpoint is recorded as an *observation* of the partition at most every
  ``checkpoint_interval`` seconds: observations keep a table's progress in its event
  history without marking the partition materialized, so a partition never looks
  complete while its run goes on or after it failed. The one materialization comes at
  the end.
* **Apply applies this run's emit.** ``table_apply`` applies the change files that the
  ``table_emit`` of the same run (or of the run it re-executes) published, and refuses
  otherwise: launched alone it would report a success that did nothing.
* **Status that cannot lie.** After the apply the table is validated; the check's result
  names the table, and a table that still differs fails its check (ERROR) and the step.
"""
from __future__ import annotations

import json
import queue
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from dagster import (AssetCheckEvaluation, AssetCheckSeverity, AssetKey, AssetRecordsFilter,
                     Failure, MetadataValue, RetryRequested, TableColumn, TableColumnConstraints, TableSchema)

from targetsync_core import commands
from targetsync_core.diff.merge import Counts
from targetsync_core.emit import files as F
from targetsync_core.errors import ConnectError, TargetSyncError
from targetsync_core.load.loader import LoadSettings
from targetsync_core.model.schema import Table

STAGE = "targetsync/stage"
COMPLETE, DIFFERS = "complete", "differs"
CHECK = "target_matches_source"
#: seconds an apply waits for the target's lease, held by the apply of another table
LEASE_WAIT = 900.0


def transient(fn):
    """Connection failures are worth retrying (``RetryRequested``); every other error ends
    the step at once with the project's one line, never retried (``allow_retries=False``)."""
    try:
        return fn()
    except ConnectError as exc:
        raise RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    except TargetSyncError as exc:
        raise refusal(str(exc), type(exc).__name__) from None


def refusal(text: str, kind: str = "refused") -> Failure:
    return Failure(description=text, metadata={"targetsync/error": kind}, allow_retries=False)


def check_listed(keys: list[str], names: list[str], table_file) -> None:
    """Refuse a partition key that is not in the table list, before any work."""
    gone = [k for k in keys if k not in names]
    if gone:
        raise refusal(f"{', '.join(gone)} is not in the table list {table_file}: add it there (the sensor "
                      "then adds its partition), or remove the partition")


# ---- metadata ----------------------------------------------------------------------------

def table_metadata(table: Table, target_name: str) -> dict:
    """``dagster/table_name`` and ``dagster/column_schema`` of a synced table."""
    cols = [TableColumn(c.name, type=c.native or c.kind.value, description=c.kind.value,
                        constraints=TableColumnConstraints(nullable=c.nullable))
            for c in table.columns]
    return {"dagster/table_name": target_name, "dagster/column_schema": TableSchema(columns=cols)}


def seconds(s: float) -> MetadataValue:
    return MetadataValue.float(round(s, 2))


def changes_text(c: Counts) -> str:
    return f"+{c.inserts} ~{c.updates} -{c.deletes}"


# ---- emit --------------------------------------------------------------------------------

@dataclass
class Emitted:
    name: str
    counts: Counts
    windows: int
    files: int
    bytes: int
    seconds: float
    emit_run: str
    resumed: bool


def _load_counts(path: Path, run_id: str | None) -> dict:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) and run_id is not None and doc.get("run") == run_id else {}


def emit_table(name: str, source, target, run_dir, skt_tables: list[Table], max_threads: int,
               observe: Callable[[dict], None], interval: float) -> Emitted:
    """Emit one table into its own folder, resuming a crashed emit of it (its folder
    holds a run without CHANGE.DONE); ``observe`` is called with a checkpoint's metadata
    at most every ``interval`` seconds."""
    d = run_dir.table_dir(name)
    emit_dir, counts_path = d / "emit", d / "checkpoint" / "counts.json"
    previous = F.read_run(emit_dir) if emit_dir.is_dir() else None
    resume = previous is not None and not (emit_dir / F.DONE).exists()
    before = _load_counts(counts_path, previous) if resume else {}
    total = Counts(**{k: int(before.get(k, 0)) for k in Counts.__dataclass_fields__})
    state = {"windows": int(before.get("windows", 0)), "said": time.monotonic()}
    seconds_before = float(before.get("seconds", 0.0))
    t0 = time.monotonic()
    holder: dict = {}

    def on_window(done) -> None:
        state["windows"] += 1
        total.add(done.counts)
        elapsed = seconds_before + time.monotonic() - t0
        F.write_durably(counts_path, json.dumps({"run": holder["emitter"].run_id, "windows": state["windows"],
                                                 "seconds": elapsed, **vars(total)}).encode())
        if time.monotonic() - state["said"] >= interval:
            state["said"] = time.monotonic()
            observe({"windows done": state["windows"], "inserts": total.inserts, "updates": total.updates,
                     "deletes": total.deletes, "source rows read": total.source_rows,
                     "duration (s)": seconds(elapsed), STAGE: "checkpoint",
                     "targetsync/window": done.window.index, "targetsync/emit_run": holder["emitter"].run_id})

    def run():
        emitter = holder["emitter"] = commands.make_emitter(
            source, target, [name], skt_tables, run_dir.rename(), run_dir.emit_settings(name, resume, max_threads),
            on_window=on_window)
        emitter.prepare()
        return emitter.run()

    summary = transient(run)
    files = F.hw_numbers(emit_dir)
    size = sum(F.HighWater.load(emit_dir / f"{n}.ckt.hw").size for n in files)
    return Emitted(name, total, state["windows"], len(files), size, seconds_before + summary.seconds,
                   holder["emitter"].run_id, resume)


def emit_metadata(e: Emitted, table: Table, target_name: str) -> dict:
    c = e.counts
    return {"inserts": c.inserts, "updates": c.updates, "deletes": c.deletes, "source rows": c.source_rows,
            "target rows (before)": c.target_rows, "windows": e.windows, "change files": e.files,
            "change bytes": MetadataValue.int(e.bytes), "duration (s)": seconds(e.seconds),
            "dagster/row_count": c.source_rows, **table_metadata(table, target_name),
            STAGE: COMPLETE, "targetsync/emit_run": e.emit_run, "targetsync/resumed": e.resumed}


# ---- apply ---------------------------------------------------------------------------------

@dataclass
class Applied:
    name: str
    records: int
    per_op: dict
    missed: int
    check: Counts
    seconds: float


def ancestors(instance, run) -> set[str]:
    """This run and every run it re-executes (its parents, up to the root)."""
    out, r = {run.run_id}, run
    while r is not None and r.parent_run_id:
        out.add(r.parent_run_id)
        r = instance.get_run_by_id(r.parent_run_id)
    return out


def check_emitted(instance, run, emit_key: AssetKey, name: str, run_dir) -> None:
    """Refuse to apply unless this run (or one it re-executes) emitted the table and its
    change files are complete on disk."""
    recs = instance.fetch_materializations(AssetRecordsFilter(asset_key=emit_key, asset_partitions=[name]),
                                           limit=1).records
    emit_dir = run_dir.table_dir(name) / "emit"
    if not recs or recs[0].event_log_entry.run_id not in ancestors(instance, run):
        raise refusal(f"{name}: table_apply applies the change files of this run's table_emit, and this run "
                      "emitted none; launch table_sync (emit and apply) or the full sync")
    meta = recs[0].asset_materialization.metadata
    emitted = meta.get("targetsync/emit_run")
    if emitted is None or emitted.value != F.read_run(emit_dir) or not (emit_dir / F.DONE).exists():
        raise refusal(f"{name}: the change files table_emit published are no longer in {emit_dir} "
                      "(emitted again since, or removed); run table_sync again")


def apply_table(name: str, source, target, run_dir, skt_tables: list[Table]) -> Applied:
    """Apply the table's change files, then validate it (the check's count)."""
    d = run_dir.table_dir(name)
    t0 = time.monotonic()
    # another table's loader may hold the target's lease (a run of another partition): wait for it
    load = transient(lambda: commands.apply_changes(target, skt_tables, LoadSettings(d / "emit", d / "done",
                                                                                     lease_wait=LEASE_WAIT)))
    per = load.per_table.get(next(iter(load.per_table), ""), {})
    check = transient(lambda: commands.make_emitter(source, target, [name], skt_tables, run_dir.rename(),
                                                    run_dir.validate_settings()).run())
    (table,) = check.tables
    return Applied(name, load.records, dict(per), sum(load.missed.values()), table.counts, time.monotonic() - t0)


def apply_metadata(a: Applied, table: Table, target_name: str) -> dict:
    c = a.check
    return {"applied records": a.records, "inserts": a.per_op.get("inserts", 0), "updates": a.per_op.get("updates", 0),
            "deletes": a.per_op.get("deletes", 0), "updates without a row": a.missed,
            "differences after apply": c.changes, "target rows": c.target_rows, "duration (s)": seconds(a.seconds),
            "dagster/row_count": c.target_rows, **table_metadata(table, target_name),
            STAGE: COMPLETE if c.changes == 0 else DIFFERS}


def check_evaluation(key: AssetKey, name: str, target_name: str, c: Counts, validate_only: bool = False):
    """The partition's check result, naming its table."""
    how = "validate only" if validate_only else "after apply"
    return AssetCheckEvaluation(
        asset_key=key, check_name=CHECK, passed=c.changes == 0, partition=name, severity=AssetCheckSeverity.ERROR,
        description=f"{name} → {target_name}: {c.changes} difference(s) {how}",
        metadata={"table": name, "differences": c.changes, "inserts needed": c.inserts, "updates needed": c.updates,
                  "deletes needed": c.deletes, "source rows": c.source_rows, "target rows": c.target_rows,
                  "targetsync/mode": how})


# ---- several tables in one step ----------------------------------------------------------

def each_yielding(names: list[str], threads: int, work: Callable[[str, int], object], events: "queue.Queue"):
    """``work(name, threads_each)`` for every table, ``threads`` tables at a time (one
    table: all the threads for its windows), yielding each event the work puts on
    ``events`` as it comes (a step yields them: an event yielded is recorded even if the
    step fails later, one merely logged is not); returns the results in ``names``' order,
    or raises the first failure once every table has finished."""
    per = threads if len(names) == 1 else 1
    pool = ThreadPoolExecutor(max_workers=max(1, min(threads, len(names))), thread_name_prefix="table")
    try:
        futures = [pool.submit(work, n, per) for n in names]
        while True:
            finished = all(f.done() for f in futures)
            try:
                yield events.get(timeout=0.1)
            except queue.Empty:
                if finished:
                    break
    finally:
        pool.shutdown(wait=True)
    while not events.empty():
        yield events.get_nowait()
    for f in futures:
        if f.exception() is not None:
            raise f.exception()
    return [f.result() for f in futures]
