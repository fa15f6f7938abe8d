"""Targets that enforce foreign keys (issue 18, section 1).

A schema of nine tables: chains of parents and children (artist → album → track →
invoice_line ← invoice ← customer → employee), a self-reference (employee.reports_to) and a
two-table cycle (department.head_id → person, person.dept_id → department). The table list
names children first. ``schema --apply`` migrates it into an empty target under a renamed
schema, foreign keys included; the first sync fills it; then the source drifts (parents
deleted with their children, new parents with new children, children moved between
parents, a manager replaced by a new one with a higher id, the cycle's rows swapped) and a
second sync repairs the target. Files are cut every few records, so parents and children
land in different files and windows.

Afterwards the target equals the source (read raw), a validate finds nothing, every
constraint is in place and valid (PostgreSQL: ``convalidated``; MariaDB: it exists, no row
breaks it, and an orphan insert is still refused).
"""
from __future__ import annotations

from decimal import Decimal

import pytest

from targetsync_core.cli import main
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import ALL_BACKENDS, BACKENDS, write_configs

SOURCES = ["sqlite", "postgres", "mariadb", "mysql"]
TARGETS = ["postgres", "mariadb"]
PAIRS = ([(s, t) for s in SOURCES for t in TARGETS] + [(s, k) for s in ("sqlite", "postgres") for k in ("oracle", "sqlserver")]
         + [("sqlite", "spanner")])

#: table: (columns after the key, foreign keys as (column, parent table))
SCHEMA = {
    "artist": (["name VARCHAR(100)"], []),
    "album": (["title VARCHAR(100) NOT NULL", "artist_id INTEGER NOT NULL"], [("artist_id", "artist")]),
    "track": (["name VARCHAR(100)", "album_id INTEGER"], [("album_id", "album")]),
    "employee": (["name VARCHAR(100)", "reports_to INTEGER"], [("reports_to", "employee")]),
    "customer": (["name VARCHAR(100)", "support_rep_id INTEGER"], [("support_rep_id", "employee")]),
    "invoice": (["customer_id INTEGER NOT NULL", "total DECIMAL(10,2)"], [("customer_id", "customer")]),
    "invoice_line": (["invoice_id INTEGER NOT NULL", "track_id INTEGER NOT NULL", "qty INTEGER"],
                     [("invoice_id", "invoice"), ("track_id", "track")]),
    "department": (["name VARCHAR(100)", "head_id INTEGER"], [("head_id", "person")]),
    "person": (["name VARCHAR(100)", "dept_id INTEGER"], [("dept_id", "department")]),
}
LISTED = ["invoice_line", "track", "invoice", "album", "customer", "artist", "employee", "person", "department"]


def table(schema: str, name: str) -> Table:
    cols = [Column("id", Kind.INT32, False)]
    for spec in SCHEMA[name][0]:
        cname, ctype = spec.split(" ", 1)
        kind = Kind.VARCHAR if ctype.startswith("VARCHAR") else Kind.DECIMAL if ctype.startswith("DECIMAL") else Kind.INT32
        extra = {"length": 100} if kind is Kind.VARCHAR else {"precision": 10, "scale": 2} if kind is Kind.DECIMAL else {}
        cols.append(Column(cname, kind, "NOT NULL" not in ctype, **extra))
    return Table(schema, name, tuple(cols), ("id",))


def q(b, name: str) -> str:
    return f"`{name}`" if b.kind in ("mariadb", "mysql") else f'"{name}"'


def qt(b, name: str, schema: str | None = None) -> str:
    if b.kind == "sqlite":
        return q(b, name)
    return f"{q(b, schema or b.schema)}.{q(b, name)}"


def create_source(b) -> None:
    """The schema with its foreign keys: SQLite declares them in CREATE TABLE (it takes
    references to tables made later), the servers add them once every table exists."""
    stmts, alters = [], []
    for name, (cols, fks) in SCHEMA.items():
        body = ["id INTEGER NOT NULL PRIMARY KEY", *cols]
        for i, (col, parent) in enumerate(fks):
            clause = f"CONSTRAINT {name}_src_fk{i} FOREIGN KEY ({col}) REFERENCES {qt(b, parent)} (id)"
            (body.append(clause) if b.kind == "sqlite" else alters.append(f"ALTER TABLE {qt(b, name)} ADD {clause}"))
        stmts.append(f"CREATE TABLE {qt(b, name)} ({', '.join(body)})")
    b.execute(";\n".join(stmts + alters) + ";\n")


def insert(b, name: str, rows: list[tuple]) -> None:
    b.insert(table(b.schema, name), rows)


