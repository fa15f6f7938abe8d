"""A test double of a Cassandra cluster behind the DataStax driver's API: ``Cluster``,
``Session.prepare`` / ``execute`` with ``?`` binds, consistency levels and page sizes
recorded, over rows it keeps in files (so the CLI's own processes see what a test wrote).

It answers exactly the CQL the adapter sends (``adapters/cassandra``) and the few
statements the test backend writes with; anything else is refused as a real server
refuses a statement it cannot parse, so the adapter cannot drift from what the double
checks. Values go through the driver's own type codecs both ways (``cassandra.cqltypes``:
what a real server would hold and the driver hand back: milliseconds, float32, ``Date``,
``Time``, ``SortedSet``, a map keyed in order, an empty collection as null). Rows come back
in token order (Murmur3 of the partition key's text, not Cassandra's bytes, but an order
unrelated to the key's), so the adapter's sorting is exercised.

``TARGETSYNC_CASSANDRA_DOUBLE`` names the directory holding the double's keyspaces; the
registry's ``TARGETSYNC_ADAPTER_CASSANDRA`` override points the CLI at
:class:`DoubledCassandra`. A host named ``unreachable`` fails to connect, as a dead node.
"""
from __future__ import annotations

import copy
import os
import pickle
import re
import threading
from pathlib import Path

import cassandra.cqltypes as C
from cassandra.murmur3 import murmur3

from targetsync_core.adapters.cassandra import CassandraDatabase

STORE = "TARGETSYNC_CASSANDRA_DOUBLE"
MURMUR3 = "org.apache.cassandra.dht.Murmur3Partitioner"
_lock = threading.Lock()
_CACHE: dict = {}
#: every statement executed, with its consistency level and page size (a test's record)
LOG: list[tuple[str, object, object]] = []

ID = r'"(?:[^"]|"")+"'
TABLE = rf"(?P<table>{ID}\.{ID})"


class InvalidRequest(Exception):
    """As the driver raises a server's refusal of a statement."""


class NoHostAvailable(Exception):
    pass


def cql_type(text: str):
    """The driver's codec class of a CQL type (``map<text, frozen<list<int>>>``)."""
    text = text.strip()
    m = re.fullmatch(r"(\w+)\s*<(.*)>", text)
    if not m:
        return C._cqltypes[text]
    subs = [cql_type(p) for p in split_top(m.group(2))]
    return subs[0] if m.group(1) == "frozen" else C._cqltypes[m.group(1)].apply_parameters(subs)


