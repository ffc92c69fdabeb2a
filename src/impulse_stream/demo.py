"""``make demo``: a bank day you can watch, on real Kafka + Redis.

It starts the local stack, a worker and the agent desktop (``impulse-stream
desk``), then plays a bank day for a few thousand synthetic customers, sped
up: each customer's moments (a salary with a raise, a card payment abroad, a
large incoming payment, an online order abandoned after two steps, a login, a
call) are stamped as they happened within the last hour and sent in a few
seconds. Simulated channels answer part of the opportunities (accepted,
declined, not now, no time) on the customer's best channel and finish some
accepted orders there, so that sales are credited.

The worked example of the domain is scripted into the day: customer
``c-example-…`` clicks a credit-card banner, starts the order, fills two steps
and leaves; 40 minutes later (now) the customer calls. The demo prints the
desktop's address for that customer; the card order is the first action there,
and the agent's answer flows back through the topics.

The terminal shows a live summary (events per second, impulses, opportunities
per channel, responses) until Ctrl-C, which stops everything the demo
started; ``--for SECONDS`` stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from impulse_stream import worked_example
from impulse_stream.contract import topics
from impulse_stream.errors import DemoFailed
from impulse_stream.infra.stack import Stack

console = Console(highlight=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _iso(t: datetime) -> str:
    return t.isoformat()


class DemoProcess:
    """A worker or the desk, started by the demo with the stack's addresses."""

    def __init__(self, name: str, args: list[str], env: dict[str, str], log: Path) -> None:
        self.name = name
        self.log = log
        with log.open("ab") as out:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "impulse_stream.cli", *args],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def wait_http(self, url: str, timeout: float = 120.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise DemoFailed(f"the {self.name} exited; see {self.log}")
            try:
                with urllib.request.urlopen(url, timeout=2):
                    return
            except (OSError, urllib.error.HTTPError):
                time.sleep(0.5)
        raise DemoFailed(f"the {self.name} did not answer in {timeout:.0f}s; see {self.log}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


# --- the synthetic bank day -----------------------------------------------------------

SEGMENTS = (("retail", 70), ("young", 12), ("private", 10), ("premium", 5), ("business", 3))
PRODUCTS = ("credit_card", "savings_plan", "instalment_loan", "current_account")
ANSWERS = (("accepted", 30), ("declined", 30), ("not_now", 25), ("no_time", 15))
ANSWER_SHARE = 0.6


def _pick(rng: random.Random, weighted: tuple[tuple[str, int], ...]) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


@dataclass
class BankDay:
    """Synthetic customers and their moments; deterministic for a seed."""

    customers: int
    seed: int = 7
    rng: random.Random = field(init=False)
    open_orders: dict[str, tuple[str, str]] = field(default_factory=dict)  # customer -> order

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    def customer(self, i: int) -> str:
        return f"c-{i:05d}"

    def profiles(self, now: datetime) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for i in range(self.customers):
            r = self.rng
            age = r.randint(18, 82)
            out.append(
                (
                    topics.PROFILES,
                    {
                        "customer_id": self.customer(i),
                        "updated_at": _iso(now - timedelta(days=200)),
                        "birth_date": date(
                            now.year - age, r.randint(1, 12), r.randint(1, 28)
                        ).isoformat(),
                        "advisor_id": f"adv-{i % 40:04d}" if r.random() < 0.7 else None,
                        "branch_id": f"br-{i % 12:03d}",
                        "segment": _pick(r, SEGMENTS),
                        "consents": {
                            "phone": r.random() < 0.8,
                            "email": r.random() < 0.6,
                            "letter": r.random() < 0.5,
                            "online_banking": r.random() < 0.7,
                        },
                        "products": ["current_account"]
                        + (["credit_card"] if r.random() < 0.3 else []),
                    },
                )
            )
        return out

    def moment(self, now: datetime) -> list[tuple[str, dict[str, Any]]]:
        """One customer's moment of the day, stamped within the last hour."""
        r = self.rng
        i = r.randrange(self.customers)
        cid = self.customer(i)
        tag = f"{cid}-{r.getrandbits(40):010x}"
        kind = r.random()
        channel = "app" if i % 3 == 0 else "online_banking"
        if kind < 0.30:  # online order: most are left after a step or two
            product = r.choice(PRODUCTS)
            order = f"ord-{tag}"
            start = now - timedelta(minutes=r.randint(35, 55))
            events = [
                self._click(
                    cid, tag, "banner_click", start - timedelta(minutes=1), channel, product
                )
            ]
            for n, status in enumerate(("started", "step_completed", "step_completed")):
                events.append(
                    self._step(
                        cid, order, product, channel, status, n, start + timedelta(minutes=2 * n)
                    )
                )
            if r.random() < 0.25:
                events.append(
                    self._step(
                        cid, order, product, channel, "completed", 4, start + timedelta(minutes=8)
                    )
                )
            else:
                self.open_orders[cid] = (order, product)
            events.append(self._click(cid, tag + "-l", "login", now, channel, None))
            return events
        if kind < 0.50:  # salary day: this month's salary, some with a raise
            base = r.randrange(2000, 6000, 100)
            raised = base * (1.15 if r.random() < 0.4 else 1.0)
            return [self._salary(cid, now, m, base if m else raised) for m in (3, 2, 1, 0)]
        if kind < 0.62:  # card payment abroad
            return [
                self._booking(
                    cid,
                    tag,
                    now,
                    "debit",
                    r.randint(20, 400),
                    "card_payment",
                    country=r.choice(("ES", "IT", "FR", "US")),
                )
            ]
        if kind < 0.70:  # a large incoming payment (inheritance, bonus)
            return [
                self._booking(cid, tag, now, "credit", r.randrange(12000, 60000, 500), "transfer")
            ]
        if kind < 0.85:
            return [self._click(cid, tag, "login", now, channel, None)]
        return [
            (
                topics.CONTACTS,
                {
                    "event_id": f"{tag}-call",
                    "customer_id": cid,
                    "channel": "call_centre",
                    "kind": "inbound_call",
                    "occurred_at": _iso(now),
                    "agent_id": f"kdc-{r.randint(1, 30):02d}",
                },
            )
        ]

    def answer(
        self, opportunity: dict[str, Any], now: datetime
    ) -> list[tuple[str, dict[str, Any]]]:
        """A simulated channel's response to a new opportunity, or nothing."""
        r = self.rng
        if r.random() > ANSWER_SHARE or not opportunity["channels"]:
            return []
        cid = opportunity["customer_id"]
        channel = opportunity["channels"][0]  # the customer's best channel
        kind = _pick(r, ANSWERS)
        agent = f"kdc-{r.randint(1, 30):02d}" if channel == "call_centre" else None
        events: list[tuple[str, dict[str, Any]]] = [
            (
                topics.RESPONSES,
                {
                    "event_id": f"resp-{opportunity['opportunity_id']}",
                    "opportunity_id": opportunity["opportunity_id"],
                    "customer_id": cid,
                    "channel": channel,
                    "response": kind,
                    "occurred_at": _iso(now),
                    "agent_id": agent,
                },
            )
        ]
        order = self.open_orders.get(cid)
        if kind == "accepted" and order is not None and order[1] == opportunity["product"]:
            del self.open_orders[cid]
            step = self._step(cid, order[0], order[1], channel, "completed", 4, now)
            step[1]["agent_id"] = agent
            events.append(step)
        return events

    @staticmethod
    def _click(
        cid: str, tag: str, kind: str, at: datetime, channel: str, product: str | None
    ) -> tuple[str, dict[str, Any]]:
        return (
            topics.CLICKS,
            {
                "event_id": f"{tag}-{kind}",
                "customer_id": cid,
                "session_id": f"s-{tag}",
                "occurred_at": _iso(at),
                "kind": kind,
                "page": "/overview",
                "product": product,
                "channel": channel,
            },
        )

    @staticmethod
    def _step(
        cid: str, order: str, product: str, channel: str, status: str, n: int, at: datetime
    ) -> tuple[str, dict[str, Any]]:
        return (
            topics.ORDERS,
            {
                "event_id": f"{order}-{status}-{n}",
                "customer_id": cid,
                "order_id": order,
                "product": product,
                "channel": channel,
                "occurred_at": _iso(at),
                "status": status,
                "step": n,
                "total_steps": 4,
            },
        )

    @staticmethod
    def _booking(
        cid: str,
        tag: str,
        at: datetime,
        direction: str,
        amount: float,
        category: str,
        country: str | None = None,
    ) -> tuple[str, dict[str, Any]]:
        return (
            topics.TRANSACTIONS,
            {
                "event_id": f"{tag}-tx",
                "customer_id": cid,
                "account_id": f"acc-{cid}",
                "booked_at": _iso(at),
                "amount": f"{amount:.2f}",
                "currency": "EUR",
                "direction": direction,
                "category": category,
                "country": country,
            },
        )

    @staticmethod
    def _salary(
        cid: str, now: datetime, months_back: int, amount: float
    ) -> tuple[str, dict[str, Any]]:
        year, month = divmod(now.year * 12 + now.month - 1 - months_back, 12)
        booked = datetime(year, month + 1, 1, 0, 5, tzinfo=UTC)
        return (
            topics.TRANSACTIONS,
            {
                "event_id": f"{cid}-salary-{year}-{month + 1}",
                "customer_id": cid,
                "account_id": f"acc-{cid}",
                "booked_at": _iso(min(booked, now)),
                "amount": f"{amount:.2f}",
                "currency": "EUR",
                "direction": "credit",
                "purpose": "Salary",
                "category": "salary",
            },
        )


# --- the run ---------------------------------------------------------------------------


@dataclass
class Summary:
    sent: int = 0
    impulses: int = 0
    opportunities: Counter[str] = field(default_factory=Counter)
    responses: Counter[str] = field(default_factory=Counter)
    window: list[tuple[float, int]] = field(default_factory=list)

    def rate(self) -> float:
        now = time.monotonic()
        self.window.append((now, self.sent))
        self.window = [(t, n) for t, n in self.window if now - t <= 5.0]
        (t0, n0), (t1, n1) = self.window[0], self.window[-1]
        return (n1 - n0) / (t1 - t0) if t1 > t0 else 0.0

    def line(self) -> str:
        """One line: events/s, impulses, new opportunities by best channel, responses."""
        channels = " ".join(f"{c}={n}" for c, n in self.opportunities.most_common())
        answers = " ".join(f"{k}={n}" for k, n in sorted(self.responses.items()))
        return (
            f"events/s {self.rate():4.0f}  impulses {self.impulses}  "
            f"opportunities {sum(self.opportunities.values())} ({channels or '-'})  "
            f"responses {sum(self.responses.values())} ({answers or '-'})"
        )


async def _play(
    bootstrap: str,
    prefix: str,
    day: BankDay,
    example: str,
    seconds: float | None,
    rate: float,
    summary: Summary,
    stop: asyncio.Event,
) -> None:
    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20)
    watch = AIOKafkaConsumer(
        prefix + topics.IMPULSES,
        prefix + topics.OPPORTUNITIES,
        prefix + topics.RESPONSES,
        bootstrap_servers=bootstrap,
        group_id=None,
        auto_offset_reset="latest",
    )
    await producer.start()
    await watch.start()
    answers: list[tuple[float, dict[str, Any]]] = []

    async def send(events: list[tuple[str, dict[str, Any]]]) -> None:
        for topic, event in events:
            await producer.send(
                prefix + topic, orjson.dumps(event), key=event["customer_id"].encode()
            )
        summary.sent += len(events)

    async def watching() -> None:
        while True:
            batches = await watch.getmany(timeout_ms=500)
            for messages in batches.values():
                for m in messages:
                    topic = m.topic.removeprefix(prefix)
                    value = orjson.loads(m.value) if m.value else None
                    if value is None:
                        continue
                    if topic == topics.IMPULSES:
                        summary.impulses += 1
                    elif topic == topics.RESPONSES:
                        summary.responses[value["response"]] += 1
                    elif value["revision"] == 0 and value["status"] == "open":
                        summary.opportunities[(value["channels"] or ["no channel"])[0]] += 1
                        if value["customer_id"] != example:  # the example is the agent's
                            answers.append((time.monotonic() + day.rng.uniform(1, 5), value))

    watcher = asyncio.create_task(watching())
    started = time.monotonic()
    try:
        await send(day.profiles(datetime.now(UTC)))
        await producer.flush()
        now = datetime.now(UTC).replace(microsecond=0)
        *history, call = worked_example.events(example, now)
        await send(history)
        call_at = started + 20.0  # the call comes in while the agent watches the desktop
        last_print = 0.0
        while not stop.is_set():
            tick = time.monotonic()
            if seconds is not None and tick - started >= seconds:
                break
            if call is not None and tick >= call_at:
                call_event = dict(call[1], occurred_at=_iso(datetime.now(UTC)))
                await send([(call[0], call_event)])
                call = None  # type: ignore[assignment]
            for _ in range(max(1, int(rate / 10))):
                await send(day.moment(datetime.now(UTC)))
            due = [a for a in answers if a[0] <= tick]
            answers[:] = [a for a in answers if a[0] > tick]
            for _, opportunity in due:
                await send(day.answer(opportunity, datetime.now(UTC)))
            if tick - last_print >= 2.0:
                console.print(summary.line(), soft_wrap=True)
                last_print = tick
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), 0.1)
        await producer.flush()
    finally:
        watcher.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await watcher
        await watch.stop()
        await producer.stop()


