"""Starts bqemulator (a DuckDB-backed BigQuery REST emulator) for the tests, run by the
stand-in venv's python (``tests/conformance/cloud/bigquery.py``), never imported by the
project. It adapts the emulator to this machine and to Google's Python client; each
change works around a gap of the emulator named here and in ``docs/TESTING.md``:

* DuckDB's ``spatial`` extension is downloaded at start, which fails offline: its load is
  made best-effort (GEOGRAPHY, which targetsync never uses, is then unavailable);
* Google's client uploads a load job's data with ``Content-Type: */*`` (multipart
  uploads), which the emulator's whitelist refuses: ``*/*`` is accepted too;
* ``PRIMARY KEY (…) NOT ENFORCED`` in CREATE TABLE is a syntax error to it: stripped (the
  adapter then finds the key in the table's description, which ``schema --apply`` writes);
  ``BYTES(n)`` is refused (DuckDB's BLOB takes no length): stripped to ``BYTES``; a
  ``NUMERIC`` column without parameters would keep 3 fractional digits (DuckDB's default
  DECIMAL(18, 3)): made NUMERIC(38, 9), as BigQuery's is; ``ALTER TABLE … ADD CONSTRAINT …
  FOREIGN KEY … NOT ENFORCED`` is a syntax error to it (and DuckDB adds no foreign key to
  a table): answered as a no-op, which an unenforced key is to the data;
* a table made by DDL is listed with the types DuckDB stores, not those declared: STRING(n)
  without its n, NUMERIC(p, s) and BIGNUMERIC(p, s) as NUMERIC without p and s, JSON as
  STRING; and a table's fields are served without maxLength, precision and scale. The
  declared types are put back into the emulator's catalog from the DDL, and served;
* a load job's NDJSON is copied into DuckDB as it is, a BYTES value as its base64 text:
  it is decoded from base64, as BigQuery does; a BYTES query parameter is bound as its
  base64 text likewise: it is decoded.

Usage: ``python bqemulator_launcher.py PORT``.
"""
from __future__ import annotations

import contextvars
import re
import sys

