"""The stages as functions over a checked :class:`~targetsync_core.config.Config`.

The command line and the Dagster layer both call these; they return summaries and raise
TargetSyncError subclasses, printing nothing themselves.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from targetsync_core.adapters.base import Database
from targetsync_core.adapters.registry import adapter_class, open_database
from targetsync_core.config import Config, read_table_list
from targetsync_core.dsn import read_dsn_file
from targetsync_core.emit.emitter import EmitSettings, EmitSummary, Emitter, prepare_pairs
from targetsync_core.errors import ConfigError, SchemaMismatch
from targetsync_core.load.loader import LoadSettings, LoadSummary, Loader
from targetsync_core.model import skt
from targetsync_core.model.schema import parse_table_name

log = logging.getLogger("targetsync")


def open_source(cfg: Config) -> Database:
    return open_database(cfg["sourceType"], read_dsn_file(str(cfg["sourceDsnFile"]), "sourceDsnFile"),
                         "sourceType", "source")


def open_target(cfg: Config) -> Database:
    return open_database(cfg["targetType"], read_dsn_file(str(cfg["targetDsnFile"]), "targetDsnFile"),
                         "targetType", "target")


def emit_settings(cfg: Config, write: bool) -> EmitSettings:
    return EmitSettings(
        window_size=int(cfg["windowSize"]), max_threads=int(cfg["maxThreads"]),
        file_target_bytes=max(1, int(cfg["emitFileTargetMB"] * 1024 * 1024)),
        output_dir=cfg["emitOutputDirectory"] if write else None,
        checkpoint_dir=cfg.get("checkpointDir") if write else None,
        resume=bool(cfg.get("resume")) and write, float_tolerance=float(cfg.get("floatTolerance") or 0.0))


def build_emitter(cfg: Config, write: bool, progress=None, on_window=None) -> Emitter:
    """Everything checked (config, DSNs, tables, .skt against both live sides) and ready."""
    names = read_table_list(cfg["tableFile"])
    tables = skt.read(cfg["schemaFile"])
    source, target = open_source(cfg), open_target(cfg)
    pairs = prepare_pairs(names, tables, source, target, cfg.get("schemaRename") or {},
                          float(cfg.get("floatTolerance") or 0.0))
    return Emitter(pairs, source, target, emit_settings(cfg, write), progress, on_window)


def run_emit(cfg: Config, write: bool = True, progress=None, on_window=None) -> EmitSummary:
    emitter = build_emitter(cfg, write, progress, on_window)
    emitter.prepare()
    summary = emitter.run()
    if write:
        log.info("target-sync emit complete: %d CKT file(s) (%d records, %d bytes, %d tables) + CHANGE.DONE",
                 summary.files, summary.records, summary.bytes, len(summary.tables))
    return summary


def load_settings(cfg: Config) -> LoadSettings:
    return LoadSettings(input_dir=cfg["inputDirectory"], done_dir=cfg["doneDirectory"])


def run_apply(cfg: Config, progress=None) -> LoadSummary:
    target = open_target(cfg)
    tables = skt.read(cfg["schemaFile"])
    return Loader(target, tables, load_settings(cfg), progress).run()


@dataclass
class SyncSummary:
    emit: EmitSummary
    load: LoadSummary


def run_sync(cfg: Config, progress=None) -> SyncSummary:
    """Emit in a thread while the loader drains files in this one (SPEC 1, sync)."""
    emitter = build_emitter(cfg, True, progress)
    emitter.prepare()
    result: dict = {}

    def emit():
        try:
            result["emit"] = emitter.run()
            log.info("target-sync emit complete: %d CKT file(s) (%d records, %d bytes, %d tables) + CHANGE.DONE",
                     result["emit"].files, result["emit"].records, result["emit"].bytes, len(emitter.pairs))
        except BaseException as exc:  # handed to the main thread below
            result["error"] = exc

    thread = threading.Thread(target=emit, name="emitter", daemon=True)
    thread.start()
    loader = Loader(emitter.target, skt.read(cfg["schemaFile"]), load_settings(cfg),
                    should_stop=lambda: "error" in result)
    try:
        load = loader.run()
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
    names = read_table_list(cfg["tableFile"])
    source = open_source(cfg)
    tables = []
    for name in names:
        schema, table_name = parse_table_name(name, str(cfg["tableFile"]))
        table = source.reflect(schema, table_name)
        if table is None:
            raise SchemaMismatch(f"source table {name} not found")
        table.check_keyed()
        tables.append(table)
    skt.write(cfg["schemaFile"], tables)
    rename = cfg.get("schemaRename") or {}
    target_tables = [t.renamed(rename.get(t.schema, t.schema)) for t in tables]
    ddl = adapter_class(cfg["targetType"], "targetType", "target").generate_ddl(target_tables)
    out: Path = cfg["outputDirectory"]
    out.mkdir(parents=True, exist_ok=True)
    for fname, text in ddl.items():
        (out / fname).write_text(text, encoding="utf-8")
    if apply:
        if not cfg.get("targetDsnFile"):
            raise ConfigError("schema --apply needs targetDsnFile")
        target = open_target(cfg)
        for fname in ("c.sql", "i.sql", "f.sql"):
            target.execute_script(ddl[fname])
    return [t.qualified for t in tables]
