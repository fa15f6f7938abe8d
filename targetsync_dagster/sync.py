"""One sync pair as Dagster definitions: :class:`SyncPair` → :func:`build_sync_defs`.

A pair (a source, a target, a table list, a rename, settings, a schedule) gives its own
asset group, partitions, jobs, schedule, sensor and resources, every name prefixed with
the pair's name, so several pairs live side by side in one code location
(``TargetSyncComponent`` makes one from YAML). For a pair named ``orders``:

===========================================  ===========================================
``orders/source/<schema.table>``             the source tables (external assets: lineage)
``orders/source_schema`` → ``target_ddl``    extract the .skt, write c/i/f/d.sql, create
→ ``target_tables``                          the tables the target lacks
``orders/table_emit`` → ``table_apply``      per table partition (``orders_tables``):
                                             diff into change files, apply them; the
                                             check ``target_matches_source`` per partition
``orders_table_sync``                        those two for chosen partitions; backfills run
                                             ``max_partitions_per_run`` tables a run; on
                                             the pair's executor (Celery: the emit and
                                             the apply of a table may run on different
                                             workers, over the shared run directory)
``orders_full_sync``                         every listed table in one run, in one emit
                                             ordered over foreign keys: the one-click sync
``orders_distributed_sync``                  the full sync as a step per table (or per set
                                             joined by foreign keys) on the pair's
                                             executor, Celery workers included (``scale``)
``orders_drift_report``                      validate every table, apply nothing
``orders_nightly_drift_repair``              the full sync on a cron (02:00 UTC)
``orders_table_list_sensor``                 partitions follow the table list
===========================================  ===========================================

No diff or apply logic lives here: ``tables`` turns ``targetsync_core.commands``' work
into events.
"""
from __future__ import annotations

import hashlib
import queue
import re
import warnings
from dataclasses import dataclass, field
from typing import Mapping

from dagster import (AssetCheckSpec, AssetKey, AssetMaterialization, AssetObservation, AssetSelection, AssetSpec,
                     BackfillPolicy, BetaWarning, Definitions, DynamicPartitionsDefinition, MaterializeResult,
                     MetadataValue, PreviewWarning, RunRequest, SensorResult, SkipReason, asset, multi_asset,
                     define_asset_job, in_process_executor, job, op, schedule, sensor)

from targetsync_core import commands
from targetsync_core.emit import files as F
from targetsync_core.errors import TargetSyncError
from targetsync_core.load.loader import LoadSettings
from targetsync_core.model import skt
from targetsync_core.model.schema import parse_table_name
from targetsync_dagster import tables as T
from targetsync_dagster.resources import DatabaseResource, RunDirectory

NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]*\Z")


@dataclass(frozen=True)
class SyncPair:
    """Everything one sync pair needs; see the module docstring for what it defines."""

    name: str
    source: DatabaseResource
    target: DatabaseResource
    run_dir: RunDirectory
    schedule: str | None = "0 2 * * *"
    max_partitions_per_run: int = 25
    description: str = ""
    owners: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    #: where the steps of the distributed sync run (``scale``): in_process, multiprocess
    #: or celery, and the environment variables holding Celery's broker and backend URLs
    executor: str = "in_process"
    celery_broker_env: str = "TARGETSYNC_CELERY_BROKER"
    celery_backend_env: str = "TARGETSYNC_CELERY_BACKEND"
    #: the Celery queue its steps go to (workers started with ``-q`` take them): pairs or
    #: deployments sharing a broker keep apart so
    celery_queue: str = "dagster"

    def __post_init__(self):
        from targetsync_dagster.scale import EXECUTORS
        if self.executor not in EXECUTORS:
            raise ValueError(f"a sync pair's executor must be one of {', '.join(EXECUTORS)}, not {self.executor!r}")
        if not NAME.match(self.name):
            raise ValueError(f"a sync pair's name must be letters, digits and _, starting with a letter, "
                             f"not {self.name!r}")

    def key(self, *parts: str) -> AssetKey:
        return AssetKey([self.name, *parts])

    @property
    def resource_keys(self) -> tuple[str, str, str]:
        return f"{self.name}_source", f"{self.name}_target", f"{self.name}_run_dir"


def celery_queue(pair: SyncPair) -> dict:
    """The tag sending a step to the pair's Celery queue (what workers started with ``-q``
    take; without a Celery executor it does nothing)."""
    return {"dagster-celery/queue": pair.celery_queue}


def _resources(pair: SyncPair, context) -> tuple:
    """The pair's source, target and run directory (None for one the step did not ask for)."""
    return tuple(getattr(context.resources, k, None) for k in pair.resource_keys)