def run_demo(seconds: float | None = None, customers: int = 3000, rate: float = 30.0) -> None:
    """Start the stack, a worker and the desk; play the day until Ctrl-C or ``seconds``."""
    from impulse_stream.settings import Settings

    if seconds is not None and not seconds > 0:
        raise DemoFailed(f"--for={seconds:g}: expected more than 0 seconds")
    if not 1 <= customers <= 1_000_000:
        raise DemoFailed(f"--customers={customers}: expected 1 to 1000000")
    env = {"IMPULSE_STREAM_APP_ID": "impulse-stream-demo", **os.environ}
    settings = Settings.from_env(env)
    stack = Stack.from_env(name="demo")
    console.print(f"Kafka (KRaft) {stack.bootstrap_servers}, Redis {stack.redis_url}")
    stack.up()
    stack.create_topics(prefix=settings.topic_prefix)
    logs = stack.settings.data_root / "demo"
    logs.mkdir(parents=True, exist_ok=True)
    desk_port = int(env.get("IMPULSE_STREAM_DESK_PORT", "0")) or _free_port()
    env.update(
        {
            "KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers,
            "REDIS_URL": stack.redis_url,
            "IMPULSE_STREAM_WEB_PORT": str(_free_port()),
            "IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": env.get(
                "IMPULSE_STREAM_IDLE_ADVANCE_SECONDS", "5"
            ),
        }
    )
    processes: list[DemoProcess] = []
    stop = asyncio.Event()
    try:
        worker = DemoProcess("worker", ["worker"], env, logs / "worker.log")
        processes.append(worker)
        desk = DemoProcess("desk", ["desk", "--port", str(desk_port)], env, logs / "desk.log")
        processes.append(desk)
        worker.wait_http(f"http://127.0.0.1:{env['IMPULSE_STREAM_WEB_PORT']}/readyz")
        desk.wait_http(f"http://127.0.0.1:{desk_port}/healthz")
        example = f"c-example-{datetime.now(UTC):%H%M%S}"
        base = f"http://127.0.0.1:{desk_port}"
        console.print(f"[bold]Agent desktop:[/] {base}/customers/{example}?agent=kdc-12")
        console.print(f"[bold]Report:[/] {base}/report   (logs in {logs})")
        console.print(
            f"Playing a bank day for {customers} customers; {example} abandons a card order "
            "and calls in 20 s. Ctrl-C stops everything."
        )

        async def main() -> None:
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(sig, stop.set)
            await _play(
                stack.bootstrap_servers,
                settings.topic_prefix,
                BankDay(customers),
                example,
                seconds,
                rate,
                summary,
                stop,
            )

        summary = Summary()
        asyncio.run(main())
        console.print(summary.line(), soft_wrap=True)
    finally:
        console.print("stopping the desk, the worker and the stack")
        for process in reversed(processes):
            process.stop()
        stack.down()
