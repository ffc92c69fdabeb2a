"""The published ``Opportunity`` record of an opportunity the state keeps."""

from __future__ import annotations

from impulse_stream.core.arbitration import Score, explain
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.events import Evidence, Opportunity, Reason
from impulse_stream.core.state import CustomerState, OpportunityState, ReasonRef
from impulse_stream.core.timeline import by_affinity


def reasons_with_evidence(
    state: CustomerState, opp: OpportunityState
) -> tuple[tuple[ReasonRef, tuple[tuple[str, str], ...]], ...]:
    by_id = {i.impulse_id: i.evidence for i in state.impulses}
    return tuple((r, by_id.get(r.impulse_id, ())) for r in opp.reasons)


def to_reasons(state: CustomerState, opp: OpportunityState) -> tuple[Reason, ...]:
    return tuple(
        Reason(
            impulse_id=r.impulse_id,
            kind=r.kind,
            occurred_at=r.occurred_at,
            evidence=tuple(Evidence(name=k, value=v) for k, v in ev),
        )
        for r, ev in reasons_with_evidence(state, opp)
    )


def opportunity_record(
    catalogue: Catalogue,
    state: CustomerState,
    opp: OpportunityState,
    score: Score | None,
    rank: int | None,
    text: str | None,
) -> Opportunity | None:
    """The record to publish; None when the catalogue no longer has the action."""
    action = catalogue.action(opp.action_id)
    if action is None:
        return None
    # Best first: the customer's most used, most recent on a tie, then the catalogue's order;
    # a journey step's channels keep the step's order (its contact, then its fallbacks).
    routed = opp.channels
    channels = (
        routed
        if opp.channel_order
        else by_affinity(
            state.affinity,
            tuple(c for c in action.channels if c in routed)
            + tuple(c for c in routed if c not in action.channels),
        )
    )
    if text is None:
        if opp.status != "open":
            text = f"{opp.status}: {opp.closed_reason}"
        elif score is not None:
            text = explain(reasons_with_evidence(state, opp), score, None)
            text += f" Routed to: {', '.join(channels) or 'no channel now'}."
        else:
            text = "revised" + (
                f": snoozed until {opp.snoozed_until.isoformat()}" if opp.snoozed_until else ""
            )
    preferred = None
    if action.kind == "service" and channels:
        # Told proactively where the customer is: the most used of the routed channels
        # (an app-only customer hears of a blocked card in the app, not by a call).
        preferred = channels[0]
    return Opportunity(
        opportunity_id=opp.opportunity_id,
        revision=opp.revision,
        customer_id=state.customer_id,
        action_id=action.id,
        product=action.product,
        kind=action.kind,
        priority=score.priority if score is not None else opp.priority,
        rank=rank if rank is not None else opp.rank,
        status=opp.status,  # type: ignore[arg-type]
        reasons=to_reasons(state, opp),
        channels=channels,
        texts=action.texts,
        valid_until=opp.valid_until,
        created_at=opp.created_at,
        rules_version=catalogue.version,
        explanation=text,
        handling_minutes=action.handling_minutes,
        advisor_id=state.profile.advisor_id,
        snoozed_until=opp.snoozed_until,
        closed_reason=opp.closed_reason,
        preferred_channel=preferred,
        branch_id=state.profile.branch_id,
        household_id=state.household,
    )
