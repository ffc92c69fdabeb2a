"""The decision engine: state + event + now -> state + impulses + opportunities.

Pure and deterministic: no clock, no randomness, no I/O. ``now`` is the
partition's event-time watermark passed in by the runtime. The same events
with the same ``now`` values give byte-identical outputs and ids.

Event time and lateness: ``apply`` first advances the state to
``min(event time, now)`` (deadlines due before the event fire first), then
applies the event, then advances to ``now``. An event older than deadlines that
already fired is still applied and corrects the outcome (a late
``completed`` withdraws the "finish the order" opportunity and credits the
sale); it is never dropped.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Final

from impulse_stream.core.arbitration import Arbitration, Score, explain
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.closed_loop import on_response
from impulse_stream.core.contact_policy import ContactPolicy
from impulse_stream.core.dates import day_start, utc_day
from impulse_stream.core.deadlines import Deadline, DeadlineKind
from impulse_stream.core.detection import Detectors
from impulse_stream.core.events import (
    Channel,
    ChannelContact,
    Click,
    CustomerProfile,
    Impulse,
    InputEvent,
    Membership,
    Opportunity,
    OpportunityResponse,
    OrderStep,
    OutputRecord,
    Transaction,
)
from impulse_stream.core.impulses.registry import DEFAULT_REGISTRY, Registry
from impulse_stream.core.journeys import JourneyPlans, Journeys
from impulse_stream.core.learning import AcceptanceObservation, AcceptanceStatistics
from impulse_stream.core.order_flow import ENDED_ORDER_RETENTION, OrderFlow
from impulse_stream.core.outbound_contacts import BANK_SENT_KINDS, on_contact
from impulse_stream.core.profile_update import on_profile
from impulse_stream.core.records import opportunity_record, reasons_with_evidence
from impulse_stream.core.routing import ChannelRouting
from impulse_stream.core.rules import Rules
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.scoring import BundleScoring
from impulse_stream.core.state import (
    CustomerState,
    OpportunityState,
    OrderProcess,
    new_state,
)
from impulse_stream.core.timeline import touch_channel
from impulse_stream.core.transactions import on_transaction

_SNOOZE_ENDED = DeadlineKind.SNOOZE_ENDED  # enum attribute lookups cost on the hot path
_VALIDITY_ENDED = DeadlineKind.VALIDITY_ENDED

CLOSED_OPPORTUNITY_RETENTION = timedelta(days=30)


class Decision:
    """What one engine call decided: the new state and the records to publish."""

    def __init__(
        self,
        state: CustomerState,
        outputs: tuple[OutputRecord, ...],
        observations: tuple[AcceptanceObservation, ...] = (),
        suppressions: tuple[str, ...] = (),  # policy rules that held an action back
        # Customers re-keyed by employer (``employers.members``, ``employers.py``) and
        # by household (``households.members``, ``households.py``).
        memberships: tuple[Membership, ...] = (),
    ) -> None:
        self.state: Final = state
        self.outputs: Final = outputs
        self.observations: Final = observations
        self.suppressions: Final = suppressions
        self.memberships: Final = memberships


class DecisionEngine:
    """The brain of the product; see ``docs/core.md``.

    ``registry`` names the detectors the engine can run (the default: every
    detector of ``core/impulses``); the catalogue enables them.
    """

    def __init__(
        self,
        catalogue: Catalogue,
        statistics: AcceptanceStatistics | None = None,
        registry: Registry = DEFAULT_REGISTRY,
        *,
        detectors: Detectors | None = None,
        journey_plans: JourneyPlans | None = None,
    ) -> None:
        self.statistics = statistics if statistics is not None else AcceptanceStatistics()
        self.rules = Rules.from_catalogue(catalogue, self.statistics)
        self.registry = registry
        # Detectors depend on the catalogue only; sharing them shares the calendar memo.
        self.detectors = detectors if detectors is not None else Detectors(catalogue, registry)
        self.calendar = self.detectors.calendar
        self.order_flow = OrderFlow(catalogue, self.detectors)
        self.journeys = Journeys(self.rules, journey_plans)
        # The last ``next_wakeup`` answer and the state it is for: the runtime asks
        # twice for the same state object (after firing what was due, then for the
        # wake-up it stores). States are immutable, so the object names the answer.
        self._wakeup_of: CustomerState | None = None
        self._wakeup: datetime | None = None

    @property
    def catalogue(self) -> Catalogue:
        return self.rules.catalogue

    @property
    def rules_version(self) -> str:
        return self.rules.rules_version

    @property
    def policy(self) -> ContactPolicy:
        return self.rules.policy

    @property
    def scoring(self) -> BundleScoring:
        return self.rules.scoring

    @property
    def arbitration(self) -> Arbitration:
        return self.rules.arbitration

    @property
    def routing(self) -> ChannelRouting:
        return self.rules.routing

    def with_statistics(self, statistics: AcceptanceStatistics) -> DecisionEngine:
        """The same engine with a new snapshot of the learned acceptance statistics.

        It shares this engine's detectors, and with them the calendar memo, and the
        journeys' plans: the runtime builds one per event-time day and must not start
        from empty memos.
        """
        return DecisionEngine(
            self.catalogue,
            statistics,
            self.registry,
            detectors=self.detectors,
            journey_plans=self.journeys.plans,
        )

    # --- the runtime's interface --------------------------------------------------

    def apply(self, state: CustomerState | None, event: InputEvent, now: datetime) -> Decision:
        """Apply one input event; ``now`` is the event-time watermark."""
        run = DecisionRun(self.rules, state or new_state(event.customer_id))
        at = event.occurred_at
        self._advance(run, min(at, now))
        self._on_event(run, event)
        self._advance(run, now)
        if self.journeys.journeys and self._enter_journeys(run, 0):
            self._advance(run, now)
        return Decision(
            run.state,
            tuple(run.outputs),
            tuple(run.observations),
            tuple(run.suppressed),
            tuple(run.memberships),
        )

    def advance(self, state: CustomerState, now: datetime) -> Decision:
        """Fire every deadline due at ``now`` and the calendar sweep (once a day)."""
        run = DecisionRun(self.rules, state)
        self._advance(run, now)
        if self.journeys.journeys and self._enter_journeys(run, 0):
            self._advance(run, now)
        return Decision(run.state, tuple(run.outputs), (), tuple(run.suppressed))

    def next_wakeup(self, state: CustomerState) -> datetime | None:
        """The earliest event time at which ``advance`` has work, or None."""
        if state is self._wakeup_of:
            return self._wakeup
        due = [d.at for d in self._deadlines(state)]
        after = self._swept_after(state)
        sweep = self.calendar.next_day(state, after) if after is not None else None
        if sweep is not None:
            due.append(day_start(sweep))
        wakeup = min(due, default=None)
        self._wakeup_of, self._wakeup = state, wakeup
        return wakeup

    def next_best_actions(
        self,
        state: CustomerState,
        channel: Channel,
        now: datetime,
        limit: int | None = None,
        minutes: float | None = None,
    ) -> list[Opportunity]:
        """The ranked, policy-filtered opportunities to show on ``channel`` now.

        A pure query (the call-centre desktop, the teaser slot): service before
        sales on ``service_first_channels``, sales limited to what the
        frequency cap still allows. ``limit`` defaults to the channel's slots
        (``routing.top_n``). With ``minutes`` (the time left in the call) the
        actions' ``handling_minutes`` together fit into it: in rank order, an
        action that no longer fits is passed over for a shorter one below it.
        ``priority``, ``rank`` and ``explanation`` are for this channel and
        moment; the other fields are the published ones.
        """
        if limit is None:
            limit = self.routing.top_n(channel)
        time_left = minutes
        candidates: list[tuple[tuple[int, float, str, str], OpportunityState, Score, str]] = []
        if channel in ("email", "letter") and not self.routing.reachable(state, channel, now):
            return []  # e-mail and letter only with consent, for service too
        for opp in state.open_opportunities():
            action = self.catalogue.action(opp.action_id)
            if action is None:
                continue
            verdict = self.policy.check(state, action, channel, now, opp)
            if not verdict.allowed:
                continue
            score = self.arbitration.score(state, action, opp.reasons, channel, now)
            key = self.arbitration.sort_key(action, score.priority, opp.opportunity_id, channel)
            text = explain(reasons_with_evidence(state, opp), score, verdict)
            candidates.append((key, opp, score, text))
        candidates.sort(key=lambda c: c[0])
        sales_left = self.policy.remaining_sales(state, channel, now)
        chosen: list[Opportunity] = []
        for _, opp, score, text in candidates:
            if len(chosen) >= limit:
                break
            action = self.catalogue.action(opp.action_id)
            if action is None:
                continue
            if time_left is not None and action.handling_minutes > time_left:
                continue
            if action.kind == "sales" and sales_left is not None:
                if sales_left <= 0:
                    continue
                sales_left -= 1
            if time_left is not None:
                time_left -= action.handling_minutes
            record = self.opportunity_record(state, opp, score, len(chosen) + 1, text)
            if record is not None:
                chosen.append(record)
        return chosen

    def bundle_predictions(
        self, state: CustomerState, now: datetime
    ) -> tuple[tuple[str, float], ...]:
        """Purchase propensity per bundle product from the active impulses (cockpit view)."""
        return self.scoring.predictions(state.impulses, now)

    # --- records ------------------------------------------------------------------

    def opportunity_record(
        self,
        state: CustomerState,
        opp: OpportunityState,
        score: Score | None,
        rank: int | None,
        text: str | None,
    ) -> Opportunity | None:
        return opportunity_record(self.catalogue, state, opp, score, rank, text)

    # --- internals ------------------------------------------------------------------

    def _on_event(self, run: DecisionRun, event: InputEvent) -> None:
        before = run.state
        if isinstance(event, OrderStep):
            self.order_flow.on_order_step(run, event)
        elif isinstance(event, Transaction):
            on_transaction(run, event, self.catalogue.aggregates, self.detectors)
        elif isinstance(event, CustomerProfile):
            on_profile(run, event, self.rules, self.detectors)
            self.journeys.on_profile(run, event.occurred_at)
        else:
            if isinstance(event, Click):
                run.update(
                    affinity=touch_channel(run.state.affinity, event.channel, event.occurred_at)
                )
            elif isinstance(event, ChannelContact):
                on_contact(run, event, self.catalogue, self.policy)
                if event.kind in BANK_SENT_KINDS:
                    self.journeys.on_sent(run, event)
            elif isinstance(event, OpportunityResponse):
                on_response(run, event, self.catalogue, self.policy)
                self.journeys.on_response(run, event)
            self.detectors.on_event(run, event, before)

    def _enter_journeys(self, run: DecisionRun, start: int) -> bool:
        """Journeys entered on the impulses reported in this call; True when one was."""
        before = run.state.journeys
        self.journeys.on_impulses(run, (o for o in run.outputs[start:] if isinstance(o, Impulse)))
        return run.state.journeys != before

    def _deadlines(self, state: CustomerState) -> list[Deadline]:
        due = self.detectors.deadlines(state)
        due += self.journeys.deadlines(state)
        for opp in state.opportunities:
            if opp.status == "open":
                if opp.snoozed_until is not None:
                    due.append(Deadline(opp.snoozed_until, _SNOOZE_ENDED, opp.opportunity_id))
                due.append(Deadline(opp.valid_until, _VALIDITY_ENDED, opp.opportunity_id))
        return due

    @staticmethod
    def _swept_after(state: CustomerState, now: datetime | None = None) -> date | None:
        """The last calendar day swept; before the first sweep, the day before the clock."""
        if state.swept_day:
            return date.fromordinal(state.swept_day)
        clock = state.clock or now
        return None if clock is None else utc_day(clock) - timedelta(days=1)

    def _advance(self, run: DecisionRun, now: datetime) -> None:
        # Deadlines and calendar days are handled strictly in event-time order, so the
        # outcome does not depend on how often the runtime calls advance().
        for _ in range(10_000):
            first = min(self._deadlines(run.state), default=None)
            due = first if first is not None and first.at <= now else None
            after = self._swept_after(run.state, now)
            sweep_day = self.calendar.next_day(run.state, after) if after is not None else None
            if sweep_day is not None and day_start(sweep_day) <= now:
                sweep = Deadline(
                    day_start(sweep_day), DeadlineKind.CALENDAR_DAY, sweep_day.isoformat()
                )
                due = sweep if due is None else min(due, sweep)
            if due is None:
                break
            self._fire(run, due)
        if run.state.clock is None or now > run.state.clock:
            run.update(clock=now)
        self._age_out(run, now)

    def _fire(self, run: DecisionRun, deadline: Deadline) -> None:
        if deadline.kind is DeadlineKind.SNOOZE_ENDED:
            opp = run.state.opportunity(deadline.ref)
            if opp is not None:
                run.revise(opp, snoozed_until=None)
        elif deadline.kind is DeadlineKind.VALIDITY_ENDED:
            opp = run.state.opportunity(deadline.ref)
            if opp is not None:
                run.close(opp, "expired", "validity_ended", deadline.at)
        elif deadline.kind is DeadlineKind.JOURNEY_DUE:
            self.journeys.fire(run, deadline)
        elif deadline.kind is DeadlineKind.CALENDAR_DAY:
            day = date.fromisoformat(deadline.ref)
            self.calendar.sweep(run, day)
            run.update(swept_day=day.toordinal())
        else:
            self.detectors.fire(run, deadline)

    def _age_out(self, run: DecisionRun, now: datetime) -> None:
        # Called twice per event; most calls find nothing expired, so each list is
        # scanned first and rebuilt (and the state replaced) only when it shrinks.
        s = run.state
        changes: dict[str, object] = {}
        if any(i.expires_at <= now for i in s.impulses):
            referenced = {r.impulse_id for o in s.open_opportunities() for r in o.reasons}
            impulses = tuple(
                i for i in s.impulses if i.expires_at > now or i.impulse_id in referenced
            )
            if len(impulses) != len(s.impulses):
                changes["impulses"] = impulses
        if any(x.until <= now for x in s.suppressions):
            changes["suppressions"] = tuple(x for x in s.suppressions if x.until > now)
        today = utc_day(now).toordinal()
        if any(x.until_day < today for x in s.seen):
            changes["seen"] = tuple(x for x in s.seen if x.until_day >= today)
        if any(_order_ended(o, now) for o in s.orders):
            changes["orders"] = tuple(o for o in s.orders if not _order_ended(o, now))
        if any(_opportunity_ended(o, now) for o in s.opportunities):
            changes["opportunities"] = tuple(
                o for o in s.opportunities if not _opportunity_ended(o, now)
            )
        if any(a.at + _ONE_DAY <= now for a in s.appointments):
            changes["appointments"] = tuple(a for a in s.appointments if a.at + _ONE_DAY > now)
        if changes:
            run.update(**changes)


_ONE_DAY = timedelta(days=1)


def _order_ended(o: OrderProcess, now: datetime) -> bool:
    """An ended order past its retention: no longer kept for late events."""
    return o.status != "open" and (o.updated_at or o.started_at) + ENDED_ORDER_RETENTION <= now


def _opportunity_ended(o: OpportunityState, now: datetime) -> bool:
    """A closed opportunity past its retention: no longer kept for attribution."""
    return (
        o.status != "open" and (o.closed_at or o.created_at) + CLOSED_OPPORTUNITY_RETENTION <= now
    )
