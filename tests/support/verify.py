"""The fault tests' verifier: the whole output of a real worker against the reference model.

The model is the worker's own batch path run on an in-memory store over the
same input messages (read back from Kafka with their real partitions and
offsets). Because the core is deterministic, the worker's output must hold
exactly the model's messages: no id missing, none extra, and an id that
appears twice must carry the same bytes both times.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core.codec import decode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.streaming.processor import InboundMessage
from impulse_stream.tools import model_run
from tests.support.kafka import Record, read_all

OUTPUTS = (topics.IMPULSES, topics.OPPORTUNITIES, topics.ATTRIBUTIONS)


def comparable_state(raw: bytes) -> object:
    """A customer's state without its clock: the last ``now`` a customer was advanced
    to depends on batch boundaries, everything else must not."""
    state = decode_state(raw)
    return state.__class__(**{**_fields(state), "clock": None})


def _fields(state: object) -> dict[str, object]:
    return {f: getattr(state, f) for f in state.__struct_fields__}  # type: ignore[attr-defined]


def state_differences(actual: dict[str, object], expected: dict[str, object], most: int = 3) -> str:
    """The customers whose stored state differs from the model's, field by field (for the
    assertion message: a difference in a fault test must be readable from the log)."""
    lines = []
    for cid in sorted(set(actual) | set(expected)):
        a, e = actual.get(cid), expected.get(cid)
        if a == e:
            continue
        if len(lines) >= most:
            lines.append("...")
            break
        if a is None or e is None:
            lines.append(f"{cid}: {'missing in Redis' if a is None else 'not in the model'}")
            continue
        fields = [f for f in _fields(e) if getattr(a, f) != getattr(e, f)]
        lines.append(
            f"{cid}: "
            + "; ".join(f"{f}: stored {getattr(a, f)!r} != model {getattr(e, f)!r}" for f in fields)
        )
    return "\n".join(lines)


@dataclass
class Expected:
    messages: dict[tuple[str, str], bytes]  # (logical topic, ce_id) -> value
    states: dict[str, object]
    inputs: int


@dataclass
class Report:
    missing: list[tuple[str, str]] = field(default_factory=list)
    extra: list[tuple[str, str]] = field(default_factory=list)
    conflicting: list[tuple[str, str]] = field(default_factory=list)
    different: list[tuple[str, str]] = field(default_factory=list)
    duplicates: int = 0

    @property
    def ok(self) -> bool:
        return not (self.missing or self.extra or self.conflicting or self.different)


async def expected_outputs(bootstrap: str, prefix: str, input_topic: str, count: int) -> Expected:
    records = await read_all(
        bootstrap, prefix + input_topic, until=lambda r: len(r) >= count, settle=0.2
    )
    inbound = [
        InboundMessage(r.topic[len(prefix) :], r.partition, r.offset, r.key, r.value)
        for r in sorted(records, key=lambda r: (r.partition, r.offset))
    ]
    run = await model_run(DecisionEngine(load_catalogue()), inbound, batch_size=300)
    messages = {}
    for m in run.messages:
        if m.topic in OUTPUTS:
            messages[(m.topic, dict(m.headers)["ce_id"].decode())] = m.value or b""
    states = {
        cid: comparable_state(rec.state)
        for cid, rec in run.store.customers.items()
        if rec.state is not None
    }
    return Expected(messages, states, len(inbound))


async def actual_outputs(
    bootstrap: str, prefix: str, expected: Expected, timeout: float = 180.0
) -> dict[tuple[str, str], list[bytes]]:
    got: dict[tuple[str, str], list[bytes]] = defaultdict(list)
    for topic in OUTPUTS:
        want = {k for k in expected.messages if k[0] == topic}

        def complete(records: list[Record], want: set = want, topic: str = topic) -> bool:
            seen = {(topic, r.headers.get("ce_id", b"").decode()) for r in records}
            return want <= seen

        for r in await read_all(bootstrap, prefix + topic, until=complete, timeout=timeout):
            got[(topic, r.headers["ce_id"].decode())].append(r.value or b"")
    return got


def compare(expected: Expected, got: dict[tuple[str, str], list[bytes]]) -> Report:
    report = Report()
    for key, value in expected.messages.items():
        values = got.get(key)
        if not values:
            report.missing.append(key)
            continue
        if len(set(values)) > 1:
            report.conflicting.append(key)
        elif values[0] != value:
            report.different.append(key)
        report.duplicates += len(values) - 1
    report.extra = sorted(set(got) - set(expected.messages))
    return report


async def redis_states(
    redis_url: str, redis_prefix: str, customers: list[str]
) -> dict[str, object]:
    from impulse_stream.store.redis import RedisStore

    store = RedisStore(redis_url, prefix=redis_prefix)
    try:
        loaded = await store.load(customers)
    finally:
        await store.close()
    return {cid: comparable_state(s.state) for cid, s in loaded.items() if s.state is not None}
