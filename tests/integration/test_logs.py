"""The worker's log at DEBUG, scanned: JSON lines, batch ids, no personal data.

The worked example (profile, abandoned card order, inbound call) plus a salary
booking with counterparty name and IBAN, a broken message and an erasure run
through a real worker process; then every byte it wrote is searched for the raw
customer id, IBAN, counterparty name, amounts and birth date.
"""

from __future__ import annotations

import asyncio
import json
import time
from datetime import timedelta

import pytest
from aiokafka import AIOKafkaProducer

from impulse_stream import pseudonym as pseudonym_module
from impulse_stream.contract import topics
from tests.support.kafka import produce, read_all
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, iso, profile

pytestmark = pytest.mark.integration

CUSTOMER = "c-7731994"
IBAN = "DE89370400440532013000"
COUNTERPARTY = "Maschinenbau Lindqvist GmbH"
SALARY = "4321.87"
BALANCE = "12873.55"
BIRTH_DATE = "1979-08-30"
ACCOUNT = "acct-55120934"
KEY = "log-scan-test-key"


def salary_booking() -> dict:
    return {
        "event_id": "tx-log-1",
        "customer_id": CUSTOMER,
        "account_id": ACCOUNT,
        "booked_at": iso(T0 - timedelta(days=1)),
        "amount": SALARY,
        "currency": "EUR",
        "direction": "credit",
        "counterparty": {"name": COUNTERPARTY, "iban": IBAN},
        "purpose": f"Gehalt 11/2026 {COUNTERPARTY}",
        "category": "salary",
        "balance_after": BALANCE,
    }


async def tombstone(bootstrap: str, topic: str, key: str) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(topic, None, key=key.encode())
    finally:
        await producer.stop()


def test_debug_log_of_the_worked_example_is_json_with_batch_ids_and_no_personal_data(
    workers, monkeypatch
):
    w = workers.start(IMPULSE_STREAM_LOG_LEVEL="DEBUG", IMPULSE_STREAM_PSEUDONYM_KEY=KEY)

    def send(topic: str, events: list) -> None:
        asyncio.run(produce(workers.bootstrap, workers.prefix + topic, events))

    send(topics.PROFILES, [profile(CUSTOMER, birth_date=BIRTH_DATE)])
    send(topics.TRANSACTIONS, [salary_booking()])
    send(topics.ORDERS, abandoned_card_order(CUSTOMER))
    send(topics.CONTACTS, [inbound_call(CUSTOMER, T0 + timedelta(minutes=40))])
    # a broken booking that still names the customer, the IBAN and the amount
    broken = json.dumps({**salary_booking(), "booked_at": "yesterday"}).encode()
    asyncio.run(
        produce(
            workers.bootstrap,
            workers.prefix + topics.TRANSACTIONS,
            [broken],
            key=lambda e: CUSTOMER,
        )
    )
    asyncio.run(
        read_all(
            workers.bootstrap,
            workers.prefix + topics.OPPORTUNITIES,
            until=lambda r: any(x.json()["action_id"] == "finish_credit_card_order" for x in r),
        )
    )
    asyncio.run(
        read_all(
            workers.bootstrap, workers.prefix + topics.DEAD_LETTERS, until=lambda r: len(r) >= 1
        )
    )
    asyncio.run(tombstone(workers.bootstrap, workers.prefix + topics.PROFILES, CUSTOMER))
    monkeypatch.setattr(pseudonym_module, "_KEY", KEY.encode())
    alias = pseudonym_module.pseudonym(CUSTOMER)

    def erased() -> bool:
        return f"erased the state of customer {alias}" in w.log_path.read_text(errors="replace")

    deadline = time.monotonic() + 30
    while not erased() and time.monotonic() < deadline:
        time.sleep(0.25)
    assert erased(), w.log_tail()
    assert w.stop() == 0

    text = w.log_path.read_text(errors="replace")
    lines = [line for line in text.splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    assert {r["level"] for r in records} >= {"debug", "info"}
    batches = [r for r in records if str(r["message"]).startswith("batch of ")]
    assert batches and all(len(r["batch_id"]) == 16 and r["offsets"] for r in batches)
    erasure = next(r for r in records if r["message"].startswith("erased the state"))
    assert erasure["batch_id"] in {r["batch_id"] for r in batches}

    for secret in (CUSTOMER, IBAN, COUNTERPARTY, "Lindqvist", SALARY, BALANCE, BIRTH_DATE, ACCOUNT):
        assert secret not in text, f"{secret!r} in the worker log"