_FK = re.compile(r"\s*ALTER\s+TABLE\s.*\bFOREIGN\s+KEY\b.*\bNOT\s+ENFORCED\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_NUMERIC = re.compile(r"\bNUMERIC\b(?!\s*\()")
_BYTES = re.compile(r"\bBYTES\s*\(\s*\d+\s*\)", re.IGNORECASE)
_PK = re.compile(r",\s*PRIMARY\s+KEY\s*\([^()]*\)\s*NOT\s+ENFORCED", re.IGNORECASE)
_TYPE = re.compile(r"^\s*(\w+)\s*(?:\(\s*(\d+)\s*(?:,\s*(\d+)\s*)?\))?")


def parseable(sql: str) -> str:
    """``sql`` without what the emulator cannot parse: a primary key ``NOT ENFORCED``, and
    the length of a ``BYTES(n)`` (DuckDB's BLOB takes none); a ``NUMERIC`` without
    parameters, which it would make DuckDB's DECIMAL(18, 3), spelled NUMERIC(38, 9)."""
    if not sql.lstrip().upper().startswith(("CREATE", "ALTER")):
        return sql
    if _FK.match(sql):
        return "SELECT 1"
    return _NUMERIC.sub("NUMERIC(38, 9)", _BYTES.sub("BYTES", _PK.sub("", sql)))


def declared_types(sql: str) -> dict[str, tuple[str, int | None, int | None]]:
    """column → (BigQuery type, first parameter, second parameter) as a CREATE TABLE declares them."""
    import sqlglot
    from sqlglot import exp
    try:
        tree = sqlglot.parse_one(sql, read="bigquery")
    except Exception:  # noqa: BLE001 - not ours to judge: the emulator answers it
        return {}
    if not isinstance(tree, exp.Create) or not isinstance(tree.this, exp.Schema):
        return {}
    out = {}
    for col in tree.this.expressions:
        if isinstance(col, exp.ColumnDef) and col.args.get("kind") is not None:
            m = _TYPE.match(col.args["kind"].sql("bigquery"))
            if m:
                out[col.name] = (m.group(1).upper(), m.group(2) and int(m.group(2)), m.group(3) and int(m.group(3)))
    return out


def patch() -> None:
    from bqemulator.storage import engine

    spatial = engine.DuckDBEngine._load_spatial

    def best_effort(self):
        try:
            spatial(self)
        except Exception as exc:  # noqa: BLE001 - offline: no extension repository
            print(f"bqemulator_launcher: spatial extension unavailable ({str(exc)[:80]}...)", file=sys.stderr)
    engine.DuckDBEngine._load_spatial = best_effort

    from bqemulator.catalog import ddl_sync
    from bqemulator.catalog.models import TableSchema
    from bqemulator.jobs import executor
    from bqemulator.scripting import interpreter

    created = ddl_sync.sync_created_table
    original = contextvars.ContextVar("original_sql", default=None)

    def sync_created_table(bq_sql, project_id, ctx):
        created(bq_sql, project_id, ctx)
        declared = declared_types(original.get() or bq_sql)
        target = ddl_sync._detect_plain_create_table(bq_sql)
        if not declared or target is None:
            return
        p_id, d_id, t_id = ddl_sync._split_target(target, project_id)
        meta = ctx.catalog.get_table(p_id, d_id, t_id)
        if meta is None:
            return
        fields = []
        for f in meta.schema_.fields:
            kind, a, b = declared.get(f.name, (None, None, None))
            if kind in ("NUMERIC", "BIGNUMERIC", "DECIMAL", "BIGDECIMAL"):
                big = kind.startswith("BIG")
                f = f.model_copy(update={"type": "BIGNUMERIC" if big else "NUMERIC", "precision": a,
                                         "scale": (b or 0) if a is not None else None})
            elif kind in ("STRING", "BYTES") and a is not None:
                f = f.model_copy(update={"type": kind, "max_length": a})
            elif kind == "JSON":
                f = f.model_copy(update={"type": "JSON"})
            fields.append(f)
        ctx.catalog.update_table(meta.model_copy(update={"schema_": TableSchema(fields=tuple(fields))}))
    executor.sync_created_table = sync_created_table
    interpreter.sync_created_table = sync_created_table

    run_query = executor.execute_query_job

    async def execute_query_job(project_id, job_id, bq_sql, *args, **kwargs):
        token = original.set(bq_sql)
        try:
            return await run_query(project_id, job_id, parseable(bq_sql), *args, **kwargs)
        finally:
            original.reset(token)
    executor.execute_query_job = execute_query_job

    def load_json(path, target_ref, ctx):
        """NDJSON into ``target_ref``, its BYTES columns decoded from base64 as BigQuery does."""
        cols = [(r[0], r[1]) for r in ctx.engine.execute(f"DESCRIBE {target_ref}").fetchall()]
        spec = "{" + ", ".join(f"'{n}': '{'VARCHAR' if t == 'BLOB' else t}'" for n, t in cols) + "}"
        select = ", ".join(f'from_base64("{n}")' if t == "BLOB" else f'"{n}"' for n, t in cols)
        ctx.engine.execute(f"INSERT INTO {target_ref} SELECT {select} FROM read_json(?, columns = {spec}, "
                           "format = 'newline_delimited')", [path])
    for fmt in ("NEWLINE_DELIMITED_JSON", "JSON"):
        if fmt in executor._LOAD_FORMAT_HANDLERS:
            executor._LOAD_FORMAT_HANDLERS[fmt] = load_json

    import base64

    from bqemulator.sql import parameters
    parameters._SCALAR_CONVERTERS.setdefault("BYTES", base64.b64decode)

    from bqemulator.api.routes import jobs, tables, upload
    rest = tables._field_to_rest

    def field_to_rest(field):
        out = rest(field)
        for key, value in (("maxLength", field.max_length), ("precision", field.precision), ("scale", field.scale)):
            if value is not None:
                out[key] = str(value)
        return out
    tables._field_to_rest = field_to_rest
    jobs.execute_query_job = execute_query_job
    permitted = upload._is_permitted_media_type
    upload._is_permitted_media_type = lambda ct: ct in ("*/*", "") or permitted(ct)


def main() -> None:
    port = int(sys.argv[1])
    patch()
    from bqemulator.cli import main as cli
    sys.argv = ["bqemulator", "start", "--rest-host", "127.0.0.1", "--rest-port", str(port),
                "--grpc-host", "127.0.0.1", "--grpc-port", "0", "--ephemeral"]
    cli()


if __name__ == "__main__":
    main()