def load(b) -> None:
    """The first source data; the self-reference and the cycle set after the rows exist
    (a report's id is below its manager's)."""
    insert(b, "artist", [(i, f"artist {i}") for i in range(1, 31)])
    insert(b, "album", [(i, f"album {i}", 1 + i % 30) for i in range(1, 61)])
    insert(b, "track", [(i, f"track {i}", None if i % 17 == 0 else 1 + i % 60) for i in range(1, 181)])
    insert(b, "employee", [(i, f"emp {i}", None) for i in range(1, 13)])
    insert(b, "customer", [(i, f"cust {i}", None if i % 5 == 0 else 1 + i % 12) for i in range(1, 41)])
    insert(b, "invoice", [(i, 1 + i % 40, Decimal(i) / 4) for i in range(1, 81)])
    insert(b, "invoice_line", [(i, 1 + i % 80, 1 + (i * 7) % 180, i % 4) for i in range(1, 241)])
    insert(b, "department", [(i, f"dept {i}", None) for i in range(1, 7)])
    insert(b, "person", [(i, f"person {i}", 1 + i % 6) for i in range(1, 25)])
    sql = [f"UPDATE {qt(b, 'employee')} SET reports_to = {m} WHERE id = {e}"
           for e, m in [(1, 12), (2, 12), (3, 1), (4, 1), (5, 2), (6, 5), (7, 6), (8, 12), (9, 8), (10, 8), (11, 3)]]
    sql += [f"UPDATE {qt(b, 'department')} SET head_id = {p} WHERE id = {d}" for d, p in [(1, 7), (2, 8), (3, 9), (4, 22)]]
    b.execute(";\n".join(sql) + ";\n")


def drift(b) -> None:
    """The source moves on: what a week of a real application does to these tables."""
    t = lambda n: qt(b, n)  # noqa: E731
    sql = [
        # artists 1-3 leave, with their albums, those albums' tracks and the lines selling them
        f"DELETE FROM {t('invoice_line')} WHERE track_id IN (SELECT id FROM {t('track')} WHERE album_id IN "
        f"(SELECT id FROM {t('album')} WHERE artist_id <= 3))",
        f"DELETE FROM {t('track')} WHERE album_id IN (SELECT id FROM {t('album')} WHERE artist_id <= 3)",
        f"DELETE FROM {t('album')} WHERE artist_id <= 3",
        f"DELETE FROM {t('artist')} WHERE id <= 3",
        # artist 4 leaves too, but its albums move to artist 30
        f"UPDATE {t('album')} SET artist_id = 30 WHERE artist_id = 4",
        f"DELETE FROM {t('artist')} WHERE id = 4",
        # new artists with new albums and tracks, the new albums also taking old tracks
        *[f"INSERT INTO {t('artist')} VALUES ({i}, 'new artist {i}')" for i in range(100, 104)],
        *[f"INSERT INTO {t('album')} VALUES ({i}, 'new album {i}', {100 + i % 4})" for i in range(200, 212)],
        *[f"INSERT INTO {t('track')} VALUES ({i}, 'new track {i}', {200 + i % 12})" for i in range(500, 530)],
        f"UPDATE {t('track')} SET album_id = 205 WHERE id BETWEEN 150 AND 160",
        f"INSERT INTO {t('invoice')} VALUES (300, 7, 12.50)",
        *[f"INSERT INTO {t('invoice_line')} VALUES ({i}, 300, {500 + i % 30}, 2)" for i in range(900, 910)],
        # manager 12 leaves: a new manager 40, hired above her reports' ids, takes them on
        f"INSERT INTO {t('employee')} VALUES (40, 'new boss', NULL)",
        f"INSERT INTO {t('employee')} VALUES (13, 'new hire', 40)",
        f"UPDATE {t('employee')} SET reports_to = 40 WHERE reports_to = 12",
        f"UPDATE {t('customer')} SET support_rep_id = 40 WHERE support_rep_id = 12",
        f"DELETE FROM {t('employee')} WHERE id = 12",
        # the cycle: department 1 closes (its people move to 2), 2's head changes, a new
        # department arrives with a new head in it
        f"UPDATE {t('person')} SET dept_id = 2 WHERE dept_id = 1",
        f"UPDATE {t('department')} SET head_id = NULL WHERE id = 1",
        f"DELETE FROM {t('department')} WHERE id = 1",
        f"UPDATE {t('department')} SET head_id = 7 WHERE id = 2",
        f"INSERT INTO {t('department')} VALUES (9, 'dept 9', NULL)",
        f"INSERT INTO {t('person')} VALUES (30, 'head of 9', 9)",
        f"UPDATE {t('department')} SET head_id = 30 WHERE id = 9",
    ]
    b.execute(";\n".join(sql) + ";\n")


