"""Event streams in the bank's words, for unit, integration and fault tests."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

T0 = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def iso(t: datetime) -> str:
    return t.isoformat()


def profile(cid: str, at: datetime = T0, **kw: Any) -> dict[str, Any]:
    p = {
        "customer_id": cid,
        "updated_at": iso(at),
        "birth_date": "1985-04-12",
        "advisor_id": "adv-7",
        "branch_id": "br-1",
        "segment": "retail",
        "consents": {"phone": True, "email": True, "letter": True, "online_banking": True},
        "products": ["current_account"],
    }
    p.update(kw)
    return p


def order_step(
    cid: str,
    order: str,
    status: str,
    step: int,
    at: datetime,
    product: str = "credit_card",
    channel: str = "online_banking",
    total: int = 4,
) -> dict[str, Any]:
    return {
        "event_id": f"{order}-{status}-{step}",
        "customer_id": cid,
        "order_id": order,
        "product": product,
        "channel": channel,
        "occurred_at": iso(at),
        "status": status,
        "step": step,
        "total_steps": total,
    }


def abandoned_card_order(cid: str, at: datetime = T0) -> list[dict[str, Any]]:
    """Started, two steps filled, then nothing: abandoned at step 2."""
    order = f"ord-{cid}"
    return [
        order_step(cid, order, "started", 0, at),
        order_step(cid, order, "step_completed", 1, at + timedelta(minutes=1)),
        order_step(cid, order, "step_completed", 2, at + timedelta(minutes=3)),
    ]


def inbound_call(cid: str, at: datetime, agent: str = "kdc-12") -> dict[str, Any]:
    return {
        "event_id": f"call-{cid}-{int(at.timestamp())}",
        "customer_id": cid,
        "channel": "call_centre",
        "kind": "inbound_call",
        "occurred_at": iso(at),
        "agent_id": agent,
        "subject": "account transactions",
    }


def order_stream(
    customers: int, seed: int = 7, spacing: timedelta = timedelta(seconds=5)
) -> Iterator[dict[str, Any]]:
    """Thousands of order events over many customers, in event-time order.

    Every customer starts a card order; a third complete it, a third cancel it
    and a third abandon it (their deadline fires on later customers' events).
    """
    t = T0
    for n in range(customers):
        cid = f"c{seed}-{n:05d}"
        order = f"o{seed}-{n:05d}"
        yield order_step(cid, order, "started", 0, t)
        yield order_step(cid, order, "step_completed", 1, t + timedelta(seconds=30))
        if n % 3 == 0:
            yield order_step(cid, order, "completed", 4, t + timedelta(minutes=2))
        elif n % 3 == 1:
            yield order_step(cid, order, "cancelled", 1, t + timedelta(minutes=2))
        t += spacing


def as_bytes(event: dict[str, Any]) -> bytes:
    return orjson.dumps(event)
