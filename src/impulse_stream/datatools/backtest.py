"""Backtest: the same recorded events through the worker's batch path with two
catalogues, and what changes between the two runs.

Each run is the reference model of the worker (``BatchProcessor`` on a
``MemoryStore``, outputs collected): the core is deterministic, so a run gives
the opportunities, with the same ids, that a live worker with that catalogue
would have published. The store is ``BacktestStore`` (a ``MemoryStore`` whose
due timers cost the due customers, not all of them) and the run has fewer
garbage collections (``collector.py``); neither changes an output.

What the comparison counts:

- an opportunity is *opened* by its first message (revision 0); its *channel*
  is the best of its eligible channels (the first of ``channels``), ``none``
  when no channel may play it now; its *day* is the UTC day of ``created_at``;
- *added*: opened only with the candidate; *removed*: opened only with the
  baseline (the same id means the same action for the same impulse);
- *shifts*: opened by both, with a different rank or priority;
- *contacts per channel and day*: opened opportunities per best channel and
  day, beside the catalogue's ``daily_capacity`` of the channel;
- *suppressions*: actions the contact policy held back, per rule (the
  worker's ``impulse_stream_policy_suppressions_total``);
- *customers affected*: customers with an added, removed or shifted opportunity.

The worker's employer agent runs in memory beside the batch path: the
memberships a batch publishes (``employers.members``) are counted per employer
by the rule of the Redis script (``core/cluster_count.py``), and the
``EmployerCluster`` notices go back into the customers' event streams
(``employers.clusters``, on the customer's partition, with the membership's time
as event time) right after that batch, before the next one; so
``salary_project_member`` fires in a backtest as it does live.

The outbound selector runs in memory beside it the same way
(``datatools/outbound_memory.py``): every opportunity revision a batch publishes
goes to an ``OutboundSelector`` whose daily capacities (per channel, per branch)
and household cap are counted in memory by the rules of the Redis scripts; it
selects each day event time closes, as ``impulse-stream outbound`` does, and the
``channel.contacts`` sends it records go back into the customers' event streams
right after that batch, so cooling-off and the caps apply as live. What it did
per day and channel is the report's *outbound per day*: contacts *admitted* (of
which on a *fallback* channel), candidates *carried over* to the next day, and
*dropped* (validity ended or ``max_carry_days`` passed), beside the capacity.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import orjson

from impulse_stream.contract import codec
from impulse_stream.contract import topics as contract_topics
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.cluster_count import ClusterCounts
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import EmployerCluster
from impulse_stream.core.impulses.salary_project_member import KIND as SALARY_PROJECT
from impulse_stream.datatools.backtest_store import BacktestStore
from impulse_stream.datatools.collector import fewer_collections
from impulse_stream.datatools.feedback import Feedback
from impulse_stream.datatools.outbound_memory import OutboundFeedback, memory_selector
from impulse_stream.datatools.progress import progress_bar
from impulse_stream.datatools.replay_workers import ForkedProcesses, ProcessBoard, default_workers
from impulse_stream.errors import Interrupted
from impulse_stream.pseudonym import pseudonym
from impulse_stream.streaming.employers import notice
from impulse_stream.streaming.metrics import Metrics
from impulse_stream.streaming.processor import (
    BatchProcessor,
    CollectingPublisher,
    InboundMessage,
    OutboundMessage,
)

BATCH = 500
SUPPRESSION_RULES = (
    "channel_not_eligible",
    "no_consent",
    "product_held",
    "product_declined",
    "cooling_off",
    "snoozed",
    "not_open",
    "frequency_cap",
)


@dataclass(frozen=True)
class CatalogueRun:
    """What one catalogue decided over the recording."""

    rules_version: str
    messages: list[OutboundMessage]
    suppressions: dict[str, int]
    # day -> channel -> admitted | fallback | carried_over | dropped (the outbound selector)
    outbound: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


@dataclass(frozen=True)
class OpenedRun:
    """What the comparison needs of one run (:func:`opened_run`): far smaller than its
    messages, so that a run in another process returns only this."""

    rules_version: str
    opened: dict[str, dict[str, Any]]  # opportunity id -> its first message (revision 0)
    impulses: Counter[str]  # kind -> impulses detected
    suppressions: dict[str, int]
    outbound: dict[str, dict[str, dict[str, int]]]
    outputs: int  # messages the run published


def opened_run(run: CatalogueRun, report_from: str = "") -> OpenedRun:
    """The opportunities ``run`` opened and the impulses it detected (from ``report_from``
    on), with its suppressions and outbound volumes."""
    opening = Opening(report_from)
    opening.add(run.messages)
    return opening.result(run)


class Opening:
    """:func:`opened_run` counted as the messages come, so that a run need not keep them:
    the same result for the same messages in the same order, whatever the chunks."""

    def __init__(self, report_from: str = "") -> None:
        self.report_from = report_from
        self.first: dict[str, dict[str, Any]] = {}
        self.impulses: Counter[str] = Counter()
        self.outputs = 0

    def add(self, messages: Sequence[OutboundMessage]) -> None:
        self.outputs += len(messages)
        first, impulses, report_from = self.first, self.impulses, self.report_from
        for m in messages:
            if m.value is None:
                continue
            if m.topic == contract_topics.OPPORTUNITIES:
                o = orjson.loads(m.value)
                if o["created_at"][:10] < report_from:
                    continue
                seen = first.get(o["opportunity_id"])
                if seen is None or o["revision"] < seen["revision"]:
                    first[o["opportunity_id"]] = o
            elif m.topic == contract_topics.IMPULSES:
                impulse = orjson.loads(m.value)
                if impulse["detected_at"][:10] >= report_from:
                    impulses[impulse["kind"]] += 1

    def result(self, run: CatalogueRun) -> OpenedRun:
        return OpenedRun(
            run.rules_version,
            self.first,
            self.impulses,
            run.suppressions,
            run.outbound,
            self.outputs,
        )


class Advancing(Protocol):
    """What a run tells its progress: a progress bar, or :class:`_Advance`."""

    def advance(self, steps: float = 1, items: int = 0) -> None: ...


class EmployerAgent(Protocol):
    """Counts one ``employers.members`` message; returns the notices to deliver
    (``streaming.employers.EmployerFeed`` on Redis, or ``MemoryClusters``)."""

    def on_message(
        self, key: bytes | None, value: bytes | None, partition: int = 0, offset: int = 0
    ) -> Awaitable[list[EmployerCluster]]: ...


class MemoryClusters:
    """The employer agent of a backtest: the clusters' rule counted in memory."""

    def __init__(self, cluster_size: int) -> None:
        self.counts = ClusterCounts(cluster_size)

    @classmethod
    def of(cls, catalogue: Catalogue) -> MemoryClusters | None:
        """The agent for ``catalogue``; None when its ``salary_project_member`` is off."""
        rule = catalogue.detector(SALARY_PROJECT)
        return cls(rule.integer("cluster_size")) if rule is not None else None

    async def on_message(
        self, key: bytes | None, value: bytes | None, partition: int = 0, offset: int = 0
    ) -> list[EmployerCluster]:
        m = codec.decode_membership(key, value)  # the worker encoded it: it decodes
        counted = self.counts.count(m)
        self.counts.mark_told(m.employer_id, counted.tell, counted.full_scan)
        return [notice(m, c, counted.members) for c in counted.tell]