def source_key_part(name: str) -> str:
    """The last part of a source table's asset key: its name where Dagster can make an
    asset's name of it (letters, digits, ``_``; the schema's ``.`` becomes ``_`` there),
    else the name with every other character as ``_`` and a digest of the name, so that two
    names made alike stay apart (``main.Mixed Case`` → ``main.Mixed_Case_3f9a1c``). The
    table's own name stays its partition key and its ``dagster/table_name``."""
    safe = re.sub(r"[^A-Za-z0-9_.]", "_", name)
    if safe == name:
        return name
    return f"{safe}_{hashlib.sha1(name.encode()).hexdigest()[:6]}"


def _listed_at_load(pair: SyncPair) -> list[str]:
    """The table list as the code location loads (no file yet: no source assets)."""
    try:
        return pair.run_dir.names()
    except TargetSyncError:
        return []


def _step(pair: SyncPair, context):
    """What a per-table step starts from: its partition keys (each refused unless listed),
    the run directory, the .skt's tables, both databases and the rename."""
    source, target, run_dir = _resources(pair, context)
    keys = list(context.partition_keys)
    T.check_listed(keys, run_dir.names(), run_dir.table_file)
    tables, by_name = _skt(run_dir, keys)
    return keys, run_dir, tables, by_name, source.open("source"), target.open("target"), run_dir.rename()


def _register(instance, partitions_name: str, names: list[str]) -> list[str]:
    """Add the listed tables that are not yet partitions; returns those added."""
    known = set(instance.get_dynamic_partitions(partitions_name))
    added = [x for x in names if x not in known]
    if added:
        instance.add_dynamic_partitions(partitions_name, added)
    return added


def _target_name(name: str, rename: dict[str, str]) -> str:
    schema, table = parse_table_name(name, "table list")
    return f"{rename.get(schema, schema)}.{table}"


def _skt(run_dir: RunDirectory, names: list[str]) -> tuple[list, dict]:
    tables = T.transient(lambda: skt.read(run_dir.skt_path))
    by_name = {t.qualified: t for t in tables}
    missing = [n for n in names if n not in by_name]
    if missing:
        raise T.refusal(f"{', '.join(missing)} is in the table list but not in {run_dir.skt_path}: "
                        "run the schema_migration job first")
    return tables, by_name


def build_sync_defs(pair: SyncPair) -> Definitions:
    """The pair's definitions (see the module docstring)."""
    with warnings.catch_warnings():   # backfill policies and partitioned checks are beta/preview in 1.13
        warnings.simplefilter("ignore", BetaWarning)
        warnings.simplefilter("ignore", PreviewWarning)
        return _build(pair)


