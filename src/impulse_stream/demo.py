"""``make demo``: the worked example of the domain, end to end on real Kafka + Redis.

1. In online banking a customer clicks a credit-card banner, starts the order,
   fills two steps and leaves.
2. Half an hour later the customer calls the call centre about transactions.
3. The agent's desktop shows the timeline, the running order and the top three
   actions: "finish the credit-card order" first, the bundle's predictions below.
4. The agent finishes the order with the customer; the response is recorded.
5. Online banking does not show the same offer the next day, and the completed
   order is credited to the call-centre team and to the customer's advisor.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.table import Table

from impulse_stream.contract import topics
from impulse_stream.errors import ImpulseStreamError
from impulse_stream.infra.stack import Stack

console = Console(highlight=False)


class DemoFailed(ImpulseStreamError):
    """The demo did not see what it expected; the message says where to look."""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _iso(t: datetime) -> str:
    return t.isoformat()


def worked_example(customer: str, now: datetime) -> list[tuple[str, dict[str, Any]]]:
    """The events of the worked example as (topic, event), in the order they happen.

    The customer turned 57 a few days ago, holds no life insurance and got a
    raise this month: the bundle predicts a financial reserve and retirement
    provision below the abandoned card order.
    """
    order = f"ord-{customer}"
    start = now - timedelta(minutes=40)

    def step(status: str, n: int, at: datetime, channel: str = "online_banking") -> dict[str, Any]:
        return {
            "event_id": f"{order}-{status}-{n}",
            "customer_id": customer,
            "order_id": order,
            "product": "credit_card",
            "channel": channel,
            "occurred_at": _iso(at),
            "status": status,
            "step": n,
            "total_steps": 4,
        }

    def contact(kind: str, channel: str, at: datetime, agent: str | None = None) -> dict[str, Any]:
        return {
            "event_id": f"{customer}-{kind}-{int(at.timestamp())}",
            "customer_id": customer,
            "channel": channel,
            "kind": kind,
            "occurred_at": _iso(at),
            "agent_id": agent,
        }

    def salary(months_back: int, amount: str) -> tuple[str, dict[str, Any]]:
        year, month = divmod(now.year * 12 + now.month - 1 - months_back, 12)
        booked = datetime(year, month + 1, 1, 0, 5, tzinfo=UTC)
        return (
            topics.TRANSACTIONS,
            {
                "event_id": f"{customer}-salary-{year}-{month + 1}",
                "customer_id": customer,
                "account_id": f"acc-{customer}",
                "booked_at": _iso(booked),
                "amount": amount,
                "currency": "EUR",
                "direction": "credit",
                "counterparty": {"name": "Acme GmbH", "iban": "DE44500105175407324931"},
                "purpose": "Salary",
                "category": "salary",
                "balance_after": "5200.00",
            },
        )

    birth = now.date().replace(year=now.year - 57) - timedelta(days=10)
    return [
        (
            topics.PROFILES,
            {
                "customer_id": customer,
                "updated_at": _iso(now - timedelta(days=120)),
                "birth_date": birth.isoformat(),
                "advisor_id": "adv-0042",
                "branch_id": "br-017",
                "segment": "retail",
                "consents": {"phone": True, "email": True, "letter": False, "online_banking": True},
                "products": ["current_account", "debit_card"],
            },
        ),
        salary(3, "3000.00"),
        salary(2, "3000.00"),
        salary(1, "3000.00"),
        salary(0, "3400.00"),
        (topics.CONTACTS, contact("appointment", "advisor", now - timedelta(days=92), "adv-0042")),
        (
            topics.CONTACTS,
            contact("inbound_call", "call_centre", now - timedelta(days=16), "kdc-07"),
        ),
        (topics.CONTACTS, contact("message", "online_banking", now - timedelta(days=3))),
        (
            topics.CLICKS,
            {
                "event_id": f"{customer}-click-1",
                "customer_id": customer,
                "session_id": f"s-{customer}",
                "occurred_at": _iso(start - timedelta(minutes=1)),
                "kind": "banner_click",
                "page": "/overview",
                "product": "credit_card",
            },
        ),
        (topics.ORDERS, step("started", 0, start)),
        (topics.ORDERS, step("step_completed", 1, start + timedelta(minutes=2))),
        (topics.ORDERS, step("step_completed", 2, start + timedelta(minutes=5))),
        (topics.CONTACTS, contact("inbound_call", "call_centre", now, "kdc-12")),
    ]


class DemoWorker:
    def __init__(self, stack: Stack, port: int, log: Path) -> None:
        self.port = port
        self.log = log
        env = {
            **os.environ,
            "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
            "REDIS_URL": stack.redis_url,
            "IMPULSE_STREAM_APP_ID": "impulse-stream-demo",
            "IMPULSE_STREAM_WEB_PORT": str(port),
        }
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "impulse_stream.cli", "worker"],
            env=env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
        )

    def get(self, path: str) -> Any:
        url = f"http://127.0.0.1:{self.port}{path}"
        with urllib.request.urlopen(url, timeout=5) as response:
            return orjson.loads(response.read())

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoFailed(f"the worker exited; see {self.log}")
            try:
                self.get("/readyz")
                return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.5)
        raise DemoFailed(f"the worker was not ready in {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


async def _send(bootstrap: str, events: list[tuple[str, dict[str, Any]]]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all")
    await producer.start()
    try:
        for topic, event in events:
            await producer.send_and_wait(
                topic, orjson.dumps(event), key=event["customer_id"].encode()
            )
    finally:
        await producer.stop()


async def _wait_for(
    bootstrap: str, topic: str, customer: str, want: Any, timeout: float = 60.0
) -> list[dict[str, Any]]:
    """Records of ``customer`` on ``topic`` once ``want(records)`` holds."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", enable_auto_commit=False
    )
    await consumer.start()
    found: list[dict[str, Any]] = []
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=500)
            for messages in batches.values():
                found += [
                    orjson.loads(m.value)
                    for m in messages
                    if m.key == customer.encode() and m.value
                ]
            if want(found):
                return found
        raise DemoFailed(f"nothing on {topic} for the demo customer in {timeout:.0f}s")
    finally:
        await consumer.stop()


