"""Attribution ("target crediting"): a completed sale counts twice.

It is credited to the closing channel AND to the customer's assigned advisor
and unit (branch), so that staff accept that customers choose their channel.
The closing channel is the channel on which the customer accepted the linked
opportunity, if they did; otherwise the channel of the completing order step.
The linked opportunity is the one for the same product that the customer
accepted (the newest such, by the time of the response); without an
acceptance, the newest one for the product that is still open. A withdrawn or
expired opportunity is never credited.
"""

from __future__ import annotations

from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.events import Attribution, Channel, OrderStep
from impulse_stream.core.ids import stable_id
from impulse_stream.core.state import CustomerState, OpportunityState


def linked_opportunity(
    catalogue: Catalogue, state: CustomerState, step: OrderStep
) -> OpportunityState | None:
    accepted: list[OpportunityState] = []
    still_open: list[OpportunityState] = []
    for opp in state.opportunities:
        action = catalogue.action(opp.action_id)
        if action is None or action.product != step.product:
            continue
        if opp.closed_reason == "accepted":
            accepted.append(opp)
        elif opp.status == "open":
            still_open.append(opp)
    if accepted:
        return max(accepted, key=lambda o: (o.closed_at or o.created_at, o.opportunity_id))
    return max(still_open, key=lambda o: (o.created_at, o.opportunity_id), default=None)


def credit_sale(
    catalogue: Catalogue, state: CustomerState, step: OrderStep
) -> tuple[Attribution, OpportunityState | None]:
    opp = linked_opportunity(catalogue, state, step)
    closing: Channel = step.channel
    agent = step.agent_id
    if opp is not None and opp.closed_reason == "accepted" and opp.responded_channel is not None:
        closing = opp.responded_channel  # type: ignore[assignment]
        agent = agent or opp.responded_agent
    record = Attribution(
        attribution_id=stable_id("att", state.customer_id, step.order_id),
        order_id=step.order_id,
        customer_id=state.customer_id,
        product=step.product,
        closing_channel=closing,
        advisor_id=state.profile.advisor_id,
        branch_id=state.profile.branch_id,
        opportunity_id=opp.opportunity_id if opp is not None else None,
        credited_at=step.occurred_at,
        agent_id=agent,
    )
    return record, opp
