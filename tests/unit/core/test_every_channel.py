"""Every channel a bank has: SMS, ATM, kiosk and social next to the classic ones."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from impulse_stream.contract import codec, topics
from impulse_stream.core.codec import decode_state, encode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import CHANNELS, Card, ChannelContact, Click, Consents
from impulse_stream.core.state import channels_of
from impulse_stream.core.timeline import last_used, preferred_channels

from .conftest import CUSTOMER, T0, at, booking, click, contact, opportunities, profile, replay

NEW = ("sms", "atm", "kiosk", "social")
DATA = Path(__file__).parent / "data"


def test_the_new_channels_are_appended_after_the_seven_stored_ones() -> None:
    assert CHANNELS[:7] == (
        "call_centre", "branch", "online_banking", "app", "email", "letter", "advisor",
    )  # fmt: skip
    assert CHANNELS[7:] == NEW
    # A channel mask stored before keeps its meaning: bit i is still CHANNELS[i].
    assert channels_of(0b1011111) == (
        "call_centre", "branch", "online_banking", "app", "email", "advisor",
    )  # fmt: skip


@pytest.mark.parametrize("channel", NEW)
def test_a_contact_on_a_new_channel_is_accepted_by_the_contract(channel: str) -> None:
    value = {
        "event_id": f"ct-{channel}",
        "customer_id": CUSTOMER,
        "channel": channel,
        "kind": "sms_sent" if channel == "sms" else "message",
        "occurred_at": "2026-11-23T10:00:00+00:00",
        "action_id": "card_replacement_service",
    }
    event = codec.decode(topics.CONTACTS, CUSTOMER.encode(), json.dumps(value).encode())
    assert isinstance(event, ChannelContact)
    assert (event.channel, event.action_id) == (channel, "card_replacement_service")


@pytest.mark.parametrize("channel", ["atm", "kiosk", "social"])
def test_a_click_at_the_atm_kiosk_or_social_inbox_is_accepted(channel: str) -> None:
    value = {
        "event_id": "ck-1",
        "customer_id": CUSTOMER,
        "session_id": "s-1",
        "occurred_at": "2026-11-23T10:00:00+00:00",
        "kind": "banner_click",
        "product": "travel_insurance",
        "channel": channel,
    }
    event = codec.decode(topics.CLICKS, CUSTOMER.encode(), json.dumps(value).encode())
    assert isinstance(event, Click) and event.channel == channel


def test_the_catalogue_routes_caps_and_counts_every_new_channel(engine: DecisionEngine) -> None:
    cat = engine.catalogue
    assert {c.channel for c in cat.policy.frequency_caps} >= set(NEW)
    assert dict((c, cat.policy.consent_for_channel[c]) for c in NEW) == {
        "sms": "phone",
        "atm": None,
        "kiosk": None,
        "social": "online_banking",
    }
    assert cat.policy.daily_capacity["sms"] == 100000
    assert all(c in cat.routing.top_n for c in NEW)
    routed = {c for a in cat.actions for c in a.channels}
    assert routed >= set(NEW)


def _blocked_card(engine: DecisionEngine, *usage: object, consents: Consents | None = None):  # type: ignore[no-untyped-def]
    card = (Card(card_id="k1", expires_on=None),)
    events = [
        profile(T0 - timedelta(days=30), cards=card, consents=consents, advisor=None),
        *usage,
        profile(at(0), cards=(Card(card_id="k1", status="blocked"),), consents=consents,
                advisor=None),
    ]  # fmt: skip
    _, outputs = replay(engine, events, until=at(5))  # type: ignore[arg-type]
    return next(o for o in opportunities(outputs) if o.action_id == "card_replacement_service")


def test_a_blocked_card_of_an_app_only_customer_is_told_in_the_app_first(
    engine: DecisionEngine,
) -> None:
    logins = [click(at(-60 * 24 * d), "login", channel="app") for d in (1, 3, 8)]
    service = _blocked_card(engine, *logins)
    assert service.preferred_channel == "app"
    assert service.channels[0] == "app"
    assert "call_centre" in service.channels[1:]


def test_a_customer_who_calls_most_hears_of_the_blocked_card_from_the_call_centre(
    engine: DecisionEngine,
) -> None:
    usage = [
        click(at(-60 * 24 * 2), "login", channel="app"),
        *(contact(at(-60 * 24 * d), "call_centre", "inbound_call") for d in (4, 9, 12)),
    ]
    service = _blocked_card(engine, *usage)
    assert service.preferred_channel == "call_centre"
    assert service.channels[:2] == ("call_centre", "app")


def test_a_kiosk_user_is_told_at_the_kiosk(engine: DecisionEngine) -> None:
    usage = [click(at(-60 * 24 * d), "login", channel="kiosk") for d in (1, 2)]
    service = _blocked_card(engine, *usage)
    assert service.preferred_channel == "kiosk"


def test_sms_needs_the_phone_consent_even_for_service(engine: DecisionEngine) -> None:
    with_phone = _blocked_card(engine, consents=Consents(phone=True))
    without = _blocked_card(engine, consents=Consents(email=True))
    assert "sms" in with_phone.channels
    assert "sms" not in without.channels and "email" in without.channels


def test_the_social_inbox_is_only_for_customers_who_use_it(engine: DecisionEngine) -> None:
    assert "social" not in _blocked_card(engine).channels
    wrote = [click(at(-60 * 24 * 5), "page_view", channel="social")]
    assert "social" in _blocked_card(engine, *wrote).channels


def test_a_travel_insurance_teaser_at_the_atm_needs_no_advertising_consent(
    engine: DecisionEngine,
) -> None:
    abroad = booking(at(0), "80", "debit", country="ES", card_id="k1")
    state, _ = replay(engine, [profile(consents=Consents()), abroad], until=at(5))
    shown = [o.action_id for o in engine.next_best_actions(state, "atm", at(10))]
    assert shown == ["travel_insurance_offer"]
    assert engine.next_best_actions(state, "sms", at(10)) == []


def test_a_state_stored_with_seven_channels_decodes_and_learns_the_new_ones(
    engine: DecisionEngine,
) -> None:
    # Encoded by an engine that knew seven channels (affinity tuples of length 7).
    stored = decode_state(
        bytes.fromhex((DATA / "worked_example_state.hex").read_text(encoding="utf-8"))
    )
    assert len(stored.affinity.uses) == 7 and sum(stored.affinity.uses) > 0
    assert encode_state(decode_state(encode_state(stored))) == encode_state(stored)
    before = preferred_channels(stored.affinity)
    assert last_used(stored.affinity, "kiosk") == 0
    now = (stored.clock or T0) + timedelta(hours=1)
    kiosk = Click(event_id="ck-k", customer_id=stored.customer_id, session_id="k",
                  occurred_at=now, kind="login", channel="kiosk")  # fmt: skip
    state = engine.apply(stored, kiosk, now).state
    assert len(state.affinity.uses) == CHANNELS.index("kiosk") + 1
    assert state.affinity.uses[:7] == stored.affinity.uses
    assert preferred_channels(state.affinity) == (*before, "kiosk")
    assert decode_state(encode_state(state)) == state
