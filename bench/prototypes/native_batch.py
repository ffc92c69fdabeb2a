"""One native call per batch (``bench/prototypes/native``) and its Python reference.

The slice both run, per batch of ``(logical topic, key, value)`` records and
the stored state blobs by customer id (``None``: no state yet):

1. decode every record as the worker does (``contract/codec.py``);
2. read the state of every customer the batch names (``core/codec.py``; a new
   customer starts from ``new_state``);
3. the recent-event memory of the processor (``core/recent_events.py``): the
   event's fingerprint, repeat / conflict / new against the remembered events,
   a new one remembered (the oldest aging out);
4. a new booking's rolling aggregates (``core/aggregates.py``'s
   ``update_aggregates`` with the catalogue's ``aggregates`` rules: income per
   month, usual balance, overdraft days, recurring payees);
5. write every touched state back (format 4).

Per record the output is ``(customer_id, verdict, canonical JSON, reason)``:
the verdict is ``new``, ``repeat``, ``conflict``, ``unnamed`` (a record
without ``event_id``) or ``dead`` (with the dead-letter reason of the
decoder); the canonical JSON is ``recent_events``' encoding of the decoded
record, which the content digest hashes, so equal bytes mean equal fields.

The native side decodes ``bank.transactions`` and ``orders.flow`` records
itself, from a spec built here from ``msgspec.inspect`` of the contract's
records (field names, defaults, patterns, lengths, enums, bounds, the amount
patterns and time range of ``contract/codec.py``). It is strict: every record
outside the subset it implements (another topic, a time that is not whole
seconds in UTC, a control character in a string, a number where an integer
belongs, any record the contract refuses) is handed to :func:`fallback`, the
Python decoder, which also gives the dead-letter reason. A state of another
format than 4 is rewritten to format 4 by Python first (:func:`restate`); a
payee name or IBAN that is not plain printable ASCII gets its key and label
from Python (:func:`payee`). The aggregates' rules (``AggregateRules`` of the
validated catalogue) and caps are handed over as JSON.
"""

from __future__ import annotations

import typing
from collections.abc import Mapping, Sequence
from decimal import Decimal
from functools import cache
from typing import Any, Protocol

import msgspec
import orjson

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.contract.codec import (
    DEFAULT_MAX_BYTES,
    EARLIEST_TIME,
    INPUT_RECORDS,
    LATEST_TIME,
    _TransactionAmounts,
    decode,
)
from impulse_stream.core import aggregates, state_dictionary_2
from impulse_stream.core.aggregates import payee_key, update_aggregates
from impulse_stream.core.catalogue import AggregateRules
from impulse_stream.core.codec import (
    DICTIONARY_ID,
    ZSTD_LEVEL,
    compressed_part,
    decode_state,
    encode_state,
)
from impulse_stream.core.events import Counterparty, Transaction
from impulse_stream.core.recent_events import (
    _CANONICAL,
    MAX_RECENT_EVENTS,
    Seen,
    fingerprint,
    remember,
    seen_before,
)
from impulse_stream.core.state import MAX_OVERDRAFT_DAYS, MAX_PAYEES, CustomerState, new_state
from impulse_stream.errors import DecodeFailure

Record = tuple[str, bytes | None, bytes | None]  # logical topic, key, value
Output = tuple[str | None, str, bytes | None, str | None]
NATIVE_TOPICS = (topics.TRANSACTIONS, topics.ORDERS)  # what the property test covers


class Batcher(Protocol):
    def run_batch(
        self,
        records: Sequence[Record],
        states: Mapping[str, bytes | None],
        fallback: typing.Callable[..., tuple[Any, ...]],
        restate: typing.Callable[[bytes], bytes],
        payee: typing.Callable[[str, str | None], tuple[str, str] | None],
        canonical: bool = True,
    ) -> tuple[dict[str, bytes], list[Output]]: ...


