"""The contact policy, one rule at a time, for inbound and outbound alike."""

from __future__ import annotations

from datetime import timedelta

import msgspec

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Consents, InputEvent
from impulse_stream.core.state import Contact, CustomerState

from .conftest import T0, at, booking, click, opportunities, order, profile, replay, response

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)


def _abandoned_card_order(
    engine: DecisionEngine, *extra: InputEvent, **kw: object
) -> tuple[CustomerState, str]:
    kw.setdefault("consents", ALL)
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), **kw),  # type: ignore[arg-type]
        click(at(-10), "login"),
        order("started", at(0), step=1),
        order("step_completed", at(3), step=2),
        *extra,
    ]
    state, outputs = replay(engine, events, until=at(34))  # no activity since minute 3
    card = next(o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order")
    return state, card.opportunity_id


def _shown(
    engine: DecisionEngine, state: CustomerState, channel: str, when_minutes: float
) -> list[str]:
    return [o.action_id for o in engine.next_best_actions(state, channel, at(when_minutes))]  # type: ignore[arg-type]


def test_sales_offer_needs_the_channel_consent(engine: DecisionEngine) -> None:
    state, _ = _abandoned_card_order(engine, consents=Consents(online_banking=True))
    assert "finish_credit_card_order" in _shown(engine, state, "online_banking", 35)
    assert "finish_credit_card_order" not in _shown(engine, state, "call_centre", 35)
    assert "finish_credit_card_order" not in _shown(engine, state, "email", 35)


def test_published_channels_respect_consent(engine: DecisionEngine) -> None:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), consents=Consents(online_banking=True)),
        click(at(-10), "login"),
        order("started", at(0), step=1),
    ]
    _, outputs = replay(engine, events, until=at(31))
    card = next(o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order")
    assert set(card.channels) == {"online_banking", "app", "branch"}


def test_service_needs_no_advertising_consent(engine: DecisionEngine) -> None:
    tx = booking(at(0), "250", category="returned_debit")
    state, _ = replay(engine, [profile(T0 - timedelta(days=30), consents=Consents()), tx])
    assert "friendly_collection_contact" in _shown(engine, state, "call_centre", 5)


def test_no_offer_for_a_product_already_held(engine: DecisionEngine) -> None:
    state, _ = _abandoned_card_order(engine)
    held = msgspec.structs.replace(
        state, profile=msgspec.structs.replace(state.profile, products=("credit_card",))
    )
    assert "finish_credit_card_order" not in _shown(engine, held, "call_centre", 35)


def test_product_that_comes_into_the_profile_withdraws_its_offer(engine: DecisionEngine) -> None:
    state, card = _abandoned_card_order(engine)
    decision = engine.apply(state, profile(at(40), consents=ALL, products=("credit_card",)), at(40))
    withdrawn = [o for o in opportunities(decision.outputs) if o.opportunity_id == card]
    assert [(o.status, o.closed_reason) for o in withdrawn] == [("withdrawn", "product_held")]


def test_no_offer_for_a_product_declined_within_90_days(engine: DecisionEngine) -> None:
    state, card = _abandoned_card_order(engine)
    state = engine.apply(state, response(card, "declined", at(35)), at(35)).state
    # A new abandoned card order 10 days later does not bring the offer back.
    later = [order("started", at(0, days=10), order_id="ord-2", step=1)]
    state, outputs = replay(engine, later, state=state, until=at(40, days=10))
    assert not [o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order"]
    # After the declined period it may come back.
    again = [order("started", at(0, days=95), order_id="ord-3", step=1)]
    _, outputs = replay(engine, again, state=state, until=at(40, days=95))
    assert [o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order"]


def test_shown_offer_cools_off_on_every_channel(engine: DecisionEngine) -> None:
    state, card = _abandoned_card_order(engine)
    state = engine.apply(state, response(card, "shown", at(35), "call_centre"), at(35)).state
    for channel in ("call_centre", "online_banking", "app", "branch"):
        assert "finish_credit_card_order" not in _shown(engine, state, channel, 60 * 24)
    # The opportunity itself would still be valid, but validity (7 days) ends before
    # the cooling-off (14 days): it never comes back.
    assert "finish_credit_card_order" not in _shown(engine, state, "online_banking", 60 * 24 * 6)


def test_not_now_snoozes_and_the_offer_returns_after_the_snooze(engine: DecisionEngine) -> None:
    state, card = _abandoned_card_order(engine)
    decision = engine.apply(state, response(card, "no_time", at(35)), at(35))
    snoozed = [o for o in opportunities(decision.outputs) if o.opportunity_id == card]
    assert snoozed[0].revision == 1 and snoozed[0].snoozed_until == at(35, days=1)
    state = decision.state
    assert "finish_credit_card_order" not in _shown(engine, state, "call_centre", 60 * 12)
    woken = engine.advance(state, at(35, days=1))
    assert [(o.revision, o.snoozed_until) for o in opportunities(woken.outputs)] == [(2, None)]
    assert "finish_credit_card_order" in _shown(engine, woken.state, "call_centre", 60 * 25)


def test_frequency_cap_per_channel_and_period(engine: DecisionEngine) -> None:
    state, _ = _abandoned_card_order(engine)
    # Three different sales actions already shown on the call centre this month.
    for i, action in enumerate(
        ("membership_offer", "financial_reserve_offer", "instalment_loan_offer")
    ):
        shown = Contact(at(-60 * 24 * (i + 1)), "call_centre", "shown", action)
        state = msgspec.structs.replace(state, contacts=(*state.contacts, shown))
    assert engine.policy.remaining_sales_offers(state, "call_centre", at(35)) == 0
    assert "finish_credit_card_order" not in _shown(engine, state, "call_centre", 35)
    # Another channel has its own cap; after the period the cap frees up again.
    assert "finish_credit_card_order" in _shown(engine, state, "online_banking", 35)
    assert engine.policy.remaining_sales_offers(state, "call_centre", at(0, days=31)) == 3


def test_service_comes_before_sales_on_an_inbound_call(engine: DecisionEngine) -> None:
    missed = booking(at(10), "250", category="returned_debit")
    state, _ = _abandoned_card_order(engine, missed)
    desk = engine.next_best_actions(state, "call_centre", at(35))
    assert desk[0].kind == "service" and desk[0].action_id == "friendly_collection_contact"
    assert desk[1].action_id == "finish_credit_card_order"
    # Online banking ranks by priority only.
    teasers = engine.next_best_actions(state, "online_banking", at(35), limit=3)
    assert [o.priority for o in teasers] == sorted((o.priority for o in teasers), reverse=True)


def test_a_card_blocked_service_precedes_a_more_valuable_sale_on_the_call(
    engine: DecisionEngine,
) -> None:
    from impulse_stream.core.events import Card

    active = profile(T0 - timedelta(days=30), consents=ALL, cards=(Card(card_id="k1"),))
    blocked = profile(at(10), consents=ALL, cards=(Card(card_id="k1", status="blocked"),))
    state, _ = replay(
        engine, [active, click(at(-10), "login"), order("started", at(0)), blocked], until=at(31)
    )
    desk = engine.next_best_actions(state, "call_centre", at(35))
    assert [o.action_id for o in desk[:2]] == [
        "card_replacement_service",
        "finish_credit_card_order",
    ]
    assert desk[0].priority < desk[1].priority


def test_an_action_held_back_names_the_rule_for_the_metrics(engine: DecisionEngine) -> None:
    held = profile(T0 - timedelta(days=30), products=("current_account", "credit_card"))
    state = engine.apply(None, held, held.updated_at).state
    state = engine.apply(state, order("started", at(0), step=1), at(0)).state
    decision = engine.advance(state, at(31))
    assert "product_held" in decision.suppressions
    assert not any(
        o.action_id == "finish_credit_card_order" for o in opportunities(decision.outputs)
    )
