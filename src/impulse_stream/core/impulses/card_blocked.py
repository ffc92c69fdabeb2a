"""A card was blocked (service: replacement, told proactively)."""

from __future__ import annotations

from datetime import datetime

from impulse_stream.core.impulses.base import Detection
from impulse_stream.core.state import Profile

KIND = "card_blocked"


def newly_blocked(old: Profile, new: Profile, updated_at: datetime) -> list[Detection]:
    blocked_before = {c.card_id for c in old.cards if c.blocked}
    return [
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
    ]
