"""A connection the server drops inside a pooled borrow or a block read keeps its own error.

PyMySQL closes a connection itself when the server drops it, and ``close()`` on it then
raises ``Already closed``. The pool and the block reader close a connection they cannot
hand back; that close must not replace the error that says the server was lost (found
when a MariaDB restart during a 10M-row benchmark ended ``validate`` with "unexpected
Error: Already closed" instead of the lost-connection line the Dagster layer retries)."""
from __future__ import annotations

import pytest

from targetsync_core.diff.windows import Window
from targetsync_core.errors import ConnectError
from targetsync_core.model.schema import Column, Table
from targetsync_core.model.types import Kind
from tests.conformance.backends import BACKENDS
from tests.servers import _maria_admin


def kill(thread_id: int) -> None:
    admin = _maria_admin()
    with admin.cursor() as cur:
        cur.execute(f"KILL {int(thread_id)}")
    admin.close()


@pytest.fixture
def maria(tmp_path):
    with BACKENDS["mariadb"](tmp_path, "src") as backend:
        yield backend


def test_a_connection_dropped_inside_a_borrow_keeps_the_drivers_error(maria):
    import pymysql
    db = maria.db
    with pytest.raises(pymysql.err.OperationalError):
        with db.borrow() as conn:
            kill(conn.thread_id())
            with conn.cursor() as cur:
                cur.execute("SELECT 1")
    with db.borrow() as conn, conn.cursor() as cur:   # the pool dropped it and connects anew
        cur.execute("SELECT 1")
        assert cur.fetchone() == (1,)
    db.close()


def test_a_connection_dropped_inside_a_block_read_is_a_lost_connection(maria):
    t = Table(maria.schema, "b", (Column("id", Kind.INT64, False), Column("v", Kind.TEXT)), ("id",))
    maria.create([t])
    maria.insert(t, [(i, f"v{i}") for i in range(50)])
    db = maria.db
    with pytest.raises(ConnectError, match=r"lost the connection to mariadb .* reading .*\.b"):
        with db.window_blocks(t, Window(0, 0, None, None), 10, db.block_formats(t)[0]) as blocks:
            kill(blocks.conn.thread_id())
            blocks.sums()
    db.close()
