"""Change files applied a few records at a time (issue 5: apply memory is bounded by
``loader.CHUNK_RECORDS``, not by the file): every applier must treat each chunk on its
own inside the file's transaction. A shadow table carried over from the previous chunk
would re-apply its rows, and its update groups (numbered per chunk) would set other
rows' columns to NULL."""
from __future__ import annotations

import pytest

from targetsync_core.cli import main
from targetsync_core.load import loader
from tests.conformance.backends import ALL_BACKENDS, BACKENDS
from tests.conformance.test_conformance import assert_same, prepare


@pytest.mark.parametrize("target_kind", [k for k in ALL_BACKENDS if k != "cassandra"])   # a source only
def test_files_applied_in_small_chunks_converge(tmp_path, target_kind, monkeypatch, capsys):
    monkeypatch.setattr(loader, "CHUNK_RECORDS", 3)
    with BACKENDS["sqlite"](tmp_path, "src") as src, ALL_BACKENDS[target_kind](tmp_path, "tgt") as tgt:
        src_tables, tgt_tables = prepare(tmp_path, src, tgt, seed=77)
        assert main(["sync", "--config", str(tmp_path / "sync.cfg")]) == 0
        assert_same(src, tgt, src_tables, tgt_tables)
        capsys.readouterr()
        assert main(["validate", "--config", str(tmp_path / "emit.cfg")]) == 0
