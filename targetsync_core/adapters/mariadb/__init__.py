"""MariaDB: the MySQL adapter with MariaDB's NO PAD binary key collation, so keys that
differ only by trailing spaces stay distinct. UUIDs stay ``CHAR(36)``: MariaDB's own UUID
type refuses values that are not RFC 4122-shaped, which PostgreSQL's uuid accepts."""
from targetsync_core.adapters.base import Capabilities
from targetsync_core.adapters.mysql.adapter import MysqlDatabase


class MariadbDatabase(MysqlDatabase):
    capabilities = Capabilities(name="mariadb", nonfinite_floats=False, max_identifier_length=64)
    driver = "mariadb+pymysql"
    key_collation = "utf8mb4_nopad_bin"
    #: the shadow needs no transactions (each batch empties it first) and no crash safety
    #: (it is temporary): Aria fills and empties it at a fraction of InnoDB's cost
    shadow_options = "ENGINE=Aria TRANSACTIONAL=0 "

    @classmethod
    def dialect(cls):
        import sqlalchemy as sa
        return sa.engine.make_url("mariadb+pymysql://").get_dialect()()


__all__ = ["MariadbDatabase"]
