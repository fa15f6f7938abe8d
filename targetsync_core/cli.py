"""``targetsync``: one command, a subcommand per stage (SPEC 4), exit codes of SPEC 8.

0 done / in sync, 1 differences found (validate), 2 usage or configuration error,
3 runtime failure. An error prints one line naming the culprit; ``--debug`` adds the
traceback.
"""
from __future__ import annotations

import argparse
import logging
import sys
import traceback
from pathlib import Path

from targetsync_core import commands, config
from targetsync_core.dsn import scrub
from targetsync_core.errors import ConfigError, TargetSyncError
from targetsync_core.logs import setup as setup_logging
from targetsync_core.progress import Progress

log = logging.getLogger("targetsync")


class _Parser(argparse.ArgumentParser):
    def error(self, message):
        raise ConfigError(message)


def _parser() -> argparse.ArgumentParser:
    top = _Parser(prog="targetsync", description="Make target tables equal to source tables in one shot.",
                  allow_abbrev=False)
    sub = top.add_subparsers(dest="command", required=True, parser_class=_Parser)
    helps = {"schema": "extract the source schema (.skt) and write target DDL",
             "emit": "diff every table and write N.ckt change files",
             "validate": "report per-table differences; exit 1 when any differ",
             "apply": "apply N.ckt change files to the target",
             "sync": "emit and apply together"}
    for name, text in helps.items():
        p = sub.add_parser(name, help=text, description=text, allow_abbrev=False)
        p.add_argument("--config", help="key=value config file")
        p.add_argument("--debug", action="store_true", help="show tracebacks")
        if name == "schema":
            p.add_argument("--apply", action="store_true", help="run c.sql, i.sql and f.sql on the target")
        for key in config.KEYS.values():
            if name in key.accepted:
                p.add_argument(f"--{key.name}", dest=f"key_{key.name}", metavar="VALUE", help=key.help)
    demo = sub.add_parser("demo", help="sync a generated SQLite pair with drift and print what changed")
    demo.add_argument("--dir", default="demo-run", help="run directory to create (default demo-run)")
    demo.add_argument("--rows", type=int, default=5000)
    demo.add_argument("--debug", action="store_true")
    return top


def load_config(args) -> config.Config:
    items = config.read_file(args.config) if args.config else []
    base = Path(args.config).resolve().parent if args.config else Path.cwd()
    flags = {k[4:]: v for k, v in vars(args).items() if k.startswith("key_") and v is not None}
    return config.build(args.command, items, flags, base, Path.cwd())


TABLE_HEAD = ("table", "source rows", "target rows", "inserts", "updates", "deletes")


def print_table_report(rows: list[tuple], out=None, head: tuple = TABLE_HEAD) -> None:
    out = out or sys.stdout
    cells = [head] + [tuple(f"{c:,}" if isinstance(c, int) else str(c) for c in r) for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(head))]
    for r in cells:
        out.write("  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))) + "\n")


def _missed(load) -> str:
    n = sum(load.missed.values())
    return f"; {n:,} update(s) found no row (the target lost them after the emit; sync again)" if n else ""


def _emit_rows(summary) -> list[tuple]:
    return [(t.name, t.counts.source_rows, t.counts.target_rows, t.counts.inserts, t.counts.updates,
             t.counts.deletes) for t in summary.tables]


def _run(args) -> int:
    if args.command == "demo":
        from targetsync_core.demo import run_demo
        setup_logging(None, args.debug).setLevel(logging.WARNING)
        return run_demo(Path(args.dir), args.rows)
    cfg = load_config(args)
    handler = setup_logging(cfg.get("logFile"), args.debug)
    progress = Progress(args.command)
    handler.progress = progress
    try:
        return _dispatch(args, cfg, progress)
    finally:
        handler.progress = None


def _dispatch(args, cfg, progress) -> int:
    cmd = args.command
    if cmd == "schema":
        names = commands.run_schema(cfg, args.apply)
        print(f"schema: {len(names)} table(s) written to {cfg['schemaFile']}; DDL in {cfg['outputDirectory']}"
              + ("; applied to the target" if args.apply else ""))
        return 0
    if cmd == "apply":
        s = commands.run_apply(cfg, progress)
        progress.close()
        print(f"apply: {s.files} file(s), {s.records:,} record(s) in {s.seconds:.1f}s{_missed(s)}")
        return 0
    if cmd == "sync":
        s = commands.run_sync(cfg, progress)
        progress.close()
        print_table_report(_emit_rows(s.emit))
        print(f"sync: {s.emit.files} file(s), {s.load.records:,} record(s) applied in {s.emit.seconds:.1f}s"
              f"{_missed(s.load)}")
        return 0
    write = cmd == "emit" and cfg.get("targetSyncEmit") is True
    s = commands.run_emit(cfg, write, progress)
    progress.close()
    print_table_report(_emit_rows(s))
    if write:
        print(f"emit: {s.files} file(s), {s.records:,} record(s), {s.bytes:,} bytes in {s.seconds:.1f}s")
        return 0
    print(f"validate: {s.changes:,} difference(s) in {len(s.tables)} table(s) "
          f"({sum(1 for t in s.tables if t.counts.changes)} differ)")
    return 1 if s.changes else 0


def main(argv: list[str] | None = None) -> int:
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    try:
        args = _parser().parse_args(argv)
        return _run(args)
    except TargetSyncError as exc:
        if debug:
            traceback.print_exc()
        print(f"targetsync: {scrub(str(exc))}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("targetsync: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # a bug or an untranslated driver error: still one line
        if debug:
            traceback.print_exc()
        print(f"targetsync: unexpected {type(exc).__name__}: {scrub(str(exc))} (rerun with --debug)",
              file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
