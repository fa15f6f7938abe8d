"""Cassandra as a source, through the DataStax driver (``cassandra-driver``).

DSN ``cassandra://user:password@host1,host2:9042/keyspace?dc=dc1&consistency=LOCAL_QUORUM``:
contact points separated by commas, one port for all of them (9042 unless given), the
keyspace optional (tables are named ``keyspace.table``). Options: ``dc`` (the local data
center: reads go to its nodes, token-aware), ``consistency`` (of every read; default
``LOCAL_QUORUM``, so a scan sees what a quorum of the local replicas acknowledged),
``protocol`` (the native protocol version; default: the driver negotiates it),
``pageRows`` (rows a token-range query returns at most, default 5000), ``timeout``
(seconds a query may take, default 60).

**Reading.** Cassandra cannot return a table in primary-key order, so it has no windows
of its own (``Capabilities.ordered_reads`` false): the emitter scans each table once and
sorts it on disk (``emit.unordered``; the (pk, hash) diff for a one-column key, whole rows
otherwise). :meth:`scan` splits the partitioner's token ring into ranges and reads them on
up to ``maxThreads`` threads, each range paged by hand: ``token(pk) > ? AND token(pk) <=
? LIMIT pageRows``, continuing after the last token of a full page, whose partition is read
again whole (``token(pk) = ?``) so a partition cut by the limit is never half read. The
same statements work from protocol v1 (Cassandra 1.2) on. :meth:`fetch` reads the rows of
given keys (``pk IN (…)``, 100 keys a query). There is no snapshot: a row written during
the scan may or may not be seen, and the next run repairs what this one missed.

**Schema.** Columns come from ``system_schema.columns`` (Cassandra 3+): the partition key
columns, then the clustering columns, form the primary key. Types map as ``types.py``
says; a user-defined type is refused naming table, column and type.
"""
from __future__ import annotations

import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Iterator
from urllib.parse import parse_qsl

from targetsync_core.adapters.base import Capabilities, Database
from targetsync_core.adapters.cassandra import types as T
from targetsync_core.diff.external import default_directory, sort_items
from targetsync_core.diff.windows import Window
from targetsync_core.dsn import Dsn
from targetsync_core.errors import ConfigError, ConnectError, DataError, SchemaMismatch
from targetsync_core.model.schema import Table

#: the token ring of each partitioner this adapter reads: (exclusive lowest, highest)
RINGS = {"Murmur3Partitioner": (-2**63, 2**63 - 1), "RandomPartitioner": (-1, 2**127)}
FETCH_KEYS = 100
#: the consistency levels a read may ask for (the driver's names)
CONSISTENCY = ("ALL", "EACH_QUORUM", "LOCAL_ONE", "LOCAL_QUORUM", "LOCAL_SERIAL", "ONE", "QUORUM", "SERIAL",
               "THREE", "TWO")
RANGES_PER_THREAD = 4
_END = object()


def q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