class ClusterFeedback(Feedback):
    """Feeds the memberships a batch published to the employer agent and the notices it
    returns back into the batch path, each on its customer's partition."""

    listens = contract_topics.EMPLOYER_MEMBERS
    answers = contract_topics.EMPLOYER_CLUSTERS

    def __init__(
        self, processor: BatchProcessor, publisher: CollectingPublisher, agent: EmployerAgent
    ) -> None:
        super().__init__(processor, publisher)
        self.agent = agent

    async def answer(self, message: OutboundMessage) -> list[EmployerCluster]:
        return await self.agent.on_message(message.key, message.value)


def run_catalogue(
    catalogue: Catalogue,
    messages: Sequence[InboundMessage],
    label: str,
    bar: Advancing | None = None,
    warm_up: int = 0,
) -> CatalogueRun:
    """The worker's batch path over ``messages`` on an in-memory store, with the employer
    agent in memory; suppressions are counted after the first ``warm_up`` messages."""
    with fewer_collections():
        return asyncio.run(run_messages(catalogue, messages, label, bar, warm_up))


def open_catalogue(
    catalogue: Catalogue,
    messages: Sequence[InboundMessage],
    label: str,
    bar: Advancing | None = None,
    warm_up: int = 0,
    report_from: str = "",
) -> OpenedRun:
    """``opened_run(run_catalogue(...), report_from)`` without keeping the run's messages:
    a run holds only what the agents have not read yet."""
    opening = Opening(report_from)
    with fewer_collections():
        run = asyncio.run(run_messages(catalogue, messages, label, bar, warm_up, opening=opening))
    return opening.result(run)


