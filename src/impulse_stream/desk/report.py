"""The omnichannel report: what each channel, action and segment did with its opportunities.

Kept up to date by :class:`ReportAggregator`, a consumer in the desk process
that reads four topics and raises counters in Redis
(:class:`~impulse_stream.store.report.ReportStore`), each event once:

=========================  ==========================================  ============
topic                      counts                                      day of
=========================  ==========================================  ============
``opportunities``          revision 0: *opened* once per routed        ``created_at``
                           channel; ``expired``: *expired* per channel ``valid_until``
``opportunities.responses`` shown, accepted, declined, not_now,        ``occurred_at``
                           no_time on the responding channel
``orders.flow``            online (online banking, app) orders         the start
                           *started*; *completed* on any channel
``attributions``           sales per closing channel, advisor,         ``credited_at``
                           branch and product
=========================  ==========================================  ============

The action and segment of a response, and the segment of an opportunity, come
from the customer's state in the worker's store. Counters are per event-time
day. *Conversion* is accepted / (accepted + declined + not now + no time):
the share of answered offers that were taken. The *abandonment rate* of a
product is 1 - completed / started of its online orders.
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

import msgspec

from impulse_stream.contract import topics
from impulse_stream.core.codec import decode_state
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import Attribution, Opportunity, OpportunityResponse, OrderStep
from impulse_stream.core.state import CustomerState
from impulse_stream.errors import StateDecodeError, StoreUnavailable
from impulse_stream.store.base import CustomerStore
from impulse_stream.store.report import ReportStore, Tally

log = logging.getLogger(__name__)

MEASURES = ("opened", "shown", "accepted", "declined", "not_now", "no_time", "expired")
ANSWERS = ("accepted", "declined", "not_now", "no_time")
ONLINE = ("online_banking", "app")
NONE = "-"

_decoders: dict[str, msgspec.json.Decoder[Any]] = {
    topics.OPPORTUNITIES: msgspec.json.Decoder(Opportunity),
    topics.RESPONSES: msgspec.json.Decoder(OpportunityResponse),
    topics.ATTRIBUTIONS: msgspec.json.Decoder(Attribution),
    topics.ORDERS: msgspec.json.Decoder(OrderStep),
}
REPORT_TOPICS = tuple(_decoders)


def _day(t: datetime) -> str:
    return utc_day(t).isoformat()


def decode(logical_topic: str, value: bytes | None) -> Any:
    """The record of a message, or None for one the report cannot read."""
    decoder = _decoders.get(logical_topic)
    if decoder is None or not value:
        return None
    try:
        return decoder.decode(value)
    except msgspec.DecodeError:
        return None


def tallies(
    records: Iterable[Any],
    states: dict[str, CustomerState],
    order_starts: dict[str, tuple[str, str]],
) -> tuple[list[Tally], list[tuple[str, str, str]]]:
    """The counters a batch of records raises, and the online orders it starts."""
    out: list[Tally] = []
    started: list[tuple[str, str, str]] = []

    def segment(customer_id: str) -> str:
        state = states.get(customer_id)
        return state.profile.segment if state is not None else NONE

    for r in records:
        if isinstance(r, Opportunity):
            if r.revision == 0 and r.status == "open":
                day, measure = _day(r.created_at), "opened"
            elif r.status == "expired":
                day, measure = _day(r.valid_until), "expired"
            else:
                continue
            seg = segment(r.customer_id)
            out.append(
                Tally(
                    f"o:{r.opportunity_id}:{r.revision}",
                    day,
                    tuple(f"o|{c}|{r.action_id}|{seg}|{measure}" for c in r.channels or (NONE,)),
                )
            )
        elif isinstance(r, OpportunityResponse):
            state = states.get(r.customer_id)
            opp = state.opportunity(r.opportunity_id) if state is not None else None
            action = opp.action_id if opp is not None else NONE
            seg = segment(r.customer_id)
            out.append(
                Tally(
                    f"r:{r.event_id}",
                    _day(r.occurred_at),
                    (f"o|{r.channel}|{action}|{seg}|{r.response}",),
                )
            )
        elif isinstance(r, Attribution):
            out.append(
                Tally(
                    f"a:{r.attribution_id}",
                    _day(r.credited_at),
                    (
                        f"s|{r.closing_channel}|{r.advisor_id or NONE}|"
                        f"{r.branch_id or NONE}|{r.product}",
                    ),
                )
            )
        elif isinstance(r, OrderStep):
            if r.status == "started" and r.channel in ONLINE:
                day = _day(r.occurred_at)
                started.append((r.order_id, day, r.product))
                order_starts.setdefault(r.order_id, (day, r.product))
                out.append(Tally(f"p:{r.order_id}:started", day, (f"p|{r.product}|started",)))
            elif r.status == "completed" and r.order_id in order_starts:
                day, product = order_starts[r.order_id]
                out.append(Tally(f"p:{r.order_id}:completed", day, (f"p|{product}|completed",)))
    return out, started


class ReportAggregator:
    """Reads the report's topics in its own consumer group and counts into Redis.

    Offsets are committed after the counts are written, so a crash redelivers
    (at least once) and the per-event dedupe of the store counts it once.
    """

    def __init__(
        self,
        consumer: Any,
        store: CustomerStore,
        report: ReportStore,
        topic_prefix: str = "",
    ) -> None:
        self.consumer = consumer
        self.store = store
        self.report = report
        self.prefix = topic_prefix
        self.counted = 0

    async def run(self) -> None:
        while True:
            batches = await self.consumer.getmany(timeout_ms=500, max_records=1000)
            messages = [m for ms in batches.values() for m in ms]
            if not messages:
                continue
            while True:
                try:
                    await self.count(messages)
                    break
                except StoreUnavailable as exc:
                    log.warning("report store unavailable, retrying in 1s: %s", exc)
                    await asyncio.sleep(1.0)
            await self.consumer.commit()

    async def count(self, messages: Sequence[Any]) -> int:
        records = [
            r
            for m in messages
            if (r := decode(m.topic.removeprefix(self.prefix), m.value)) is not None
        ]
        customers = [
            r.customer_id for r in records if isinstance(r, Opportunity | OpportunityResponse)
        ]
        stored = await self.store.load(customers) if customers else {}
        states: dict[str, CustomerState] = {}
        for cid, s in stored.items():
            if s.state is not None:
                try:
                    states[cid] = decode_state(s.state)
                except StateDecodeError:
                    continue
        # online starts first, so that a start and its completion in one batch match
        starts = [r for r in records if isinstance(r, OrderStep) and r.status == "started"]
        await self.report.remember_orders(
            [(r.order_id, _day(r.occurred_at), r.product) for r in starts if r.channel in ONLINE]
        )
        completed = [r.order_id for r in records if isinstance(r, OrderStep)]
        order_starts = await self.report.order_starts(sorted(set(completed)))
        counted, _ = tallies(records, states, order_starts)
        new = await self.report.add(counted)
        self.counted += new
        return new


# --- the report's figures (pure) -----------------------------------------------------


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def build_report(counts: dict[str, dict[str, int]]) -> dict[str, Any]:
    """The report's rows and totals from the counters of the given days."""
    rows: dict[tuple[str, str, str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(MEASURES, 0)
    )
    processes: dict[tuple[str, str], dict[str, int]] = defaultdict(
        lambda: {"started": 0, "completed": 0}
    )
    sales: list[dict[str, Any]] = []
    for day, counters in sorted(counts.items()):
        for name, n in sorted(counters.items()):
            part = name.split("|")
            if part[0] == "o" and len(part) == 5 and part[4] in MEASURES:
                rows[(day, part[1], part[2], part[3])][part[4]] += n
            elif part[0] == "p" and len(part) == 3 and part[2] in ("started", "completed"):
                processes[(day, part[1])][part[2]] += n
            elif part[0] == "s" and len(part) == 5:
                sales.append(
                    {
                        "day": day,
                        "closing_channel": part[1],
                        "advisor_id": None if part[2] == NONE else part[2],
                        "branch_id": None if part[3] == NONE else part[3],
                        "product": part[4],
                        "sales": n,
                    }
                )
    opportunity_rows = []
    by_channel: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(MEASURES, 0))
    for (day, channel, action, segment), m in sorted(rows.items()):
        answered = sum(m[a] for a in ANSWERS)
        opportunity_rows.append(
            {
                "day": day,
                "channel": channel,
                "action_id": action,
                "segment": segment,
                **m,
                "conversion": _ratio(m["accepted"], answered),
            }
        )
        for k, v in m.items():
            by_channel[channel][k] += v
    process_rows = []
    for (day, product), p in sorted(processes.items()):
        abandoned = max(0, p["started"] - p["completed"])
        process_rows.append(
            {
                "day": day,
                "product": product,
                **p,
                "abandoned": abandoned,
                "abandonment_rate": _ratio(abandoned, p["started"]),
            }
        )

    def credited(field: str) -> dict[str, int]:
        out: dict[str, int] = defaultdict(int)
        for s in sales:
            out[s[field] or NONE] += s["sales"]
        return dict(sorted(out.items()))

    return {
        "days": sorted(counts),
        "opportunities": opportunity_rows,
        "channels": {
            c: {**m, "conversion": _ratio(m["accepted"], sum(m[a] for a in ANSWERS))}
            for c, m in sorted(by_channel.items())
        },
        "online_processes": process_rows,
        "sales": sales,
        "sales_by_closing_channel": credited("closing_channel"),
        "sales_by_advisor": credited("advisor_id"),
        "sales_by_branch": credited("branch_id"),
    }
