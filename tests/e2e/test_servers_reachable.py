"""The test servers are there (under CI a missing one fails the run rather than skipping)."""
from tests.servers import mariadb_database, postgres_database


def test_postgres_database_fixture():
    import psycopg
    with postgres_database() as db:
        with psycopg.connect(db.url) as conn:
            assert conn.execute("select current_database()").fetchone()[0] == db.name


def test_mariadb_database_fixture():
    import pymysql
    from targetsync_core.dsn import parse_dsn
    with mariadb_database() as db:
        d = parse_dsn(db.url)
        conn = pymysql.connect(host=d.host, port=d.port, user=d.username, password=d.password or "", database=d.database)
        with conn.cursor() as cur:
            cur.execute("select database()")
            assert cur.fetchone()[0] == db.name
        conn.close()