def same(src, tgt, schema: str) -> None:
    for name in SCHEMA:
        a, z = src.read(table(src.schema, name)), tgt.read(table(schema, name))
        assert a == z, f"{name}: {len(a)} source rows, {len(z)} target rows, first differing: " \
                       f"{next(((x, y) for x, y in zip(a, z) if x != y), None)}"


def constraints_hold(tgt, schema: str) -> None:
    expected = sum(len(fks) for _, fks in SCHEMA.values())
    if tgt.kind == "spanner":
        return spanner_constraints_hold(tgt, schema, expected)
    if tgt.kind in ("postgres", "kit"):   # a translated-tier target: the PostgreSQL beneath it
        import psycopg
        url = "postgresql://" + tgt.url.split("://", 1)[1]
        stored = tgt.db.stored_name(schema) if tgt.kind == "kit" else schema
        with psycopg.connect(url) as conn:
            rows = conn.execute("SELECT conname, convalidated FROM pg_constraint WHERE contype = 'f' "
                                "AND connamespace = %s::regnamespace", (f'"{stored}"',)).fetchall()
        assert len(rows) == expected and all(ok for _, ok in rows), rows
        return
    import pymysql
    conn = tgt._mysql()
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT COUNT(*) FROM information_schema.REFERENTIAL_CONSTRAINTS WHERE CONSTRAINT_SCHEMA = %s",
                        (schema,))
            assert cur.fetchone()[0] == expected
            for name, (_, fks) in SCHEMA.items():
                for col, parent in fks:
                    cur.execute(f"SELECT COUNT(*) FROM `{schema}`.`{name}` c WHERE c.{col} IS NOT NULL AND NOT EXISTS "
                                f"(SELECT 1 FROM `{schema}`.`{parent}` p WHERE p.id = c.{col})")
                    assert cur.fetchone()[0] == 0, (name, col)
            with pytest.raises(pymysql.err.IntegrityError, match="1452"):
                cur.execute(f"INSERT INTO `{schema}`.`album` VALUES (99999, 'orphan', 424242)")
    finally:
        conn.close()


def spanner_constraints_hold(tgt, schema: str, expected: int) -> None:
    """Spanner (through its client): every constraint there, no row breaking one, and an
    orphan still refused at commit."""
    from google.api_core.exceptions import FailedPrecondition
    raw = tgt.raw
    found = raw.query("SELECT COUNT(*) FROM information_schema.table_constraints WHERE constraint_type = "
                      f"'FOREIGN KEY' AND table_schema = '{schema}'")
    assert found == [[expected]], found
    for name, (_, fks) in SCHEMA.items():
        for col, parent in fks:
            orphans = raw.query(f"SELECT COUNT(*) FROM `{schema}`.`{name}` AS c WHERE c.{col} IS NOT NULL AND NOT EXISTS "
                                f"(SELECT 1 FROM `{schema}`.`{parent}` AS p WHERE p.id = c.{col})")
            assert orphans == [[0]], (name, col)
    with pytest.raises(FailedPrecondition, match="Foreign key"):
        raw.database.run_in_transaction(lambda tx: tx.insert(f"{schema}.album", ["id", "title", "artist_id"],
                                                             [[99999, "orphan", 424242]]))


@pytest.mark.parametrize("source_kind,target_kind", PAIRS, ids=[f"{s}-to-{t}" for s, t in PAIRS])
def test_a_target_enforcing_foreign_keys_is_synced_in_any_table_order(tmp_path, source_kind, target_kind, capsys):
    with BACKENDS[source_kind](tmp_path, "s") as src, ALL_BACKENDS[target_kind](tmp_path, "t") as tgt:
        create_source(src)
        load(src)
        schema = tgt.schema
        if target_kind == "postgres":   # a schema of its own: the rename is exercised on every pair
            schema = "sales"
            tgt.execute('CREATE SCHEMA "sales"')
        write_configs(tmp_path, src, tgt, LISTED, window_size=7, max_threads=3, file_mb=0.0005,
                      extra="checkpointDir=cp\n")
        for cfg in ("schema.cfg", "emit.cfg", "sync.cfg"):
            text = (tmp_path / cfg).read_text()
            text = "".join(ln + "\n" for ln in text.splitlines() if not ln.startswith("schemaRename="))
            (tmp_path / cfg).write_text(text + f"schemaRename={src.schema}:{schema}\n")
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0, capsys.readouterr().err
        ddl = (tmp_path / "ddl" / "f.sql").read_text()
        assert f"REFERENCES {src.schema}." not in ddl.replace(f"REFERENCES {schema}.", "")
        for step in ("first", "repair"):
            if step == "repair":
                drift(src)
            code = main(["sync", "--config", str(tmp_path / "sync.cfg"), "--doneDirectory", str(tmp_path / step)])
            assert code == 0, capsys.readouterr().err
            same(src, tgt, schema)
            constraints_hold(tgt, schema)
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0, capsys.readouterr().out


