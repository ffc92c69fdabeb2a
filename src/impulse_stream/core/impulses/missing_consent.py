"""Missing advertising consent: a service impulse to ask for it."""

from __future__ import annotations

from datetime import date
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.impulses.base import Fired, Listens, ParamSchemas, Reach, Trigger
from impulse_stream.core.impulses.calendar_base import first_free_day, on_day
from impulse_stream.core.state import CONSENT_BITS, CustomerState

KIND = "missing_consent"


class MissingConsentDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.CALENDAR
    listens_to: ClassVar[Listens] = ()
    params: ClassVar[ParamSchemas] = {
        "consents": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(CONSENT_BITS)},
        }
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.consents = rule.strings("consents")

    def missing(self, state: CustomerState) -> tuple[str, ...]:
        if not state.profile.known:
            return ()
        return tuple(c for c in self.consents if not state.profile.has_consent(c))

    def next_day(self, state: CustomerState, after: date) -> date | None:
        if not self.missing(state):
            return None
        return first_free_day(state, KIND, KIND, after, after, date.max)

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired:
        missing = self.missing(state)
        if not missing:
            return Fired(state)
        return Fired(state, (on_day(KIND, day, KIND, (("missing", ",".join(missing)),)),))