class UnsupportedField(Exception):
    """A field type the native subset does not implement: its topic stays in Python."""


def _field(name: str, kind: Any, required: bool, default: Any) -> dict[str, Any]:
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    nullable = False
    if isinstance(kind, msgspec.inspect.UnionType):
        others = [t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType)]
        if len(others) != 1 or len(kind.types) != 2:
            raise UnsupportedField(name)
        nullable, kind = True, others[0]
    if isinstance(kind, msgspec.inspect.Metadata):
        kind = kind.type
    spec: dict[str, Any] = {"name": name, "required": required, "nullable": nullable}
    if default is not msgspec.NODEFAULT and not isinstance(default, msgspec.Struct):
        spec["default"] = default
    if isinstance(kind, msgspec.inspect.StrType):
        spec.update(kind="str", pattern=kind.pattern, min_length=kind.min_length)
        spec["max_length"] = kind.max_length
    elif isinstance(kind, msgspec.inspect.LiteralType):
        if not all(isinstance(v, str) for v in kind.values):
            raise UnsupportedField(name)
        spec.update(kind="str", choices=list(kind.values))
    elif isinstance(kind, msgspec.inspect.IntType):
        if kind.multiple_of is not None or kind.gt is not None or kind.lt is not None:
            raise UnsupportedField(name)
        spec.update(kind="int", ge=kind.ge, le=kind.le)
    elif isinstance(kind, msgspec.inspect.DateTimeType) and kind.tz:
        spec.update(kind="datetime")
    elif isinstance(kind, msgspec.inspect.DecimalType):
        spec.update(kind="decimal")
    elif isinstance(kind, msgspec.inspect.StructType) and not nullable:
        spec.update(kind="struct", fields=_fields(kind.cls))
    else:
        raise UnsupportedField(name)
    return spec


def _fields(cls: type[msgspec.Struct]) -> list[dict[str, Any]]:
    info = msgspec.inspect.type_info(cls)
    assert isinstance(info, msgspec.inspect.StructType)
    if info.array_like or info.forbid_unknown_fields or info.tag_field is not None:
        raise UnsupportedField(cls.__name__)
    return [_field(f.encode_name, f.type, f.required, f.default) for f in info.fields]


def _amount_patterns() -> dict[str, str]:
    info = msgspec.inspect.type_info(_TransactionAmounts)
    assert isinstance(info, msgspec.inspect.StructType)
    patterns = {}
    for f in info.fields:
        kind = f.type
        if isinstance(kind, msgspec.inspect.UnionType):
            kind = next(t for t in kind.types if not isinstance(t, msgspec.inspect.NoneType))
        assert isinstance(kind, msgspec.inspect.StrType) and kind.pattern is not None
        patterns[f.name] = kind.pattern
    return patterns


def build_spec(native_topics: Sequence[str] = NATIVE_TOPICS) -> str:
    """The contract subset handed to the native decoder, as JSON."""
    spec: dict[str, Any] = {}
    for topic in native_topics:
        fields = _fields(INPUT_RECORDS[topic])
        amounts = _amount_patterns() if topic == topics.TRANSACTIONS else {}
        decimals = {f["name"] for f in fields if f["kind"] == "decimal"}
        if decimals - set(amounts):
            raise UnsupportedField(f"{topic}: decimals without an amount pattern")
        spec[topic] = {"fields": fields, "amounts": amounts}
    return orjson.dumps(
        {
            "topics": spec,
            "earliest": int(EARLIEST_TIME.timestamp()),
            "latest": int(LATEST_TIME.timestamp()),
            "max_bytes": DEFAULT_MAX_BYTES,
            "max_recent": MAX_RECENT_EVENTS,
        }
    ).decode()


def fallback(topic: str, key: bytes | None, value: bytes | None) -> tuple[Any, ...]:
    """A record the native decoder left to Python: its fields, or the dead-letter reason."""
    try:
        event = decode(topic, key, value)
    except DecodeFailure as exc:
        return ("dead", exc.reason)
    return ("ok", event.customer_id, getattr(event, "event_id", None), _CANONICAL.encode(event))