def split_top(text: str) -> list[str]:
    """``text`` split at the commas outside any ``<…>``."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            parts, cur = parts + [cur], ""
        else:
            cur += ch
    return parts + [cur]


def held(text: str, v):
    """``v`` as the server keeps it and the driver returns it (encoded and decoded by
    the driver's codec; an empty collection is no value at all)."""
    if v is None:
        return None
    t = cql_type(text)
    out = t.from_binary(t.to_binary(v, 4), 4)
    if t.typename in ("list", "set", "map") and not out:
        return None
    return out


def unquote(name: str) -> str:
    return name[1:-1].replace('""', '"')


def names(text: str) -> list[str]:
    return [unquote(n) for n in re.findall(ID, text)]


class Keyspaces:
    """The double's data: ``schema.pickle`` (keyspace → table → columns) and a pickle of
    rows per table, keyed by primary key."""

    def __init__(self, root: Path):
        self.root = root

    def _load(self, name: str, default):
        """The file's value, unpickled again only when the file changed (every statement
        reads; most read what the last one did)."""
        p = self.root / name
        try:
            st = p.stat()
        except FileNotFoundError:
            return default
        stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        hit = _CACHE.get(p)
        if hit is None or hit[0] != stamp:
            hit = _CACHE[p] = (stamp, pickle.loads(p.read_bytes()))
        return copy.copy(hit[1])

    def _save(self, name: str, value) -> None:
        tmp = self.root / f"{name}.{os.getpid()}.tmp"
        tmp.write_bytes(pickle.dumps(value))
        os.replace(tmp, self.root / name)

    def schema(self) -> dict:
        return self._load("schema.pickle", {})

    def table(self, qualified: str) -> dict:
        ks, _, t = qualified.partition(".")
        cols = self.schema().get(ks, {}).get(t)
        if cols is None:
            raise InvalidRequest(f"unconfigured table {t}")
        return cols

    def rows(self, qualified: str) -> dict:
        return self._load(f"rows.{qualified}.pickle", {})

    def save_rows(self, qualified: str, rows: dict) -> None:
        self._save(f"rows.{qualified}.pickle", rows)

    def save_schema(self, schema: dict) -> None:
        self._save("schema.pickle", schema)


def _partition(cols: list[dict]) -> list[dict]:
    return sorted((c for c in cols if c["kind"] == "partition_key"), key=lambda c: c["position"])


def _token(cols: list[dict], values: list) -> int:
    """The token of a partition key's values (as held)."""
    return murmur3(repr(list(values)).encode())


def _row_token(cols: list[dict], row: dict) -> int:
    return _token(cols, [row[c["name"]] for c in _partition(cols)])


class Prepared:
    """As ``cassandra.query.PreparedStatement``: its text, consistency and page size."""

    def __init__(self, query_string: str):
        self.query_string = query_string
        self.consistency_level = None
        self.fetch_size = None


class DoubleSession:
    def __init__(self, store: Keyspaces):
        self.store = store

    def prepare(self, cql: str) -> Prepared:
        _handler(cql)   # a statement the double does not know is refused when prepared
        return Prepared(cql)

    def execute(self, stmt, params=(), timeout=None):
        cql = stmt.query_string if isinstance(stmt, Prepared) else stmt
        LOG.append((cql, getattr(stmt, "consistency_level", None), getattr(stmt, "fetch_size", None)))
        handler, m = _handler(cql)
        with _lock:
            return handler(self.store, m, list(params or ()))


class DoubleCluster:
    def __init__(self, contact_points, port=9042, **options):
        self.contact_points, self.port, self.options = contact_points, port, options

    def connect(self, keyspace=None):
        if "unreachable" in self.contact_points:
            raise NoHostAvailable("Unable to connect to any servers", {"unreachable:9042": "Connection refused"})
        return DoubleSession(Keyspaces(Path(os.environ[STORE])))

    def shutdown(self):
        pass


class DoubledCassandra(CassandraDatabase):
    """The adapter with the double in place of the driver's ``Cluster``."""

    def cluster_class(self):
        return DoubleCluster


# -- the statements -----------------------------------------------------------------------
def _partitioner(store, m, params):
    return [(MURMUR3, "4.1.3")]


def _columns(store, m, params):
    ks, t = params
    cols = store.schema().get(ks, {}).get(t, [])
    return [(c["name"], c["kind"], c["position"], c["type"]) for c in cols]


def _selected(cols: list[dict], text: str) -> list[str]:
    known = {c["name"] for c in cols}
    wanted = names(text)
    for n in wanted:
        if n not in known:
            raise InvalidRequest(f"Undefined column name {n}")
    return wanted


def _check_partition_key(cols: list[dict], text: str) -> None:
    if names(text) != [c["name"] for c in _partition(cols)]:
        raise InvalidRequest("The token() function must be applied to all partition key components "
                             "or none of them")


def _token_range(store, m, params):
    """A page of rows in token order: after a token given as a number, or as the token
    of bound partition key values, up to a token given as a number."""
    table = ".".join(names(m["table"]))
    cols = store.table(table)
    _check_partition_key(cols, m["pk"])
    wanted = _selected(cols, m["cols"])
    part = _partition(cols)
    lo = (_token(cols, [held(c["type"], v) for c, v in zip(part, params)]) if m["lo"].startswith("token")
          else int(m["lo"]))
    hi = int(m["hi"])
    found = sorted(((_row_token(cols, r), key), r) for key, r in store.rows(table).items())
    return [tuple(r[n] for n in wanted) for (tok, _), r in found if lo < tok <= hi][:int(m["limit"])]


def _one_partition(store, m, params):
    table = ".".join(names(m["table"]))
    cols = store.table(table)
    wanted = _selected(cols, m["cols"])
    part = _partition(cols)
    if names(m["where"]) != [c["name"] for c in part]:
        raise InvalidRequest("Cannot execute this query as it might involve data filtering")
    want = [held(c["type"], v) for c, v in zip(part, params)]
    rows = [r for r in store.rows(table).values() if [r[c["name"]] for c in part] == want]
    return [tuple(r[n] for n in wanted) for r in rows]


def _in_keys(store, m, params):
    table = ".".join(names(m["table"]))
    cols = store.table(table)
    wanted = _selected(cols, m["cols"])
    (key,) = names(m["key"])
    keyed = [c for c in cols if c["kind"] != "regular"]
    if [c["name"] for c in keyed] != [key]:
        raise InvalidRequest("IN on a key other than a whole one-column primary key")
    ktype = keyed[0]["type"]
    rows = store.rows(table)
    hits = [rows[(held(ktype, k),)] for k in dict.fromkeys(params) if (held(ktype, k),) in rows]
    return [tuple(r[n] for n in wanted) for r in hits]


def _select_all(store, m, params):
    table = ".".join(names(m["table"]))
    wanted = _selected(store.table(table), m["cols"])
    return [tuple(r[n] for n in wanted) for r in store.rows(table).values()]


def _create_keyspace(store, m, params):
    schema = store.schema()
    schema.setdefault(unquote(m["ks"]), {})
    store.save_schema(schema)
    return []


def _drop_keyspace(store, m, params):
    schema = store.schema()
    ks = unquote(m["ks"])
    for t in schema.pop(ks, {}):
        (store.root / f"rows.{ks}.{t}.pickle").unlink(missing_ok=True)
    store.save_schema(schema)
    return []


def _create_table(store, m, params):
    ks, t = names(m["table"])
    partition, clustering = names(m["part"]), names(m["clus"] or "")
    cols = []
    for spec in split_top(m["body"]):
        name, typ = re.fullmatch(rf"\s*({ID}) (.+)", spec).groups()
        n = unquote(name)
        kind, pos = (("partition_key", partition.index(n)) if n in partition else
                     ("clustering", clustering.index(n)) if n in clustering else ("regular", -1))
        cols.append({"name": n, "type": typ.strip(), "kind": kind, "position": pos})
    schema = store.schema()
    if ks not in schema:
        raise InvalidRequest(f"Keyspace {ks} does not exist")
    schema[ks][t] = cols
    store.save_schema(schema)
    return []


def _insert(store, m, params):
    table = ".".join(names(m["table"]))
    cols = {c["name"]: c for c in store.table(table)}
    given = dict(zip(names(m["cols"]), params))
    row = {n: held(c["type"], given.get(n)) for n, c in cols.items()}
    keyed = sorted((c for c in cols.values() if c["kind"] != "regular"),
                   key=lambda c: (c["kind"] != "partition_key", c["position"]))
    for c in keyed:
        if row[c["name"]] is None or (c["kind"] == "partition_key" and row[c["name"]] in ("", b"")):
            raise InvalidRequest(f"Invalid null or empty value for key column {c['name']}")
    rows = store.rows(table)
    rows[tuple(row[c["name"]] for c in keyed)] = row
    store.save_rows(table, rows)
    return []


STATEMENTS = [
    (r"SELECT partitioner, release_version FROM system\.local", _partitioner),
    (r"SELECT column_name, kind, position, type FROM system_schema\.columns "
     r"WHERE keyspace_name = \? AND table_name = \?", _columns),
    (rf"SELECT (?P<cols>.*?) FROM {TABLE} WHERE token\((?P<pk>[^)]*)\) > (?P<lo>-?\d+|token\((?:\?, )*\?\)) "
     rf"AND token\((?P=pk)\) <= (?P<hi>-?\d+) LIMIT (?P<limit>\d+)", _token_range),
    (rf"SELECT (?P<cols>.*?) FROM {TABLE} WHERE (?P<where>{ID} = \?(?: AND {ID} = \?)*)", _one_partition),
    (rf"SELECT (?P<cols>.*?) FROM {TABLE} WHERE (?P<key>{ID}) IN \((?:\?, )*\?\)", _in_keys),
    (rf"SELECT (?P<cols>.*?) FROM {TABLE}", _select_all),
    (rf"CREATE KEYSPACE (?P<ks>{ID}) WITH replication = .*", _create_keyspace),
    (rf"DROP KEYSPACE IF EXISTS (?P<ks>{ID})", _drop_keyspace),
    (rf"CREATE TABLE {TABLE} \((?P<body>.*), PRIMARY KEY \(\((?P<part>[^)]*)\)(?:, (?P<clus>[^)]*))?\)\)",
     _create_table),
    (rf"INSERT INTO {TABLE} \((?P<cols>[^)]*)\) VALUES \((?:\?, )*\?\)", _insert),
]


def _handler(cql: str):
    for pattern, handler in STATEMENTS:
        m = re.fullmatch(pattern, cql.strip(), re.S)
        if m:
            return handler, m
    raise InvalidRequest(f"line 1:0 no viable alternative at input ({cql[:80]!r})")
