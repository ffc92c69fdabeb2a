"""The customer 360 API shows the worked example's customer as the agent would see it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from urllib.parse import quote

import orjson
import pytest

from impulse_stream import worked_example
from tests.support.kafka import produce, read_all
from tests.support.openapi_check import check_response

pytestmark = pytest.mark.integration


def test_the_agent_sees_timeline_processes_and_the_abandoned_order_on_top(workers):
    w = workers.start()
    now = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)
    customer = "c-360"
    for topic, event in worked_example.events(customer, now):
        asyncio.run(produce(workers.bootstrap, workers.prefix + topic, [event]))
    asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + "opportunities",
            until=lambda r: any(x.json()["action_id"] == "finish_credit_card_order" for x in r),
        )
    )
    at = quote(now.isoformat())
    status, body = w.get(f"/customers/{customer}/next-best-actions?channel=call_centre&at={at}")
    assert status == 200
    check_response("/customers/{customer_id}/next-best-actions", status, body)
    desk = orjson.loads(body)["actions"]
    assert [a["rank"] for a in desk] == [1, 2, 3]
    assert desk[0]["action_id"] == "finish_credit_card_order"
    assert "step=2" in desk[0]["explanation"] and desk[0]["texts"]["instruction"]
    bundle = {"financial_reserve_offer", "membership_offer", "retirement_provision_check"}
    assert {a["action_id"] for a in desk[1:]} <= bundle

    status, body = w.get(f"/customers/{customer}?channel=call_centre&at={at}")
    view = check_response("/customers/{customer_id}", status, body)
    assert status == 200
    assert view["profile"]["advisor_id"] == "adv-0042" and view["profile"]["age"] == 57
    contacts = [(c["channel"], c["kind"]) for c in view["timeline"]]
    assert contacts[0] == ("call_centre", "inbound_call")
    assert ("advisor", "appointment") in contacts and ("online_banking", "message") in contacts
    (order,) = [p for p in view["running_processes"] if p["kind"] == "order"]
    assert (order["status"], order["step"], order["total_steps"]) == ("abandoned", 2, 4)
    assert {"retirement_provision", "financial_reserve"} <= view["predictions"].keys()
    # The cockpit's list of open opportunities has the same abandoned order on top
    # as the call-centre desk, and the desk shows only open opportunities.
    open_ids = [o["opportunity_id"] for o in view["open_opportunities"]]
    assert open_ids[0] == desk[0]["opportunity_id"]
    assert {a["opportunity_id"] for a in desk} <= set(open_ids)
    assert "call_centre" in view["open_opportunities"][0]["channels"]
    assert [o["opportunity_id"] for o in view["opportunities"]] == [
        a["opportunity_id"] for a in desk
    ]


def test_unknown_customer_bad_channel_and_bad_limit(workers):
    w = workers.start()
    assert w.get("/customers/nobody")[0] == 404
    assert w.get("/customers/nobody/next-best-actions?channel=pigeon")[0] == 400
    assert w.get("/customers/nobody/next-best-actions?limit=0")[0] == 400
    assert w.get("/customers/nobody?at=yesterday")[0] == 400
    assert w.get("/customers/bad%20id")[0] == 400
    assert w.get("/readyz")[0] == 200 and w.get("/healthz")[0] == 200
