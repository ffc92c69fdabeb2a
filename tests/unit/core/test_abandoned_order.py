"""The first slice: an abandoned online order becomes an impulse and an opportunity."""

from __future__ import annotations

from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Attribution, Impulse, Opportunity
from impulse_stream.core.state import CustomerState

from .conftest import at, order, profile


def _started_card_order(engine: DecisionEngine) -> CustomerState:
    state = engine.apply(None, profile(), at(-1)).state
    state = engine.apply(state, order("started", at(0), step=1), at(0)).state
    return engine.apply(state, order("step_completed", at(5), step=2), at(5)).state


def test_card_order_with_no_activity_for_30_minutes_is_abandoned(engine: DecisionEngine) -> None:
    state = _started_card_order(engine)  # last step at minute 5
    assert engine.next_wakeup(state) == at(35)
    assert engine.advance(state, at(34)).outputs == ()

    decision = engine.advance(state, at(35))

    impulses = [o for o in decision.outputs if isinstance(o, Impulse)]
    opportunities = [o for o in decision.outputs if isinstance(o, Opportunity)]
    assert [i.kind for i in impulses] == ["order_abandoned"]
    evidence = {e.name: e.value for e in impulses[0].evidence}
    assert evidence["step"] == "2" and evidence["product"] == "credit_card"
    finish = next(o for o in opportunities if o.action_id == "finish_credit_card_order")
    assert finish.product == "credit_card" and finish.status == "open" and finish.revision == 0
    assert finish.texts.instruction and finish.reasons[0].impulse_id == impulses[0].impulse_id
    assert "order_abandoned" in finish.explanation


def test_a_customer_still_filling_in_at_minute_29_is_not_abandoned_at_minute_30(
    engine: DecisionEngine,
) -> None:
    state = _started_card_order(engine)
    state = engine.apply(state, order("step_completed", at(29), step=3), at(29)).state
    assert engine.advance(state, at(30)).outputs == ()
    assert engine.advance(state, at(58)).outputs == ()
    kinds = [o.kind for o in engine.advance(state, at(59)).outputs if isinstance(o, Impulse)]
    assert kinds == ["order_abandoned"]


def test_a_later_event_past_the_deadline_fires_the_abandonment_first(
    engine: DecisionEngine,
) -> None:
    state = _started_card_order(engine)
    decision = engine.apply(
        state, order("started", at(45), order_id="ord-2", product="savings_plan"), at(45)
    )
    kinds = [o.kind for o in decision.outputs if isinstance(o, Impulse)]
    assert kinds == ["order_abandoned"]


def test_completed_order_within_the_window_is_not_abandoned(engine: DecisionEngine) -> None:
    state = _started_card_order(engine)
    decision = engine.apply(state, order("completed", at(12), step=4), at(12))
    assert not [
        o for o in decision.outputs if isinstance(o, Impulse) and o.kind == "order_abandoned"
    ]
    assert engine.advance(decision.state, at(60)).outputs == () or all(
        not (isinstance(o, Impulse) and o.kind == "order_abandoned")
        for o in engine.advance(decision.state, at(60)).outputs
    )


def test_cancelled_order_is_not_abandoned(engine: DecisionEngine) -> None:
    state = _started_card_order(engine)
    state = engine.apply(state, order("cancelled", at(10)), at(10)).state
    outputs = engine.advance(state, at(60)).outputs
    assert not [o for o in outputs if isinstance(o, Impulse) and o.kind == "order_abandoned"]


def test_late_completion_withdraws_the_opportunity_and_credits_the_sale(
    engine: DecisionEngine,
) -> None:
    state = _started_card_order(engine)
    fired = engine.advance(state, at(36))
    finish = next(
        o
        for o in fired.outputs
        if isinstance(o, Opportunity) and o.action_id == "finish_credit_card_order"
    )
    # The completion happened at minute 20 but arrives only after the deadline fired.
    late = engine.apply(fired.state, order("completed", at(20), step=4), at(40))

    withdrawn = [
        o
        for o in late.outputs
        if isinstance(o, Opportunity) and o.opportunity_id == finish.opportunity_id
    ]
    assert [(o.revision, o.status) for o in withdrawn] == [(1, "withdrawn")]
    credit = [o for o in late.outputs if isinstance(o, Attribution)]
    assert len(credit) == 1
    assert credit[0].opportunity_id == finish.opportunity_id
    assert credit[0].advisor_id == "adv-7" and credit[0].closing_channel == "online_banking"


def test_outputs_do_not_depend_on_how_often_the_runtime_advances(engine: DecisionEngine) -> None:
    import msgspec

    from impulse_stream.core.events import Consents

    from .conftest import replay

    events = [
        profile(
            at(-60), consents=Consents(phone=True, email=True, letter=True, online_banking=True)
        ),
        order("started", at(0), step=1),
        order("step_completed", at(5), step=2),
        order("started", at(90), order_id="ord-2", product="savings_plan"),
        order("completed", at(100), order_id="ord-2", product="savings_plan"),
    ]
    with_timers, timed = replay(engine, events, until=at(200))
    state = None
    untimed: list[object] = []
    for event in events:
        decision = engine.apply(state, event, event.occurred_at)
        state, untimed = decision.state, [*untimed, *decision.outputs]
    assert state is not None
    decision = engine.advance(state, at(200))
    untimed += decision.outputs
    assert msgspec.json.encode(timed) == msgspec.json.encode(untimed)
    assert msgspec.structs.replace(with_timers, clock=at(200)) == decision.state
