"""DOMAIN.md's worked example, end to end on the core alone.

1. In online banking the customer clicks a credit-card banner, opens the order,
   fills two steps and leaves.
2. Minutes later the customer calls the call centre about account transactions.
3. The agent sees the timeline, the running processes and the opportunities:
   the abandoned card order on top, the bundle's predictions below.
4. The customer agrees to finish the card order and books a "financial check".
5. The response is recorded; online banking does not show the offer the next
   day; the completed order is credited to the call centre and the advisor.
"""

from __future__ import annotations

from datetime import date, timedelta

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Attribution, Impulse, InputEvent, Opportunity
from impulse_stream.core.state import CustomerState

from .conftest import T0, at, booking, click, contact, order, profile, replay, response


def _history() -> list[InputEvent]:
    """Three months of salary, a raise this month, the usual contacts; turned 57 recently."""
    events: list[InputEvent] = [profile(T0 - timedelta(days=120), birth=date(1969, 11, 10))]
    for month, amount in ((8, "3000"), (9, "3000"), (10, "3000"), (11, "3400")):
        when = T0.replace(month=month, day=1, hour=6)
        events.append(booking(when, amount, category="salary", name="Acme GmbH"))
    events += [
        contact(T0.replace(month=9, day=10), "advisor", "appointment", "annual review"),
        contact(T0.replace(month=10, day=2), "call_centre", "inbound_call", "address change"),
        contact(T0.replace(month=11, day=5), "online_banking", "message", "statement ready"),
        click(at(-30), "login"),
        click(at(-3), "banner_click", product="credit_card"),
        order("started", at(0), step=1),
        order("step_completed", at(4), step=2),
        contact(at(40), "call_centre", "inbound_call", "question about account transactions"),
    ]
    return events


def _replay(engine: DecisionEngine, events: list[InputEvent]) -> tuple[CustomerState, list[object]]:
    state, outputs = replay(engine, events)
    return state, list(outputs)


def test_abandoned_card_order_is_the_top_opportunity_on_the_inbound_call(
    engine: DecisionEngine,
) -> None:
    state, outputs = _replay(engine, _history())

    impulse_kinds = {o.kind for o in outputs if isinstance(o, Impulse)}
    assert {"order_abandoned", "salary_increase", "retirement_approaching"} <= impulse_kinds

    desk = engine.next_best_actions(state, "call_centre", at(41))
    assert len(desk) == 3
    top = desk[0]
    assert top.action_id == "finish_credit_card_order"
    assert "step=2" in top.explanation and top.texts.instruction
    bundle_actions = {"financial_reserve_offer", "membership_offer", "retirement_provision_check"}
    assert {o.action_id for o in desk[1:]} <= bundle_actions
    assert [o.rank for o in desk] == [1, 2, 3]

    predictions = dict(engine.bundle_predictions(state, at(41)))
    assert {"financial_reserve", "membership", "retirement_provision"} <= predictions.keys()

    # The cockpit's timeline and running process.
    kinds = [(c.channel, c.kind) for c in state.contacts]
    assert ("advisor", "appointment") in kinds and ("call_centre", "inbound_call") in kinds
    assert ("online_banking", "message") in kinds
    assert [(o.product, o.step, o.status) for o in state.orders] == [
        ("credit_card", 2, "abandoned")
    ]


def test_response_is_recorded_offer_not_repeated_online_and_the_sale_is_credited(
    engine: DecisionEngine,
) -> None:
    state, _ = _replay(engine, _history())
    desk = engine.next_best_actions(state, "call_centre", at(41))
    card = desk[0]
    check = (
        next(o for o in desk if o.action_id == "retirement_provision_check")
        if any(o.action_id == "retirement_provision_check" for o in desk)
        else desk[1]
    )

    # Step 4: the agent shows the three, the customer agrees to finish the card
    # order now and books a financial check for next week.
    now = at(42)
    for o in desk:
        state = engine.apply(state, response(o.opportunity_id, "shown", at(42)), now).state
    decision = engine.apply(state, response(card.opportunity_id, "accepted", at(43)), at(43))
    closed = [o for o in decision.outputs if isinstance(o, Opportunity)]
    assert [(o.opportunity_id, o.status, o.closed_reason) for o in closed] == [
        (card.opportunity_id, "withdrawn", "accepted")
    ]
    appointment_at = at(0, days=7)
    decision = engine.apply(
        decision.state,
        response(check.opportunity_id, "accepted", at(44), appointment_at=appointment_at),
        at(44),
    )
    state = decision.state
    assert [(a.at, a.action_id) for a in state.appointments] == [(appointment_at, check.action_id)]
    assert [o.accepted for o in decision.observations] == [True]

    # Step 5: the next day online banking does not show the card offer again.
    next_day = at(0, days=1)
    state = engine.advance(state, next_day).state
    teasers = engine.next_best_actions(state, "online_banking", next_day, limit=5)
    assert card.action_id not in {o.action_id for o in teasers}
    assert check.action_id not in {o.action_id for o in teasers}

    # The card order completes (the agent's link, finished online): credited to
    # the call centre, where the customer accepted, and to the personal advisor.
    done = engine.apply(state, order("completed", at(30, days=1), step=4), at(30, days=1))
    credit = [o for o in done.outputs if isinstance(o, Attribution)]
    assert len(credit) == 1
    assert credit[0].closing_channel == "call_centre"
    assert credit[0].advisor_id == "adv-7" and credit[0].branch_id == "br-3"
    assert credit[0].opportunity_id == card.opportunity_id
    assert credit[0].agent_id == "agent-42"
    assert "credit_card" in done.state.profile.products

    # Every response is on the contact timeline, on the channel that recorded it.
    responses = [(c.channel, c.kind, c.action_id) for c in done.state.contacts if c.action_id]
    assert [r for r in responses if r[1] == "shown"] == [
        ("call_centre", "shown", o.action_id) for o in sorted(desk, key=lambda o: o.action_id)
    ]
    assert [r for r in responses if r[1] == "accepted"] == [
        ("call_centre", "accepted", card.action_id),
        ("call_centre", "accepted", check.action_id),
    ]


def test_the_agents_cockpit_shows_timeline_processes_and_predictions(
    engine: DecisionEngine,
) -> None:
    from impulse_stream.core.cockpit import customer_view

    state, _ = _replay(engine, _history())
    view = customer_view(engine, state, "call_centre", at(41))
    assert view.timeline[0].kind == "inbound_call"  # newest first
    assert [(p.kind, p.product_or_action, p.step) for p in view.running_processes] == [
        ("order", "credit_card", 2)
    ]
    assert view.opportunities[0].action_id == "finish_credit_card_order"
    assert len(view.opportunities) == 3
    assert "retirement_provision" in view.predictions