def payee(name: str, iban: str | None) -> tuple[str, str] | None:
    """``payee_key`` and the label ``update_aggregates`` gives a debit's counterparty."""
    counterparty = Counterparty(name=name, iban=iban)
    key = payee_key(msgspec.structs.replace(_BOOKING, counterparty=counterparty))
    if key is None:
        return None
    return key, name.strip()[:24] or (iban or "")[:24]


_BOOKING = Transaction(
    event_id="e",
    customer_id="c",
    account_id="a",
    booked_at=EARLIEST_TIME,
    amount=Decimal(0),
    currency="EUR",
    direction="debit",
)


@cache
def aggregate_rules() -> AggregateRules:
    return load_catalogue().aggregates


def restate(blob: bytes) -> bytes:
    """A state blob of another format (or dictionary) as format 4; raises on corrupt ones."""
    return encode_state(decode_state(blob))


def _aggregates_spec() -> str:
    rules = aggregate_rules()
    return orjson.dumps(
        {
            "income_categories": list(rules.income_categories),
            "balance_smoothing": rules.balance_smoothing,
            "income_months": rules.income_months,
            "max_overdraft_days": MAX_OVERDRAFT_DAYS,
            "max_payees": MAX_PAYEES,
            "sample_cap": aggregates._SAMPLE_CAP,
            "month_cap": aggregates._MONTH_CAP,
            "aggregates_at": CustomerState.__struct_fields__.index("aggregates"),
        }
    ).decode()


@cache
def native() -> Batcher:
    """The native batcher (``make native`` builds it into the venv)."""
    import impulse_native  # type: ignore[import-not-found]

    batcher: Batcher = impulse_native.Batcher(
        build_spec(),
        state_dictionary_2.DICTIONARY,
        DICTIONARY_ID,
        ZSTD_LEVEL,
        compressed_part(new_state("")),
        CustomerState.__struct_fields__.index("customer_id"),
        _aggregates_spec(),
    )
    return batcher


def native_batch(
    records: Sequence[Record], states: Mapping[str, bytes | None], canonical: bool = True
) -> tuple[dict[str, bytes], list[Output]]:
    """The slice in one native call (``canonical``: as in :func:`python_batch`)."""
    return native().run_batch(records, states, fallback, restate, payee, canonical)


def python_batch(
    records: Sequence[Record], states: Mapping[str, bytes | None], canonical: bool = True
) -> tuple[dict[str, bytes], list[Output]]:
    """The slice in Python, the functions the worker runs (the reference).

    ``canonical=False`` leaves the canonical JSON out of the outputs (the
    measurement: the worker encodes it once, inside ``fingerprint``).
    """
    live: dict[str, CustomerState] = {}
    outputs: list[Output] = []
    rules = aggregate_rules()
    for topic, key, value in records:
        try:
            event = decode(topic, key, value)
        except DecodeFailure as exc:
            outputs.append((None, "dead", None, exc.reason))
            continue
        cid = event.customer_id
        state = live.get(cid)
        if state is None:
            blob = states.get(cid)
            state = decode_state(blob) if blob else new_state(cid)
        mark = fingerprint(event)
        seen = seen_before(state, mark)
        if mark is None:
            verdict = "unnamed"
        elif seen is Seen.NEW:
            verdict = "new"
            if isinstance(event, Transaction):
                new = update_aggregates(state.aggregates, event, rules)
                state = msgspec.structs.replace(state, aggregates=new)
            state = remember(state, mark)
        else:
            verdict = seen.value
        live[cid] = state
        outputs.append((cid, verdict, _CANONICAL.encode(event) if canonical else None, None))
    return {cid: encode_state(s) for cid, s in live.items()}, outputs
