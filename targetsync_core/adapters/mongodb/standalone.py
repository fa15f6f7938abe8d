"""Applying change files to a standalone MongoDB server, which has no multi-document
transactions: a file in chunks of ``CHUNK_OPS`` writes, each followed by its record.

A file's records become writes in one fixed order (``applier.writes``: per batch its
deletes, upserts, then updates), cut into chunks of ``CHUNK_OPS``. Chunk ``k`` is one
``bulk_write`` per run of one table and op, then its record ``{_id: "run/file/k", start,
end}`` (the writes it covered); the file's own record ``{_id: "run/file"}`` comes last, and
only it makes the file applied (``applied_files``). Before every chunk, and before the
file's record, the lease is renewed, by a single-document compare-and-swap
(``MongoApplier._claim``): a loader that lost it stops there with LeaseHeld.

**Why replaying is safe.** A loader killed mid-file leaves some chunks recorded and maybe
part of the next one written. Run again, it finds no record of the file, reads its chunk
records, skips the writes they cover (they were made: a record follows its chunk's
writes) and goes on from there, numbering on. The chunk it was in is written again in
full, which changes nothing twice: every write is idempotent per key (``ReplaceOne`` with
upsert sets the whole document, ``$set`` sets the same values, a delete of a deleted key
deletes nothing), and a key is changed at most once per table in a file, so no write of
the chunk undoes another. The skip counts writes, not chunk numbers, so a different
``CHUNK_OPS`` after a restart is fine. A file that fails to decode anywhere applies
nothing: it is decoded in full first, as on the transactional path.

**What it gives up.** Between a file's first chunk and its record the target holds part of
the file: a reader (a validate run) may see it half applied, and a loader that dies there
leaves it so until it runs again. ``MongoDatabase.capabilities.transactional_apply`` says
False for such a server.
"""
from __future__ import annotations

import itertools
import time
from typing import Iterable, Iterator

from targetsync_core import faults
from targetsync_core.adapters.base import LeaseHolder, TableBatch
from targetsync_core.adapters.mongodb.applier import APPLIED, MongoApplier, Write, bulk_write, writes

#: writes applied, and recorded, at a time
CHUNK_OPS = 1000
#: fault point passed after a chunk's writes, before its record
CHUNK_WRITTEN = "mongodb.chunk_written"


def chunks(items: Iterable[Write], size: int) -> Iterator[list[Write]]:
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


class ChunkedApplier(MongoApplier):
    """One file, chunk by recorded chunk (no transactions: see the module)."""

    def _apply(self, run_id: str, file_no: int, batches: list[TableBatch], holder: LeaseHolder, ttl: float) -> None:
        self.missed = {}
        self._claim(holder, ttl)
        if self._applied(run_id, file_no):
            return
        number, done = self._resumed(run_id, file_no)
        for chunk in chunks(itertools.islice(writes(self.db, batches), done, None), CHUNK_OPS):
            bulk_write(self.db, chunk, None, self.missed)
            faults.point(CHUNK_WRITTEN)
            self._record_chunk(run_id, file_no, number, done, done + len(chunk))
            number, done = number + 1, done + len(chunk)
            self._claim(holder, ttl)
        self._record_file(run_id, file_no, batches)

    def _resumed(self, run_id: str, file_no: int) -> tuple[int, int]:
        """(chunks recorded, writes they covered) of a file an earlier loader began."""
        recorded = list(self.meta[APPLIED].find({"run_id": run_id, "file_no": file_no, "chunk": {"$exists": True}},
                                                {"end": 1}))
        return len(recorded), max((r["end"] for r in recorded), default=0)

    def _record_chunk(self, run_id: str, file_no: int, number: int, start: int, end: int) -> None:
        self.meta[APPLIED].insert_one({"_id": f"{run_id}/{file_no}/{number}", "run_id": run_id, "file_no": file_no,
                                       "chunk": number, "start": start, "end": end, "applied_at": time.time()})
