"""The calendar sweep: date-based impulses, at most once per customer and day.

The engine sweeps a day when the event-time watermark passes its midnight
(UTC) and ``next_day`` says some detector could fire on it: birthdays, coming
of age, retirement approaching, maturing contracts, expiring cards, missing
consent, a salary that stopped, and the C-customer pool journey. Detections are
dated at the day's midnight, so the outcome does not depend on when in the day
the runtime calls ``advance``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.dates import day_start
from impulse_stream.core.impulses.birthday import BirthdayDetector
from impulse_stream.core.impulses.c_customer_pool import CCustomerPoolDetector
from impulse_stream.core.impulses.calendar_base import CalendarDetector
from impulse_stream.core.impulses.card_expiring import CardExpiringDetector
from impulse_stream.core.impulses.coming_of_age import ComingOfAgeDetector
from impulse_stream.core.impulses.missing_consent import MissingConsentDetector
from impulse_stream.core.impulses.product_maturing import ProductMaturingDetector
from impulse_stream.core.impulses.retirement_approaching import RetirementApproachingDetector
from impulse_stream.core.impulses.salary_stopped import SalaryStoppedDetector
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState, Profile, Seen

_MEMO_SIZE = 8192  # customers' answers kept; cleared when full (a batch's worth)

_CALENDAR: tuple[tuple[str, Callable[[DetectorRule], CalendarDetector]], ...] = (
    ("missing_consent", MissingConsentDetector),
    ("card_expiring", CardExpiringDetector),
    ("salary_stopped", SalaryStoppedDetector),
    ("coming_of_age", ComingOfAgeDetector),
    ("retirement_approaching", RetirementApproachingDetector),
    ("product_maturing", ProductMaturingDetector),
    ("birthday", BirthdayDetector),
)


class CalendarSweep:
    def __init__(self, catalogue: Catalogue) -> None:
        self.detectors: list[CalendarDetector] = []
        for kind, build in _CALENDAR:
            rule = catalogue.detector(kind)
            if rule is not None:
                self.detectors.append(build(rule))
        rule = catalogue.detector("c_pool_contact_due")
        self.pool = CCustomerPoolDetector(rule) if rule is not None else None
        self._next_days: dict[
            tuple[str, Profile, tuple[Seen, ...], date | None, int, date], date | None
        ] = {}

    def next_day(self, state: CustomerState, after: date) -> date | None:
        """The first day after ``after`` on which some date rule could fire.

        Memoised: the engine asks several times per event, and the answer
        depends only on the customer's master data, reported triggers and
        salary dates, which most events leave unchanged.
        """
        if not state.profile.known:
            return None
        agg = state.aggregates
        key = (
            state.customer_id,
            state.profile,
            state.seen,
            agg.last_salary_on,
            agg.salary_months,
            after,
        )
        try:
            return self._next_days[key]
        except KeyError:
            pass
        if len(self._next_days) >= _MEMO_SIZE:
            self._next_days.clear()
        day = self._next_day(state, after)
        self._next_days[key] = day
        return day

    def _next_day(self, state: CustomerState, after: date) -> date | None:
        days = [d.next_day(state, after) for d in self.detectors]
        if self.pool is not None:
            days.append(self.pool.next_day(state, after))
        return min((d for d in days if d is not None), default=None)

    def sweep(self, run: DecisionRun, day: date) -> None:
        for detector in self.detectors:
            for detection in detector.detect(run.state, day):
                run.report(detection)
        pool = self.pool
        if pool is not None and pool.due_on(run.state, day):
            engine = run.engine
            n = len(pool.channels)
            for k in range(n):
                channel = pool.channels[(run.state.pool_turn + k) % n]
                reachable = engine.routing.reachable(run.state, channel, day_start(day))
                if reachable and engine.policy.has_consent(run.state, channel):
                    run.update(
                        pool_turn=(run.state.pool_turn + k + 1) % n, pool_last_day=day.toordinal()
                    )
                    run.report(pool.contact(run.state, day, channel))
                    break
