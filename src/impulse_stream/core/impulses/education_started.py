"""Start of education: the profile's occupation changes to one of ``occupations``
(studies, an apprenticeship, a traineeship) from another one, e.g. ``pupil`` ->
``student``. A first profile says nothing about a change."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger
from impulse_stream.core.impulses.params import CODES

KIND = "education_started"


class EducationStartedDetector:
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
        if new.occupation not in self.occupations or old.occupation in self.occupations:
            return ()
        return (
            Detection(
                kind=KIND,
                occurred_at=event.updated_at,
                trigger=f"occupation:{new.occupation}:{event.updated_at.isoformat()}",
                key=f"education:{new.occupation}",
                evidence=(("occupation", str(new.occupation)), ("before", old.occupation or "")),
            ),
        )