def _suppressions(metrics: Metrics) -> dict[str, int]:
    found = {}
    for rule in SUPPRESSION_RULES:
        value = metrics.registry.get_sample_value(
            "impulse_stream_policy_suppressions_total", {"rule": rule}
        )
        if value:
            found[rule] = int(value)
    return found


async def run_messages(
    catalogue: Catalogue,
    messages: Sequence[InboundMessage],
    label: str = "run",
    bar: Advancing | None = None,
    warm_up: int = 0,
    agent: EmployerAgent | None = None,
    opening: Opening | None = None,
) -> CatalogueRun:
    """``run_catalogue`` in a running event loop; ``agent`` counts the employer clusters
    (``MemoryClusters`` of the catalogue when not given). With ``opening``, every message
    goes to it once both agents have read it, and is not kept (the run's ``messages``
    are then empty)."""
    metrics = Metrics()
    publisher = CollectingPublisher()
    processor = BatchProcessor(
        DecisionEngine(catalogue), BacktestStore(), publisher, metrics=metrics
    )
    agent = agent if agent is not None else MemoryClusters.of(catalogue)
    feedback = ClusterFeedback(processor, publisher, agent) if agent is not None else None
    outbound = OutboundFeedback(processor, publisher, memory_selector(catalogue))
    done = 0
    before: dict[str, int] = {}
    # A batch ends at the warm-up boundary, so that the suppressions after it are known.
    bounds = sorted({warm_up, len(messages)} | set(range(0, len(messages), BATCH)))
    try:
        for start, stop in itertools.pairwise(bounds):
            if start == warm_up:
                before = _suppressions(metrics)
            batch = messages[start:stop]
            await processor.process(batch)
            if feedback is not None:
                feedback.heard(batch)
                await feedback.after_batch()
            outbound.heard(batch)
            await outbound.after_batch()
            if opening is not None:
                _hand_over(publisher, opening, [f for f in (feedback, outbound) if f is not None])
            done += len(batch)
            await asyncio.sleep(0)  # the in-memory path never waits: let Ctrl-C's cancel in
            if bar is not None:
                bar.advance(len(batch), len(batch))
    except (KeyboardInterrupt, asyncio.CancelledError):
        raise Interrupted(
            f"stopped during the {label} run after {done:,} of {len(messages):,} events; "
            "no report written"
        ) from None
    if opening is not None:
        opening.add(publisher.messages)
        publisher.messages.clear()
    if warm_up >= len(messages):
        before = _suppressions(metrics)
    after = _suppressions(metrics)
    counted = {r: n - before.get(r, 0) for r, n in after.items() if n > before.get(r, 0)}
    return CatalogueRun(catalogue.version, publisher.messages, counted, _outbound_volumes(outbound))


def _hand_over(
    publisher: CollectingPublisher, opening: Opening, readers: Sequence[Feedback]
) -> None:
    """The messages every reader has read go to ``opening`` and out of ``publisher``."""
    read = min(r.seen for r in readers)
    if read:
        opening.add(publisher.messages[:read])
        del publisher.messages[:read]
        for r in readers:
            r.seen -= read


