"""The reference workload through the decision core alone, stage by stage.

The bench's workload (``bench/workload.py``) merged across topics in event
time, decoded by the contract and applied by ``DecisionEngine`` customer by
customer with the partition's watermark, the way the processor does it
without batching, Kafka or Redis. It yields every state the store would write,
which trains and measures the state codec, and a hash of every output and
state, which must not depend on the build (interpreted or compiled core) or
on the state codec.
"""

from __future__ import annotations

import hashlib
import heapq
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

import msgspec

from bench.workload import Message, Workload, build_workload
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract.codec import decode
from impulse_stream.core import recent_events
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import InputEvent
from impulse_stream.core.state import CustomerState


def merged(workload: Workload) -> list[Message]:
    """Every message of the workload, all topics merged in event time."""
    return list(heapq.merge(*workload.by_topic.values(), key=lambda m: m.at))


def decoded(messages: list[Message]) -> list[InputEvent]:
    return [decode(m.topic, m.key, m.value) for m in messages]


@dataclass
class Step:
    event: InputEvent
    watermark: datetime


def steps(events: list[InputEvent]) -> Iterator[Step]:
    watermark: datetime | None = None
    for event in events:
        watermark = event.occurred_at if watermark is None else max(watermark, event.occurred_at)
        yield Step(event, watermark)


def written_states(events: int, seed: int = 7) -> Iterator[CustomerState]:
    """Every state the store would write for the workload, in order."""
    engine = DecisionEngine(load_catalogue())
    states: dict[str, CustomerState] = {}
    for step in steps(decoded(merged(build_workload(events, seed)))):
        decision = engine.apply(states.get(step.event.customer_id), step.event, step.watermark)
        states[step.event.customer_id] = decision.state
        yield decision.state


def remembering_states(events: int, seed: int = 7) -> Iterator[CustomerState]:
    """Every state the worker would write for the workload, with its recent-event memory.

    ``written_states`` plus what the processor adds around the core: each
    event's ``event_id`` is remembered (``core/recent_events.py``), and a
    repeat is skipped. The states a store holds after a run look like these.
    """
    engine = DecisionEngine(load_catalogue())
    states: dict[str, CustomerState] = {}
    for step in steps(decoded(merged(build_workload(events, seed)))):
        state = states.get(step.event.customer_id)
        mark = recent_events.fingerprint(step.event)
        if recent_events.seen_before(state, mark) is not recent_events.Seen.NEW:
            continue
        decision = engine.apply(state, step.event, step.watermark)
        states[step.event.customer_id] = recent_events.remember(decision.state, mark)
        yield states[step.event.customer_id]


def fingerprint(
    events: int,
    seed: int = 7,
    encode: Callable[[CustomerState], bytes] = encode_state,
) -> str:
    """A hash of every output and every state, each state through the codec and back.

    The same for every build of the core and every state codec: states are
    stored with ``encode`` (today's ``encode_state`` or an older encoder) and
    read back with ``decode_state`` between events, as in the store, and
    hashed by their msgpack layout.
    """
    engine = DecisionEngine(load_catalogue())
    blobs: dict[str, bytes] = {}
    digest = hashlib.sha256()
    for step in steps(decoded(merged(build_workload(events, seed)))):
        blob = blobs.get(step.event.customer_id)
        state = decode_state(blob) if blob is not None else None
        decision = engine.apply(state, step.event, step.watermark)
        blobs[step.event.customer_id] = encode(decision.state)
        digest.update(msgspec.json.encode(decision.outputs))
        digest.update(msgspec.msgpack.encode(decision.state))
    return digest.hexdigest()
