"""Income group A or B: the profile's segment changes to one of ``segments`` (the
bank's high-income groups, ``income_a`` and ``income_b``) from another segment.
A first profile says nothing about a change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger
from impulse_stream.core.impulses.params import CODES

KIND = "income_group_reached"


class IncomeGroupReachedDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (CustomerProfile,)
    params: ClassVar[ParamSchemas] = {"segments": CODES}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.segments = rule.strings("segments")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        event, old, new = seen.event, seen.before.profile, seen.after.profile
        if not isinstance(event, CustomerProfile) or not old.known:
            return ()
        if new.segment not in self.segments or old.segment in self.segments:
            return ()
        return (
            Detection(
                kind=KIND,
                occurred_at=event.updated_at,
                trigger=f"segment:{new.segment}:{event.updated_at.isoformat()}",
                key=f"segment:{new.segment}",
                evidence=(("segment", new.segment), ("before", old.segment)),
            ),
        )