def _outbound_volumes(outbound: OutboundFeedback) -> dict[str, dict[str, dict[str, int]]]:
    volumes = outbound.selector.volumes
    return {
        day: {ch: dict(v) for ch, v in sorted(volumes[day].items())}
        for day in sorted(volumes)
        if volumes[day]
    }


@dataclass
class Side:
    """One catalogue's totals."""

    rules_version: str
    opened: int
    per_action: dict[str, int]
    per_product: dict[str, int]
    per_channel: dict[str, int]
    suppressions: dict[str, int]
    contacts_per_day: dict[str, dict[str, int]]  # day -> channel -> opened
    daily_capacity: dict[str, int]
    over_capacity: list[dict[str, Any]]  # {day, channel, contacts, capacity}
    impulses: dict[str, int]
    # day -> channel -> admitted | fallback | carried_over | dropped (the outbound selector)
    outbound_per_day: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)


@dataclass
class Delta:
    """Added or removed opportunities, counted three ways."""

    total: int
    per_action: dict[str, int]
    per_product: dict[str, int]
    per_channel: dict[str, int]


@dataclass
class Shift:
    action: str
    opportunities: int
    rank_up: int
    rank_down: int
    mean_priority_change: float


@dataclass
class ChangedDecision:
    change: str  # added | removed | shifted
    customer: str  # a pseudonym, never the customer id
    action: str
    channel: str
    baseline: str  # the baseline's explanation, or what it opened instead
    candidate: str
    opportunity_id: str = ""


@dataclass
class BacktestReport:
    events: int
    customers: int
    baseline: Side
    candidate: Side
    added: Delta
    removed: Delta
    shifts: list[Shift]
    customers_affected: int
    samples: list[ChangedDecision]
    days: list[str]
    baseline_source: str = ""
    candidate_source: str = ""
    report_from: str = ""
    added_ids: list[str] = field(default_factory=list)
    removed_ids: list[str] = field(default_factory=list)


def compare(
    messages: Sequence[InboundMessage],
    baseline: Catalogue,
    candidate: Catalogue,
    samples: int = 10,
    warm_up: int = 0,
    report_from: str = "",
    workers: int | None = None,
) -> BacktestReport:
    """Run both catalogues over ``messages`` (with a progress bar) and compare.

    With ``report_from`` (an ISO day) only opportunities and impulses from that day
    on count, and the suppressions after the first ``warm_up`` messages (those
    before the day): the earlier events only warm the customers' state up.
    ``workers`` (default: the CPUs) at least 2 runs the two catalogues side by side in
    two forked processes (:func:`run_in_processes`); 1 runs them one after the other in
    this process. Both give the same report.
    """
    runs = run_both(messages, baseline, candidate, warm_up, report_from, workers)
    customers = {m.key for m in messages if m.key is not None}
    return compare_opened(
        runs[0],
        runs[1],
        baseline,
        candidate,
        len(messages),
        len(customers),
        samples,
        report_from,
    )


def run_both(
    messages: Sequence[InboundMessage],
    baseline: Catalogue,
    candidate: Catalogue,
    warm_up: int = 0,
    report_from: str = "",
    workers: int | None = None,
) -> list[OpenedRun]:
    """The baseline's and the candidate's runs, reduced by :func:`opened_run`: side by
    side in two processes when ``workers`` (default: the CPUs) is 2 or more, else one
    after the other in this one (see :func:`compare`)."""
    catalogues = (("baseline", baseline), ("candidate", candidate))
    if (workers or default_workers()) >= 2:
        return run_in_processes(messages, catalogues, warm_up, report_from)
    runs = []
    for label, catalogue in catalogues:
        with progress_bar(f"backtest {label}", len(messages), "events") as bar:
            runs.append(open_catalogue(catalogue, messages, label, bar, warm_up, report_from))
    return runs


class _Advance:
    """A progress that tells the parent process (``ForkedProcesses``' ``advance``)."""

    def __init__(self, advance: Callable[[int], None]) -> None:
        self.tell = advance

    def advance(self, steps: float = 1, items: int = 0) -> None:
        self.tell(items)