def _configure(tmp_path, src, tgt, names: list[str], **kw) -> None:
    write_configs(tmp_path, src, tgt, names, window_size=5, max_threads=2, file_mb=0.0005, **kw)


def _rows(b, sql: str) -> list[tuple]:
    if b.kind == "postgres":
        import psycopg
        with psycopg.connect(b.url) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]
    conn = b._mysql()
    try:
        with conn.cursor() as cur:
            cur.execute(sql)
            return [tuple(r) for r in cur.fetchall()]
    finally:
        conn.close()


@pytest.mark.parametrize("target_kind", TARGETS)
def test_source_rows_that_break_a_target_foreign_key_are_refused_naming_it_with_nothing_changed(
        tmp_path, target_kind, capsys):
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[target_kind](tmp_path, "t") as tgt:
        create_source(src)   # SQLite does not enforce them: its rows may break them
        insert(src, "artist", [(1, "one")])
        insert(src, "album", [(1, "fine", 1), (2, "orphan", 999)])
        _configure(tmp_path, src, tgt, ["album", "artist"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        capsys.readouterr()
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and "album_fk0" in err and "(2,)" in err and "artist" in err, err
        assert _rows(tgt, f"SELECT COUNT(*) FROM {qt(tgt, 'album')}") == [(0,)]
        assert not (tmp_path / "emit").exists() or not list((tmp_path / "emit").glob("*.ckt"))


@pytest.mark.parametrize("target_kind", TARGETS)
def test_on_delete_cascade_on_the_target_deletes_nothing_the_source_still_has(tmp_path, target_kind, capsys):
    """The target's own foreign keys cascade: children moved to another parent, and reports
    moved to a new manager, outlive the deletion of their old parent."""
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS[target_kind](tmp_path, "t") as tgt:
        create_source(src)
        load(src)
        names = ["album", "artist", "employee"]
        _configure(tmp_path, src, tgt, names)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 0
        body = {"artist": "id INTEGER PRIMARY KEY, name VARCHAR(100)",
                "album": "id INTEGER PRIMARY KEY, title VARCHAR(100) NOT NULL, artist_id INTEGER NOT NULL",
                "employee": "id INTEGER PRIMARY KEY, name VARCHAR(100), reports_to INTEGER"}
        tgt.execute(";\n".join(
            [f"CREATE TABLE {qt(tgt, n, tgt.schema)} ({b})" for n, b in body.items()]
            + [f"ALTER TABLE {qt(tgt, 'album')} ADD CONSTRAINT album_cascade FOREIGN KEY (artist_id) "
               f"REFERENCES {qt(tgt, 'artist')} (id) ON DELETE CASCADE",
               f"ALTER TABLE {qt(tgt, 'employee')} ADD CONSTRAINT employee_cascade FOREIGN KEY (reports_to) "
               f"REFERENCES {qt(tgt, 'employee')} (id) ON DELETE CASCADE"]) + ";\n")
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0, capsys.readouterr().err
        src.execute(";\n".join([f"UPDATE {qt(src, 'album')} SET artist_id = 30 WHERE artist_id IN (4, 5)",
                                f"DELETE FROM {qt(src, 'artist')} WHERE id IN (4, 5)",
                                f"INSERT INTO {qt(src, 'employee')} VALUES (40, 'new boss', NULL)",
                                f"UPDATE {qt(src, 'employee')} SET reports_to = 40 WHERE reports_to = 12",
                                f"UPDATE {qt(src, 'customer')} SET support_rep_id = 40 WHERE support_rep_id = 12",
                                f"DELETE FROM {qt(src, 'employee')} WHERE id = 12"]) + ";\n")
        assert main(["sync", "--config", str(tmp_path / "sync.cfg"), "--doneDirectory", str(tmp_path / "d2")]) == 0
        for n in names:
            assert src.read(table(src.schema, n)) == tgt.read(table(tgt.schema, n)), n
        moved = _rows(tgt, f"SELECT COUNT(*) FROM {qt(tgt, 'album')} WHERE artist_id = 30")
        assert moved[0][0] >= 4


@pytest.mark.parametrize("target_kind", ["mariadb", "sqlserver"])
def test_a_cycle_written_unchecked_is_checked_before_the_commit(tmp_path, capsys, target_kind):
    """Where checks cannot be deferred, a self-referencing table is written unchecked (the
    MySQL family: its session's checks off; SQL Server: the table's own) and checked before
    the commit: a key to a table outside the run (not checked on the source) refuses the
    file, naming the constraint, and nothing of it is committed."""
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS[target_kind](tmp_path, "t") as tgt:
        src.execute('CREATE TABLE emp (id INTEGER PRIMARY KEY, boss INTEGER REFERENCES emp (id), dept INTEGER);'
                    "INSERT INTO emp VALUES (2, NULL, 1), (1, 2, 1), (3, 1, 77)")
        _configure(tmp_path, src, tgt, ["emp"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0
        q = (lambda n: f"`{n}`") if target_kind == "mariadb" else (lambda n: f"[{n}]")
        tgt.execute(f"CREATE TABLE {q(tgt.schema)}.{q('dept')} (id INTEGER PRIMARY KEY);\n"
                    f"INSERT INTO {q(tgt.schema)}.{q('dept')} VALUES (1);\n"
                    f"ALTER TABLE {q(tgt.schema)}.{q('emp')} ADD CONSTRAINT emp_dept FOREIGN KEY (dept) "
                    f"REFERENCES {q(tgt.schema)}.{q('dept')} (id);\n")
        capsys.readouterr()
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 3
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "emp_dept" in err and f"table {tgt.schema}.emp" in err, err
        emp = Table(tgt.schema, "emp", (Column("id", Kind.INT32, False), Column("boss", Kind.INT32),
                                        Column("dept", Kind.INT32)), ("id",))
        assert tgt.read(emp) == []
        if target_kind == "mariadb":
            assert "dept=77" in err
            assert _rows(tgt, "SELECT @@foreign_key_checks") == [(1,)]


def test_a_postgres_cycle_the_user_made_not_deferrable_is_refused_saying_what_to_do(tmp_path, capsys):
    with BACKENDS["postgres"](tmp_path, "s") as src, BACKENDS["postgres"](tmp_path, "t") as tgt:
        for b in (src, tgt):
            b.execute("CREATE TABLE a (id INTEGER PRIMARY KEY, b_id INTEGER); "
                      "CREATE TABLE b (id INTEGER PRIMARY KEY, a_id INTEGER); "
                      "ALTER TABLE a ADD CONSTRAINT a_to_b FOREIGN KEY (b_id) REFERENCES b (id); "
                      "ALTER TABLE b ADD CONSTRAINT b_to_a FOREIGN KEY (a_id) REFERENCES a (id)")
        src.execute("INSERT INTO a VALUES (1, NULL); INSERT INTO b VALUES (1, 1); UPDATE a SET b_id = 1")
        _configure(tmp_path, src, tgt, ["a", "b"])
        assert main(["schema", "--config", str(tmp_path / "schema.cfg")]) == 0
        capsys.readouterr()
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 3
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert "NOT DEFERRABLE" in err and "ALTER CONSTRAINT" in err and ("a_to_b" in err or "b_to_a" in err), err
        assert _rows(tgt, "SELECT (SELECT COUNT(*) FROM a) + (SELECT COUNT(*) FROM b)") == [(0,)]


UNENFORCED = ["snowflake", "bigquery", "databricks", "firebolt"]


@pytest.mark.parametrize("target_kind", UNENFORCED)
def test_a_schema_with_chains_cycles_and_self_references_syncs_into_a_target_enforcing_no_key(
        tmp_path, target_kind, capsys):
    """The cloud targets that declare foreign keys without enforcing them (or have none):
    the same schema (chains, a self-reference, a cycle) migrates, syncs, is repaired after
    drift and validates, the rows read afresh equal to the source's."""
    with BACKENDS["sqlite"](tmp_path, "s") as src, ALL_BACKENDS[target_kind](tmp_path, "t") as tgt:
        create_source(src)
        load(src)
        write_configs(tmp_path, src, tgt, LISTED, window_size=7, max_threads=3, file_mb=0.0005)
        assert main(["schema", "--config", str(tmp_path / "schema.cfg"), "--apply"]) == 0, capsys.readouterr().err
        for step in ("first", "repair"):
            if step == "repair":
                drift(src)
            code = main(["sync", "--config", str(tmp_path / "sync.cfg"), "--doneDirectory", str(tmp_path / step)])
            assert code == 0, capsys.readouterr().err
            same(src, tgt, tgt.schema)
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0, capsys.readouterr().out
