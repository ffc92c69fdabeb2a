"""What a channel is handed: channels best first, actions that fit the call, its slots."""

from __future__ import annotations

from datetime import timedelta

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Consents, InputEvent
from impulse_stream.core.state import CustomerState

from .conftest import T0, at, click, contact, opportunities, order, profile, replay

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)


def _three_open_orders(engine: DecisionEngine) -> CustomerState:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), consents=ALL),
        click(at(-10), "login"),
        order("started", at(0), product="savings_plan"),
        order("started", at(1), order_id="ord-2", product="instalment_loan"),
        order("started", at(2), order_id="ord-3", product="credit_card"),
    ]
    state, _ = replay(engine, events, until=at(33))
    return state


def test_channels_of_an_opportunity_come_best_first_by_the_customers_own_use(
    engine: DecisionEngine,
) -> None:
    calls = [contact(at(-60 * 24 * d), "call_centre", "inbound_call") for d in (2, 5, 9)]
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), consents=ALL),
        *calls,
        *(click(at(-60 * 24 * d), "login", channel="app") for d in (6, 4, 3)),
        click(at(-60 * 24 * 1), "login"),
        order("started", at(0), step=1),
    ]
    state, outputs = replay(engine, events, until=at(31))
    card = next(o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order")
    # three calls (last 2 days ago) before three app logins (last 3 days ago), then online
    # banking (a login and the order's step); the rest in catalogue order
    assert card.channels[:3] == ("call_centre", "app", "online_banking")
    assert set(card.channels[3:]) == set(card.channels) - {"call_centre", "app", "online_banking"}
    (shown,) = [
        o
        for o in engine.next_best_actions(state, "call_centre", at(35))
        if o.action_id == "finish_credit_card_order"
    ]
    assert shown.channels == card.channels


def test_channels_the_customer_never_used_follow_in_the_catalogues_order(
    engine: DecisionEngine,
) -> None:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), consents=ALL),
        order("started", at(0), step=1, channel="branch"),
    ]
    _, outputs = replay(engine, events, until=at(31))
    card = next(o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order")
    action = engine.catalogue.action("finish_credit_card_order")
    assert action is not None
    assert card.channels[0] == "branch"  # the order was started there
    assert card.channels[1:] == tuple(c for c in action.channels if c in card.channels[1:])
    assert card.channels[1] == "call_centre"  # first in the catalogue, branch was last


def test_an_agent_with_four_minutes_left_gets_only_actions_that_fit_into_them(
    engine: DecisionEngine,
) -> None:
    state = _three_open_orders(engine)
    unlimited = engine.next_best_actions(state, "call_centre", at(35))
    assert len(unlimited) == 3 and sum(a.handling_minutes for a in unlimited) > 4
    four = engine.next_best_actions(state, "call_centre", at(35), minutes=4)
    assert four and sum(a.handling_minutes for a in four) <= 4
    assert "finish_instalment_loan_application" not in {a.action_id for a in four}  # 6 minutes
    assert [a.rank for a in four] == list(range(1, len(four) + 1))


def test_time_left_is_shared_by_the_actions_in_rank_order(engine: DecisionEngine) -> None:
    state = _three_open_orders(engine)
    ranked = engine.next_best_actions(state, "call_centre", at(35))
    budget = ranked[0].handling_minutes + ranked[1].handling_minutes
    fitting = engine.next_best_actions(state, "call_centre", at(35), minutes=budget)
    assert [a.action_id for a in fitting] == [a.action_id for a in ranked[:2]]
    assert engine.next_best_actions(state, "call_centre", at(35), minutes=0) == []


def test_each_channel_gets_as_many_actions_as_the_catalogue_gives_it_slots(
    engine: DecisionEngine,
) -> None:
    state = _three_open_orders(engine)
    for channel in ("call_centre", "online_banking", "app"):
        slots = engine.routing.top_n(channel)  # type: ignore[arg-type]
        assert len(engine.next_best_actions(state, channel, at(35))) == slots  # type: ignore[arg-type]
    assert engine.routing.top_n("online_banking") == 2
    assert len(engine.next_best_actions(state, "online_banking", at(35), limit=3)) == 3