class CatalogueProcesses(ForkedProcesses[OpenedRun]):
    """One forked process per catalogue of a backtest."""

    others = "the other run was stopped"

    def __init__(
        self,
        labels: Sequence[str],
        work: Callable[[int, ProcessBoard, Callable[[int], None]], OpenedRun],
    ) -> None:
        self.labels = list(labels)
        super().__init__(len(self.labels), work, "backtest")

    def describe(self, index: int) -> str:
        return f"the backtest's {self.labels[index]} run (process {index + 1} of {self.count})"


def run_in_processes(
    messages: Sequence[InboundMessage],
    catalogues: Sequence[tuple[str, Catalogue]],
    warm_up: int = 0,
    report_from: str = "",
) -> list[OpenedRun]:
    """Each ``(label, catalogue)`` run by ``run_catalogue`` in a process of its own,
    forked from this one (the recording is inherited, not sent), all at once; each returns its
    :class:`OpenedRun`, in the order given. A process that fails or dies stops the
    others (:class:`DataToolError`, one line); Ctrl-C stops them all
    (:class:`Interrupted`, saying how far each had come)."""

    def work(index: int, board: ProcessBoard, advance: Callable[[int], None]) -> OpenedRun:
        label, catalogue = catalogues[index]
        return open_catalogue(catalogue, messages, label, _Advance(advance), warm_up, report_from)

    labels = [label for label, _ in catalogues]
    processes = CatalogueProcesses(labels, work)
    total = len(messages) * len(catalogues)
    try:
        with progress_bar(f"backtest {' + '.join(labels)}", total, "events") as bar:
            return processes.results(bar)
    except KeyboardInterrupt:
        done = " and ".join(f"{n:,}" for n in processes.progress())
        raise Interrupted(
            f"stopped during the {' and '.join(labels)} runs after {done} of "
            f"{len(messages):,} events; no report written"
        ) from None


def _channel(o: dict[str, Any]) -> str:
    channels = o.get("channels") or ()
    return str(channels[0]) if channels else "none"


def _count(opps: Sequence[dict[str, Any]]) -> Delta:
    return Delta(
        total=len(opps),
        per_action=_sorted(Counter(o["action_id"] for o in opps)),
        per_product=_sorted(Counter(o["product"] for o in opps)),
        per_channel=_sorted(Counter(_channel(o) for o in opps)),
    )


def _sorted(counter: Counter[str]) -> dict[str, int]:
    return dict(sorted(counter.items(), key=lambda kv: (-kv[1], kv[0])))


def _side(run: OpenedRun, catalogue: Catalogue, report_from: str = "") -> Side:
    opened, impulses = run.opened, run.impulses
    per_day: dict[str, Counter[str]] = defaultdict(Counter)
    for o in opened.values():
        per_day[o["created_at"][:10]][_channel(o)] += 1
    capacity = {str(k): int(v) for k, v in catalogue.policy.daily_capacity.items()}
    over = [
        {"day": day, "channel": ch, "contacts": n, "capacity": capacity[ch]}
        for day, counts in sorted(per_day.items())
        for ch, n in sorted(counts.items())
        if ch in capacity and n > capacity[ch]
    ]
    counted = _count(list(opened.values()))
    return Side(
        rules_version=run.rules_version,
        opened=len(opened),
        per_action=counted.per_action,
        per_product=counted.per_product,
        per_channel=counted.per_channel,
        suppressions=dict(sorted(run.suppressions.items())),
        contacts_per_day={d: dict(sorted(c.items())) for d, c in sorted(per_day.items())},
        daily_capacity=capacity,
        over_capacity=over,
        impulses=_sorted(impulses),
        outbound_per_day=_outbound_from(run, report_from),
    )


def _outbound_from(run: OpenedRun, report_from: str) -> dict[str, dict[str, dict[str, int]]]:
    return {day: counts for day, counts in run.outbound.items() if day >= report_from}


