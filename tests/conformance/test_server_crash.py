"""Killing the loader mid-file on a server target, then restarting it, applies every file
exactly once (issue 3, done-when 2): a trigger on the target counts row writes. SQL
Server and Oracle run at the translated tier: the loader, its subprocesses included, is
their adapter (the registry's environment override), its statements run on PostgreSQL,
where the trigger counts. MongoDB has no triggers: its loaders count the documents each
bulk write wrote in the transaction of the writes (``tests.conformance.mongodb_counted``)."""
from __future__ import annotations

import random

import pytest

from targetsync_core.emit import files as F
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance import mongodb_counted
from tests.conformance.backends import BACKENDS
from tests.conformance.test_conformance import write_cfg
from tests.e2e.test_crash import run_with_kills
from tests.helpers import cli

COUNTERS = {
    "postgres": """CREATE TABLE public.write_count (n BIGINT NOT NULL); INSERT INTO public.write_count VALUES (0);
CREATE FUNCTION public.bump() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN UPDATE public.write_count SET n = n + 1; RETURN NULL; END $$;
CREATE TRIGGER counted AFTER INSERT OR UPDATE OR DELETE ON "{schema}"."items" FOR EACH ROW EXECUTE FUNCTION public.bump();""",
    "mariadb": """CREATE TABLE `{schema}`.write_count (n BIGINT NOT NULL);
INSERT INTO `{schema}`.write_count VALUES (0);
CREATE TRIGGER `{schema}`.c_i AFTER INSERT ON `{schema}`.items FOR EACH ROW UPDATE `{schema}`.write_count SET n = n + 1;
CREATE TRIGGER `{schema}`.c_u AFTER UPDATE ON `{schema}`.items FOR EACH ROW UPDATE `{schema}`.write_count SET n = n + 1;
CREATE TRIGGER `{schema}`.c_d AFTER DELETE ON `{schema}`.items FOR EACH ROW UPDATE `{schema}`.write_count SET n = n + 1;""",
}

#: the adapter's own points between a file's writes and its commit
INSIDE_A_FILE = {"mongodb": ["mongodb.before_commit:2"]}


def underlying(tgt) -> str:
    """The PostgreSQL database a translated-tier target runs on (its own for others)."""
    return "postgresql://" + tgt.url.split("://", 1)[1] if tgt.kind == "kit" else tgt.url


def add_counter(tgt, monkeypatch) -> None:
    """The write counter on the target's ``items``: on the PostgreSQL database beneath a
    translated-tier target, on the table its adapter made (``dbo.items``, ``APP.ITEMS``);
    for MongoDB, the loaders started from now on count their writes."""
    if tgt.kind == "mongodb":
        mongodb_counted.start_counting(monkeypatch)
        return
    if tgt.kind != "kit":
        tgt.execute(COUNTERS[tgt.kind].format(schema=tgt.schema))
        return
    import psycopg
    schema, table = tgt.db.stored_name(tgt.schema), tgt.db.stored_name("items")
    with psycopg.connect(underlying(tgt), autocommit=True) as conn:
        conn.execute(COUNTERS["postgres"].replace('"{schema}"."items"', f'"{schema}"."{table}"'))


def count(tgt) -> int:
    """Row writes to the target's ``items`` since :func:`add_counter`."""
    if tgt.kind == "mongodb":
        return mongodb_counted.count(tgt)
    if tgt.kind in ("postgres", "kit"):
        import psycopg
        with psycopg.connect(underlying(tgt)) as conn:
            return conn.execute("SELECT n FROM public.write_count").fetchone()[0]
    conn = tgt._mysql()
    with conn.cursor() as cur:
        cur.execute(f"SELECT n FROM `{tgt.schema}`.write_count")
        n = cur.fetchone()[0]
    conn.close()
    return n


@pytest.mark.parametrize("kind", ["postgres", "mariadb", "sqlserver", "oracle", "mongodb"])
def test_loader_killed_mid_file_applies_each_file_once(tmp_path, kind, monkeypatch):
    rng = random.Random(11)
    with BACKENDS["sqlite"](tmp_path, "s") as src, BACKENDS[kind](tmp_path, "t") as tgt:
        t = Table(src.schema, "items", (Column("id", Kind.INT64, False), Column("v", Kind.VARCHAR, length=30),
                                        Column("n", Kind.DECIMAL, precision=12, scale=3)), ("id",))
        src.create([t])
        rows = [(i, f"v{i}", None if i % 7 == 0 else rng.randint(-10**6, 10**6)) for i in range(1500)]
        src.insert(t, rows)
        write_cfg(tmp_path, src, tgt)
        (tmp_path / "tables.txt").write_text(f"{src.schema}.items\n")
        (tmp_path / "emit.cfg").write_text((tmp_path / "emit.cfg").read_text().replace("windowSize=50", "windowSize=20")
                                           .replace("emitFileTargetMB=0.02", "emitFileTargetMB=0.0008"))
        assert cli("schema", "--config", str(tmp_path / "schema.cfg"), "--apply").returncode == 0
        tt = t.renamed(tgt.schema)
        drifted = [(i, f"w{i}" if i % 5 == 0 else v, n) for i, v, n in rows if i % 9] + [(10**6 + i, "x", None) for i in range(20)]
        tgt.insert(tt, drifted)
        assert cli("emit", "--config", str(tmp_path / "emit.cfg")).returncode == 0
        files = len(F.ckt_numbers(tmp_path / "emit"))
        total = sum(1 for p in (tmp_path / "emit").glob("*.ckt") for _ in open(p, encoding="utf-8"))
        assert files > 10 and total > 300
        add_counter(tgt, monkeypatch)
        named = ["load.before_commit:2", "load.after_commit:1", "load.after_commit:3", "load.before_commit:1",
                 *INSIDE_A_FILE.get(kind, [])]
        stats = run_with_kills("apply", tmp_path / "apply.cfg", named, 3, rng)
        assert stats["named_kills"] == len(named)
        assert count(tgt) == total, "a file was applied more than once (or a record not at all)"
        assert F.ckt_numbers(tmp_path / "done") == list(range(files))
        assert tgt.read(tt) == src.read(t)
