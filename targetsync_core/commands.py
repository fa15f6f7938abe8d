"""The stages as functions, at two levels, printing nothing and raising TargetSyncError:

* over databases and tables (``extract_schema``, ``make_emitter``, ``apply_changes``…):
  what the Dagster layer calls;
* over a checked :class:`~targetsync_core.config.Config` (``run_emit``, ``run_sync``…):
  what the command line calls.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, replace
from pathlib import Path

from targetsync_core.adapters.base import Database
from targetsync_core.adapters.registry import adapter_class, open_database
from targetsync_core.config import Config, read_table_list
from targetsync_core.dsn import read_dsn_file
from targetsync_core.emit.emitter import EmitSettings, EmitSummary, Emitter, prepare_pairs
from targetsync_core.emit.unordered import SortSettings
from targetsync_core.errors import ConfigError, SchemaMismatch
from targetsync_core.load.loader import LoadSettings, LoadSummary, Loader
from targetsync_core.model import skt
from targetsync_core.model.schema import Table, check_same_shape, parse_table_name

log = logging.getLogger("targetsync")


def open_source(cfg: Config) -> Database:
    return open_database(cfg["sourceType"], read_dsn_file(str(cfg["sourceDsnFile"]), "sourceDsnFile"),
                         "sourceType", "source")


def open_target(cfg: Config) -> Database:
    """The target; ``gcpCredfile`` reaches its adapter with the DSN (``Dsn.credentials_file``)."""
    dsn = read_dsn_file(str(cfg["targetDsnFile"]), "targetDsnFile")
    if cfg.get("gcpCredfile"):
        dsn = replace(dsn, credentials_file=str(cfg["gcpCredfile"]))
    return open_database(cfg["targetType"], dsn, "targetType", "target")


def emit_settings(cfg: Config, write: bool) -> EmitSettings:
    return EmitSettings(
        window_size=int(cfg["windowSize"]), max_threads=int(cfg["maxThreads"]),
        file_target_bytes=max(1, int(cfg["emitFileTargetMB"] * 1024 * 1024)),
        output_dir=cfg["emitOutputDirectory"] if write else None,
        checkpoint_dir=cfg.get("checkpointDir") if write else None,
        resume=bool(cfg.get("resume")) and write, float_tolerance=float(cfg.get("floatTolerance") or 0.0),
        sorting=SortSettings(pk_hash=bool(cfg["cassandraPKHashValidation"]),
                             pk_hash_mem_rows=int(cfg["cassandraPKHashMemRows"]),
                             sort_mem_rows=int(cfg["cassandraSortMemRows"])))


# ---- over databases and tables ------------------------------------------------------------

def extract_schema(source: Database, names: list[str]) -> list[Table]:
    """The listed source tables in canonical types; each must exist and have a key."""
    tables = []
    for name in names:
        schema, table_name = parse_table_name(name, "table list")
        table = source.reflect(schema, table_name)
        if table is None:
            raise SchemaMismatch(f"source table {name} not found")
        table.check_keyed()
        tables.append(table)
    return tables


def target_ddl(target_type: str, tables: list[Table], rename: dict[str, str]) -> dict[str, str]:
    """c.sql, i.sql, f.sql, d.sql creating ``tables`` (renamed) on a ``target_type``."""
    renamed = [t.with_rename(rename) for t in tables]
    return adapter_class(target_type, "targetType", "target").generate_ddl(renamed)


def apply_ddl(target: Database, ddl: dict[str, str]) -> None:
    for fname in ("c.sql", "i.sql", "f.sql"):
        target.execute_script(ddl[fname])


def create_missing(target: Database, target_type: str, tables: list[Table], rename: dict[str, str]) -> list[Table]:
    """Create the tables (renamed) that the target lacks, with c/i/f.sql for those only,
    after checking each one it has against the .skt (a mismatch is refused naming the
    column, before anything is created). Returns the tables created. A rerun after a
    failure creates what is still missing: PostgreSQL runs each script in a transaction,
    the MySQL family commits each DDL statement on its own."""
    missing = []
    for t in tables:
        renamed = t.with_rename(rename)
        live = target.shape(renamed.schema, renamed.name)
        if live is None:
            missing.append(t)
        else:
            check_same_shape(renamed, live, "target", target.stored_as)
    if missing:
        apply_ddl(target, target_ddl(target_type, missing, rename))
    return missing


def make_emitter(source: Database, target: Database, names: list[str], tables: list[Table],
                 rename: dict[str, str], settings: EmitSettings, progress=None, on_window=None) -> Emitter:
    """An emitter (or, without an output directory, a validator) over the listed tables,
    after every check of them against the .skt and both live databases."""
    pairs = prepare_pairs(names, tables, source, target, rename, settings.float_tolerance,
                          ordered=settings.output_dir is not None)
    check_connections(settings.max_threads, source, target)
    return Emitter(pairs, source, target, settings, progress, on_window)


def check_connections(max_threads: int, source: Database, target: Database) -> None:
    """Refuse a ``maxThreads`` that would take more connections than a server has room
    for: each table-window reads on one connection a side, and the run holds a couple
    more (its pool, the loader). Both sides on one server count twice."""
    same = source.server() is not None and source.server() == target.server()
    for side, db in (("source", source), ("target", target)):
        room = db.connection_room()
        if room is None:
            continue
        allowed, used = room
        need = (max_threads + 2) * (2 if same else 1)
        if need > allowed - used:
            raise ConfigError(f"maxThreads={max_threads} needs about {need} connections to the {side}, "
                              f"{db.identity()}, which allows {allowed} with {used} open: lower maxThreads "
                              "(or raise the server's max_connections)")
        if same:
            return


def apply_changes(target: Database, tables: list[Table], settings: LoadSettings, progress=None,
                  should_stop=None) -> LoadSummary:
    return Loader(target, tables, settings, progress, should_stop).run()


# ---- over a config -------------------------------------------------------------------------

def build_emitter(cfg: Config, write: bool, progress=None, on_window=None) -> Emitter:
    """Everything checked (config, DSNs, tables, .skt against both live sides) and ready."""
    return make_emitter(open_source(cfg), open_target(cfg), read_table_list(cfg["tableFile"]),
                        skt.read(cfg["schemaFile"]), cfg.get("schemaRename") or {}, emit_settings(cfg, write),
                        progress, on_window)


def run_emit(cfg: Config, write: bool = True, progress=None, on_window=None) -> EmitSummary:
    emitter = build_emitter(cfg, write, progress, on_window)
    emitter.prepare()
    summary = emitter.run()
    if write:
        log.info("target-sync emit complete: %d CKT file(s) (%d records, %d bytes, %d tables) + CHANGE.DONE",
                 summary.files, summary.records, summary.bytes, len(summary.tables))
    return summary


def load_settings(cfg: Config) -> LoadSettings:
    return LoadSettings(input_dir=cfg["inputDirectory"], done_dir=cfg["doneDirectory"],
                        wait_seconds=cfg.get("waitSeconds"))


def run_apply(cfg: Config, progress=None) -> LoadSummary:
    return apply_changes(open_target(cfg), skt.read(cfg["schemaFile"]), load_settings(cfg), progress)


@dataclass
class SyncSummary:
    emit: EmitSummary
    load: LoadSummary


def run_sync(cfg: Config, progress=None) -> SyncSummary:
    """Emit in a thread while the loader drains files in this one (SPEC 1, sync)."""
    emitter = build_emitter(cfg, True, progress)
    return sync_with(emitter, skt.read(cfg["schemaFile"]), load_settings(cfg))


def sync_with(emitter: Emitter, tables: list[Table], settings: LoadSettings) -> SyncSummary:
    """Run ``emitter`` (prepared here) in a thread while a loader applies its files to
    the emitter's target in this one; the loader stops when the emitter fails."""
    emitter.prepare()
    result: dict = {}

    def emit():
        try:
            result["emit"] = emitter.run()
            log.info("target-sync emit complete: %d CKT file(s) (%d records, %d bytes, %d tables) + CHANGE.DONE",
                     result["emit"].files, result["emit"].records, result["emit"].bytes, len(result["emit"].tables))
        except BaseException as exc:  # handed to the main thread below
            result["error"] = exc

    thread = threading.Thread(target=emit, name="emitter", daemon=True)
    thread.start()
    try:
        load = apply_changes(emitter.target, tables, settings, should_stop=lambda: "error" in result)
    except BaseException:
        emitter.cancel()
        thread.join()
        raise
    thread.join()
    if "error" in result:
        raise result["error"]
    return SyncSummary(result["emit"], load)


def run_schema(cfg: Config, apply: bool) -> list[str]:
    """Extract the source schema to the .skt and write c/i/f/d.sql; with ``apply`` run
    c, i and f on the target. Returns the tables written."""
    if apply and not cfg.get("targetDsnFile"):
        raise ConfigError("schema --apply needs targetDsnFile")
    tables = extract_schema(open_source(cfg), read_table_list(cfg["tableFile"]))
    skt.write(cfg["schemaFile"], tables)
    ddl = target_ddl(cfg["targetType"], tables, cfg.get("schemaRename") or {})
    out: Path = cfg["outputDirectory"]
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in ddl.items():
        (out / fname).write_text(text, encoding="utf-8")
    if apply:
        present = len(tables) - len(create_missing(open_target(cfg), cfg["targetType"], tables,
                                                   cfg.get("schemaRename") or {}))
        if present:
            log.info("schema: %d table(s) already on the target, checked against the schema file", present)
    return [t.qualified for t in tables]