def compare_runs(
    old_run: CatalogueRun,
    new_run: CatalogueRun,
    old_catalogue: Catalogue,
    new_catalogue: Catalogue,
    events: int,
    customers: int,
    samples: int = 10,
    report_from: str = "",
) -> BacktestReport:
    """The comparison of two finished runs (see the module docstring for the terms)."""
    return compare_opened(
        opened_run(old_run, report_from),
        opened_run(new_run, report_from),
        old_catalogue,
        new_catalogue,
        events,
        customers,
        samples,
        report_from,
    )


def compare_opened(
    old_run: OpenedRun,
    new_run: OpenedRun,
    old_catalogue: Catalogue,
    new_catalogue: Catalogue,
    events: int,
    customers: int,
    samples: int = 10,
    report_from: str = "",
) -> BacktestReport:
    """:func:`compare_runs` of two runs reduced by :func:`opened_run` (with the same
    ``report_from``)."""
    old, new = old_run.opened, new_run.opened
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    shifted: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for oid in sorted(set(old) & set(new)):
        a, b = old[oid], new[oid]
        if a["rank"] != b["rank"] or a["priority"] != b["priority"]:
            shifted[a["action_id"]].append((a, b))
    shifts = [
        Shift(
            action=action,
            opportunities=len(pairs),
            rank_up=sum(1 for a, b in pairs if b["rank"] < a["rank"]),
            rank_down=sum(1 for a, b in pairs if b["rank"] > a["rank"]),
            mean_priority_change=round(
                sum(b["priority"] - a["priority"] for a, b in pairs) / len(pairs), 6
            ),
        )
        for action, pairs in sorted(shifted.items())
    ]
    by_customer: dict[str, dict[str, list[str]]] = defaultdict(lambda: defaultdict(list))
    for label, opps in (("old", old), ("new", new)):
        for o in opps.values():
            by_customer[o["customer_id"]][label].append(o["action_id"])
    changes: list[ChangedDecision] = []
    for oid in added:
        o = new[oid]
        had = sorted(by_customer[o["customer_id"]]["old"])
        changes.append(
            ChangedDecision(
                "added",
                o["customer_id"],
                o["action_id"],
                _channel(o),
                "not opened" + (f"; opened {', '.join(had)}" if had else "; nothing opened"),
                o["explanation"],
                o["opportunity_id"],
            )
        )
    for oid in removed:
        o = old[oid]
        has = sorted(by_customer[o["customer_id"]]["new"])
        changes.append(
            ChangedDecision(
                "removed",
                o["customer_id"],
                o["action_id"],
                _channel(o),
                o["explanation"],
                "not opened" + (f"; opened {', '.join(has)}" if has else "; nothing opened"),
                o["opportunity_id"],
            )
        )
    for pairs in shifted.values():
        for a, b in pairs:
            changes.append(
                ChangedDecision(
                    "shifted",
                    a["customer_id"],
                    a["action_id"],
                    _channel(b),
                    f"rank {a['rank']}, priority {a['priority']:.4f}: {a['explanation']}",
                    f"rank {b['rank']}, priority {b['priority']:.4f}: {b['explanation']}",
                    a["opportunity_id"],
                )
            )
    affected = {c.customer for c in changes}
    changes.sort(key=lambda c: c.opportunity_id)  # a hash: a fair, reproducible mix
    sample = [
        ChangedDecision(
            c.change,
            pseudonym(c.customer),
            c.action,
            c.channel,
            c.baseline,
            c.candidate,
            c.opportunity_id,
        )
        for c in changes[: max(0, samples)]
    ]
    baseline = _side(old_run, old_catalogue, report_from)
    candidate = _side(new_run, new_catalogue, report_from)
    days = sorted(
        set(baseline.contacts_per_day)
        | set(candidate.contacts_per_day)
        | set(baseline.outbound_per_day)
        | set(candidate.outbound_per_day)
    )
    return BacktestReport(
        events=events,
        customers=customers,
        baseline=baseline,
        candidate=candidate,
        added=_count([new[i] for i in added]),
        removed=_count([old[i] for i in removed]),
        shifts=shifts,
        customers_affected=len(affected),
        samples=sample,
        days=days,
        added_ids=added,
        removed_ids=removed,
        report_from=report_from,
    )
