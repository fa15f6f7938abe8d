"""Assets: schema migration (source schema → target DDL → DDL applied) and, per table
partition, emit and apply with a check that the target then equals the source.

No diff or apply logic lives here: every step calls ``targetsync_core.commands``.

Emit checkpoints: after every finished window (published on its own, so it is durable)
the emit asset logs an ``AssetMaterialization`` for its partition whose metadata is the
checkpoint (window, high-water file, cumulative counts, emit run id). Logged at once, it
outlives a failure later in the step. The next execution of that partition reads the
latest materialization: if it is a checkpoint of the emit run still on disk, the emitter
resumes after that window instead of starting over.
"""

import time

from dagster import (AssetCheckResult, AssetCheckSpec, AssetExecutionContext, AssetMaterialization,
                     AssetRecordsFilter, Failure, MaterializeResult, MetadataValue, RetryRequested, asset)

from targetsync_core import commands
from targetsync_core.diff.merge import Counts
from targetsync_core.emit import files as F
from targetsync_core.errors import ConnectError, TargetSyncError
from targetsync_core.load.loader import LoadSettings
from targetsync_core.model import skt
from targetsync_dagster.partitions import TABLES, register_tables
from targetsync_dagster.resources import DatabaseResource, RunDirectory

SOURCE_POOL, TARGET_POOL = "targetsync_source", "targetsync_target"
CHECKPOINT, COMPLETE = "checkpoint", "complete"
COUNT_FIELDS = ("source_rows", "target_rows", "inserts", "updates", "deletes")


def _transient(fn):
    """Connection failures are worth retrying; everything else fails the step at once,
    with the project's one-line message as the failure (no traceback of ours in the UI)."""
    try:
        return fn()
    except ConnectError as exc:
        raise RetryRequested(max_retries=3, seconds_to_wait=10) from exc
    except TargetSyncError as exc:
        raise Failure(description=str(exc), metadata={"error": type(exc).__name__}) from None


# ---- schema migration ------------------------------------------------------------------

@asset(group_name="schema", description="The source tables' schema, extracted to schema.skt.")
def source_schema(context: AssetExecutionContext, source: DatabaseResource, run_dir: RunDirectory):
    names = run_dir.names()
    tables = _transient(lambda: commands.extract_schema(source.open("source"), names))
    run_dir.root.mkdir(parents=True, exist_ok=True)
    skt.write(run_dir.skt_path, tables)
    added = register_tables(context.instance, names)
    rows = "\n".join(f"| {t.qualified} | {len(t.columns)} | {', '.join(t.primary_key)} |" for t in tables)
    return MaterializeResult(metadata={
        "tables": len(tables), "columns": sum(len(t.columns) for t in tables),
        "partitions_added": len(added), "path": MetadataValue.path(str(run_dir.skt_path)),
        "table_list": MetadataValue.md("| table | columns | key |\n|---|---|---|\n" + rows)})


@asset(group_name="schema", deps=[source_schema], description="c.sql, i.sql, f.sql, d.sql for the target.")
def target_ddl(target: DatabaseResource, run_dir: RunDirectory):
    tables = skt.read(run_dir.skt_path)
    ddl = commands.target_ddl(target.type, tables, run_dir.rename())
    run_dir.ddl_dir.mkdir(parents=True, exist_ok=True)
    for fname, text in ddl.items():
        (run_dir.ddl_dir / fname).write_text(text, encoding="utf-8")
    return MaterializeResult(metadata={
        "tables": len(tables), "dialect": target.type, "path": MetadataValue.path(str(run_dir.ddl_dir)),
        **{fname: MetadataValue.md(f"```sql\n{text}\n```") for fname, text in ddl.items()}})


@asset(group_name="schema", deps=[target_ddl], description="The target tables exist (created where missing).")
def target_ddl_applied(target: DatabaseResource, run_dir: RunDirectory):
    tables = skt.read(run_dir.skt_path)
    db = target.open("target")
    missing = _transient(lambda: commands.create_missing(db, target.type, tables, run_dir.rename()))
    return MaterializeResult(metadata={
        "created": MetadataValue.json([t.qualified for t in missing]),
        "already_present": len(tables) - len(missing)})


# ---- per table ---------------------------------------------------------------------------

