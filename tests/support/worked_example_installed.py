"""The worked example (DOMAIN.md) through the installed engine, as JSON on stdout.

Every event is applied at the partition's event-time watermark, as the worker
does; the output names the impulses and the call centre's opportunities.
"""

import json
from datetime import UTC, datetime

import msgspec

from impulse_stream import worked_example
from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract import topics
from impulse_stream.core import events
from impulse_stream.core.engine import DecisionEngine

TYPES = {
    topics.TRANSACTIONS: events.Transaction,
    topics.CLICKS: events.Click,
    topics.ORDERS: events.OrderStep,
    topics.PROFILES: events.CustomerProfile,
    topics.CONTACTS: events.ChannelContact,
}
CALL = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)

engine = DecisionEngine(load_catalogue())
state = None
watermark = datetime.min.replace(tzinfo=UTC)
impulses = []
for topic, raw in worked_example.events("c-wheel", CALL):
    at = raw.get("occurred_at") or raw.get("booked_at") or raw["updated_at"]
    watermark = max(watermark, datetime.fromisoformat(at))
    event = msgspec.json.decode(msgspec.json.encode(raw), type=TYPES[topic])
    decision = engine.apply(state, event, watermark)
    state = decision.state
    impulses += [o.kind for o in decision.outputs if type(o).__name__ == "Impulse"]
screen = engine.next_best_actions(state, "call_centre", CALL)
print(
    json.dumps(
        {
            "impulses": impulses,
            "call_centre": [o.action_id for o in screen],
            "abandoned_at_step": [
                e.value for e in screen[0].reasons[0].evidence if e.name == "step"
            ],
        }
    )
)
