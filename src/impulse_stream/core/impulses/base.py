"""The detector contract: what every impulse detector declares and returns.

A detector is a class in its own file under ``core/impulses/``. It declares

- ``kind``: the impulse kind, and its entry under ``detectors.<kind>`` in the
  catalogue (without an enabled entry the detector does not run);
- ``trigger``: what makes it run (``Trigger``);
- ``listens_to``: the input event types it reacts to (the topics' records);
- ``params``: the JSON Schema of each of its catalogue parameters (all
  required); the catalogue schema's detector section is generated from them.

and is built with ``Detector(rule, catalogue)``. Per trigger it implements one
protocol:

- ``EventDetector``: ``detect(seen)`` on every event of a type it listens to;
- ``DeadlineDetector``: ``observe(seen)`` arms or ends waits in the state on
  the events it listens to, ``deadlines(state)`` names the instants, and
  ``fire(state, deadline)`` runs when the event-time watermark passes one;
- ``CalendarDetector``: ``next_day(state, after)`` and ``detect(state, day,
  reach)`` in the daily calendar sweep.

Detectors never touch the decision in progress: they return ``Detection``
values (and, for deadlines and the calendar, the new state); the engine turns
detections into impulses and opportunities.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import StrEnum
from typing import Any, Final, NamedTuple, Protocol

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.deadlines import Deadline, DeadlineKind
from impulse_stream.core.events import Channel, InputEvent, Transaction
from impulse_stream.core.ids import short_key
from impulse_stream.core.state import CustomerState

ParamSchemas = Mapping[str, Mapping[str, Any]]
Listens = tuple[type[InputEvent], ...]


class Trigger(StrEnum):
    EVENT = "event"  # an input event of a topic it listens to
    DEADLINE = "deadline"  # the watermark passes an instant the detector armed
    CALENDAR = "calendar"  # a calendar day (the daily sweep)


class Detection:
    """A detector fired.

    ``trigger`` makes the impulse id (the same trigger gives the same id on a
    replay); ``key`` is what must not be reported twice within the detector's
    ``repeat_after_days`` (e.g. the month of a salary increase).
    """

    def __init__(
        self,
        kind: str,
        occurred_at: datetime,
        trigger: str,
        key: str,
        evidence: tuple[tuple[str, str], ...] = (),
        product: str | None = None,
        source_event_id: str | None = None,
    ) -> None:
        self.kind: Final = kind
        self.occurred_at: Final = occurred_at
        self.trigger: Final = trigger
        self.key: Final = key
        self.evidence: Final = evidence
        self.product: Final = product
        self.source_event_id: Final = source_event_id


def of_booking(
    kind: str,
    tx: Transaction,
    *,
    key: str,
    evidence: tuple[tuple[str, str], ...],
    product: str | None = None,
) -> Detection:
    """A detection that one booking triggered: at its booking time, named by its event id."""
    return Detection(
        kind=kind,
        occurred_at=tx.booked_at,
        trigger=f"tx:{tx.event_id}",
        key=key,
        evidence=evidence,
        product=product,
        source_event_id=tx.event_id,
    )


class Observed(NamedTuple):
    """An input event and the customer's state around it."""

    event: InputEvent
    before: CustomerState  # as the event found it
    after: CustomerState  # with the event recorded (aggregates, profile, order, timeline)


class Fired(NamedTuple):
    """What a deadline or calendar detector did: the new state and its detections."""

    state: CustomerState
    detections: tuple[Detection, ...] = ()


class Reach(Protocol):
    """Whether a channel can contact the customer now (reachable, with consent)."""

    def can_contact(self, state: CustomerState, channel: Channel, now: datetime) -> bool: ...


class EventDetector(Protocol):
    @property
    def kind(self) -> str: ...

    def detect(self, seen: Observed) -> Sequence[Detection]: ...


class DeadlineDetector(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def deadline_kind(self) -> DeadlineKind: ...

    def observe(self, seen: Observed) -> CustomerState: ...

    def deadlines(self, state: CustomerState) -> Iterable[Deadline]: ...

    def fire(self, state: CustomerState, deadline: Deadline) -> Fired: ...


class CalendarDetector(Protocol):
    """``next_day`` may read only the customer id, ``profile``, ``seen`` and the
    aggregates' ``last_salary_on`` and ``salary_months``: the calendar sweep
    memoises its answer on exactly these."""

    @property
    def kind(self) -> str: ...

    def next_day(self, state: CustomerState, after: date) -> date | None: ...

    def detect(self, state: CustomerState, day: date, reach: Reach) -> Fired: ...


Detector = EventDetector | DeadlineDetector | CalendarDetector


class DetectorClass(Protocol):
    """A detector class as the registry holds it: its declarations and constructor."""

    kind: str
    trigger: Trigger
    listens_to: Listens
    params: ParamSchemas

    def __call__(self, rule: DetectorRule, catalogue: Catalogue) -> Detector: ...


def seen_until(state: CustomerState, kind: str, key: str) -> int:
    """The last day (ordinal) on which this trigger key is still a repeat; 0 if never seen."""
    k = short_key(kind, key)
    return max((s.until_day for s in state.seen if s.key == k), default=0)