class CassandraDatabase(Database):
    capabilities = Capabilities(name="cassandra", target=False, ordered_reads=False, max_identifier_length=48)

    def __init__(self, dsn: Dsn, type_name: str = "cassandra"):
        self.dsn, self.type_name = dsn, type_name
        self.hosts = [h for h in (dsn.host or "").split(",") if h] or ["localhost"]
        opts = dict(parse_qsl(dsn.query))
        self.options = opts
        self.consistency = opts.get("consistency", "LOCAL_QUORUM").upper()
        self.page_rows = _positive(opts.get("pageRows", "5000"), "pageRows", dsn)
        self.timeout = float(_positive(opts.get("timeout", "60"), "timeout", dsn))
        self._session = None
        self._cluster = None
        self._lock = threading.Lock()

    @classmethod
    def from_dsn(cls, type_name: str, dsn: Dsn) -> "CassandraDatabase":
        if dsn.scheme != "cassandra":
            raise ConfigError(f"{dsn.source}: cassandra needs a DSN of the form "
                              "cassandra://user:password@host1,host2:9042/keyspace?dc=…")
        db = cls(dsn, type_name)
        if db.consistency not in CONSISTENCY:
            raise ConfigError(f"{dsn.source}: consistency={db.consistency} is not a Cassandra consistency level; "
                              f"choose one of {', '.join(CONSISTENCY)}")
        return db

    def identity(self) -> str:
        return f"{self.type_name} {self.server()}"

    def server(self) -> str:
        return f"{','.join(self.hosts)}:{self.dsn.port or 9042}"

    def where(self) -> str:
        return f"{self.identity()} (DSN file {self.dsn.source})"

    # -- the driver ----------------------------------------------------------------------
    def cluster_class(self):
        """The driver's ``Cluster`` (tests hand in a double)."""
        from cassandra.cluster import Cluster
        return Cluster

    def session(self):
        with self._lock:
            if self._session is None:
                self._session = self.call("connecting", self._connect)
            return self._session

    def _connect(self):
        try:
            cluster = self.cluster_class()
        except ImportError as exc:
            raise ConnectError(f"{self.where()}: cassandra needs the driver: pip install 'targetsync[cassandra]' "
                               f"({exc})") from None
        from cassandra import ConsistencyLevel
        from cassandra.cluster import EXEC_PROFILE_DEFAULT, ExecutionProfile
        from cassandra.policies import DCAwareRoundRobinPolicy, RoundRobinPolicy, TokenAwarePolicy
        local = self.options.get("dc")
        policy = TokenAwarePolicy(DCAwareRoundRobinPolicy(local_dc=local)) if local else RoundRobinPolicy()
        profile = ExecutionProfile(load_balancing_policy=policy, request_timeout=self.timeout,
                                   consistency_level=ConsistencyLevel.name_to_value[self.consistency])
        kw = {"port": self.dsn.port or 9042, "connect_timeout": 10,
              "execution_profiles": {EXEC_PROFILE_DEFAULT: profile}}
        if self.dsn.username:
            from cassandra.auth import PlainTextAuthProvider
            kw["auth_provider"] = PlainTextAuthProvider(self.dsn.username, self.dsn.password or "")
        if "protocol" in self.options:
            kw["protocol_version"] = int(self.options["protocol"])
        self._cluster = cluster(self.hosts, **kw)
        return self._cluster.connect()

    def call(self, what: str, fn, *args):
        """``fn(*args)`` with the driver's errors sorted into one line each."""
        try:
            return fn(*args)
        except (ConfigError, ConnectError, DataError, SchemaMismatch):
            raise
        except Exception as exc:   # the driver's errors share no base class of their own
            raise self.sorted(exc, what) from None

    def sorted(self, exc: Exception, what: str) -> Exception:
        name, text = type(exc).__name__, _first(exc)
        if name in ("AuthenticationFailed", "Unauthorized") or "AuthenticationFailed" in text:
            return ConfigError(f"{what} on {self.where()}: {text}")
        if name in ("NoHostAvailable", "OperationTimedOut", "ReadTimeout", "Unavailable", "ReadFailure",
                    "ConnectionShutdown", "ConnectionException") or isinstance(exc, OSError):
            return ConnectError(f"cannot reach {self.where()} {what}: {text}")
        return DataError(f"{what} on {self.where()}: {text}")

    def execute(self, what: str, cql: str, params=()) -> list:
        """The rows of ``cql`` (a prepared statement, cached) read at the configured
        consistency; the driver pages through a long result (protocol v2+)."""
        session = self.session()
        return self.call(what, self._run, session, self._statement(cql), params)

    def _run(self, session, stmt, params):
        return list(session.execute(stmt, params, timeout=self.timeout))

    def _statement(self, cql: str):
        cache = self.__dict__.setdefault("_prepared", {})
        stmt = cache.get(cql)
        if stmt is None:
            from cassandra import ConsistencyLevel
            stmt = self.call("preparing a query", self.session().prepare, cql)
            stmt.consistency_level = ConsistencyLevel.name_to_value[self.consistency]
            stmt.fetch_size = self.page_rows
            cache[cql] = stmt
        return stmt

    # -- schema --------------------------------------------------------------------------
    def server_info(self) -> tuple[tuple[int, int], bool]:
        """The token ring of the cluster's partitioner, and whether the server predates
        Cassandra 3 (no ``system_schema``; 1.2 also takes token bounds only as quoted text)."""
        known = self.__dict__.get("_server_info")
        if known is None:
            rows = self.execute("reading the partitioner", "SELECT partitioner, release_version FROM system.local")
            name = (rows[0][0] if rows else "").rsplit(".", 1)[-1]
            if name not in RINGS:
                raise ConfigError(f"{self.where()} uses the {name or 'unknown'} partitioner; targetsync reads tables "
                                  f"of the {' or '.join(RINGS)} only (their token ranges can be scanned)")
            major = int(str(rows[0][1]).split(".")[0] or 0)
            known = self.__dict__["_server_info"] = (RINGS[name], major < 3)
        return known

    def _columns(self, schema: str, name: str) -> list:
        """(name, kind, position, CQL type) of each column; none for no such table. Before
        Cassandra 3 the driver's schema metadata says it (it reads each version's tables)."""
        if self.server_info()[1]:
            return self._legacy_columns(schema, name)
        return self.execute(f"reading the columns of {schema}.{name}",
                            "SELECT column_name, kind, position, type FROM system_schema.columns "
                            "WHERE keyspace_name = ? AND table_name = ?", (schema, name))

    def _legacy_columns(self, schema: str, name: str) -> list:
        logging.getLogger("cassandra.metadata").addFilter(_quiet_system_tables)
        self.session()
        self.call("reading the schema", self._cluster.refresh_schema_metadata)
        ks = self._cluster.metadata.keyspaces.get(schema)
        t = ks.tables.get(name) if ks else None
        if t is None:
            return []
        part = [c.name for c in t.partition_key]
        clus = [c.name for c in t.clustering_key]
        return [(c.name, "partition_key" if c.name in part else "clustering" if c.name in clus else "regular",
                 part.index(c.name) if c.name in part else clus.index(c.name) if c.name in clus else -1,
                 c.cql_type) for c in t.columns.values()]

    def reflect(self, schema: str, name: str) -> Table | None:
        rows = self._columns(schema, name)
        if not rows:
            return None
        order = {"partition_key": 0, "clustering": 1}
        keyed = sorted((order[r[1]], r[2], r[0]) for r in rows if r[1] in order)
        keys = tuple(n for *_, n in keyed)
        columns = []
        for column_name, kind, _, cql in sorted(rows, key=lambda r: (order.get(r[1], 2), r[2], r[0])):
            try:
                columns.append(T.column(column_name, cql, column_name not in keys))
            except T.UnknownType as exc:
                raise SchemaMismatch(f"source table {schema}.{name} column {column_name} has the user-defined type "
                                     f"{exc}, which targetsync does not read; sync the table without it (a "
                                     "view or a copy without the column)") from None
        return Table(schema, name, tuple(columns), keys)

    # -- reading -------------------------------------------------------------------------
    def _select(self, table: Table) -> str:
        return ", ".join(q(c.name) for c in table.columns)

    def _converter(self, table: Table):
        steps = [(i, f) for i, c in enumerate(table.columns) if (f := T.reader(c))]

        def convert(row) -> tuple:
            row = list(row)
            for i, f in steps:
                if row[i] is not None:
                    row[i] = f(row[i])
            return tuple(row)
        return convert

    def ranges(self, parts: int) -> list[tuple[int, int]]:
        """``parts`` token ranges ``(lo, hi]`` covering the ring."""
        (lo, hi), _ = self.server_info()
        step = (hi - lo) // parts
        cuts = [lo + step * i for i in range(parts)] + [hi]
        return [(cuts[i], cuts[i + 1]) for i in range(parts)]

    def scan(self, table: Table, threads: int = 1) -> Iterator[tuple]:
        """Every row, range by range on ``threads`` threads (see the module docstring)."""
        parts = self.ranges(max(1, threads) * RANGES_PER_THREAD)
        convert = self._converter(table)
        if threads <= 1:
            for lo, hi in parts:
                for row in self._scan_range(table, lo, hi):
                    yield convert(row)
            return
        out: queue.Queue = queue.Queue(maxsize=threads * 4)
        stop = threading.Event()

        def work(lo, hi):
            for page in _pages(self._scan_range(table, lo, hi), 500):
                if stop.is_set():
                    return
                out.put(page)
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="scan") as pool:
            futures = [pool.submit(work, lo, hi) for lo, hi in parts]
            done = pool.submit(lambda: [f.result() for f in futures])
            done.add_done_callback(lambda _: out.put(_END))
            try:
                while (page := out.get()) is not _END:
                    for row in page:
                        yield convert(row)
                done.result()
            finally:
                stop.set()
                while not done.done():   # unblock workers waiting on a full queue
                    try:
                        out.get(timeout=0.1)
                    except queue.Empty:
                        pass

    def _scan_range(self, table: Table, lo: int, hi: int) -> Iterator[tuple]:
        """The rows whose token lies in ``(lo, hi]``, a page of ``pageRows`` at a time.
        A full page may end inside a partition: its rows of that last partition are
        dropped, the partition is read whole by its key, and the next page starts after
        its token (``token(pk) > token(?)``, which every version takes)."""
        part = self.partition_key(table)
        at = [table.position(c) for c in part]
        pk = ", ".join(map(q, part))
        _, legacy = self.server_info()
        literal = (lambda t: f"'{t}'") if legacy else str   # 1.2 takes a token bound only as text
        head = f"SELECT {self._select(table)} FROM {q(table.schema)}.{q(table.name)} WHERE "
        tail = f" AND token({pk}) <= {literal(hi)} LIMIT {self.page_rows}"
        after_cql = f"{head}token({pk}) > token({', '.join('?' * len(part))}){tail}"
        whole_cql = head + " AND ".join(f"{q(c)} = ?" for c in part)
        what = f"scanning {table.qualified}"
        rows = self.execute(what, f"{head}token({pk}) > {literal(lo)}{tail}")
        while True:
            if len(rows) < self.page_rows:
                yield from rows
                return
            last = [rows[-1][i] for i in at]
            yield from (r for r in rows if [r[i] for i in at] != last)
            yield from self.execute(what, whole_cql, last)
            rows = self.execute(what, after_cql, last)

    def partition_key(self, table: Table) -> tuple[str, ...]:
        """The partition key columns (the first of the primary key's)."""
        known = self.__dict__.setdefault("_partition_keys", {})
        if table.qualified not in known:
            rows = self._columns(table.schema, table.name)
            known[table.qualified] = tuple(r[0] for r in sorted(rows, key=lambda r: r[2]) if r[1] == "partition_key")
        return known[table.qualified]

    def fetch(self, table: Table, keys: list[tuple]) -> Iterator[tuple]:
        """The rows of ``keys`` of a one-column key, ``FETCH_KEYS`` a query."""
        (key_col,) = table.key_columns
        convert = self._converter(table)
        for i in range(0, len(keys), FETCH_KEYS):
            batch = [T.to_driver(key_col, k[0]) for k in keys[i:i + FETCH_KEYS]]
            cql = (f"SELECT {self._select(table)} FROM {q(table.schema)}.{q(table.name)} "
                   f"WHERE {q(key_col.name)} IN ({', '.join('?' * len(batch))})")
            for row in self.execute(f"reading rows of {table.qualified}", cql, batch):
                yield convert(row)

    def read_keys(self, table: Table) -> Iterator[tuple]:
        pos = table.key_positions
        store = sort_items(((tuple(r[p] for p in pos), None) for r in self.scan(table)), 1_000_000,
                           table.qualified, directory=default_directory())
        try:
            yield from (k for k, _ in store.read())
        finally:
            store.close()

    def read_window(self, table: Table, window: Window) -> Iterator[tuple]:
        """A window, for callers outside the emitter (which reads :meth:`scan` sorted
        once): the whole table is scanned and sorted for it."""
        pos = table.key_positions
        store = sort_items(((tuple(r[p] for p in pos), r) for r in self.scan(table)), 1_000_000,
                           table.qualified, directory=default_directory())
        try:
            yield from (r for _, r in store.read(window.lo, window.lo_inclusive, window.hi))
        finally:
            store.close()

    def close(self) -> None:
        if self._cluster is not None:
            self._cluster.shutdown()
        self._cluster = self._session = None


def _quiet_system_tables(record: logging.LogRecord) -> bool:
    """The driver warns of each 1.2 system table it builds metadata for without columns."""
    return "no column meta for system." not in record.getMessage()


def _pages(rows, size: int):
    page = []
    for r in rows:
        page.append(r)
        if len(page) >= size:
            yield page
            page = []
    if page:
        yield page


def _positive(raw: str, name: str, dsn: Dsn) -> int:
    if not raw.isdigit() or int(raw) < 1:
        raise ConfigError(f"{dsn.source}: the cassandra DSN option {name} must be a whole number above 0, not {raw!r}")
    return int(raw)


def _first(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]
