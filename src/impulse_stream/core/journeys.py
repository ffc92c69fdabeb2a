"""Customer journeys: automated contact sequences over weeks or years, as catalogue data.

A journey (``journeys:`` in the catalogue) names who enters (segment, age,
products held or missing, a maturing contract, an impulse, an advisor or not),
its steps (when, which action, the channels in order of preference), when a
customer leaves it (product bought, consent withdrawn, declined N times, got an
advisor) and whether they may enter again. The progress of each customer is one
``JourneyProgress`` per journey in the state.

When a step is due (a ``JOURNEY_DUE`` deadline at midnight UTC of its day) the
first of its channels that reaches the customer and passes the contact policy
(consent, held or declined product, cooling-off, channel and customer caps) gets
an opportunity for the step's action. An inbound first channel is its only
channel; an outbound one (``core.outbound.OUTBOUND_CHANNELS``) is followed by the
step's later outbound channels that pass too, in the step's order, as the
outbound selector's fallbacks when the first is at its daily capacity. An open
opportunity of the same action already covers the step (no second contact).
When no channel passes, the step is tried again every day for ``retry_days``
and then skipped.

Entries are checked on profile updates, on the impulse a journey names, and on
the days time makes a customer eligible (the birthday of the minimum age, the
day a contract comes within ``within_months`` of maturity, the end of the
re-entry wait); those days are deadlines too, so the outcome does not depend on
how often the runtime calls ``advance``. Those deadlines are asked for several
times per event; what they derive from the profile and the progress alone is
memoised per customer (``JourneyPlans``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from typing import Final

import msgspec

from impulse_stream.core.catalogue import Journey, JourneyStep
from impulse_stream.core.dates import anniversary, day_start, utc_day
from impulse_stream.core.deadlines import Deadline, DeadlineKind
from impulse_stream.core.events import Channel, ChannelContact, Impulse, OpportunityResponse
from impulse_stream.core.ids import stable_id
from impulse_stream.core.outbound import OUTBOUND_CHANNELS
from impulse_stream.core.rules import Rules
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState, HeldContract, JourneyProgress, ReasonRef

_DUE = DeadlineKind.JOURNEY_DUE
REASON_KIND = "journey_step"


def age_on(birth: date, day: date) -> int:
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def add_months(day: date, months: int) -> date:
    """``day`` shifted by whole months; the 31st becomes the month's last day."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    for d in (day.day, 30, 29, 28):
        try:
            return date(year, month + 1, d)
        except ValueError:
            continue
    raise ValueError(day)  # unreachable: every month has a 28th


class JourneyPlan:
    """What a customer's journey deadlines derive from the profile and the progress
    alone: the due steps of the journeys in progress, whether some journey waits for a
    time-based entry, and the days (ordinals, ascending) on which time makes one
    enterable; with the profile and progress it was found from."""

    def __init__(
        self,
        state: CustomerState,
        due: tuple[Deadline, ...],
        waiting: bool,
        entry_days: tuple[int, ...],
    ) -> None:
        self.profile = state.profile
        self.progress = state.journeys
        self.due: Final = due
        self.waiting: Final = waiting
        self.entry_days: Final = entry_days

    def holds_for(self, state: CustomerState) -> bool:
        if self.profile is not state.profile:
            if self.profile != state.profile:
                return False
            self.profile = state.profile  # equal: the next asks compare by identity
        if self.progress is not state.journeys:
            if self.progress != state.journeys:
                return False
            self.progress = state.journeys
        return True


class JourneyPlans:
    """One ``JourneyPlan`` per customer; a customer whose profile or progress changed
    replaces its plan. Shared by the engines of one catalogue (``with_statistics``)."""

    def __init__(self) -> None:
        self.plans: dict[str, JourneyPlan] = {}

    def get(self, state: CustomerState) -> JourneyPlan | None:
        plan = self.plans.get(state.customer_id)
        return plan if plan is not None and plan.holds_for(state) else None

    def put(self, state: CustomerState, plan: JourneyPlan) -> None:
        if len(self.plans) >= _PLANS_SIZE and state.customer_id not in self.plans:
            self.plans.clear()
        self.plans[state.customer_id] = plan


