"""Arbitration: which opportunity comes first, and why.

    priority = propensity x lift x value x w_channel x w_recency x w_segment

- propensity: bundle scoring of the customer's active impulses (``scoring.py``);
- lift: learned acceptance, posterior mean / prior mean of the action's Beta
  distribution for the customer's segment and the channel (``learning.py``),
  the product ``propensity x lift`` capped at 1;
- value: the action's business value (contribution margin x strategic focus);
- w_channel: ``context_weights.channel`` (1.0 when no channel is asked for);
- w_recency: ``max(recency_floor, 0.5 ** (age_days / recency_half_life_days))``
  with the age of the newest impulse behind the opportunity;
- w_segment: ``context_weights.segment`` of the customer's segment (default 1.0).

Ranking on a channel: service before sales where the channel is listed in
``service_first_channels`` (the inbound call), then priority descending; ties
are broken by action id, then opportunity id, so the order never depends on
dict or set order. Priorities are rounded to 6 decimals before comparing.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from impulse_stream.core.catalogue import Action, Catalogue
from impulse_stream.core.contact_policy import PolicyVerdict
from impulse_stream.core.events import Channel
from impulse_stream.core.learning import AcceptanceStatistics
from impulse_stream.core.scoring import BundleScoring, Propensity
from impulse_stream.core.state import ActiveImpulse, CustomerState, ReasonRef


class Score:
    """An action's priority for a customer and the factors it is the product of."""

    def __init__(
        self,
        propensity: Propensity,
        lift: float,
        value: float,
        channel: Channel | None,
        channel_weight: float,
        recency_weight: float,
        segment: str,
        segment_weight: float,
        priority: float,
    ) -> None:
        self.propensity: Final = propensity
        self.lift: Final = lift
        self.value: Final = value
        self.channel: Final = channel
        self.channel_weight: Final = channel_weight
        self.recency_weight: Final = recency_weight
        self.segment: Final = segment
        self.segment_weight: Final = segment_weight
        self.priority: Final = priority

    def describe(self) -> str:
        channel = "any channel" if self.channel is None else f"channel {self.channel}"
        return (
            f"priority {self.priority:.2f} = propensity {self.propensity.describe()}"
            f" x learned lift {self.lift:.2f} x value {self.value:g}"
            f" x {channel} {self.channel_weight:.2f} x recency {self.recency_weight:.2f}"
            f" x segment {self.segment} {self.segment_weight:.2f}"
        )


class Arbitration:
    def __init__(
        self, catalogue: Catalogue, scoring: BundleScoring, statistics: AcceptanceStatistics
    ) -> None:
        self.catalogue = catalogue
        self.weights = catalogue.weights
        self.scoring = scoring
        self.statistics = statistics

    def score(
        self,
        state: CustomerState,
        action: Action,
        reasons: Sequence[ReasonRef | ActiveImpulse],
        channel: Channel | None,
        now: datetime,
    ) -> Score:
        propensity = self.scoring.for_action(action, state.impulses, now)
        segment = state.profile.segment
        lift = self.statistics.lift(action, segment, channel)
        newest = max((r.occurred_at for r in reasons), default=now)
        age_days = max(0.0, (now - newest).total_seconds() / 86400.0)
        recency = max(
            self.weights.recency_floor, 0.5 ** (age_days / self.weights.recency_half_life_days)
        )
        w_channel = 1.0 if channel is None else self.weights.for_channel(channel)
        w_segment = self.weights.for_segment(segment)
        p = min(1.0, propensity.value * lift)
        priority = round(p * action.value * w_channel * recency * w_segment, 6)
        return Score(
            propensity,
            lift,
            action.value,
            channel,
            w_channel,
            recency,
            segment,
            w_segment,
            priority,
        )

    def sort_key(
        self, action: Action, priority: float, opportunity_id: str, channel: Channel | None
    ) -> tuple[int, float, str, str]:
        service_first = (
            channel is not None and channel in self.catalogue.policy.service_first_channels
        )
        group = 1 if service_first and action.kind == "sales" else 0
        return (group, -priority, action.id, opportunity_id)


def explain(
    reasons: Sequence[tuple[ReasonRef, tuple[tuple[str, str], ...]]],
    score: Score,
    verdict: PolicyVerdict | None,
) -> str:
    """The human-readable why: impulses, weights, policy checks passed."""
    parts = []
    for ref, evidence in reasons:
        facts = ", ".join(f"{k}={v}" for k, v in evidence)
        when = ref.occurred_at.isoformat()
        parts.append(f"{ref.kind} at {when}" + (f" ({facts})" if facts else ""))
    text = "Impulses: " + "; ".join(parts) + ". " + score.describe().capitalize() + "."
    if verdict is not None:
        text += " Policy: " + verdict.describe() + "."
    return text[:2000]
