"""Benchmark data: one 6-column table, N source rows, and a target with drift.

Rows are deterministic functions of the key so every engine produces the same values:
ids are even (2k), ``a`` an int, ``b`` a 32-char md5 text, ``c`` numeric(12,2), ``d`` a
timestamp, ``e`` a double. Drift of p% is scattered through the key space by a
multiplicative hash, split evenly into updates (``a`` changed), deletes (rows missing in
the target) and target-only inserts (odd ids between source ids).

The drifted target is also kept as ``items_orig`` so a run that applies changes can be
reset (``reset``) without regenerating.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import sqlite3

SPREAD = "((k * 2654435761) % 10000)"   # 0..9999, scattered through the key space


def _cuts(drift_pct: float) -> tuple[int, int, int]:
    per = int(round(drift_pct * 100))   # out of 10000
    return per // 3, 2 * per // 3, per


def pg_sql(n: int, drift_pct: float, side: str) -> str:
    u, d, i = _cuts(drift_pct)
    row = ("2*k, (2*k) % 1000 {bump}, md5((2*k)::text), ((2*k) % 100000) / 100.0, "
           "timestamp '2020-01-01' + (2*k) * interval '1 second', (2*k) * 0.25")
    src = f"SELECT {row.format(bump='')} FROM generate_series(1, {n}) k"
    if side == "source":
        return f"INSERT INTO items {src};"
    tgt = (f"SELECT {row.format(bump=f'+ CASE WHEN {SPREAD} < {u} THEN 1 ELSE 0 END')} FROM generate_series(1, {n}) k "
           f"WHERE NOT ({SPREAD} >= {u} AND {SPREAD} < {d})")
    extra = (f"SELECT 2*k+1, 7, md5((2*k+1)::text), 1.5, timestamp '2020-01-01', 0.5 FROM generate_series(1, {n}) k "
             f"WHERE {SPREAD} >= {d} AND {SPREAD} < {i}")
    return f"INSERT INTO items {tgt}; INSERT INTO items {extra};"


def maria_sql(n: int, drift_pct: float, side: str) -> str:
    u, d, i = _cuts(drift_pct)
    row = ("2*seq, (2*seq) % 1000 {bump}, md5(2*seq), ((2*seq) % 100000) / 100.0, "
           "TIMESTAMPADD(SECOND, 2*seq, '2020-01-01 00:00:00'), (2*seq) * 0.25")
    spread = SPREAD.replace("k", "seq")
    src = f"SELECT {row.format(bump='')} FROM seq_1_to_{n}"
    if side == "source":
        return f"INSERT INTO items {src}"
    tgt = (f"SELECT {row.format(bump=f'+ CASE WHEN {spread} < {u} THEN 1 ELSE 0 END')} FROM seq_1_to_{n} "
           f"WHERE NOT ({spread} >= {u} AND {spread} < {d})")
    extra = (f"SELECT 2*seq+1, 7, md5(2*seq+1), 1.5, '2020-01-01 00:00:00', 0.5 FROM seq_1_to_{n} "
             f"WHERE {spread} >= {d} AND {spread} < {i}")
    return f"INSERT INTO items {tgt};\nINSERT INTO items {extra}"


def sqlite_rows(n: int, drift_pct: float, side: str):
    u, d, i = _cuts(drift_pct)
    t0 = dt.datetime(2020, 1, 1)
    for k in range(1, n + 1):
        key, h = 2 * k, (k * 2654435761) % 10000
        if side == "target" and u <= h < d:
            continue
        bump = 1 if side == "target" and h < u else 0
        yield (key, key % 1000 + bump, hashlib.md5(str(key).encode()).hexdigest(), f"{key % 100000 / 100:.2f}",
               (t0 + dt.timedelta(seconds=key)).isoformat(sep=" "), key * 0.25)
        if side == "target" and d <= h < i:
            yield (key + 1, 7, hashlib.md5(str(key + 1).encode()).hexdigest(), "1.50", t0.isoformat(sep=" "), 0.5)


PG_DDL = ("CREATE TABLE items (id bigint PRIMARY KEY, a integer, b varchar(40), c numeric(12,2), "
          "d timestamp(6), e double precision)")
MARIA_DDL = ("CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, a INT, b VARCHAR(40), c DECIMAL(12,2), "
             "d DATETIME(6), e DOUBLE) CHARACTER SET utf8mb4")
SQLITE_DDL = ("CREATE TABLE items (id BIGINT NOT NULL PRIMARY KEY, a INT, b VARCHAR(40), c DECIMAL TEXT(12,2), "
              "d TIMESTAMP(6), e DOUBLE)")


def build(kind: str, conn_info, n: int, drift_pct: float, side: str) -> None:
    """(Re)create ``items`` (and for the target ``items_orig``) with generated rows."""
    if kind == "postgres":
        import psycopg
        with psycopg.connect(conn_info, autocommit=True) as c:
            c.execute("DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS items_orig")
            c.execute(PG_DDL)
            c.execute(pg_sql(n, drift_pct, side))
            c.execute("VACUUM ANALYZE items")
            if side == "target":
                c.execute("CREATE TABLE items_orig AS SELECT * FROM items")
    elif kind in ("mariadb", "mysql"):
        conn = _maria(conn_info)
        with conn.cursor() as cur:
            cur.execute("DROP TABLE IF EXISTS items")
            cur.execute("DROP TABLE IF EXISTS items_orig")
            cur.execute(MARIA_DDL)
            for stmt in maria_sql(n, drift_pct, side).split(";\n"):
                cur.execute(stmt)
            if side == "target":
                cur.execute("CREATE TABLE items_orig AS SELECT * FROM items")
        conn.commit()
        conn.close()
    else:
        conn = sqlite3.connect(conn_info)
        conn.executescript("DROP TABLE IF EXISTS items; DROP TABLE IF EXISTS items_orig; " + SQLITE_DDL)
        conn.executemany("INSERT INTO items VALUES (?,?,?,?,?,?)", sqlite_rows(n, drift_pct, side))
        if side == "target":
            conn.execute("CREATE TABLE items_orig AS SELECT * FROM items")
        conn.commit()
        conn.close()


def reset(kind: str, conn_info) -> None:
    """Put the drifted target back (after an apply or a sync changed it), in the state
    :func:`build` leaves it: on PostgreSQL vacuumed and analyzed, so the next repeat does
    not pay for setting hint bits and the visibility map (or race autovacuum) while it is
    timed, which the first repeat did not."""
    if kind == "postgres":
        import psycopg
        with psycopg.connect(conn_info, autocommit=True) as c:
            c.execute("TRUNCATE items; INSERT INTO items SELECT * FROM items_orig; DROP SCHEMA IF EXISTS _targetsync CASCADE")
            c.execute("VACUUM ANALYZE items")
    elif kind in ("mariadb", "mysql"):
        conn = _maria(conn_info)
        with conn.cursor() as cur:
            for stmt in ("TRUNCATE items", "INSERT INTO items SELECT * FROM items_orig",
                         "DROP TABLE IF EXISTS _targetsync_applied", "DROP TABLE IF EXISTS _targetsync_lease"):
                cur.execute(stmt)
        conn.commit()
        conn.close()
    else:
        conn = sqlite3.connect(conn_info)
        conn.executescript("DELETE FROM items; INSERT INTO items SELECT * FROM items_orig; "
                           "DROP TABLE IF EXISTS _targetsync_applied; DROP TABLE IF EXISTS _targetsync_lease;")
        conn.close()


def _maria(db: str):
    import pymysql
    return pymysql.connect(host="127.0.0.1", port=3306, user="root", password="", database=db, autocommit=False)
