"""The decoders of user input under hypothesis: arbitrary bytes and mutations of valid
files end in acceptance or one clean line naming the file, never another exception.
(The same targets run for millions of inputs under atheris: fuzz/atheris_decoders.py.)"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from fuzz.targets import SEEDS, TARGETS


@st.composite
def mutated(draw, seed: bytes):
    """``seed`` with a few byte-level edits: flips, deletions, insertions, duplications."""
    data = bytearray(seed)
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "delete", "insert", "dup", "truncate"]))
        i = draw(st.integers(0, max(0, len(data) - 1)))
        if op == "flip" and data:
            data[i] = draw(st.integers(0, 255))
        elif op == "delete" and data:
            del data[i:i + draw(st.integers(1, 8))]
        elif op == "insert":
            data[i:i] = draw(st.sampled_from([b"\t", b"\n", b"\\", b"\\N", b"=", b".", b'"', b"\x00", b"\xff",
                                              b"-1", b"1e400", b"NaN", b"{}", b"[]", b"null", b"9" * 30]))
        elif op == "dup" and data:
            j = draw(st.integers(i, len(data)))
            data[j:j] = data[i:j]
        elif op == "truncate":
            del data[i:]
    return bytes(data)


@pytest.mark.parametrize("name", sorted(TARGETS))
@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_decoder_accepts_or_refuses_cleanly(name, data):
    payload = data.draw(st.one_of(mutated(SEEDS[name]), st.binary(max_size=300),
                                  st.text(max_size=200).map(str.encode)))
    TARGETS[name](payload)


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_seeds_are_accepted(name):
    assert TARGETS[name](SEEDS[name])  # the mutations start from valid input
