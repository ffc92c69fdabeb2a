"""Customer master data (``customers.profile``) into the state.

Besides replacing the profile part of the state, a profile change can be an
impulse itself (a new product such as a membership: ``new_purchase``; a card
blocked: ``card_blocked``) and ends sales opportunities for products now held.
A withdrawn consent removes the channel from open opportunities (re-published
with revision + 1), so no opportunity stays on a channel without consent.
"""

from __future__ import annotations

from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.impulses import card_blocked, new_purchase
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
    )


def on_profile(run: DecisionRun, event: CustomerProfile) -> None:
    old = run.state.profile
    new = to_profile(event)
    run.update(profile=new)
    at = max(event.updated_at, run.state.clock or event.updated_at)
    if old.known:
        for product in new.products:
            if product not in old.products:
                run.report(new_purchase.from_profile(product, event.updated_at))
        for detection in card_blocked.newly_blocked(old, new, event.updated_at):
            run.report(detection)
    engine = run.engine
    for opp in run.state.open_opportunities():
        action = engine.catalogue.action(opp.action_id)
        if action is None:
            continue
        if action.kind == "sales" and new.holds(action.product):
            run.close(opp, "withdrawn", "product_held", at)
            continue
        keep = tuple(
            c
            for c in opp.channels
            if engine.routing.reachable(run.state, c, at)
            and (action.kind == "service" or engine.policy.has_consent(run.state, c))
        )
        if keep != opp.channels:
            run.revise(opp, channel_mask=channel_mask(keep))
