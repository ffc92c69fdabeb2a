"""Which opportunity a sale is credited to: the one the customer accepted, else the newest
one still open for the product; never a withdrawn or expired one."""

from __future__ import annotations

from datetime import timedelta

from impulse_stream.core.attribution import linked_opportunity
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.state import CustomerState, OpportunityState

from .conftest import at, order


def opp(oid: str, minutes: float, status: str = "open", reason: str | None = None, **kw):
    return OpportunityState(
        opportunity_id=oid,
        action_id="finish_credit_card_order",
        created_at=at(minutes),
        valid_until=at(minutes) + timedelta(days=7),
        reasons=(),
        priority=1.0,
        rank=1,
        channel_mask=1,
        status=status,
        closed_reason=reason,
        closed_at=at(minutes + 1) if status != "open" else None,
        **kw,
    )


def test_the_sale_goes_to_the_accepted_opportunity_not_a_newer_withdrawn_one(
    catalogue: Catalogue,
) -> None:
    state = CustomerState(
        customer_id="c-1",
        opportunities=(
            opp("opp-accepted", 10, "withdrawn", "accepted", responded_channel="call_centre"),
            opp("opp-withdrawn-later", 20, "withdrawn", "order_started"),
        ),
    )
    linked = linked_opportunity(catalogue, state, order("completed", at(30), step=4))
    assert linked is not None and linked.opportunity_id == "opp-accepted"


def test_without_a_response_the_newest_open_opportunity_for_the_product_is_credited(
    catalogue: Catalogue,
) -> None:
    state = CustomerState(
        customer_id="c-1",
        opportunities=(
            opp("opp-open-older", 5),
            opp("opp-open-newer", 15),
            opp("opp-expired-newest", 25, "expired", "expired"),
        ),
    )
    linked = linked_opportunity(catalogue, state, order("completed", at(30), step=4))
    assert linked is not None and linked.opportunity_id == "opp-open-newer"


def test_a_sale_with_only_closed_opportunities_is_credited_to_none(catalogue: Catalogue) -> None:
    state = CustomerState(
        customer_id="c-1", opportunities=(opp("opp-withdrawn", 5, "withdrawn", "order_started"),)
    )
    assert linked_opportunity(catalogue, state, order("completed", at(30), step=4)) is None
