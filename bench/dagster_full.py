"""Dagster's full sync against the command line's, side by side (issue 19):
``python bench/dagster_full.py [--tables 200] [--rows 50] [--repeat 3] [--pairs sqlite,pg-maria]``.

For each pair it builds ``--tables`` small tables on the source and a drifted copy on the
target, then, ``--repeat`` times and alternating, puts the drifted target back and times
``targetsync sync`` and ``dagster job execute … -j demo_full_sync`` (a run as the UI or
the schedule launches it: its own process, start-up included). It prints every time, the
medians and the ratio Dagster / command line.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
BIN = Path(sys.executable).parent


def sqlite_side(d: Path, name: str, tables: int, rows: int, drifted: bool) -> str:
    conn = sqlite3.connect(d / f"{name}.db")
    for i in range(tables):
        conn.execute(f"CREATE TABLE t{i:03d} (id INTEGER NOT NULL PRIMARY KEY, v TEXT, n INT)")
        conn.executemany(f"INSERT INTO t{i:03d} VALUES (?, ?, ?)",
                         [(k, "old" if drifted and k % 9 == 0 else f"v{k}", k) for k in range(rows)
                          if not (drifted and k % 13 == 0)])
    conn.commit()
    conn.close()
    return f"sqlite:///{name}.db"


def server_sides(tables: int, rows: int) -> tuple[str, str, callable, callable]:
    import psycopg
    import pymysql
    name = "tsdag_" + uuid.uuid4().hex[:8]
    admin = psycopg.connect("postgresql://root@127.0.0.1:5432/test", autocommit=True)
    admin.execute(f'CREATE DATABASE "{name}"')
    with psycopg.connect(f"postgresql://root@127.0.0.1:5432/{name}", autocommit=True) as conn:
        for i in range(tables):
            conn.execute(f"CREATE TABLE t{i:03d} (id int PRIMARY KEY, v text, n int)")
            conn.execute(f"INSERT INTO t{i:03d} SELECT g, 'v' || g, g FROM generate_series(0, {rows - 1}) g")
    maria = pymysql.connect(host="127.0.0.1", user="root", autocommit=True)
    with maria.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")

    def reset():
        with maria.cursor() as cur:
            for i in range(tables):
                cur.execute(f"DROP TABLE IF EXISTS `{name}`.t{i:03d}")
                cur.execute(f"CREATE TABLE `{name}`.t{i:03d} (id INT PRIMARY KEY, v VARCHAR(40), n INT)")
                cur.execute(f"INSERT INTO `{name}`.t{i:03d} VALUES " + ",".join(
                    f"({k}, '{'old' if k % 9 == 0 else f'v{k}'}', {k})" for k in range(rows) if k % 13))

    def drop():
        with maria.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return f"postgresql://root@127.0.0.1:5432/{name}", f"mysql://root@127.0.0.1:3306/{name}", reset, drop


def prepare(d: Path, pair: str, tables: int, rows: int):
    d.mkdir(parents=True)
    names = [f"{'public' if pair == 'pg-maria' else 'main'}.t{i:03d}" for i in range(tables)]
    if pair == "sqlite":
        src = sqlite_side(d, "source", tables, rows, False)
        sqlite_side(d, "pristine", tables, rows, True)
        tgt = "sqlite:///target.db"

        def reset():
            shutil.copy(d / "pristine.db", d / "target.db")
        drop = (lambda: None)
        types, rename = ("sqlite", "sqlite"), ""
    else:
        src, tgt, reset, drop = server_sides(tables, rows)
        types, rename = ("postgres", "mariadb"), f"public:{tgt.rsplit('/', 1)[1]}"
    (d / "source.dsn").write_text(src + "\n")
    (d / "target.dsn").write_text(tgt + "\n")
    (d / "tables.txt").write_text("".join(n + "\n" for n in names))
    common = (f"sourceType={types[0]}\nsourceDsnFile=source.dsn\ntargetType={types[1]}\ntargetDsnFile=target.dsn\n"
              f"tableFile=tables.txt\nschemaFile=schema.skt\n" + (f"schemaRename={rename}\n" if rename else ""))
    (d / "schema.cfg").write_text(common + "outputDirectory=ddl\n")
    (d / "sync.cfg").write_text(common + "emitOutputDirectory=emit\ndoneDirectory=done\nwindowSize=10000\n"
                                "maxThreads=4\n")
    reset()
    subprocess.run([str(BIN / "targetsync"), "schema", "--config", str(d / "schema.cfg")], check=True,
                   capture_output=True)
    env = {**os.environ, "TARGETSYNC_RUN_DIR": str(d / "dagster-run"), "TARGETSYNC_TABLE_FILE": str(d / "tables.txt"),
           "TARGETSYNC_SOURCE_TYPE": types[0], "TARGETSYNC_TARGET_TYPE": types[1],
           "TARGETSYNC_SOURCE_DSN": src if pair != "sqlite" else "sqlite:///" + str(d / "source.db"),
           "TARGETSYNC_TARGET_DSN": tgt if pair != "sqlite" else "sqlite:///" + str(d / "target.db"),
           "TARGETSYNC_SCHEMA_RENAME": rename, "DAGSTER_HOME": str(d / "home"), "PYTHONPATH": str(ROOT)}
    (d / "home").mkdir()
    shutil.copy(ROOT / "dagster_home" / "dagster.yaml", d / "home" / "dagster.yaml")
    (d / "dagster-run").mkdir()
    shutil.copy(d / "schema.skt", d / "dagster-run" / "schema.skt")
    return reset, drop, env


def timed(cmd, env=None, cwd=None) -> float:
    t0 = time.monotonic()
    r = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{cmd[0]} failed: {(r.stdout + r.stderr)[-2000:]}")
    return time.monotonic() - t0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tables", type=int, default=200)
    ap.add_argument("--rows", type=int, default=50)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--pairs", default="sqlite,pg-maria")
    args = ap.parse_args(argv)
    for pair in args.pairs.split(","):
        work = Path(tempfile.mkdtemp(prefix=f"tsdag-{pair}-"))
        reset, drop, env = prepare(work / "run", pair, args.tables, args.rows)
        d = work / "run"
        cli, dag = [], []
        try:
            for _ in range(args.repeat):
                reset()
                shutil.rmtree(d / "emit", ignore_errors=True)
                shutil.rmtree(d / "done", ignore_errors=True)
                cli.append(timed([str(BIN / "targetsync"), "sync", "--config", str(d / "sync.cfg")]))
                reset()
                shutil.rmtree(d / "dagster-run" / "full", ignore_errors=True)
                dag.append(timed([str(BIN / "dagster"), "job", "execute", "-m", "targetsync_dagster.definitions",
                                  "-j", "demo_full_sync"], env=env, cwd=ROOT))
        finally:
            drop()
            shutil.rmtree(work, ignore_errors=True)
        c, g = statistics.median(cli), statistics.median(dag)
        print(f"{pair}, {args.tables} tables x {args.rows} rows: targetsync sync {c:.2f} s {[round(x, 2) for x in cli]}; "
              f"Dagster full_sync {g:.2f} s {[round(x, 2) for x in dag]}; Dagster / command line {g / c:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
