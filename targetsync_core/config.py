"""Configuration (SPEC 4): ``key=value`` files plus flags, checked before any database work.

Every key is declared once in :data:`KEYS` with its type, the commands that accept it and
those that require it. A config file's relative paths are taken relative to the file's
folder (a run directory can move as a whole); a flag's relative to the working directory.
Unknown keys, missing required keys, wrong types and contradictions raise ConfigError
naming the key.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

from targetsync_core.errors import ConfigError, read_user_file
from targetsync_core.model.schema import parse_table_name

SCHEMA, EMIT, VALIDATE, APPLY, SYNC = "schema", "emit", "validate", "apply", "sync"
DIFFING = {EMIT, VALIDATE, SYNC}
ALL = {SCHEMA, EMIT, VALIDATE, APPLY, SYNC}


@dataclass(frozen=True)
class Key:
    name: str
    type: str                      # str | path | bool | int | float | rename
    accepted: frozenset
    required: frozenset = frozenset()
    default: object = None
    help: str = ""


def _k(name, type_, accepted, required=(), default=None, help=""):
    return Key(name, type_, frozenset(accepted), frozenset(required), default, help)


KEYS: dict[str, Key] = {k.name: k for k in [
    _k("sourceType", "str", {SCHEMA} | DIFFING, {SCHEMA} | DIFFING, help="source database type"),
    _k("sourceDsnFile", "path", {SCHEMA} | DIFFING, {SCHEMA} | DIFFING, help="file holding the source DSN"),
    _k("targetType", "str", ALL, ALL, help="target database type"),
    _k("targetDsnFile", "path", ALL, DIFFING | {APPLY}, help="file holding the target DSN"),
    _k("tableFile", "path", {SCHEMA} | DIFFING, {SCHEMA} | DIFFING, help="one schema.table per line (source names)"),
    _k("schemaRename", "rename", {SCHEMA} | DIFFING, help="sourceSchema:targetSchema[,…]"),
    _k("schemaFile", "path", ALL, ALL, help="the .skt schema file"),
    _k("outputDirectory", "path", {SCHEMA}, {SCHEMA}, help="where c.sql i.sql f.sql d.sql go"),
    _k("gcpCredfile", "path", ALL, help="GCP credentials (Spanner, BigQuery)"),
    _k("targetSyncEmit", "bool", DIFFING, {EMIT}, help="true: write change files; false: validate only"),
    _k("emitOutputDirectory", "path", DIFFING, {EMIT, SYNC}, help="where N.ckt and CHANGE.DONE go"),
    _k("windowSize", "int", DIFFING, default=10_000, help="rows per diff window"),
    _k("maxThreads", "int", DIFFING | {APPLY}, default=4, help="concurrent table-windows / table applies (at most 64)"),
    _k("emitFileTargetMB", "float", DIFFING, default=64.0, help="target size of each N.ckt"),
    _k("logFile", "path", ALL, help="log file"),
    _k("checkpointDir", "path", DIFFING, help="where window plans are kept for resume"),
    _k("resume", "bool", DIFFING, default=False, help="continue an interrupted emit"),
    _k("floatTolerance", "float", DIFFING, default=0.0, help="relative/absolute tolerance for floats"),
    _k("cassandraPKHashValidation", "bool", DIFFING, default=True, help="Cassandra sources only"),
    _k("cassandraPKHashMemRows", "int", DIFFING, default=1_000_000, help="Cassandra sources only"),
    _k("cassandraSortMemRows", "int", DIFFING, default=1_000_000, help="Cassandra sources only"),
    _k("inputDirectory", "path", {APPLY, SYNC}, {APPLY}, help="the emitter's output directory"),
    _k("doneDirectory", "path", {APPLY, SYNC}, {APPLY, SYNC}, help="where applied files are moved"),
    _k("workDirectory", "path", {APPLY, SYNC}, help="scratch directory for the loader"),
    _k("hexEncoding", "bool", {APPLY, SYNC}, default=False, help="must be false"),
    _k("waitSeconds", "float", {APPLY}, help="give up after waiting this long for an emit run or its next file "
                                            "(default: wait as long as it takes)"),
    _k("awsBucket", "str", {APPLY, SYNC}, help="staging bucket (Firebolt, Databricks)"),
    _k("awsRegion", "str", {APPLY, SYNC}, help="staging bucket region"),
    _k("awsCredentialsFile", "path", {APPLY, SYNC}, help="AWS credentials file"),
]}


def read_file(path: str) -> list[tuple[str, str, str]]:
    """(key, raw value, where) for every setting in a config file (a UTF-8 byte-order
    mark at its start, as some editors write, is not part of the first key); a key set
    twice is refused naming both lines."""
    text = read_user_file(path, "config file").removeprefix("\ufeff")
    out = []
    seen: dict[str, int] = {}
    for n, line in enumerate(text.splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        key, eq, value = line.partition("=")
        key = key.strip()
        if not eq or not key:
            raise ConfigError(f"{path}:{n}: expected key=value")
        if key in seen:
            raise ConfigError(f"{path}:{n}: {key} is set twice (first on line {seen[key]}); keep one")
        seen[key] = n
        out.append((key, value.strip(), f"{path}:{n}"))
    return out


#: bounds of numeric settings beyond "greater than 0": the smallest emit file (about ten
#: bytes, one record a file: a smaller value is a slip), the most concurrent table-windows
#: (each takes a connection on each side)
MINIMUM = {"emitFileTargetMB": 0.00001}
MAXIMUM = {"maxThreads": 64, "waitSeconds": 10**9}
_WHOLE = re.compile(r"[0-9]+\Z")
_DECIMAL = re.compile(r"[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?\Z|[0-9]+\.\Z")


def _convert(key: Key, raw: str, where: str, base: Path):
    if key.type == "bool":
        low = raw.lower()
        if low not in ("true", "false"):
            raise ConfigError(f"{where}: {key.name} must be true or false, not {raw!r}")
        return low == "true"
    if key.type in ("int", "float"):
        # digits only: Python would also read 1_000, ' 5', 'inf' and 'nan'
        if not (_WHOLE if key.type == "int" else _DECIMAL).match(raw):
            kind = "a whole number" if key.type == "int" else "a number"
            raise ConfigError(f"{where}: {key.name} must be {kind}, not {raw!r}")
        value = int(raw) if key.type == "int" else float(raw)
        if not math.isfinite(value):
            raise ConfigError(f"{where}: {key.name} must be a finite number, not {raw!r}")
        if not value > 0 and not (key.name == "floatTolerance" and value == 0):
            raise ConfigError(f"{where}: {key.name} must be greater than 0")
        if value < MINIMUM.get(key.name, value):
            raise ConfigError(f"{where}: {key.name} must be at least {MINIMUM[key.name]}, not {raw}")
        if value > MAXIMUM.get(key.name, value):
            raise ConfigError(f"{where}: {key.name} must be at most {MAXIMUM[key.name]}, not {raw}")
        return value
    if not raw:
        raise ConfigError(f"{where}: {key.name} is empty")
    if key.type == "path":
        if "\x00" in raw:
            raise ConfigError(f"{where}: {key.name} holds a NUL byte: {raw!r}")
        try:
            p = Path(raw).expanduser()
        except RuntimeError:  # "~user" for a user this machine does not know
            raise ConfigError(f"{where}: {key.name} names the home of an unknown user: {raw!r}") from None
        return p if p.is_absolute() else base / p
    if key.type == "rename":
        return _rename(raw, where)
    return raw


def _rename(raw: str, where: str) -> dict[str, str]:
    out = {}
    for item in raw.split(","):
        src, colon, dst = item.strip().partition(":")
        if not colon or not src or not dst or ":" in dst:
            raise ConfigError(f"{where}: schemaRename must be sourceSchema:targetSchema[,…], not {item.strip()!r}")
        if src in out:
            raise ConfigError(f"{where}: schemaRename renames {src} twice ({src}:{out[src]} and {src}:{dst}); keep one")
        out[src] = dst
    return out


class Config(dict):
    """Checked settings of one command: ``cfg["windowSize"]`` with defaults filled in."""

    command: str


def build(command: str, file_items: list[tuple[str, str, str]], flag_items: dict[str, str],
          config_dir: Path, cwd: Path) -> Config:
    cfg = Config()
    cfg.command = command
    for name, raw, where, base in ([(k, v, w, config_dir) for k, v, w in file_items]
                                   + [(k, v, f"--{k}", cwd) for k, v in flag_items.items()]):
        key = KEYS.get(name)
        if key is None:
            raise ConfigError(f"{where}: unknown key {name!r}")
        if command not in key.accepted:
            raise ConfigError(f"{where}: key {name} does not apply to the {command} command")
        cfg[name] = _convert(key, raw, where, base)
    for key in KEYS.values():
        if command in key.accepted and key.name not in cfg:
            if command in key.required:
                raise ConfigError(f"missing required key {key.name} for the {command} command")
            cfg[key.name] = key.default
    _contradictions(cfg)
    return cfg


def _contradictions(cfg: Config) -> None:
    c = cfg.command
    if cfg.get("hexEncoding"):
        raise ConfigError("hexEncoding=true is not supported: change files base64-encode strings and binary")
    if cfg.get("resume") and not cfg.get("checkpointDir"):
        raise ConfigError("resume=true needs checkpointDir (where the window plans are kept)")
    if c == SYNC and cfg.get("targetSyncEmit") is False:
        raise ConfigError("targetSyncEmit=false contradicts the sync command, which emits")
    if c == SYNC:
        out, inp = cfg["emitOutputDirectory"], cfg.get("inputDirectory")
        if inp is not None and inp.resolve() != out.resolve():
            raise ConfigError("inputDirectory must equal emitOutputDirectory for sync (or be left out)")
        cfg["inputDirectory"] = out
    if c in (APPLY, SYNC) and cfg["doneDirectory"].resolve() == cfg["inputDirectory"].resolve():
        raise ConfigError("doneDirectory must differ from inputDirectory")
    if c in DIFFING and cfg["windowSize"] != int(cfg["windowSize"]):
        raise ConfigError("windowSize must be a whole number")


def read_table_list(path: Path) -> list[str]:
    """The table file: one ``schema.table`` per line, ``#`` comments; duplicates refused."""
    lines = read_user_file(path, "tableFile").splitlines()
    names: list[str] = []
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        schema, table = parse_table_name(line, f"{path}:{n}")
        name = f"{schema}.{table}"
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
            raise ConfigError(f"{path}:{n}: table name {name!r} holds a control character (a TAB?); "
                              "change files cannot name it")
        if name in names:
            raise ConfigError(f"{path}:{n}: table {name} is listed twice")
        names.append(name)
    if not names:
        raise ConfigError(f"tableFile {path} lists no tables")
    return names
