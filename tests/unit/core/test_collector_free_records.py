"""The records the worker makes for every event are invisible to the garbage collector.

The contract's records (``core/events.py``), the state's structs
(``core/state.py``), the acceptance observations and the decoder's amount
check are declared ``gc=False``: the collector neither tracks them nor counts
their allocations towards its next run. That is safe only for objects that
can never be part of a reference cycle (a cycle of them would never be
freed): each is frozen (its fields are set once, to objects made before it)
and every field holds scalars, tuples or other such records, never a list,
dict, set or an arbitrary object.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import msgspec
import msgspec.inspect as mi

from impulse_stream.contract import codec as contract_codec
from impulse_stream.contract.codec import decode
from impulse_stream.core import deadlines, events, learning, state
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from tests.support.scenarios import T0, abandoned_card_order, as_bytes, profile

_SCALARS = (
    mi.StrType,
    mi.IntType,
    mi.FloatType,
    mi.BoolType,
    mi.NoneType,
    mi.DecimalType,
    mi.DateType,
    mi.DateTimeType,
    mi.LiteralType,
    mi.EnumType,
)


def _gc_free_classes() -> list[type[msgspec.Struct]]:
    modules = {events.__name__, state.__name__, learning.__name__, deadlines.__name__,
               contract_codec.__name__}  # fmt: skip
    found: list[type[msgspec.Struct]] = []
    todo: list[type[msgspec.Struct]] = [msgspec.Struct]
    while todo:
        cls = todo.pop()
        todo += cls.__subclasses__()
        if cls.__module__ in modules and not cls.__struct_config__.gc:
            found.append(cls)
    return sorted(found, key=lambda c: (c.__module__, c.__qualname__))


def _scalar(t: mi.Type) -> bool:
    if isinstance(t, mi.Metadata):  # a constraint or a description on the type
        return _scalar(t.type)
    if isinstance(t, mi.UnionType):
        return all(_scalar(u) for u in t.types)
    return isinstance(t, _SCALARS)


def _cycle_free(t: mi.Type) -> bool:
    """True when a value of type ``t`` cannot lead back to the object holding it."""
    if isinstance(t, mi.Metadata):
        return _cycle_free(t.type)
    if isinstance(t, _SCALARS):
        return True
    if isinstance(t, mi.UnionType):
        return all(_cycle_free(u) for u in t.types)
    if isinstance(t, mi.VarTupleType):
        return _cycle_free(t.item_type)
    if isinstance(t, mi.TupleType):
        return all(_cycle_free(u) for u in t.item_types)
    if isinstance(t, mi.StructType):  # checked on its own below
        return not t.cls.__struct_config__.gc
    return False  # list, dict, set, Any, ...


def test_the_per_event_records_are_gc_free_and_none_can_be_part_of_a_reference_cycle() -> None:
    classes = _gc_free_classes()
    names = {c.__name__ for c in classes}
    assert {"Transaction", "OrderStep", "Opportunity", "Impulse", "CustomerState"} <= names
    assert {"OrderProcess", "AcceptanceObservation", "Deadline", "_TransactionAmounts"} <= names
    for cls in classes:
        info = mi.type_info(cls)
        assert isinstance(info, mi.StructType)
        scalars_only = all(_scalar(f.type) for f in info.fields)
        assert cls.__struct_config__.frozen or scalars_only, cls
        for f in info.fields:
            assert _cycle_free(f.type), f"{cls.__qualname__}.{f.name}: {f.type}"


def _structs(obj: Any) -> Iterator[msgspec.Struct]:
    if isinstance(obj, msgspec.Struct):
        yield obj
        for name in obj.__struct_fields__:
            yield from _structs(getattr(obj, name))
    elif isinstance(obj, tuple):
        for item in obj:
            yield from _structs(item)


def test_an_abandoned_order_its_outputs_and_its_decoded_state_are_not_tracked_by_the_collector(
    engine: DecisionEngine,
) -> None:
    cid = "c-gc-1"
    raw = [("customers.profile", profile(cid))] + [
        ("orders.flow", e) for e in abandoned_card_order(cid)
    ]
    inputs = [decode(topic, cid.encode(), as_bytes(e)) for topic, e in raw]
    customer: state.CustomerState | None = None
    outputs: list[Any] = []
    for event in inputs:
        decision = engine.apply(customer, event, event.occurred_at)
        customer, outputs = decision.state, [*outputs, *decision.outputs]
    assert customer is not None
    wakeup = engine.next_wakeup(customer)
    assert isinstance(wakeup, datetime) and wakeup > T0
    decision = engine.advance(customer, wakeup)  # the abandonment deadline: an opportunity
    outputs += decision.outputs
    decoded = decode_state(encode_state(decision.state))
    assert decoded == decision.state
    assert any(isinstance(o, events.Opportunity) for o in outputs)
    made = [s for root in (*inputs, *outputs, decoded) for s in _structs(root)]
    assert len(made) > 20
    assert [s for s in made if gc.is_tracked(s)] == []
