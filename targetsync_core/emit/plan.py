"""Window plans: a table's window boundaries, persisted so a resumed emitter cuts the
table exactly as the crashed one did (the ``.hw`` positions refer to these windows)."""
from __future__ import annotations

import json
from pathlib import Path

from targetsync_core.codec.ckt import TableCodec
from targetsync_core.emit.files import write_durably


def plan_path(directory: Path, table_index: int) -> Path:
    return directory / f"plan.{table_index}.json"


def save(directory: Path, table_index: int, table: str, window_size: int,
         codec: TableCodec, bounds: list[tuple]) -> None:
    doc = {"table": table, "windowSize": window_size, "bounds": [codec.encode_key(b) for b in bounds]}
    write_durably(plan_path(directory, table_index), json.dumps(doc).encode())


def load(directory: Path, table_index: int, table: str, window_size: int, codec: TableCodec) -> list[tuple] | None:
    """The saved boundaries, or None if there is no plan for this table and window size."""
    path = plan_path(directory, table_index)
    try:
        doc = json.loads(path.read_text())
    except (FileNotFoundError, ValueError):
        return None
    if doc.get("table") != table or doc.get("windowSize") != window_size:
        return None
    return [codec.decode_key(b, str(path)) for b in doc["bounds"]]
