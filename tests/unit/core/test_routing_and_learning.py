"""Channel routing, the closed loop's learning, capacity, and tie-breaking."""

from __future__ import annotations

from datetime import date, timedelta

from impulse_stream.core.channel_capacity import ChannelCapacity
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Consents, InputEvent
from impulse_stream.core.learning import AcceptanceObservation, AcceptanceStatistics

from .conftest import T0, at, click, opportunities, order, profile, replay, response

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)


def _card_offer(engine: DecisionEngine, *extra: InputEvent, **kw: object) -> tuple[str, ...]:
    """Channels of the card offer after an order an agent started on the phone."""
    kw.setdefault("consents", ALL)
    events: list[InputEvent] = [profile(T0 - timedelta(days=30), **kw), *extra]  # type: ignore[arg-type]
    events.append(order("started", at(0), step=1, channel="call_centre"))
    _, outputs = replay(engine, events, until=at(31))
    return next(
        o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order"
    ).channels


def test_digital_customer_gets_online_banking_teasers_and_no_advisor_task(
    engine: DecisionEngine,
) -> None:
    channels = _card_offer(engine, click(at(-60 * 24 * 3), "login"))
    assert {"online_banking", "app", "call_centre", "email"} <= set(channels)
    assert "advisor" not in channels


def test_customer_without_digital_affinity_gets_an_advisor_task(engine: DecisionEngine) -> None:
    channels = _card_offer(engine)
    assert "advisor" in channels
    assert "online_banking" not in channels and "app" not in channels


def test_digital_affinity_fades_after_90_days(engine: DecisionEngine) -> None:
    channels = _card_offer(engine, click(at(-60 * 24 * 100), "login"))
    assert "online_banking" not in channels and "advisor" in channels


def test_email_and_letter_only_with_consent(engine: DecisionEngine) -> None:
    channels = _card_offer(engine, consents=Consents(phone=True, online_banking=True))
    assert "email" not in channels and "letter" not in channels
    assert "email" in _card_offer(engine)


def test_call_centre_desktop_gets_three_with_instruction_texts(engine: DecisionEngine) -> None:
    from impulse_stream.core.cockpit import customer_view

    from .conftest import booking
    from .test_worked_example import _history

    # The worked example's customer plus a returned debit: four actions are open.
    events = [*_history(), booking(at(10), "250", category="returned_debit")]
    state, _ = replay(engine, events)
    candidates = engine.next_best_actions(state, "call_centre", at(41), limit=10)
    assert len(candidates) == 4
    desk = customer_view(engine, state, "call_centre", at(41)).opportunities
    assert [o.action_id for o in desk] == [o.action_id for o in candidates[:3]]
    assert desk[0].kind == "service"  # the service need first on the inbound call
    assert all(o.texts.instruction and o.texts.argument and o.texts.objections for o in desk)
    teaser = customer_view(engine, state, "app", at(41)).opportunities
    assert [o.action_id for o in teaser] == [desk[0].action_id]  # the app's slot holds one


def test_acceptance_statistics_follow_a_beta_posterior(engine: DecisionEngine) -> None:
    action = engine.catalogue.action("finish_credit_card_order")
    assert action is not None
    stats = AcceptanceStatistics()
    assert stats.posterior_mean(action, "retail", "call_centre") == action.prior_mean
    obs = [
        AcceptanceObservation(
            action_id=action.id,
            segment="retail",
            channel="call_centre",
            accepted=True,
            opportunity_id=f"o{i}",
            at=T0,
        )
        for i in range(10)
    ]
    learned = stats.record(obs)
    assert learned.counts(action.id, "retail", "call_centre") == (10, 0)
    assert learned.posterior_mean(action, "retail", "call_centre") == (3 + 10) / (10 + 10)
    assert learned.lift(action, "retail", "app") == 1.0  # other channels unchanged
    assert stats.counts(action.id, "retail", "call_centre") == (0, 0)  # immutable


def test_prioritisation_improves_as_responses_come_in(engine: DecisionEngine) -> None:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), consents=ALL),
        click(at(-10), "login"),
        order("started", at(0), product="savings_plan"),
        order("started", at(1), order_id="ord-2", product="instalment_loan"),
    ]
    state, _ = replay(engine, events, until=at(32))
    before = [o.action_id for o in engine.next_best_actions(state, "online_banking", at(35))]
    assert before[0] == "finish_instalment_loan_application"  # higher value
    declines = [
        AcceptanceObservation(
            action_id="finish_instalment_loan_application",
            segment="retail",
            channel="online_banking",
            accepted=False,
            opportunity_id=f"x{i}",
            at=T0,
        )
        for i in range(40)
    ]
    learned = engine.with_statistics(engine.statistics.record(declines))
    after = [o.action_id for o in learned.next_best_actions(state, "online_banking", at(35))]
    assert after[0] == "finish_savings_plan_order"


