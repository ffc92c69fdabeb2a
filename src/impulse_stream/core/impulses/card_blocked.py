"""A card was blocked (service: replacement, told proactively).

Fires when a profile update shows a card blocked that was not blocked before;
the first profile of a customer says nothing about changes and fires nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import CustomerProfile
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger

KIND = "card_blocked"


class CardBlockedDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (CustomerProfile,)
    params: ClassVar[ParamSchemas] = {}

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        del rule, catalogue  # no parameters

    def detect(self, seen: Observed) -> Sequence[Detection]:
        event, old, new = seen.event, seen.before.profile, seen.after.profile
        if not isinstance(event, CustomerProfile) or not old.known:
            return ()
        updated_at = event.updated_at
        blocked_before = {c.card_id for c in old.cards if c.blocked}
        return tuple(
            Detection(
                kind=KIND,
                occurred_at=updated_at,
                trigger=f"card:{card.card_id}:{updated_at.isoformat()}",
                key=f"card:{card.card_id}",
                product="card_service",
                evidence=(("card_id", card.card_id),),
            )
            for card in new.cards
            if card.blocked and card.card_id not in blocked_before
        )
