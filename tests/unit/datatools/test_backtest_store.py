"""The backtest's store (datatools/backtest_store.py) is a MemoryStore whose ``due`` answers
the same, without looking at every timer of the partition."""

from __future__ import annotations

import contextlib
import gc
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from impulse_stream.datatools.backtest_store import BacktestStore
from impulse_stream.datatools.collector import fewer_collections
from impulse_stream.store.base import CustomerWrite
from impulse_stream.store.memory import MemoryStore
from tests.store_contract import *  # noqa: F403


@pytest.fixture
def store():
    return BacktestStore()


# One step: write customers (a wake-up or none, some on a stale version), erase one, or
# ask who is due.
_step = st.one_of(
    st.tuples(
        st.just("write"),
        st.lists(
            st.tuples(st.integers(0, 12), st.integers(0, 2), st.none() | st.integers(0, 60)),
            max_size=6,
        ),
        st.booleans(),
    ),
    st.tuples(st.just("erase"), st.integers(0, 12), st.integers(0, 2)),
    st.tuples(st.just("due"), st.integers(0, 2), st.integers(0, 70), st.integers(1, 8)),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_step, max_size=40))
async def test_due_answers_what_the_memory_store_answers_after_any_writes_and_erasures(steps):
    """The same due customers; as the next wake-up the memory store's or an earlier one."""
    ours, reference = BacktestStore(), MemoryStore()
    versions: dict[str, int] = {}
    offset = 0
    for step in steps:
        if step[0] == "write":
            _, customers, stale = step
            writes = []
            for n, partition, wake in dict((c[0], c) for c in customers).values():
                cid = f"c{n}"
                offset += 1
                writes.append(
                    CustomerWrite(
                        customer_id=cid,
                        partition=partition,
                        expected_version=versions.get(cid, 0) - (1 if stale else 0),
                        state=b"s",
                        fences={"bank.transactions:0": offset},
                        wakeup_ms=wake,
                    )
                )
            refused = [await s.commit(writes) for s in (ours, reference)]
            assert refused[0] == refused[1]
            for w in writes:
                if w.customer_id not in refused[0]:
                    versions[w.customer_id] = w.expected_version + 1
        elif step[0] == "erase":
            _, n, partition = step
            for s in (ours, reference):
                await s.erase([(f"c{n}", partition)])
            versions.pop(f"c{n}", None)
        else:
            _, partition, until, limit = step
            got = await ours.due_and_next(partition, until, limit)
            expected = await reference.due_and_next(partition, until, limit)
            assert got.customers == expected.customers
            # The heap's top may be a stale entry: a lower bound of the next wake-up.
            if expected.next_ms is None:
                assert got.next_ms is None or got.next_ms > until
            else:
                assert got.next_ms is not None and got.next_ms <= expected.next_ms


async def test_a_heap_grown_by_stale_entries_is_rebuilt_from_the_timers():
    s = BacktestStore()
    rng = random.Random(3)
    for version in range(200):  # one customer's timer moved 200 times
        write = CustomerWrite("c1", 0, version, b"s", {"t:0": version}, wakeup_ms=rng.randrange(99))
        assert await s.commit([write]) == set()
    assert len(s._due[0]) <= 2 * len(s.timers[0]) + 64
    assert await s.due(0, 100, 10) == ["c1"]


def test_a_backtest_gives_the_same_output_bytes_as_on_the_plain_memory_store(tmp_path, monkeypatch):
    from impulse_stream.catalogue_loader import load_catalogue
    from impulse_stream.datatools import backtest
    from impulse_stream.datatools.generate import GenerateSpec, write_files
    from impulse_stream.datatools.recording import read_timed_recordings, recording_files

    write_files(GenerateSpec(60, 30, 5), tmp_path, 6)
    messages = [m for _, m in read_timed_recordings(recording_files([tmp_path]))]
    catalogue = load_catalogue()
    today = backtest.run_catalogue(catalogue, messages, "today")
    monkeypatch.setattr(backtest, "BacktestStore", MemoryStore)
    monkeypatch.setattr(backtest, "fewer_collections", contextlib.nullcontext)
    plain = backtest.run_catalogue(catalogue, messages, "plain")
    assert len(today.messages) > 100
    assert today == plain  # every message's topic, key, value and headers, in order


def test_fewer_collections_freezes_and_raises_the_young_threshold_then_restores_both():
    before = gc.get_threshold()
    with fewer_collections(young=12_345):
        assert gc.get_threshold() == (12_345, *before[1:])
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0
