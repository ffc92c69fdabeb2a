"""The enabled detectors of one catalogue, and the dispatch through them.

Built once per engine from the registry: a detector runs only when its kind
has an enabled catalogue entry. An input event runs the detectors listening to
its type (deadline detectors first arm or end their waits, then the event
detectors look at the event and the state around it, and their detections are
reported in registry order); a deadline runs the detector that armed it; a
calendar day runs the calendar sweep.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar, cast

from impulse_stream.core.calendar_sweep import CalendarSweep
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.deadlines import Deadline, DeadlineKind
from impulse_stream.core.events import InputEvent
from impulse_stream.core.impulses.base import (
    CalendarDetector,
    DeadlineDetector,
    Detector,
    EventDetector,
    Observed,
    Trigger,
)
from impulse_stream.core.impulses.registry import Registry
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState
from impulse_stream.errors import CatalogueError

D = TypeVar("D")


class Detectors:
    """The enabled detectors of one catalogue, indexed by what triggers them."""

    def __init__(self, catalogue: Catalogue, registry: Registry) -> None:
        for kind in catalogue.detectors:
            if kind not in registry:
                raise CatalogueError(
                    catalogue.source,
                    ("detectors", kind),
                    "no detector is registered for this kind; add it to the registry",
                )
        self.registry = registry
        by_kind: dict[str, Detector] = {}
        detect: dict[type[InputEvent], list[EventDetector]] = {}
        observe: dict[type[InputEvent], list[DeadlineDetector]] = {}
        deadline: dict[DeadlineKind, DeadlineDetector] = {}
        calendar: list[CalendarDetector] = []
        for cls in registry:
            rule = catalogue.detector(cls.kind)
            if rule is None:
                continue
            detector = cls(rule, catalogue)
            by_kind[cls.kind] = detector
            if cls.trigger is Trigger.EVENT:
                for event_type in cls.listens_to:
                    detect.setdefault(event_type, []).append(cast(EventDetector, detector))
            elif cls.trigger is Trigger.DEADLINE:
                timer = cast(DeadlineDetector, detector)
                if timer.deadline_kind in deadline:
                    raise ValueError(f"two detectors fire on {timer.deadline_kind.name}")
                deadline[timer.deadline_kind] = timer
                for event_type in cls.listens_to:
                    observe.setdefault(event_type, []).append(timer)
            else:
                calendar.append(cast(CalendarDetector, detector))
        self.by_kind: Mapping[str, Detector] = by_kind
        self._detect = {t: tuple(ds) for t, ds in detect.items()}
        self._observe = {t: tuple(ds) for t, ds in observe.items()}
        self._deadline: Mapping[DeadlineKind, DeadlineDetector] = deadline
        self._timers = tuple(deadline.values())
        self.calendar = CalendarSweep(tuple(calendar))

    def find(self, kind: str, cls: type[D]) -> D | None:
        """The enabled detector of ``kind`` if it is a ``cls``."""
        detector = self.by_kind.get(kind)
        return detector if isinstance(detector, cls) else None

    def on_event(self, run: DecisionRun, event: InputEvent, before: CustomerState) -> None:
        """Run the detectors listening to this event; ``before`` is the state the
        event found, ``run.state`` has the event recorded."""
        event_type = type(event)
        for timer in self._observe.get(event_type, ()):
            run.state = timer.observe(Observed(event, before, run.state))
        listeners = self._detect.get(event_type, ())
        if not listeners:
            return
        seen = Observed(event, before, run.state)
        found = [detection for d in listeners for detection in d.detect(seen)]
        for detection in found:
            run.report(detection)

    def deadlines(self, state: CustomerState) -> list[Deadline]:
        due: list[Deadline] = []
        for timer in self._timers:
            due.extend(timer.deadlines(state))
        return due

    def fire(self, run: DecisionRun, deadline: Deadline) -> None:
        fired = self._deadline[deadline.kind].fire(run.state, deadline)
        run.state = fired.state
        for detection in fired.detections:
            run.report(detection)
