"""MySQL-family connections: PyMySQL's PREFERRED TLS mode builds a default SSL context
(~30 ms of CA loading) per connection; the adapter builds it once per process."""
from __future__ import annotations

from tests.conformance.backends import BACKENDS


def test_connections_share_one_preferred_tls_context(tmp_path):
    with BACKENDS["mariadb"](tmp_path, "c") as side:
        db = side.db
        a, b = db.connect(), db.connect()
        try:
            assert a.ctx is not None and a.ctx is b.ctx
            for conn in (a, b):
                with conn.cursor() as cur:
                    cur.execute("SELECT 1")
                    assert cur.fetchone() == (1,)
        finally:
            a.close()
            b.close()