def _build(pair: SyncPair) -> Definitions:
    n = pair.name
    src_key, tgt_key, dir_key = pair.resource_keys
    stype, ttype = pair.source.type, pair.target.type
    partitions = DynamicPartitionsDefinition(name=f"{n}_tables")
    common = {"group_name": n, "owners": list(pair.owners), "tags": dict(pair.tags)}
    about = pair.description or f"targetsync: {stype} → {ttype}"
    source_specs = [AssetSpec(pair.key("source", source_key_part(name)), kinds={stype}, description=f"{name} on the {stype} source",
                              metadata={"dagster/table_name": name}, **common)
                    for name in _listed_at_load(pair)]
    backfill = BackfillPolicy.multi_run(max_partitions_per_run=pair.max_partitions_per_run)

    # -- schema migration --
    @asset(key=pair.key("source_schema"), deps=source_specs, kinds={"targetsync", stype},
           required_resource_keys={src_key, dir_key},
           description=f"{about}. The listed source tables' schema, extracted to schema.skt.", **common)
    def source_schema(context):
        source, _, run_dir = _resources(pair, context)
        names = run_dir.names()
        tables = T.transient(lambda: commands.extract_schema(source.open("source"), names))
        run_dir.root.mkdir(parents=True, exist_ok=True)
        skt.write(run_dir.skt_path, tables)
        added = _register(context.instance, partitions.name, names)
        rows = "\n".join(f"| {t.qualified} | {len(t.columns)} | {', '.join(t.primary_key)} |" for t in tables)
        return MaterializeResult(metadata={
            "tables": len(tables), "columns": sum(len(t.columns) for t in tables), "partitions added": len(added),
            "table list": MetadataValue.md("| table | columns | key |\n|---|---|---|\n" + rows),
            "path": MetadataValue.path(str(run_dir.skt_path))})

    @asset(key=pair.key("target_ddl"), deps=[source_schema], kinds={"targetsync", ttype},
           required_resource_keys={dir_key}, description="c.sql, i.sql, f.sql and d.sql for the target.", **common)
    def target_ddl(context):
        run_dir = getattr(context.resources, dir_key)
        tables = T.transient(lambda: skt.read(run_dir.skt_path))
        ddl = T.transient(lambda: commands.target_ddl(ttype, tables, run_dir.rename()))
        run_dir.ddl_dir.mkdir(parents=True, exist_ok=True)
        for fname, text in ddl.items():
            (run_dir.ddl_dir / fname).write_text(text, encoding="utf-8")
        return MaterializeResult(metadata={
            "tables": len(tables), "dialect": ttype, "path": MetadataValue.path(str(run_dir.ddl_dir)),
            **{fname: MetadataValue.md(f"```sql\n{text}\n```") for fname, text in ddl.items()}})

    @asset(key=pair.key("target_tables"), deps=[target_ddl], kinds={"targetsync", ttype},
           required_resource_keys={tgt_key, dir_key},
           description="The target's tables exist: created where missing, checked against the .skt where not.",
           **common)
    def target_tables(context):
        _, target, run_dir = _resources(pair, context)
        tables = T.transient(lambda: skt.read(run_dir.skt_path))
        db = target.open("target")
        created = T.transient(lambda: commands.create_missing(db, ttype, tables, run_dir.rename()))
        return MaterializeResult(metadata={"created": MetadataValue.json([t.qualified for t in created]),
                                           "already there": len(tables) - len(created)})

    # -- per table --
    @asset(key=pair.key("table_emit"), partitions_def=partitions, deps=[target_tables, *source_specs],
           kinds={"targetsync", stype}, pool=f"targetsync_{n}_source", backfill_policy=backfill,
           required_resource_keys={src_key, tgt_key, dir_key}, op_tags=celery_queue(pair),
           description="Diff the partition's table window by window into change files; a re-executed "
                       "partition resumes after its last published window.", **common)
    def table_emit(context):
        keys, run_dir, tables, by_name, src_db, tgt_db, rename = _step(pair, context)

        events: queue.Queue = queue.Queue()

        def observe(name):
            return lambda meta: events.put(AssetObservation(asset_key=context.asset_key, partition=name,
                                                            metadata=meta))

        def work(name, threads):
            return T.emit_table(name, src_db, tgt_db, run_dir, tables, threads, observe(name),
                                run_dir.checkpoint_interval)

        done = yield from T.each_yielding(keys, run_dir.max_threads, work, events)
        metas = {}
        for e in done:
            metas[e.name] = T.emit_metadata(e, by_name[e.name], _target_name(e.name, rename))
            context.log.info(f"{e.name}: {T.changes_text(e.counts)} to apply, {e.counts.source_rows} source rows "
                             f"read{' (resumed)' if e.resumed else ''} ({e.seconds:.1f} s)")
        if len(keys) == 1:
            yield MaterializeResult(metadata=metas[keys[0]])
            return
        yield MaterializeResult(metadata={"tables": len(keys), T.STAGE: "range"})
        for k in keys:   # each partition's own result, the latest of its materializations
            yield AssetMaterialization(asset_key=context.asset_key, partition=k, metadata=metas[k])

    apply_key = pair.key("table_apply")
    check_spec = AssetCheckSpec(T.CHECK, asset=apply_key, partitions_def=partitions,
                                description="After apply, a validate of the partition's table finds no difference; "
                                            "the result names the table. Executed on its own it applies nothing.")

    # a multi-asset that can be subset: the check can run alone (validate only), and a step
    # of several tables records each one's check as its own event, with no summary result
    # (which, without a partition, would show as the check's latest: "Partition —")
    @multi_asset(specs=[AssetSpec(apply_key, deps=[table_emit], kinds={"targetsync", ttype},
                                  description="Apply the change files this run's table_emit published, then validate "
                                              "the table; a table that still differs fails its check and the step.",
                                  skippable=True, **common)],
                 check_specs=[check_spec], partitions_def=partitions, can_subset=True, pool=f"targetsync_{n}_target",
                 backfill_policy=backfill, required_resource_keys={src_key, tgt_key, dir_key}, name=f"{n}_table_apply",
                 op_tags=celery_queue(pair))
    def table_apply(context):
        keys, run_dir, tables, by_name, src_db, tgt_db, rename = _step(pair, context)
        if apply_key not in context.selected_asset_keys:   # the check alone: validate, apply nothing
            checked = T.transient(lambda: commands.make_emitter(src_db, tgt_db, keys, tables, rename,
                                                                run_dir.validate_settings()).run())
            for name, t in zip(keys, checked.tables):
                yield T.check_evaluation(apply_key, name, _target_name(name, rename), t.counts, True)
            return
        for k in keys:
            T.check_emitted(context.instance, context.run, pair.key("table_emit"), k, run_dir)
        # one after another: a target has one loader at a time (its lease)
        done = [T.apply_table(name, src_db, tgt_db, run_dir, tables) for name in keys]
        differ = []
        metas, evals = {}, {}
        for a in done:
            target_name = _target_name(a.name, rename)
            metas[a.name] = T.apply_metadata(a, by_name[a.name], target_name)
            evals[a.name] = T.check_evaluation(apply_key, a.name, target_name, a.check)
            context.log.info(f"{a.name}: +{a.per_op.get('inserts', 0)} ~{a.per_op.get('updates', 0)} "
                             f"-{a.per_op.get('deletes', 0)}, {a.check.changes} difference(s) after apply "
                             f"({a.seconds:.1f} s)")
            if a.check.changes:
                differ.append(f"{a.name} ({a.check.changes})")
        # first the step's own result, then each partition's (the latest of its events)
        yield MaterializeResult(asset_key=apply_key,
                                metadata=metas[keys[0]] if len(keys) == 1 else {"tables": len(keys), T.STAGE: "range"})
        for k in keys:
            if len(keys) > 1:
                yield AssetMaterialization(asset_key=apply_key, partition=k, metadata=metas[k])
            yield evals[k]
        if differ:
            raise T.refusal(f"still different after apply: {', '.join(differ)}; the source changed meanwhile, "
                            "or the target is written by someone else too: run the sync again", "differs")

    # -- jobs --
    schema_migration = define_asset_job(f"{n}_schema_migration", selection=[source_schema, target_ddl, target_tables],
                                        executor_def=in_process_executor,
                                        description="Extract the source schema, write the DDL, create missing tables.")
    from targetsync_dagster.scale import distributed_sync_job, executor
    table_sync = define_asset_job(f"{n}_table_sync", selection=AssetSelection.assets(table_emit, table_apply),
                                  executor_def=executor(pair.executor, pair.celery_broker_env,
                                                        pair.celery_backend_env),
                                  description="Emit and apply the chosen table partitions (a backfill runs "
                                              f"{pair.max_partitions_per_run} tables a run).")

    @op(required_resource_keys={src_key, tgt_key, dir_key}, name=f"{n}_sync_every_table", out={})
    def sync_every_table(context):
        """Every listed table in one emit, ordered over the foreign keys among them, and
        applied as it goes; then each is validated. Records each table's partition."""
        run_dir = _resources(pair, context)[2]
        names = run_dir.names()
        _register(context.instance, partitions.name, names)
        yield from sync_tables(context, pair, names, run_dir.full_dir)

    @job(name=f"{n}_full_sync", executor_def=in_process_executor,
         description="One click: every listed table, in one run, in an order that keeps the target's foreign "
                     "keys satisfied.")
    def full_sync():
        sync_every_table()

    @op(required_resource_keys={src_key, tgt_key, dir_key}, name=f"{n}_validate_every_table", out={})
    def validate_every_table(context):
        """Validate every listed table and record each one's check; apply nothing."""
        source, target, run_dir = _resources(pair, context)
        names = run_dir.names()
        tables, _ = _skt(run_dir, names)
        _register(context.instance, partitions.name, names)
        checked = T.transient(lambda: commands.make_emitter(source.open("source"), target.open("target"), names,
                                                            tables, run_dir.rename(),
                                                            run_dir.validate_settings()).run())
        differ = []
        rename = run_dir.rename()
        for name, t in zip(names, checked.tables):
            yield T.check_evaluation(apply_key, name, _target_name(name, rename), t.counts, True)
            context.log.info(f"{name}: {t.counts.changes} difference(s) ({T.changes_text(t.counts)} to apply)")
            if t.counts.changes:
                differ.append(f"{name} ({t.counts.changes})")
        if differ:
            raise T.refusal(f"{len(differ)} of {len(names)} table(s) differ: {', '.join(differ)}", "differs")

    @job(name=f"{n}_drift_report", executor_def=in_process_executor,
         description="Is the target still right? Validate every table, apply nothing.")
    def drift_report():
        validate_every_table()

    automation = []
    if pair.schedule:
        @schedule(job=full_sync, cron_schedule=pair.schedule, execution_timezone="UTC",
                  name=f"{n}_nightly_drift_repair", description="Drift repair: the full sync, on a cron.")
        def nightly(context):
            return RunRequest(run_key=context.scheduled_execution_time.strftime("%Y-%m-%dT%H:%M"))
        automation.append(nightly)

    @sensor(name=f"{n}_table_list_sensor", minimum_interval_seconds=60, required_resource_keys={dir_key},
            description="Table partitions follow the table list: new tables are added, departed ones removed.")
    def table_list_sensor(context):
        run_dir = getattr(context.resources, dir_key)
        listed = run_dir.names()
        known = context.instance.get_dynamic_partitions(partitions.name)
        new, gone = [x for x in listed if x not in known], [x for x in known if x not in listed]
        if not new and not gone:
            return SkipReason("the partitions are the table list's")
        requests = ([partitions.build_add_request(new)] if new else []) + \
                   ([partitions.build_delete_request(gone)] if gone else [])
        return SensorResult(dynamic_partitions_requests=requests)

    distributed = distributed_sync_job(pair, partitions)
    return Definitions(
        assets=[*source_specs, source_schema, target_ddl, target_tables, table_emit, table_apply],
        jobs=[schema_migration, table_sync, full_sync, distributed, drift_report], schedules=automation,
        sensors=[table_list_sensor],
        resources={src_key: pair.source, tgt_key: pair.target, dir_key: pair.run_dir})


