"""Customer master data (``customers.profile``) into the state.

Besides replacing the profile part of the state, a profile change can be an
impulse itself (the detectors listening to profiles run: a new product such as
a membership is a ``new_purchase``, a card blocked is ``card_blocked``) and
ends sales opportunities for products now held.
A withdrawn consent removes the channel from open opportunities (re-published
with revision + 1), so no opportunity stays on a channel without consent.
"""

from __future__ import annotations

from impulse_stream.core.detection import Detectors
from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.households import on_household
from impulse_stream.core.rules import Rules
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import (
    CONSENT_BITS,
    MAX_CARDS,
    MAX_CONTRACTS,
    MAX_PRODUCTS,
    HeldCard,
    HeldContract,
    Profile,
    channel_mask,
)


def to_profile(p: CustomerProfile) -> Profile:
    consents = 0
    for name, bit in CONSENT_BITS.items():
        if getattr(p.consents, name):
            consents |= bit
    return Profile(
        known=True,
        birth_date=p.birth_date,
        advisor_id=p.advisor_id,
        branch_id=p.branch_id,
        segment=p.segment,
        consents=consents,
        products=tuple(sorted(set(p.products)))[:MAX_PRODUCTS],
        occupation=p.occupation,
        home_country=p.home_country,
        contracts=tuple(
            HeldContract(c.contract_id, c.product, c.matures_on)
            for c in sorted(p.contracts, key=lambda c: c.contract_id)
        )[:MAX_CONTRACTS],
        cards=tuple(
            HeldCard(c.card_id, c.status == "blocked", c.expires_on)
            for c in sorted(p.cards, key=lambda c: c.card_id)
        )[:MAX_CARDS],
        standing_orders=p.standing_orders,
    )


def on_profile(
    run: DecisionRun, event: CustomerProfile, rules: Rules, detectors: Detectors
) -> None:
    before = run.state
    new = to_profile(event)
    run.update(profile=new)
    on_household(run, event)
    at = max(event.updated_at, run.state.clock or event.updated_at)
    detectors.on_event(run, event, before)
    for opp in run.state.open_opportunities():
        action = rules.catalogue.action(opp.action_id)
        if action is None:
            continue
        if action.kind == "sales" and new.holds(action.product):
            run.close(opp, "withdrawn", "product_held", at)
            continue
        keep = tuple(
            c
            for c in opp.channels
            if rules.routing.reachable(run.state, c, at)
            and (action.kind == "service" or rules.policy.has_consent(run.state, c))
        )
        if keep != opp.channels:
            run.revise(opp, channel_mask=channel_mask(keep))
