"""A MongoDB target that counts its writes, for the crash suites: MongoDB has no triggers,
and a change stream cannot stand in for one, since replaying a file rewrites every
document as it already is, a no-op that neither MongoDB nor secantusdb reports as a
change. So the tests serve ``mongodb`` with :class:`CountedMongoDatabase` (the registry's
``TARGETSYNC_ADAPTER_MONGODB``, seen by the loaders they start too): its appliers' bulk
writes also add the documents the server says each wrote (inserted, upserted, matched
or deleted, as a row trigger fires for an INSERT, an UPDATE even to the same values, a
DELETE) to ``write_count``, in the same session, and so in the same transaction as the
writes. The count comes from the server's replies, not from the applied record the
loader keeps: a file applied twice counts twice."""
from __future__ import annotations

from targetsync_core.adapters.mongodb.adapter import MongoDatabase
from targetsync_core.dsn import parse_dsn

COUNTER = "write_count"
VARIABLE, CLASS = "TARGETSYNC_ADAPTER_MONGODB", f"{__name__}:CountedMongoDatabase"


class CountedCollection:
    """A collection whose ``bulk_write`` adds what it wrote to ``counter`` in its session."""

    def __init__(self, collection, counter):
        self._collection, self._counter = collection, counter

    def bulk_write(self, requests, **kw):
        result = self._collection.bulk_write(requests, **kw)
        written = result.inserted_count + result.upserted_count + result.matched_count + result.deleted_count
        self._counter.update_one({"_id": self._collection.full_name}, {"$inc": {"n": written}}, upsert=True,
                                 session=kw.get("session"))
        return result

    def __getattr__(self, name):
        return getattr(self._collection, name)


class CountedMongoDatabase(MongoDatabase):
    def collection(self, table):
        return CountedCollection(super().collection(table), self.meta()[COUNTER])


def start_counting(monkeypatch) -> None:
    """From now on this process and those it starts count their writes to MongoDB."""
    monkeypatch.setenv(VARIABLE, CLASS)


def count(tgt, table: str = "items") -> int:
    """The documents written to ``table`` of ``tgt`` since counting began."""
    import pymongo
    client = pymongo.MongoClient(tgt.url)
    try:
        found = client[parse_dsn(tgt.url).database][COUNTER].find_one({"_id": f"{tgt.schema}.{table}"})
        return found["n"] if found else 0
    finally:
        client.close()