def latest_checkpoint(context: AssetExecutionContext) -> dict | None:
    """The metadata of this partition's latest materialization, if it is a checkpoint."""
    result = context.instance.fetch_materializations(
        AssetRecordsFilter(asset_key=context.asset_key, asset_partitions=[context.partition_key]), limit=1)
    if not result.records:
        return None
    meta = result.records[0].asset_materialization.metadata
    if meta.get("targetsync/stage") is None or meta["targetsync/stage"].value != CHECKPOINT:
        return None
    return {k: v.value for k, v in meta.items()}


def _counts_metadata(counts: Counts) -> dict:
    return {name: getattr(counts, name) for name in COUNT_FIELDS}


@asset(group_name="tables", partitions_def=TABLES, deps=[target_ddl_applied], pool=SOURCE_POOL,
       description="Diff one table window by window into change files, checkpointing every window.")
def table_emit(context: AssetExecutionContext, source: DatabaseResource, target: DatabaseResource,
               run_dir: RunDirectory):
    name = context.partition_key
    t0 = time.monotonic()
    emit_dir = run_dir.table_dir(name) / "emit"
    checkpoint = latest_checkpoint(context)
    resume = checkpoint is not None and F.read_run(emit_dir) == checkpoint.get("emit_run")
    if resume:
        context.log.info(f"resuming {name} after window {checkpoint['window']} of emit run {checkpoint['emit_run']}")
    total = Counts(**{k: int(checkpoint.get(k, 0)) for k in COUNT_FIELDS}) if resume else Counts()
    windows = int(checkpoint.get("windows", 0)) if resume else 0
    seconds_before = float(checkpoint.get("seconds", 0.0)) if resume else 0.0
    emitter = None

    def on_window(done):
        nonlocal windows
        windows += 1
        total.add(done.counts)
        numbers = F.ckt_numbers(emit_dir) or [None]
        context.log_event(AssetMaterialization(asset_key=context.asset_key, partition=name, metadata={
            "targetsync/stage": CHECKPOINT, "window": done.window.index, "windows": windows,
            "high_water_file": numbers[-1] if numbers[-1] is not None else -1,
            "files": len(F.hw_numbers(emit_dir)), "emit_run": emitter.run_id,
            "seconds": seconds_before + time.monotonic() - t0, **_counts_metadata(total)}))

    def run():
        nonlocal emitter
        emitter = commands.make_emitter(source.open("source"), target.open("target"), [name],
                                        skt.read(run_dir.skt_path), run_dir.rename(),
                                        run_dir.emit_settings(name, resume), on_window=on_window)
        emitter.prepare()
        return emitter.run()

    summary = _transient(run)
    files = F.hw_numbers(emit_dir)
    size = sum((emit_dir / f"{n}.ckt.hw").exists() and F.HighWater.load(emit_dir / f"{n}.ckt.hw").size or 0
               for n in files)
    return MaterializeResult(metadata={
        "targetsync/stage": COMPLETE, **_counts_metadata(total), "windows": windows, "files": len(files),
        "bytes": size, "seconds": round(seconds_before + summary.seconds, 3), "emit_run": emitter.run_id,
        "dagster/row_count": total.source_rows})


@asset(group_name="tables", partitions_def=TABLES, deps=[table_emit], pool=TARGET_POOL,
       check_specs=[AssetCheckSpec("target_matches_source", asset="table_apply",
                                   description="After apply, a validate of the table finds no difference.")],
       description="Apply the table's change files to the target, then validate it.")
def table_apply(context: AssetExecutionContext, source: DatabaseResource, target: DatabaseResource,
                run_dir: RunDirectory):
    name = context.partition_key
    d = run_dir.table_dir(name)
    tables = skt.read(run_dir.skt_path)
    target_db = target.open("target")
    summary = _transient(lambda: commands.apply_changes(target_db, tables, LoadSettings(d / "emit", d / "done")))
    counts = summary.per_table.get(next(iter(summary.per_table), ""), {})
    check = _transient(lambda: commands.make_emitter(source.open("source"), target_db, [name], tables,
                                                     run_dir.rename(), run_dir.validate_settings()).run())
    (table,) = check.tables
    yield MaterializeResult(
        metadata={"files": summary.files, "records": summary.records, "inserts": counts.get("inserts", 0),
                  "updates": counts.get("updates", 0), "deletes": counts.get("deletes", 0),
                  "seconds": round(summary.seconds, 3), "dagster/row_count": table.counts.target_rows},
        check_results=[AssetCheckResult(check_name="target_matches_source", passed=table.counts.changes == 0,
                                        metadata={"differences": table.counts.changes,
                                                  "source_rows": table.counts.source_rows,
                                                  "target_rows": table.counts.target_rows})])
