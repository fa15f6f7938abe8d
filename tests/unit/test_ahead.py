"""``loader.ahead``: the next chunk of a change file is decoded in a thread while the
current one is applied; order, errors and early stops behave as a plain iteration."""
from __future__ import annotations

import threading

import pytest

from targetsync_core.errors import CktFormatError
from targetsync_core.load.loader import ahead


def test_items_come_in_order_and_all_of_them():
    assert list(ahead(iter(range(1000)))) == list(range(1000))
    assert list(ahead([])) == []


def test_an_error_in_the_worker_is_raised_to_the_consumer_after_the_items_before_it():
    def source():
        yield 1
        yield 2
        raise CktFormatError("bad line", "0.ckt", 3)
    got = []
    with pytest.raises(CktFormatError, match="bad line"):
        for x in ahead(source()):
            got.append(x)
    assert got == [1, 2]


def test_a_consumer_that_stops_early_stops_the_worker_and_closes_the_source():
    closed = threading.Event()
    produced = []

    def source():
        try:
            for i in range(10**6):
                produced.append(i)
                yield i
        finally:
            closed.set()
    it = ahead(source(), depth=1)
    assert next(it) == 0
    it.close()
    assert closed.is_set()
    assert len(produced) <= 3   # at most the item handed over, one queued and one in the making
    assert not any(t.name == "decode" and t.is_alive() for t in threading.enumerate())
