"""One engine call in progress: the state being evolved and the outputs so far.

``DecisionRun`` is created for one ``apply``/``advance`` call and discarded
afterwards; the engine's API stays pure (state in, state and outputs out).
It owns what every handler needs: reporting a detection as an impulse (with the
dedupe window), opening opportunities for it, and re-publishing an
opportunity when its status changes. It knows the ``Rules`` it applies, never
the engine.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import msgspec

from impulse_stream.core.arbitration import Score, explain
from impulse_stream.core.catalogue import Action
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import Channel, Evidence, Impulse, Membership, OutputRecord
from impulse_stream.core.ids import short_key, stable_id
from impulse_stream.core.impulses.base import Detection, seen_until
from impulse_stream.core.learning import AcceptanceObservation
from impulse_stream.core.records import opportunity_record, reasons_with_evidence
from impulse_stream.core.rules import Rules
from impulse_stream.core.state import (
    MAX_IMPULSES,
    MAX_OPPORTUNITIES,
    MAX_SEEN,
    MAX_SUPPRESSIONS,
    ActiveImpulse,
    CustomerState,
    OpportunityState,
    ReasonRef,
    Seen,
    Suppression,
    channel_mask,
    channel_order,
)

MAX_REASONS = 4


class DecisionRun:
    def __init__(self, rules: Rules, state: CustomerState) -> None:
        self.rules = rules
        self.state = state
        self.outputs: list[OutputRecord] = []
        self.observations: list[AcceptanceObservation] = []
        self.suppressed: list[str] = []  # policy rules that held an action back
        self.memberships: list[Membership] = []  # employers.py, households.py

    @property
    def customer_id(self) -> str:
        return self.state.customer_id

    def update(self, **changes: object) -> None:
        self.state = msgspec.structs.replace(self.state, **changes)

    # --- impulses ---------------------------------------------------------------

    def seen_until(self, kind: str, key: str) -> int:
        return seen_until(self.state, kind, key)

    def report(self, detection: Detection) -> ActiveImpulse | None:
        """Turn a detection into an impulse, unless disabled or reported recently."""
        rule = self.rules.catalogue.detector(detection.kind)
        if rule is None:
            return None
        impulse_id = stable_id("imp", self.customer_id, detection.kind, detection.trigger)
        if any(i.impulse_id == impulse_id for i in self.state.impulses):
            return None
        day = utc_day(detection.occurred_at).toordinal()
        if self.seen_until(detection.kind, detection.key) >= day:
            return None
        if rule.repeat_after_days > 0:
            seen = Seen(short_key(detection.kind, detection.key), day + int(rule.repeat_after_days))
            kept = sorted((*self.state.seen, seen), key=lambda s: (s.until_day, s.key))
            self.update(seen=tuple(kept[-MAX_SEEN:]))
        impulse = ActiveImpulse(
            impulse_id=impulse_id,
            kind=detection.kind,
            category=rule.category,
            occurred_at=detection.occurred_at,
            expires_at=detection.occurred_at + timedelta(days=rule.ttl_days),
            product=detection.product,
            evidence=detection.evidence,
            source_event_id=detection.source_event_id,
        )
        self._keep_impulse(impulse)
        self.outputs.append(
            Impulse(
                impulse_id=impulse_id,
                customer_id=self.customer_id,
                kind=detection.kind,
                category=rule.category,
                occurred_at=detection.occurred_at,
                detected_at=detection.occurred_at,
                source_event_id=detection.source_event_id,
                evidence=tuple(Evidence(name=k, value=v) for k, v in detection.evidence),
                rules_version=self.rules.rules_version,
            )
        )
        self._open_for(impulse, detection.occurred_at)
        return impulse

    def _keep_impulse(self, impulse: ActiveImpulse) -> None:
        referenced = {r.impulse_id for o in self.state.open_opportunities() for r in o.reasons}
        impulses = [*self.state.impulses, impulse]
        # Evict the oldest impulse no open opportunity refers to, then the oldest at all.
        while len(impulses) > MAX_IMPULSES:
            spare = [i for i in impulses if i.impulse_id not in referenced] or impulses
            victim = min(spare, key=lambda i: (i.occurred_at, i.impulse_id))
            impulses.remove(victim)
        self.update(impulses=tuple(sorted(impulses, key=lambda i: (i.occurred_at, i.impulse_id))))

    # --- opportunities ----------------------------------------------------------

    def _open_for(self, impulse: ActiveImpulse, at: datetime) -> None:
        rules = self.rules
        for action in rules.catalogue.actions_triggered_by(impulse.kind, impulse.product):
            ref = ReasonRef(impulse.impulse_id, impulse.kind, impulse.occurred_at)
            current = next(
                (o for o in self.state.open_opportunities() if o.action_id == action.id), None
            )
            if current is not None:
                self._add_reason(current, ref, action, at)
                continue
            verdict = rules.policy.may_open(self.state, action, at)
            if not verdict.allowed:
                self.suppressed.append(verdict.rule)
                continue
            propensity = rules.scoring.for_action(action, self.state.impulses, at)
            if propensity.value < action.min_propensity:
                continue
            self._open(action, ref, at)

    def _add_reason(
        self, opp: OpportunityState, ref: ReasonRef, action: Action, at: datetime
    ) -> None:
        if any(r.impulse_id == ref.impulse_id for r in opp.reasons):
            return
        reasons = (*opp.reasons, ref)[-MAX_REASONS:]
        score = self.rules.arbitration.score(self.state, action, reasons, None, at)
        self.replace_opportunity(
            msgspec.structs.replace(opp, reasons=reasons, priority=score.priority)
        )

    def _open(self, action: Action, ref: ReasonRef, at: datetime) -> None:
        rules = self.rules
        opportunity_id = stable_id("opp", self.customer_id, action.id, ref.impulse_id)
        if self.state.opportunity(opportunity_id) is not None:
            return  # already opened by this impulse (and maybe closed since)
        reasons = (ref,)
        score = rules.arbitration.score(self.state, action, reasons, None, at)
        opp = OpportunityState(
            opportunity_id=opportunity_id,
            action_id=action.id,
            created_at=at,
            valid_until=at + timedelta(days=action.validity_days),
            reasons=reasons,
            priority=score.priority,
            rank=0,
            channel_mask=0,
        )
        channels = rules.routing.routes(self.state, action, at, self.impulses_of(opp), opp)
        opp = msgspec.structs.replace(
            opp, channel_mask=channel_mask(channels), rank=self._rank_of(opp)
        )
        self.replace_opportunity(opp)
        verdict = rules.policy.may_open(self.state, action, at)
        text = explain(reasons_with_evidence(self.state, opp), score, verdict)
        routed = ", ".join(opp.channels) or "no channel now (policy or reachability)"
        self.publish(opp, score, f"{text} Routed to: {routed}."[:2000])

    def open_on(
        self,
        action: Action,
        ref: ReasonRef,
        at: datetime,
        channels: tuple[Channel, ...],
        note: str,
    ) -> OpportunityState | None:
        """Open an opportunity for ``action`` on ``channels`` only, published in that order
        (a journey step's contact first, then its fallbacks)."""
        channel = channels[0]
        opportunity_id = stable_id("opp", self.customer_id, action.id, ref.impulse_id)
        if self.state.opportunity(opportunity_id) is not None:
            return None
        score = self.rules.arbitration.score(self.state, action, (ref,), None, at)
        opp = OpportunityState(
            opportunity_id=opportunity_id,
            action_id=action.id,
            created_at=at,
            valid_until=at + timedelta(days=action.validity_days),
            reasons=(ref,),
            priority=score.priority,
            rank=0,
            channel_mask=channel_mask(channels),
            channel_order=channel_order(channels) if len(channels) > 1 else (),
        )
        opp = msgspec.structs.replace(opp, rank=self._rank_of(opp))
        self.replace_opportunity(opp)
        verdict = self.rules.policy.check(self.state, action, channel, at)
        text = f"{note} {score.describe().capitalize()}. Policy: {verdict.describe()}."
        self.publish(opp, score, f"{text} Routed to: {', '.join(channels)}."[:2000])
        return opp

    def _rank_of(self, opp: OpportunityState) -> int:
        others = [
            o for o in self.state.open_opportunities() if o.opportunity_id != opp.opportunity_id
        ]
        return 1 + sum(
            1
            for o in others
            if (-o.priority, o.opportunity_id) < (-opp.priority, opp.opportunity_id)
        )

    def impulses_of(self, opp: OpportunityState) -> tuple[ActiveImpulse, ...]:
        ids = {r.impulse_id for r in opp.reasons}
        return tuple(i for i in self.state.impulses if i.impulse_id in ids)

    def replace_opportunity(self, opp: OpportunityState) -> None:
        others = [o for o in self.state.opportunities if o.opportunity_id != opp.opportunity_id]
        items = [*others, opp]
        while len(items) > MAX_OPPORTUNITIES:
            closed = [o for o in items if o.status != "open"] or items
            victim = min(closed, key=lambda o: (o.closed_at or o.created_at, o.opportunity_id))
            items.remove(victim)
        self.update(
            opportunities=tuple(sorted(items, key=lambda o: (o.created_at, o.opportunity_id)))
        )

    def close(
        self,
        opp: OpportunityState,
        status: str,
        reason: str,
        at: datetime,
        **changes: object,
    ) -> OpportunityState:
        closed = msgspec.structs.replace(
            opp,
            status=status,
            closed_reason=reason,
            closed_at=at,
            revision=opp.revision + 1,
            snoozed_until=None,
            **changes,
        )
        self.replace_opportunity(closed)
        self.publish(closed, None)
        # A closed opportunity is never published again: keep only what attribution
        # and the "opened once per impulse" rule need.
        slim = msgspec.structs.replace(
            closed, reasons=closed.reasons[:1], channel_mask=0, channel_order=()
        )
        self.replace_opportunity(slim)
        return slim

    def revise(self, opp: OpportunityState, **changes: object) -> OpportunityState:
        revised = msgspec.structs.replace(opp, revision=opp.revision + 1, **changes)
        self.replace_opportunity(revised)
        self.publish(revised, None)
        return revised

    def publish(self, opp: OpportunityState, score: Score | None, text: str | None = None) -> None:
        record = opportunity_record(self.rules.catalogue, self.state, opp, score, None, text)
        if record is not None:
            self.outputs.append(record)

    # --- suppressions -----------------------------------------------------------

    def suppress(self, subject: str, until: datetime, reason: str) -> None:
        kept = [s for s in self.state.suppressions if s.subject != subject or s.until > until]
        if any(s.subject == subject for s in kept):
            return
        items = sorted(
            (*kept, Suppression(subject, until, reason)), key=lambda s: (s.until, s.subject)
        )
        self.update(suppressions=tuple(items[-MAX_SUPPRESSIONS:]))