def sync_tables(context, pair: SyncPair, names: list[str], d):
    """``names`` synced in one emit (ordered over the foreign keys among them) applied as
    it goes, its folders in ``d`` (resumed where an earlier step left them), then
    validated; yields each table's materializations and check."""
    source, target, run_dir = _resources(pair, context)
    tables, by_name = _skt(run_dir, names)
    src_db, tgt_db = source.open("source"), target.open("target")
    resume = (d / "emit").is_dir() and F.read_run(d / "emit") is not None and not (d / "emit" / F.DONE).exists()
    emitter = T.transient(lambda: commands.make_emitter(src_db, tgt_db, names, tables, run_dir.rename(),
                                                        run_dir.full_settings(resume, d)))
    result = T.transient(lambda: commands.sync_with(emitter, tables, LoadSettings(d / "emit", d / "done",
                                                                                  lease_wait=T.LEASE_WAIT)))
    checked = T.transient(lambda: commands.make_emitter(src_db, tgt_db, names, tables, run_dir.rename(),
                                                        run_dir.validate_settings()).run())
    yield from _record(context, pair, names, by_name, run_dir.rename(), result, checked)


def _record(context, pair: SyncPair, names, by_name, rename, result, checked):
    """A full sync's per-table results as each partition's materializations and check."""
    emit_key, apply_key = pair.key("table_emit"), pair.key("table_apply")
    applied = result.load.per_table
    differ, lines = [], []
    for name, emitted, valid in zip(names, result.emit.tables, checked.tables):
        target_name = _target_name(name, rename)
        meta = T.table_metadata(by_name[name], target_name)
        c = emitted.counts
        yield AssetMaterialization(asset_key=emit_key, partition=name, metadata={
            "inserts": c.inserts, "updates": c.updates, "deletes": c.deletes, "source rows": c.source_rows,
            "target rows (before)": c.target_rows, "windows": emitted.windows, "dagster/row_count": c.source_rows,
            **meta, T.STAGE: "complete", "targetsync/mode": "full sync"})
        done = applied.get(target_name, {})
        yield AssetMaterialization(asset_key=apply_key, partition=name, metadata={
            "applied records": sum(done.values()), "inserts": done.get("inserts", 0),
            "updates": done.get("updates", 0), "deletes": done.get("deletes", 0),
            "updates without a row": result.load.missed.get(target_name, 0),
            "differences after apply": valid.counts.changes, "target rows": valid.counts.target_rows,
            "dagster/row_count": valid.counts.target_rows, **meta,
            T.STAGE: T.COMPLETE if not valid.counts.changes else T.DIFFERS, "targetsync/mode": "full sync"})
        yield T.check_evaluation(apply_key, name, target_name, valid.counts)
        lines.append(f"{name}: {T.changes_text(c)}, {valid.counts.changes} difference(s) after apply")
        if valid.counts.changes:
            differ.append(f"{name} ({valid.counts.changes})")
    # one log line for the run (an event a table would cost as much as the table's sync)
    context.log.info(f"full sync of {len(names)} table(s):\n" + "\n".join(lines))
    if differ:
        raise T.refusal(f"still different after the full sync: {', '.join(differ)}; run it again", "differs")
