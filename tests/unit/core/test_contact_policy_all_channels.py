"""One contact policy for every channel: the bank's own sends count, and a cap per customer."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, parse_catalogue_text
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import (
    ChannelContact,
    Click,
    Consents,
    CustomerProfile,
    InputEvent,
    OpportunityResponse,
    OrderStep,
    Transaction,
)
from impulse_stream.core.state import CustomerState
from impulse_stream.errors import CatalogueError

from .conftest import CUSTOMER, T0, at, click, contact, order, profile, replay

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)
CARD = "finish_credit_card_order"


def _card_offer_open(engine: DecisionEngine, *extra: InputEvent) -> CustomerState:
    events: list[InputEvent] = [
        profile(T0 - timedelta(days=30), consents=ALL),
        click(at(-10), "login"),
        order("started", at(0), step=1),
        order("step_completed", at(3), step=2),
        *extra,
    ]
    state, _ = replay(engine, events, until=at(40))
    assert any(o.action_id == CARD for o in state.open_opportunities())
    return state


def _offered(
    engine: DecisionEngine, state: CustomerState, channel: str, when: datetime
) -> list[str]:
    return [o.action_id for o in engine.next_best_actions(state, channel, when)]  # type: ignore[arg-type]


def test_emails_and_outbound_calls_about_the_card_keep_it_off_online_banking(
    engine: DecisionEngine,
) -> None:
    state = _card_offer_open(engine)
    assert CARD in _offered(engine, state, "online_banking", at(45))
    sends = [contact(at(50), "email", "email_sent", action_id=CARD)]
    sends += [contact(at(60 + i), "call_centre", "outbound_call", action_id=CARD) for i in range(2)]
    state, _ = replay(engine, sends, state=state, until=at(70))
    for channel in ("online_banking", "app", "call_centre", "branch", "advisor"):
        assert CARD not in _offered(engine, state, channel, at(80)), channel
    assert [c.action_id for c in state.contacts if c.kind in ("email_sent", "outbound_call")] == [
        CARD
    ] * 3


def test_a_letter_naming_the_action_in_its_subject_cools_it_off(engine: DecisionEngine) -> None:
    state = _card_offer_open(engine)
    state, _ = replay(engine, [contact(at(50), "letter", "letter_sent", subject=CARD)], state=state)
    assert CARD not in _offered(engine, state, "online_banking", at(60))


def test_a_send_without_a_known_action_does_not_cool_anything_off(engine: DecisionEngine) -> None:
    state = _card_offer_open(engine)
    state, _ = replay(
        engine, [contact(at(50), "email", "email_sent", subject="newsletter")], state=state
    )
    assert CARD in _offered(engine, state, "online_banking", at(60))
    assert state.outreach == ()


def test_an_inbound_call_naming_an_action_is_no_bank_send(engine: DecisionEngine) -> None:
    state = _card_offer_open(engine)
    state, _ = replay(
        engine, [contact(at(50), "call_centre", "inbound_call", action_id=CARD)], state=state
    )
    assert CARD in _offered(engine, state, "online_banking", at(60))


def test_the_customer_cap_holds_back_a_fifth_sales_contact_on_any_channel(
    engine: DecisionEngine,
) -> None:
    cap = engine.catalogue.policy.customer_cap
    assert cap is not None and (cap.max_contacts, cap.period_days) == (4, 30)
    state = _card_offer_open(engine)
    sends = [
        contact(at(0, days=-20), "email", "email_sent", action_id="membership_offer"),
        contact(at(0, days=-12), "letter", "letter_sent", action_id="financial_reserve_offer"),
        contact(at(0, days=-5), "call_centre", "outbound_call", action_id="instalment_loan_offer"),
    ]
    state = msgspec.structs.replace(state, clock=None)
    for s in sends:
        state = engine.apply(state, s, at(45)).state
    # Three of four used: the call-centre desk may show one more sale, not three.
    desk = engine.next_best_actions(state, "call_centre", at(45))
    assert [o.kind for o in desk].count("sales") == 1
    state = engine.apply(
        state,
        contact(at(46), "email", "email_sent", action_id="retirement_provision_check"),
        at(46),
    ).state
    assert engine.policy.remaining_customer_contacts(state, at(47)) == 0
    for channel in ("online_banking", "app", "call_centre", "branch"):
        assert CARD not in _offered(engine, state, channel, at(47)), channel
    opp = next(o for o in state.open_opportunities() if o.action_id == CARD)
    action = engine.catalogue.action(CARD)
    assert action is not None
    verdict = engine.policy.check(state, action, "online_banking", at(47), opp)
    assert verdict.rule == "customer_cap"
    assert verdict.blocked_by == "customer cap 4/4 contacts per 30 days on all channels"
    # Twenty-one days later the oldest send has left the period: one contact is free again.
    assert engine.policy.remaining_customer_contacts(state, at(0, days=11)) == 1


def test_a_service_action_is_not_held_back_by_the_customer_cap(engine: DecisionEngine) -> None:
    state = _card_offer_open(
        engine,
        *(
            contact(at(5 + i), "email", "email_sent", action_id=a)
            for i, a in enumerate(
                (
                    "membership_offer",
                    "financial_reserve_offer",
                    "instalment_loan_offer",
                    "retirement_provision_check",
                )
            )
        ),
    )
    assert engine.policy.remaining_customer_contacts(state, at(45)) == 0
    blocked = engine.catalogue.action("card_replacement_service")
    assert blocked is not None
    assert engine.policy.check(state, blocked, "call_centre", at(45)).allowed


def _catalogue_text(cap: str) -> str:
    text = Path(DEFAULT_CATALOGUE).read_text(encoding="utf-8")
    line = "  customer_cap: {max_contacts: 4, period_days: 30}"
    assert line in text
    return text.replace(line, cap)


def test_the_customer_cap_is_checked_by_the_catalogue_schema_with_its_line() -> None:
    text = _catalogue_text("  customer_cap: {max_contacts: 40, period_days: 30}")
    with pytest.raises(CatalogueError) as err:
        parse_catalogue_text(text, "bank.yaml")
    lines = text.splitlines()
    line = 1 + next(i for i, t in enumerate(lines) if t.startswith("  customer_cap: {max_c"))
    assert str(err.value) == (
        f"bank.yaml:{line}: $.contact_policy.customer_cap.max_contacts: "
        "40 is greater than the maximum of 16"
    )
    with pytest.raises(CatalogueError, match="'period_days' is a required property"):
        parse_catalogue_text(_catalogue_text("  customer_cap: {max_contacts: 4}"), "bank.yaml")


def test_without_a_customer_cap_only_the_channel_caps_apply() -> None:
    catalogue = parse_catalogue_text(_catalogue_text(""), "bank.yaml")
    assert catalogue.policy.customer_cap is None
    engine = DecisionEngine(catalogue)
    state = _card_offer_open(engine)
    assert engine.policy.remaining_customer_contacts(state, at(45)) is None


# --- the property: no contact violates the policy over years of event time ---------

SALES = [
    "finish_credit_card_order",
    "membership_offer",
    "financial_reserve_offer",
    "instalment_loan_offer",
    "retirement_provision_check",
    "travel_insurance_offer",
]
SENDS = [("email", "email_sent"), ("letter", "letter_sent"), ("call_centre", "outbound_call")]
GAP_DAYS = [0, 0, 1, 1, 2, 3, 6, 13, 30, 90, 180]
SHOW = ["call_centre", "online_banking", "app", "email", "letter", "advisor", "branch"]

step = st.one_of(
    st.fixed_dictionaries(
        {
            "type": st.just("order"),
            "product": st.sampled_from(
                ["credit_card", "savings_plan", "instalment_loan", "current_account"]
            ),
        }
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("click"),
            "product": st.sampled_from(["credit_card", "savings_plan", "membership"]),
        }
    ),
    st.fixed_dictionaries({"type": st.just("salary"), "amount": st.integers(1500, 6000)}),
    st.fixed_dictionaries(
        {"type": st.just("send"), "action": st.sampled_from(SALES), "via": st.sampled_from(SENDS)}
    ),
    st.fixed_dictionaries(
        {
            "type": st.just("show"),
            "channel": st.sampled_from(SHOW),
            "answer": st.sampled_from(["shown", "shown", "declined"]),
        }
    ),
    st.fixed_dictionaries(
        {"type": st.just("show"), "channel": st.sampled_from(SHOW), "answer": st.just("shown")}
    ),
)
stories = st.tuples(
    st.builds(
        Consents,
        phone=st.booleans(),
        email=st.booleans(),
        letter=st.booleans(),
        online_banking=st.booleans(),
    ),
    st.lists(
        st.tuples(
            st.sampled_from([0, 0, 1, 1, 2, 3, 6, 13, 30, 90, 180]), st.integers(0, 23), step
        ),
        min_size=40,
        max_size=80,
    ).filter(lambda steps: sum(days for days, _, _ in steps) > 365),
)


def _story_event(step: dict[str, object], when: datetime, n: int) -> InputEvent:
    if step["type"] == "order":
        return OrderStep(
            event_id=f"o{n}",
            customer_id=CUSTOMER,
            order_id=f"ord{n}",
            product=str(step["product"]),
            channel="online_banking",
            occurred_at=when,
            status="started",
            step=1,
            total_steps=4,
        )
    if step["type"] == "click":
        return Click(
            event_id=f"k{n}",
            customer_id=CUSTOMER,
            session_id="s",
            occurred_at=when,
            kind="banner_click",
            product=str(step["product"]),
        )
    if step["type"] == "salary":
        return Transaction(
            event_id=f"t{n}",
            customer_id=CUSTOMER,
            account_id="a",
            booked_at=when,
            amount=Decimal(str(step["amount"])),
            currency="EUR",
            direction="credit",
            category="salary",
            balance_after=Decimal(str(step["amount"])),
        )
    channel, kind = step["via"]  # type: ignore[misc]
    return ChannelContact(
        event_id=f"c{n}",
        customer_id=CUSTOMER,
        channel=channel,
        kind=kind,
        occurred_at=when,
        action_id=str(step["action"]),
    )


@settings(
    max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(stories)
def test_no_contact_violates_the_policy_over_years_of_event_time(
    engine: DecisionEngine, story: tuple[Consents, list[tuple[int, int, dict[str, object]]]]
) -> None:
    consents, steps = story
    policy = engine.catalogue.policy
    cap = policy.customer_cap
    assert cap is not None
    now = T0
    start = CustomerProfile(
        customer_id=CUSTOMER,
        updated_at=now,
        birth_date=date(1980, 1, 1),
        advisor_id="adv-1",
        consents=consents,
        products=("current_account",),
    )
    state = engine.apply(None, start, now).state
    contacts: list[tuple[datetime, str]] = []  # every contact about an action: at, action
    for n, (days, hour, s) in enumerate(steps):
        now = now + timedelta(days=days, hours=hour)
        while (wakeup := engine.next_wakeup(state)) is not None and wakeup <= now:
            state = engine.advance(state, wakeup).state
        if s["type"] != "show":
            event = _story_event(s, now, n)
            state = engine.apply(state, event, now).state
            if isinstance(event, ChannelContact):
                contacts.append((now, str(event.action_id)))
            continue
        channel = str(s["channel"])
        for i, offer in enumerate(engine.next_best_actions(state, channel, now)):  # type: ignore[arg-type]
            action = engine.catalogue.action(offer.action_id)
            assert action is not None
            cooling = timedelta(days=action.cooling_off_days or policy.cooling_off_days)
            earlier = [t for t, a in contacts if a == offer.action_id and now - cooling < t <= now]
            assert not earlier, (offer.action_id, earlier, now)
            if offer.kind == "sales":
                consent = policy.consent_for_channel.get(channel)  # type: ignore[call-overload]
                assert consent is None or state.profile.has_consent(consent)
                today = now.date().toordinal()
                window = {
                    (t.date().toordinal(), a)
                    for t, a in contacts
                    if today - cap.period_days < t.date().toordinal() <= today
                    and engine.catalogue.action(a).kind == "sales"
                }  # type: ignore[union-attr]
                window.add((today, offer.action_id))
                assert len(window) <= cap.max_contacts, (window, now)
            answer = str(s["answer"]) if i == 0 else "shown"
            response = OpportunityResponse(
                event_id=f"r{n}-{i}",
                opportunity_id=offer.opportunity_id,
                customer_id=CUSTOMER,
                channel=channel,  # type: ignore[arg-type]
                response=answer,
                occurred_at=now,
            )  # type: ignore[arg-type]
            state = engine.apply(state, response, now).state
            contacts.append((now, offer.action_id))
