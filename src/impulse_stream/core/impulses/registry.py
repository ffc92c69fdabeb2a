"""The detector registry: impulse kind -> detector class, in the order they run.

The engine builds the detectors whose kind has an enabled catalogue entry and
dispatches through them (``core/detection.py``): an input event runs only the
detectors that listen to its type, a deadline only the detector that armed it,
a calendar day the calendar detectors. Detectors triggered by the same event
run in registry order, and their detections are reported in that order, so
the order below is part of the outputs. A new impulse is one detector file and
one line here (see docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from impulse_stream.core.impulses.abandoned_order import AbandonedOrderDetector
from impulse_stream.core.impulses.balance_above_usual import BalanceAboveUsualDetector
from impulse_stream.core.impulses.balance_drained import BalanceDrainedDetector
from impulse_stream.core.impulses.base import DetectorClass
from impulse_stream.core.impulses.birthday import BirthdayDetector
from impulse_stream.core.impulses.c_customer_pool import CCustomerPoolDetector
from impulse_stream.core.impulses.card_blocked import CardBlockedDetector
from impulse_stream.core.impulses.card_expiring import CardExpiringDetector
from impulse_stream.core.impulses.card_used_abroad import CardUsedAbroadDetector
from impulse_stream.core.impulses.coming_of_age import ComingOfAgeDetector
from impulse_stream.core.impulses.competitor_payment import CompetitorPaymentDetector
from impulse_stream.core.impulses.education_ended import EducationEndedDetector
from impulse_stream.core.impulses.education_started import EducationStartedDetector
from impulse_stream.core.impulses.first_salary import FirstSalaryDetector
from impulse_stream.core.impulses.income_group_reached import IncomeGroupReachedDetector
from impulse_stream.core.impulses.large_incoming_payment import LargeIncomingPaymentDetector
from impulse_stream.core.impulses.missing_consent import MissingConsentDetector
from impulse_stream.core.impulses.new_purchase import NewPurchaseDetector
from impulse_stream.core.impulses.offer_click import OfferClickedDetector
from impulse_stream.core.impulses.payment_difficulty import PaymentDifficultyDetector
from impulse_stream.core.impulses.product_maturing import ProductMaturingDetector
from impulse_stream.core.impulses.recurring_overdraft import RecurringOverdraftDetector
from impulse_stream.core.impulses.retirement_approaching import RetirementApproachingDetector
from impulse_stream.core.impulses.salary_increase import SalaryIncreaseDetector
from impulse_stream.core.impulses.salary_project_member import SalaryProjectMemberDetector
from impulse_stream.core.impulses.salary_stopped import SalaryStoppedDetector
from impulse_stream.core.impulses.standing_orders_cancelled import StandingOrdersCancelledDetector


class Registry:
    """Detector classes by impulse kind; iteration gives the run order."""

    def __init__(self, detectors: Iterable[DetectorClass]) -> None:
        self._by_kind: dict[str, DetectorClass] = {}
        for detector in detectors:
            if detector.kind in self._by_kind:
                raise ValueError(f"two detectors for impulse kind {detector.kind!r}")
            self._by_kind[detector.kind] = detector

    def __iter__(self) -> Iterator[DetectorClass]:
        return iter(self._by_kind.values())

    def __len__(self) -> int:
        return len(self._by_kind)

    def __contains__(self, kind: object) -> bool:
        return kind in self._by_kind

    def kinds(self) -> tuple[str, ...]:
        return tuple(self._by_kind)

    def get(self, kind: str) -> DetectorClass | None:
        return self._by_kind.get(kind)

    def with_detector(self, detector: DetectorClass) -> Registry:
        """This registry plus one detector, run after the others."""
        return Registry((*self, detector))


DEFAULT_REGISTRY = Registry(
    (
        # deadlines
        AbandonedOrderDetector,
        OfferClickedDetector,
        # bank.transactions
        PaymentDifficultyDetector,
        FirstSalaryDetector,
        SalaryIncreaseDetector,
        LargeIncomingPaymentDetector,
        BalanceAboveUsualDetector,
        BalanceDrainedDetector,
        RecurringOverdraftDetector,
        CompetitorPaymentDetector,
        CardUsedAbroadDetector,
        # orders.flow and customers.profile
        NewPurchaseDetector,
        CardBlockedDetector,
        StandingOrdersCancelledDetector,
        EducationStartedDetector,
        EducationEndedDetector,
        IncomeGroupReachedDetector,
        # employers.clusters
        SalaryProjectMemberDetector,
        # the calendar
        MissingConsentDetector,
        CardExpiringDetector,
        SalaryStoppedDetector,
        ComingOfAgeDetector,
        RetirementApproachingDetector,
        ProductMaturingDetector,
        BirthdayDetector,
        CCustomerPoolDetector,
    )
)
