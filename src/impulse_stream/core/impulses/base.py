"""What every detector returns."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Detection:
    """A detector fired.

    ``trigger`` makes the impulse id (the same trigger gives the same id on a
    replay); ``key`` is what must not be reported twice within the detector's
    ``repeat_after_days`` (e.g. the month of a salary increase).
    """

    kind: str
    occurred_at: datetime
    trigger: str
    key: str
    evidence: tuple[tuple[str, str], ...] = ()
    product: str | None = None
    source_event_id: str | None = None
