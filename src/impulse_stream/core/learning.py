"""Learning from responses: acceptance statistics per action x segment x channel.

Each action has a Beta prior from the catalogue (``prior: {accepted, declined}``).
An ``accepted`` response counts as a success, ``declined`` as a failure;
``shown``, ``not_now`` and ``no_time`` do not move the estimate. The posterior
mean divided by the prior mean is the *lift* that multiplies the bundle
propensity, so an action that customers of a segment accept more often on a
channel rises in the ranking there.

The statistics are cross-customer, so they cannot live in one customer's
state: ``AcceptanceStatistics`` is an immutable value. The engine reports every
response as an ``AcceptanceObservation`` (``Decision.observations``); the
runtime folds them with ``record`` and hands a snapshot to the engine with
``DecisionEngine.with_statistics`` (e.g. once per day, so that a replay with
the same snapshots is deterministic).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from types import MappingProxyType

import msgspec

from impulse_stream.core.catalogue import Action

StatKey = tuple[str, str, str]


class AcceptanceObservation(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """One accepted or declined response (``gc=False``: frozen, scalars and a datetime
    only, so never part of a reference cycle; one per response event)."""

    action_id: str
    segment: str
    channel: str
    accepted: bool
    opportunity_id: str
    at: datetime


class AcceptanceStatistics:
    """Immutable counts of accepted and declined responses."""

    __slots__ = ("_counts",)

    def __init__(self, counts: Mapping[StatKey, tuple[int, int]] | None = None) -> None:
        self._counts: Mapping[StatKey, tuple[int, int]] = MappingProxyType(dict(counts or {}))

    def record(self, observations: Iterable[AcceptanceObservation]) -> AcceptanceStatistics:
        counts = dict(self._counts)
        for o in observations:
            key = (o.action_id, o.segment, o.channel)
            accepted, declined = counts.get(key, (0, 0))
            counts[key] = (accepted + o.accepted, declined + (not o.accepted))
        return AcceptanceStatistics(counts)

    def counts(self, action_id: str, segment: str, channel: str | None) -> tuple[int, int]:
        if channel is not None:
            return self._counts.get((action_id, segment, channel), (0, 0))
        accepted = declined = 0
        for (a, s, _), (acc, dec) in sorted(self._counts.items()):
            if a == action_id and s == segment:
                accepted += acc
                declined += dec
        return accepted, declined

    def posterior_mean(self, action: Action, segment: str, channel: str | None) -> float:
        accepted, declined = self.counts(action.id, segment, channel)
        alpha = action.prior_accepted + accepted
        beta = action.prior_declined + declined
        return alpha / (alpha + beta)

    def lift(self, action: Action, segment: str, channel: str | None) -> float:
        return self.posterior_mean(action, segment, channel) / action.prior_mean

    def as_dict(self) -> dict[str, tuple[int, int]]:
        return {"|".join(k): v for k, v in sorted(self._counts.items())}
