"""End of education: the profile's occupation changes from one of ``occupations``
(school, studies, apprenticeship, traineeship) to another one, e.g. ``student`` ->
``employee``. A first profile, or one that drops the occupation, says nothing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger
from impulse_stream.core.impulses.params import CODES

KIND = "education_ended"


class EducationEndedDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (CustomerProfile,)
    params: ClassVar[ParamSchemas] = {"occupations": CODES}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.occupations = rule.strings("occupations")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        event, old, new = seen.event, seen.before.profile, seen.after.profile
        if not isinstance(event, CustomerProfile) or not old.known:
            return ()
        if old.occupation not in self.occupations or new.occupation is None:
            return ()
        if new.occupation in self.occupations:
            return ()  # from school to studies is a start (education_started), not an end
        return (
            Detection(
                kind=KIND,
                occurred_at=event.updated_at,
                trigger=f"occupation:{old.occupation}:{event.updated_at.isoformat()}",
                key="education_ended",
                evidence=(("before", str(old.occupation)), ("occupation", new.occupation)),
            ),
        )
