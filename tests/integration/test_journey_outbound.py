"""A journey step through the outbound selector on the real redis-server: with a capacity of
N letters a day, the (N+1)-th customer's step goes out on the step's next channel the
same day, and the send is recorded for cooling-off."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
import redis.asyncio as aioredis

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import codec, topics
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import Consents, Opportunity
from impulse_stream.core.journeys import REASON_KIND
from impulse_stream.core.state import CustomerState
from impulse_stream.streaming.outbound import DailyCapacity, OutboundSelector
from tests.unit.core.conftest import profile, replay

pytestmark = pytest.mark.integration

ALL = Consents(phone=True, email=True, letter=True, online_banking=True)
FIRST_ACCOUNT = date(2026, 3, 15)  # the young customers' first step, on the 16th birthday
ACTION = "youth_first_account"  # the step's channels: letter, email, app
N = 3


@pytest.fixture
async def client(redis_url):  # type: ignore[no-untyped-def]
    c = aioredis.from_url(redis_url)
    yield c
    await c.aclose()


def young(engine: DecisionEngine, customer: str) -> tuple[CustomerState, Opportunity]:
    start = profile(datetime(2026, 1, 10, tzinfo=UTC), customer=customer,
                    birth=date(2010, 3, 15), segment="young", consents=ALL)  # fmt: skip
    state, outputs = replay(engine, [start], until=datetime(2026, 3, 16, tzinfo=UTC))
    (step,) = [
        o for o in outputs
        if isinstance(o, Opportunity) and o.reasons and o.reasons[0].kind == REASON_KIND
    ]  # fmt: skip
    # As the selector reads it: the published bytes of the opportunities topic.
    published = codec.decode_output(topics.OPPORTUNITIES, codec.encode(step))
    assert isinstance(published, Opportunity)
    return state, published


async def test_the_n_plus_first_journey_step_goes_out_on_the_steps_next_channel_the_same_day(
    client, redis_prefix
) -> None:  # type: ignore[no-untyped-def]
    engine = DecisionEngine(load_catalogue())
    customers = {f"c-j{k}": young(engine, f"c-j{k}") for k in range(N + 1)}
    capacity = DailyCapacity(client, {"letter": N}, prefix=redis_prefix)
    selector = OutboundSelector(capacity)
    for _, opp in customers.values():
        assert opp.channels == ("letter", "email")
        selector.observe(opp)
    admitted = await selector.select(FIRST_ACCOUNT)
    assert sorted((a.contact.channel, a.contact.fallback, a.contact.day) for a in admitted) == [
        ("email", True, FIRST_ACCOUNT),
        *[("letter", False, FIRST_ACCOUNT)] * N,
    ]
    assert selector.pending == {}  # nobody waits for tomorrow
    assert await capacity.used("letter", FIRST_ACCOUNT) == N
    (fallback,) = [a for a in admitted if a.contact.fallback]
    assert (fallback.recorded.kind, fallback.recorded.channel, fallback.recorded.action_id) == (
        "email_sent", "email", ACTION,
    )  # fmt: skip

    # The worker takes the send in from channel.contacts: the action cools off everywhere.
    state, _ = customers[fallback.contact.customer_id]
    recorded = codec.decode(
        topics.CONTACTS, fallback.contact.customer_id.encode(), codec.encode(fallback.recorded)
    )
    state = engine.apply(state, recorded, recorded.occurred_at).state
    action = engine.catalogue.action(ACTION)
    assert action is not None
    for channel in action.channels:
        verdict = engine.policy.check(state, action, channel, recorded.occurred_at)
        assert (verdict.allowed, verdict.rule) == (False, "cooling_off"), channel
    journey = next(p for p in state.journeys if p.journey == "young_customers")
    assert journey.last_channel == "email"
