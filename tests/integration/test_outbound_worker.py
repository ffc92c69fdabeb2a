"""The outbound selector as SREs run it: ``impulse-stream outbound`` over real Kafka and Redis."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import msgspec

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE
from impulse_stream.contract import codec, topics
from impulse_stream.core.events import Opportunity, Texts
from tests.support.kafka import produce, read_all

TEXTS = Texts(instruction="Call about the card.", argument="a", objections="o",
              info_url="https://bank.example/")  # fmt: skip


def _opportunity(n: int, priority: float, created: datetime) -> Opportunity:
    return Opportunity(
        opportunity_id=f"opp-{n:03d}", revision=0, customer_id=f"c-{n}",
        action_id="finish_credit_card_order", product="credit_card", kind="sales",
        priority=priority, rank=1, status="open", reasons=(),
        channels=("call_centre", "letter"), texts=TEXTS,
        valid_until=created + timedelta(days=7), created_at=created, rules_version="t",
    )  # fmt: skip


async def test_the_outbound_command_publishes_the_days_contacts_within_capacity(
    kafka_bootstrap, redis_url, topic_prefix, redis_prefix, make_topics, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    make_topics()
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    old = "  daily_capacity: {call_centre: 20000, advisor: 3000, letter: 50000, sms: 100000}"
    assert old in text
    catalogue = tmp_path / "bank.yaml"
    catalogue.write_text(text.replace(old, "  daily_capacity: {call_centre: 2, letter: 100}"))
    day = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)
    opportunities = [_opportunity(n, 90.0 - n, day) for n in range(3)]
    opportunities.append(_opportunity(9, 10.0, day + timedelta(days=1)))  # closes the 23rd
    await produce(
        kafka_bootstrap,
        topic_prefix + topics.OPPORTUNITIES,
        [codec.encode(o) for o in opportunities],
        key=lambda v: msgspec.json.decode(v)["customer_id"],
    )
    env = {
        **os.environ,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "REDIS_URL": redis_url,
        "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix,
        "IMPULSE_STREAM_REDIS_PREFIX": redis_prefix,
        "IMPULSE_STREAM_APP_ID": f"{topic_prefix}impulse-stream",
        "IMPULSE_STREAM_CATALOGUE": str(catalogue),
        "PYTHONUNBUFFERED": "1",
    }
    log = (tmp_path / "outbound.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "impulse_stream.cli", "outbound"], env=env, stdout=log,
        stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        records = await read_all(
            kafka_bootstrap, topic_prefix + topics.OUTBOUND, until=lambda r: len(r) >= 3,
            timeout=90,
        )  # fmt: skip
        contacts = await read_all(
            kafka_bootstrap, topic_prefix + topics.CONTACTS, until=lambda r: len(r) >= 3
        )
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        log.close()
    got = sorted((r.json()["opportunity_id"], r.json()["channel"], r.json()["fallback"])
                 for r in records)  # fmt: skip
    assert got == [
        ("opp-000", "call_centre", False),
        ("opp-001", "call_centre", False),
        ("opp-002", "letter", True),
    ]
    assert all(r.json()["texts"]["instruction"] == "Call about the card." for r in records)
    assert all(r.key == r.json()["customer_id"].encode() for r in records)
    kinds = sorted((c.json()["kind"], c.json()["action_id"]) for c in contacts)
    assert (
        kinds
        == [("letter_sent", "finish_credit_card_order")]
        + [("outbound_call", "finish_credit_card_order")] * 2
    )