_PLANS_SIZE = 8192  # customers whose plan is kept; cleared when full (a batch's worth)


class Journeys:
    """The catalogue's journeys applied to one customer's state (pure)."""

    def __init__(self, rules: Rules, plans: JourneyPlans | None = None) -> None:
        self.rules = rules
        self.journeys = rules.catalogue.journeys
        self.plans = plans if plans is not None else JourneyPlans()

    # --- deadlines ---------------------------------------------------------------

    def deadlines(self, state: CustomerState) -> list[Deadline]:
        if not self.journeys or state.clock is None or not state.profile.known:
            return []
        plan = self._plan(state)
        out = list(plan.due)
        entry = self._next_entry_day(state, plan)
        if entry is not None:
            out.append(Deadline(day_start(entry), _DUE, ""))
        return out

    def _plan(self, state: CustomerState) -> JourneyPlan:
        plan = self.plans.get(state)
        if plan is not None:
            return plan
        due: list[Deadline] = []
        waiting: list[Journey] = []
        progress = {p.journey: p for p in state.journeys}
        for j in self.journeys:
            p = progress.get(j.id)
            if p is not None and p.status == "active":
                due.append(Deadline(day_start(date.fromordinal(p.due_day)), _DUE, j.id))
            elif not j.entry.impulses:
                waiting.append(j)
        days = {
            d.toordinal()
            for j in waiting
            for d in self._entry_candidates(state, j, progress.get(j.id))
        }
        plan = JourneyPlan(state, tuple(due), bool(waiting), tuple(sorted(days)))
        self.plans.put(state, plan)
        return plan

    @staticmethod
    def _next_entry_day(state: CustomerState, plan: JourneyPlan) -> date | None:
        if not plan.waiting or state.clock is None:
            return None
        today = utc_day(state.clock)
        if state.journeys_checked_day == 0:
            return today  # never checked (a new state, or one stored before journeys existed)
        after = max(state.journeys_checked_day, today.toordinal() - 1)
        for day in plan.entry_days:
            if day > after:
                return date.fromordinal(day)
        return None

    def _entry_candidates(
        self, state: CustomerState, j: Journey, progress: JourneyProgress | None
    ) -> list[date]:
        if j.entry.impulses:
            return []  # entered only when one of its impulses is reported
        out: list[date] = []
        p = state.profile
        if j.entry.min_age is not None and p.birth_date is not None:
            out.append(anniversary(p.birth_date, p.birth_date.year + j.entry.min_age))
        if j.entry.contract is not None:
            for c in p.contracts:
                if c.product == j.entry.contract and c.matures_on is not None:
                    out.append(add_months(c.matures_on, -j.entry.within_months))
        if progress is not None and j.reentry_after_days is not None:
            out.append(date.fromordinal(progress.due_day + j.reentry_after_days))
        return out

    def fire(self, run: DecisionRun, deadline: Deadline) -> None:
        day = utc_day(deadline.at)
        if deadline.ref == "":
            first = run.state.journeys_checked_day == 0
            for j in self.journeys:
                candidates = self._entry_candidates(run.state, j, self._progress(run.state, j.id))
                if (first and not j.entry.impulses) or day in candidates:
                    self._try_enter(run, j, day, deadline.at)
            run.update(journeys_checked_day=day.toordinal())
            return
        journey = self.rules.catalogue.journey(deadline.ref)
        progress = self._progress(run.state, deadline.ref)
        if progress is None or progress.status != "active":
            return
        if journey is None:
            self._keep(run, None, drop=deadline.ref)
            return
        self._run_step(run, journey, progress, day, deadline.at)

    # --- events --------------------------------------------------------------------

    def on_profile(self, run: DecisionRun, at: datetime) -> None:
        day = utc_day(at)
        for j in self.journeys:
            progress = self._progress(run.state, j.id)
            if progress is not None and progress.status == "active":
                reason = self._exit_reason(run.state, j, progress, day)
                if reason is not None:
                    self._end(run, progress, "exited", reason, day)
            elif not j.entry.impulses:
                self._try_enter(run, j, day, at)

    def on_impulses(self, run: DecisionRun, impulses: Iterable[Impulse]) -> None:
        for impulse in impulses:
            for j in self.journeys:
                if impulse.kind in j.entry.impulses and not self._active(run.state, j.id):
                    self._try_enter(run, j, utc_day(impulse.occurred_at), impulse.occurred_at)

    def on_response(self, run: DecisionRun, r: OpportunityResponse) -> None:
        if r.response != "declined":
            return
        for progress in run.state.journeys:
            if progress.opportunity_id != r.opportunity_id or progress.status != "active":
                continue
            progress = msgspec.structs.replace(progress, declines=progress.declines + 1)
            self._keep(run, progress)
            j = self.rules.catalogue.journey(progress.journey)
            limit = j.exit.declined if j is not None else None
            if limit is not None and progress.declines >= limit:
                self._end(run, progress, "exited", "declined", utc_day(r.occurred_at))

    # --- entering and leaving --------------------------------------------------------

    def qualifies(self, state: CustomerState, j: Journey, day: date) -> bool:
        """Whether the customer meets ``j``'s entry condition on ``day``."""
        p = state.profile
        e = j.entry
        if not p.known or (e.segments and p.segment not in e.segments):
            return False
        if e.min_age is not None or e.max_age is not None:
            if p.birth_date is None:
                return False
            age = age_on(p.birth_date, day)
            if (e.min_age is not None and age < e.min_age) or (
                e.max_age is not None and age > e.max_age
            ):
                return False
        if any(not p.holds(x) for x in e.holds) or any(p.holds(x) for x in e.missing):
            return False
        if e.has_advisor is not None and (p.advisor_id is not None) != e.has_advisor:
            return False
        return not (e.contract is not None and self._contract(state, j, day) is None)

    def _contract(self, state: CustomerState, j: Journey, day: date) -> HeldContract | None:
        """The entry contract: the earliest of its product maturing within the window."""
        horizon = add_months(day, j.entry.within_months)
        found = [
            c
            for c in state.profile.contracts
            if c.product == j.entry.contract
            and c.matures_on is not None
            and day <= c.matures_on <= horizon
        ]
        return min(found, key=lambda c: (c.matures_on or day, c.contract_id), default=None)

    def _try_enter(self, run: DecisionRun, j: Journey, day: date, at: datetime) -> None:
        state = run.state
        before = self._progress(state, j.id)
        if before is not None:
            if before.status == "active":
                return
            changed = before.version != j.version
            wait = j.reentry_after_days
            if not changed and (wait is None or day.toordinal() < before.due_day + wait):
                return
        if not self.qualifies(state, j, day):
            return
        progress = JourneyProgress(
            journey=j.id,
            version=j.version,
            entered_day=day.toordinal(),
            step=0,
            due_day=day.toordinal(),
            last_day=0,
        )
        nxt = self._next_step(state, j, 0, day, day, day)
        if nxt is None:
            return
        index, due = nxt
        self._keep(run, msgspec.structs.replace(progress, step=index, due_day=due.toordinal()))

    def _exit_reason(
        self, state: CustomerState, j: Journey, progress: JourneyProgress, day: date
    ) -> str | None:
        p = state.profile
        x = j.exit
        if progress.version != j.version:
            return "journey_changed"
        if any(p.holds(b) for b in x.bought):
            return "bought"
        if x.consent_withdrawn and p.consents == 0:
            return "consent_withdrawn"
        if x.advisor_assigned and p.advisor_id is not None:
            return "advisor_assigned"
        if x.declined is not None and progress.declines >= x.declined:
            return "declined"
        too_old = j.entry.max_age is not None and p.birth_date is not None
        if too_old and age_on(p.birth_date, day) > (j.entry.max_age or 0):  # type: ignore[arg-type]
            return "aged_out"
        if j.entry.contract is not None and not any(
            c.product == j.entry.contract for c in p.contracts
        ):
            return "contract_ended"
        return None

    def _end(
        self, run: DecisionRun, progress: JourneyProgress, status: str, reason: str, day: date
    ) -> None:
        self._keep(
            run,
            msgspec.structs.replace(
                progress, status=status, reason=reason, due_day=day.toordinal(), trying_since=0
            ),
        )

    # --- steps ---------------------------------------------------------------------

    def _step_day(
        self, state: CustomerState, j: Journey, step: JourneyStep, base: date, entered: date
    ) -> date | None:
        p = state.profile
        if step.at_age is not None:
            if p.birth_date is None:
                return None
            return anniversary(p.birth_date, p.birth_date.year + step.at_age)
        if step.months_before_maturity is not None:
            contract = self._contract(state, j, entered)
            if contract is None or contract.matures_on is None:
                return None
            return add_months(contract.matures_on, -step.months_before_maturity)
        return (
            add_months(base, step.wait_months)
            if step.wait_months
            else date.fromordinal(base.toordinal() + step.wait_days)
        )

    def _next_step(
        self,
        state: CustomerState,
        j: Journey,
        index: int,
        base: date,
        entered: date,
        earliest: date,
    ) -> tuple[int, date] | None:
        """The first step from ``index`` due on or after ``earliest`` (past ones are skipped);
        waits count from ``base``."""
        for i in range(index, len(j.steps)):
            day = self._step_day(state, j, j.steps[i], base, entered)
            if day is not None and day >= earliest:
                return i, day
        return None

    def _run_step(
        self, run: DecisionRun, j: Journey, progress: JourneyProgress, day: date, at: datetime
    ) -> None:
        reason = self._exit_reason(run.state, j, progress, day)
        if reason is not None:
            self._end(run, progress, "exited", reason, day)
            if reason == "journey_changed":  # the new version starts over where it applies
                self._try_enter(run, j, day, at)
            return
        step = j.steps[progress.step]
        action = self.rules.catalogue.action(step.action)
        if action is None:  # the schema check at load time makes this impossible
            self._end(run, progress, "exited", "unknown_action", day)
            return
        covering = next(
            (o for o in run.state.open_opportunities() if o.action_id == action.id), None
        )
        channels = () if covering is not None else self._channels(run.state, j, step, progress, at)
        channel = channels[0] if channels else None
        if covering is None and channel is None:
            since = progress.trying_since or day.toordinal()
            if day.toordinal() - since < step.retry_days:
                self._keep(
                    run,
                    msgspec.structs.replace(
                        progress, due_day=day.toordinal() + 1, trying_since=since
                    ),
                )
                return
            self._advance_to_next(run, j, progress, day, None, progress.opportunity_id)
            return
        opportunity_id = covering.opportunity_id if covering is not None else None
        if channels:
            ref = ReasonRef(
                stable_id(
                    "jrn",
                    run.customer_id,
                    j.id,
                    str(j.version),
                    step.id,
                    str(progress.entered_day),
                    str(day.toordinal()),
                ),
                REASON_KIND,
                at,
            )
            fallbacks = f", then {', '.join(channels[1:])} when it is full" if channels[1:] else ""
            note = (
                f"Journey {j.id} (version {j.version}), step {step.id} "
                f"({progress.step + 1} of {len(j.steps)}) on {channel}{fallbacks}."
            )
            opened = run.open_on(action, ref, at, channels, note)
            opportunity_id = opened.opportunity_id if opened is not None else None
        self._advance_to_next(
            run,
            j,
            msgspec.structs.replace(progress, contacts=progress.contacts + 1),
            day,
            channel or progress.last_channel,
            opportunity_id,
        )

    def _channels(
        self,
        state: CustomerState,
        j: Journey,
        step: JourneyStep,
        progress: JourneyProgress,
        at: datetime,
    ) -> tuple[Channel, ...]:
        """The step's channels for its opportunity, in the step's order: the first that
        reaches the customer and passes the policy is the contact's channel. When it is an
        outbound channel, the step's later outbound channels that pass too follow as the
        selector's fallbacks for a day the first is full; an inbound first channel (a teaser,
        an advisor task) stays alone, so nothing else is sent or shown for that step."""
        action = self.rules.catalogue.action(step.action)
        assert action is not None
        passing = [
            c
            for c in step.channels
            if not (j.rotate_channels and c == progress.last_channel)
            and self.rules.routing.reachable(state, c, at)
            and self.rules.policy.check(state, action, c, at).allowed
        ]
        if not passing:
            return ()
        first = passing[0]
        if first not in OUTBOUND_CHANNELS:
            return (first,)
        return (first, *(c for c in passing[1:] if c in OUTBOUND_CHANNELS))

    def on_sent(self, run: DecisionRun, event: ChannelContact) -> None:
        """A send the bank recorded for a step's opportunity on another of its channels (the
        outbound selector's fallback): the step's channel is the one it went out on, so a
        journey that rotates channels does not repeat it next time."""
        action_id = event.about_action()
        for progress in run.state.journeys:
            opp = (
                run.state.opportunity(progress.opportunity_id)
                if progress.status == "active" and progress.opportunity_id is not None
                else None
            )
            if (
                opp is not None
                and opp.action_id == action_id
                and event.channel != progress.last_channel
                and event.channel in opp.channels
            ):
                self._keep(run, msgspec.structs.replace(progress, last_channel=event.channel))

    def _advance_to_next(
        self,
        run: DecisionRun,
        j: Journey,
        progress: JourneyProgress,
        day: date,
        channel: str | None,
        opportunity_id: str | None,
    ) -> None:
        done = msgspec.structs.replace(
            progress,
            last_channel=channel,
            last_day=day.toordinal(),
            opportunity_id=opportunity_id,
            trying_since=0,
        )
        entered = date.fromordinal(progress.entered_day)
        tomorrow = date.fromordinal(day.toordinal() + 1)
        nxt = self._next_step(run.state, j, progress.step + 1, day, entered, tomorrow)
        if nxt is None and j.repeat:  # the last step again, for as long as the customer stays
            nxt = self._next_step(run.state, j, len(j.steps) - 1, day, entered, tomorrow)
        if nxt is None:
            self._end(run, done, "completed", "last_step", day)
            return
        index, due = nxt
        self._keep(run, msgspec.structs.replace(done, step=index, due_day=due.toordinal()))

    # --- the state's progress list ---------------------------------------------------

    @staticmethod
    def _progress(state: CustomerState, journey_id: str) -> JourneyProgress | None:
        return next((p for p in state.journeys if p.journey == journey_id), None)

    def _active(self, state: CustomerState, journey_id: str) -> bool:
        p = self._progress(state, journey_id)
        return p is not None and p.status == "active"

    def _keep(
        self, run: DecisionRun, progress: JourneyProgress | None, drop: str | None = None
    ) -> None:
        known = {j.id for j in self.journeys}
        gone = {drop} if drop else set()
        if progress is not None:
            gone.add(progress.journey)
        items = [p for p in run.state.journeys if p.journey not in gone and p.journey in known]
        if progress is not None:
            items.append(progress)
        run.update(journeys=tuple(sorted(items, key=lambda p: p.journey)))