def _show_desktop(desk: dict[str, Any], view: dict[str, Any]) -> None:
    console.rule("[bold]Call-centre desktop: inbound call")
    timeline = Table("when", "channel", "contact", title="Timeline", title_justify="left")
    for entry in view["timeline"][:6]:
        timeline.add_row(entry["at"][:16].replace("T", " "), entry["channel"], entry["kind"])
    console.print(timeline)
    for process in view["running_processes"]:
        console.print(
            f"Running process: {process['kind']} {process['product_or_action']} "
            f"[bold]{process['status']}[/] at step {process.get('step')} of "
            f"{process.get('total_steps')}"
        )
    actions = Table("#", "action", "product", "priority", "instruction", title="Top 3 actions")
    for n, action in enumerate(desk["actions"], 1):
        actions.add_row(
            str(n),
            action["action_id"],
            action["product"],
            f"{action['priority']:.1f}",
            action["texts"]["instruction"],
        )
    console.print(actions)
    predictions = view.get("predictions") or {}
    if predictions:
        console.print(
            "Bundle predictions: "
            + ", ".join(
                f"{p} {v:.0%}" for p, v in sorted(predictions.items(), key=lambda kv: -kv[1])[:4]
            )
        )


def run_demo(keep: bool = False) -> None:
    stack = Stack.from_env(name="demo")
    console.print(
        f"[bold]1.[/] Kafka (KRaft) and redis-server: {stack.bootstrap_servers}, {stack.redis_url}"
    )
    stack.up()
    stack.create_topics()
    log = stack.settings.data_root / "demo-worker.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    worker = DemoWorker(stack, _free_port(), log)
    try:
        worker.wait_ready()
        now = datetime.now(UTC).replace(microsecond=0)
        customer = f"c-demo-{int(now.timestamp())}"
        console.print(
            f"[bold]2.[/] customer {customer} clicks a card banner, starts the order, "
            "fills two steps"
            " and leaves; 40 minutes later the customer calls the call centre"
        )
        asyncio.run(_send(stack.bootstrap_servers, worked_example(customer, now)))
        opportunities = asyncio.run(
            _wait_for(
                stack.bootstrap_servers,
                topics.OPPORTUNITIES,
                customer,
                lambda found: any(o["action_id"] == "finish_credit_card_order" for o in found),
            )
        )
        card = next(o for o in opportunities if o["action_id"] == "finish_credit_card_order")
        console.print(
            f"[bold]3.[/] published opportunity {card['opportunity_id']}: {card['explanation']}"
        )
        desk = worker.get(f"/customers/{customer}/next-best-actions?channel=call_centre&limit=3")
        view = worker.get(f"/customers/{customer}?channel=call_centre")
        _show_desktop(desk, view)
        if not desk["actions"] or desk["actions"][0]["action_id"] != "finish_credit_card_order":
            raise DemoFailed("the abandoned card order is not the top action on the desktop")

        console.print("[bold]4.[/] the agent finishes the card order with the customer")
        later = now + timedelta(minutes=6)
        asyncio.run(
            _send(
                stack.bootstrap_servers,
                [
                    (
                        topics.RESPONSES,
                        {
                            "event_id": f"{customer}-resp-1",
                            "opportunity_id": card["opportunity_id"],
                            "customer_id": customer,
                            "channel": "call_centre",
                            "response": "accepted",
                            "occurred_at": _iso(now + timedelta(minutes=4)),
                            "agent_id": "kdc-12",
                        },
                    ),
                    (
                        topics.ORDERS,
                        {
                            "event_id": f"ord-{customer}-completed-4",
                            "customer_id": customer,
                            "order_id": f"ord-{customer}",
                            "product": "credit_card",
                            "channel": "call_centre",
                            "occurred_at": _iso(later),
                            "status": "completed",
                            "step": 4,
                            "total_steps": 4,
                            "agent_id": "kdc-12",
                        },
                    ),
                ],
            )
        )
        credit = asyncio.run(
            _wait_for(stack.bootstrap_servers, topics.ATTRIBUTIONS, customer, bool)
        )[0]
        console.print(
            f"[bold]5.[/] sale credited: {credit['product']} closed by "
            f"{credit['closing_channel']}, "
            f"advisor {credit['advisor_id']}, opportunity {credit['opportunity_id']}"
        )
        tomorrow = _iso(now + timedelta(days=1)).replace("+", "%2B")
        teaser = worker.get(
            f"/customers/{customer}/next-best-actions?channel=online_banking&at={tomorrow}"
        )
        shown = [a["action_id"] for a in teaser["actions"]]
        console.print(f"   online banking the next day shows: {shown or 'nothing new'}")
        if "finish_credit_card_order" in shown:
            raise DemoFailed("online banking shows the card offer again the next day")
        console.print("[green]The worked example ran end to end.[/]")
    finally:
        if keep:
            console.print(
                f"worker on http://127.0.0.1:{worker.port} (log {log}); stop with "
                "`impulse-stream infra down --name demo` and kill the worker"
            )
        else:
            worker.stop()
            stack.down()
