"""A journey step's opportunity carries its fallback channels in the step's order, so that a
channel at its daily capacity hands the step to the next one the same day (pure core)."""

from __future__ import annotations

from datetime import UTC, date, datetime

from impulse_stream.core.channel_capacity import ChannelCapacity
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Consents, Opportunity, OutputRecord
from impulse_stream.core.journeys import REASON_KIND
from impulse_stream.core.outbound import Candidate, admission_order, outbound_contact, sent_event
from impulse_stream.core.state import CustomerState

from .conftest import click, profile, replay

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)
FIRST_ACCOUNT = date(2026, 3, 15)  # the 16th birthday: the young customers' first step
ACTION = "youth_first_account"  # step channels: letter, email, app


def day(y: int, m: int, d: int) -> datetime:
    return datetime(y, m, d, tzinfo=UTC)


def end_of(d: date) -> datetime:
    """When the selector records the day's sends (its last second)."""
    return datetime(d.year, d.month, d.day, 23, 59, 59, tzinfo=UTC)


def step_opportunities(outputs: list[OutputRecord]) -> list[Opportunity]:
    return [
        o
        for o in outputs
        if isinstance(o, Opportunity) and o.revision == 0 and o.reasons[0].kind == REASON_KIND
    ]


def young(customer: str, engine: DecisionEngine) -> tuple[CustomerState, Opportunity]:
    start = profile(day(2026, 1, 10), customer=customer, birth=date(2010, 3, 15),
                    segment="young", consents=ALL)  # fmt: skip
    state, outputs = replay(engine, [start], until=day(2026, 3, 16))
    (opp,) = step_opportunities(outputs)
    return state, opp


def test_a_step_on_an_outbound_channel_carries_its_later_outbound_channels_as_fallbacks(
    engine: DecisionEngine,
) -> None:
    _, opp = young("c-1", engine)
    # letter first (the step's first channel that reaches the customer), then e-mail; the
    # app is the step's too but unreachable (never used), so it is not offered anywhere.
    assert (opp.created_at.date(), opp.action_id, opp.channels) == (
        FIRST_ACCOUNT, ACTION, ("letter", "email"),
    )  # fmt: skip
    assert Candidate(opp).channels == ("letter", "email")
    assert "on letter, then email when it is full" in opp.explanation


def test_an_inbound_first_channel_stays_alone_so_nothing_is_sent_for_the_step(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2029, 9, 1), birth=date(2010, 3, 15), segment="young", consents=ALL)
    logins = [click(day(2030, 3, 1 + 3 * i), "login", channel="app") for i in range(4)]
    _, outputs = replay(engine, [start, *logins], until=day(2030, 3, 16))
    (opp,) = step_opportunities(outputs)
    # end_of_education_check runs on [app, email, letter]: the app teaser is the contact;
    # e-mail and letter would send what the customer is shown in the app anyway.
    assert (opp.action_id, opp.channels) == ("end_of_education_check", ("app",))
    assert Candidate(opp).channels == ()


def test_the_n_plus_first_customers_step_goes_out_on_the_next_channel_the_same_day(
    engine: DecisionEngine,
) -> None:
    n = 3
    customers = {f"c-{k}": young(f"c-{k}", engine) for k in range(n + 1)}
    capacity = ChannelCapacity({"letter": n})
    sent = []
    for cand in admission_order(Candidate(opp) for _, opp in customers.values()):
        for i, channel in enumerate(cand.channels):
            fits, capacity = capacity.admit(channel, FIRST_ACCOUNT)
            if fits:
                sent.append(outbound_contact(cand, channel, FIRST_ACCOUNT, fallback=i > 0))
                break
    assert [(c.channel, c.fallback, c.day) for c in sent] == [
        *[("letter", False, FIRST_ACCOUNT)] * n,
        ("email", True, FIRST_ACCOUNT),
    ]
    # The send is recorded: the action cools off on every channel, the journey's step
    # counts the channel it went out on.
    last = sent[-1]
    state, _ = customers[last.customer_id]
    recorded = sent_event(last, end_of(FIRST_ACCOUNT))
    state = engine.apply(state, recorded, recorded.occurred_at).state
    action = engine.catalogue.action(ACTION)
    assert action is not None
    assert {"letter", "email", "app"} <= set(action.channels)
    for channel in action.channels:
        verdict = engine.policy.check(state, action, channel, recorded.occurred_at)
        assert (verdict.allowed, verdict.rule) == (False, "cooling_off"), channel
    journey = next(p for p in state.journeys if p.journey == "young_customers")
    assert journey.last_channel == "email"


def test_a_pool_contact_sent_on_its_fallback_is_not_repeated_on_that_channel_next_time(
    engine: DecisionEngine,
) -> None:
    start = profile(day(2026, 1, 1), birth=date(1985, 2, 2), advisor=None, consents=ALL)
    state, outputs = replay(engine, [start], until=day(2026, 2, 1))
    (first,) = step_opportunities(outputs)
    assert first.channels == ("email", "letter", "sms", "call_centre")
    # E-mail was full that day: the selector sent a letter instead.
    letter = outbound_contact(Candidate(first), "letter", first.created_at.date(), fallback=True)
    recorded = sent_event(letter, end_of(letter.day))
    state, outputs = replay(engine, [recorded], state=state, until=day(2026, 6, 1))
    (second,) = step_opportunities(outputs)
    assert second.created_at.date() == date(2026, 5, 31)
    assert "letter" not in second.channels and second.channels[0] == "email"


def test_a_withdrawn_letter_consent_leaves_the_step_its_e_mail_fallback(
    engine: DecisionEngine,
) -> None:
    state, opp = young("c-1", engine)
    no_letter = profile(datetime(2026, 3, 15, 12, tzinfo=UTC),
                        customer="c-1", birth=date(2010, 3, 15), segment="young",
                        consents=Consents(phone=True, email=True, online_banking=True))  # fmt: skip
    _, outputs = replay(engine, [no_letter], state=state)
    (revised,) = [o for o in outputs if isinstance(o, Opportunity) and o.action_id == ACTION]
    assert (revised.opportunity_id, revised.revision) == (opp.opportunity_id, 1)
    assert revised.channels == ("email",)
    assert Candidate(revised).channels == ("email",)
