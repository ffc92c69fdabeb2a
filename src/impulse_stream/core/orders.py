"""The running order processes kept in the state (bounded, in start order)."""

from __future__ import annotations

import msgspec

from impulse_stream.core.state import MAX_ORDERS, CustomerState, OrderProcess


def find_order(state: CustomerState, order_id: str) -> OrderProcess | None:
    return next((o for o in state.orders if o.order_id == order_id), None)


def keep_order(state: CustomerState, order: OrderProcess) -> CustomerState:
    """The state with ``order`` replacing its earlier version; the oldest ended
    order makes room when the bound is reached."""
    orders = [o for o in state.orders if o.order_id != order.order_id] + [order]
    while len(orders) > MAX_ORDERS:
        ended = [o for o in orders if o.status != "open"] or orders
        orders.remove(min(ended, key=lambda o: (o.updated_at or o.started_at, o.order_id)))
    return msgspec.structs.replace(
        state, orders=tuple(sorted(orders, key=lambda o: (o.started_at, o.order_id)))
    )