def test_responses_are_reported_for_learning(engine: DecisionEngine) -> None:
    state, outputs = replay(
        engine,
        [profile(T0 - timedelta(days=3), consents=ALL), order("started", at(0))],
        until=at(31),
    )
    card = next(o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order")
    declined = engine.apply(state, response(card.opportunity_id, "declined", at(40)), at(40))
    assert [(o.action_id, o.accepted, o.channel) for o in declined.observations] == [
        ("finish_credit_card_order", False, "call_centre")
    ]
    shown = engine.apply(state, response(card.opportunity_id, "shown", at(40)), at(40))
    assert shown.observations == ()


def test_channel_capacity_is_a_daily_counter() -> None:
    capacity = ChannelCapacity(limits={"call_centre": 2})
    day = date(2026, 11, 23)
    ok1, capacity = capacity.admit("call_centre", day)
    ok2, capacity = capacity.admit("call_centre", day)
    ok3, capacity = capacity.admit("call_centre", day)
    assert (ok1, ok2, ok3) == (True, True, False)
    assert capacity.remaining("call_centre", day) == 0
    ok_next_day, capacity = capacity.admit("call_centre", day + timedelta(days=1))
    assert ok_next_day and capacity.remaining("call_centre", day + timedelta(days=1)) == 1
    assert capacity.admit("email", day)[0]  # no limit configured


def test_channel_capacity_from_the_catalogue(engine: DecisionEngine) -> None:
    capacity = ChannelCapacity.from_catalogue(engine.catalogue)
    assert capacity.remaining("call_centre", date(2026, 1, 1)) == 20000


def test_equal_priorities_are_ordered_by_action_id_then_opportunity_id(
    engine: DecisionEngine,
) -> None:
    action_a = engine.catalogue.action("finish_current_account_order")
    action_b = engine.catalogue.action("finish_credit_card_order")
    assert action_a is not None and action_b is not None
    key_a = engine.arbitration.sort_key(action_a, 50.0, "opp-b", "online_banking")
    key_b = engine.arbitration.sort_key(action_b, 50.0, "opp-a", "online_banking")
    assert sorted([key_a, key_b]) == [key_b, key_a]


def test_clicked_offer_without_an_order_becomes_an_impulse(engine: DecisionEngine) -> None:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=3), consents=ALL),
        click(at(0), "banner_click", product="savings_plan"),
    ]
    _, outputs = replay(engine, events, until=at(60 * 25))
    assert [o.action_id for o in opportunities(outputs)] == ["finish_savings_plan_order"]


def test_clicked_offer_followed_by_an_order_is_not(engine: DecisionEngine) -> None:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=3), consents=ALL),
        click(at(0), "banner_click", product="savings_plan"),
        order("started", at(10), product="savings_plan"),
        order("completed", at(20), product="savings_plan"),
    ]
    _, outputs = replay(engine, events, until=at(60 * 25))
    assert "offer_clicked_not_ordered" not in [getattr(o, "kind", "") for o in outputs]


def test_late_order_start_withdraws_the_clicked_offer(engine: DecisionEngine) -> None:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=3), consents=ALL),
        click(at(0), "banner_click", product="savings_plan"),
    ]
    state, outputs = replay(engine, events, until=at(60 * 25))
    offer = opportunities(outputs)[0]
    late = engine.apply(state, order("started", at(60), product="savings_plan"), at(60 * 25))
    revised = [o for o in opportunities(late.outputs) if o.opportunity_id == offer.opportunity_id]
    assert [(o.status, o.closed_reason) for o in revised] == [("withdrawn", "order_started")]


def test_opportunity_expires_at_the_end_of_its_validity(engine: DecisionEngine) -> None:
    state, outputs = replay(
        engine,
        [profile(T0 - timedelta(days=3), consents=ALL), order("started", at(0))],
        until=at(31),
    )
    card = next(o for o in opportunities(outputs) if o.action_id == "finish_credit_card_order")
    assert engine.next_wakeup(state) == card.valid_until
    expired = engine.advance(state, card.valid_until)
    assert [(o.revision, o.status) for o in opportunities(expired.outputs)] == [(1, "expired")]


def test_no_email_at_all_without_email_consent(engine: DecisionEngine) -> None:
    from .conftest import booking

    tx = booking(at(0), "250", category="returned_debit")
    state, _ = replay(engine, [profile(T0 - timedelta(days=3), consents=Consents(phone=True)), tx])
    assert engine.next_best_actions(state, "email", at(5)) == []
    assert engine.next_best_actions(state, "call_centre", at(5))  # the service need itself is there


def test_a_disabled_detector_reports_nothing() -> None:
    from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, parse_catalogue_text

    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8").replace(
        "    params: {window_minutes: 30}", "    enabled: false\n    params: {window_minutes: 30}"
    )
    engine = DecisionEngine(parse_catalogue_text(text, "bank.yaml"))
    state, outputs = replay(
        engine, [profile(T0 - timedelta(days=3)), order("started", at(0))], until=at(60)
    )
    assert not [o for o in outputs if getattr(o, "kind", "") == "order_abandoned"]
    assert engine.next_wakeup(state) is None or engine.next_wakeup(state) > at(60)  # type: ignore[operator]


def test_advance_twice_at_the_same_time_does_nothing_the_second_time(
    engine: DecisionEngine,
) -> None:
    state, _ = replay(engine, [profile(T0 - timedelta(days=3)), order("started", at(0))])
    first = engine.advance(state, at(45))
    assert first.outputs
    again = engine.advance(first.state, at(45))
    assert again.outputs == () and again.state == first.state
