"""The customer state: everything the core remembers about one customer.

Compact by construction: every list has a fixed bound (oldest entries age out),
transactions are kept only as aggregates, and every struct is encoded as a
msgpack array (``array_like``), so field names cost nothing on the wire. A
typical customer stays well under 1 KiB (see ``codec.py``).

Times are event times. Money is integer cents.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime

import msgspec

from impulse_stream.core.events import CHANNELS, Channel

# Bounds of the state (the property tests check that the encoded size stays bounded).
MAX_ORDERS = 4
MAX_CLICKS = 3
MAX_APPOINTMENTS = 3
MAX_CONTACTS = 12
MAX_IMPULSES = 10
MAX_OPPORTUNITIES = 8
MAX_SUPPRESSIONS = 12
MAX_SEEN = 16
MAX_PAYEES = 5
MAX_OVERDRAFT_DAYS = 31
MAX_PRODUCTS = 24
MAX_CONTRACTS = 6
MAX_CARDS = 4
MAX_OUTREACH = 16  # sales contacts kept for the customer cap (the schema caps it below)

CONSENT_BITS = {"phone": 1, "email": 2, "letter": 4, "online_banking": 8}


class _S(msgspec.Struct, array_like=True, frozen=True, omit_defaults=True, gc=False):
    """Base of the state's structs, decoded and rebuilt for every customer of a batch.

    ``gc=False`` (inherited): the collector neither tracks nor counts them. None
    can be part of a reference cycle: all are frozen and hold only scalars
    (str, int, float, bool, date, datetime, None), other state structs and
    tuples of those.
    """


class HeldContract(_S, frozen=True):
    contract_id: str
    product: str
    matures_on: date | None = None


class HeldCard(_S, frozen=True):
    card_id: str
    blocked: bool = False
    expires_on: date | None = None


class Profile(_S, frozen=True):
    """The master-data part of the state (from ``customers.profile``)."""

    known: bool = False
    birth_date: date | None = None
    advisor_id: str | None = None
    branch_id: str | None = None
    segment: str = "retail"
    consents: int = 0
    products: tuple[str, ...] = ()
    occupation: str | None = None
    home_country: str = "DE"
    contracts: tuple[HeldContract, ...] = ()
    cards: tuple[HeldCard, ...] = ()
    standing_orders: int | None = None  # active standing orders, when core banking says

    def has_consent(self, consent: str) -> bool:
        return bool(self.consents & CONSENT_BITS[consent])

    def holds(self, product: str) -> bool:
        return product in self.products


class OrderProcess(_S, frozen=True):
    """A running (or recently ended) online order or application."""

    order_id: str
    product: str
    channel: str
    started_at: datetime
    deadline: datetime
    status: str = "open"  # open | abandoned | completed | cancelled
    step: int = 0
    total_steps: int = 1
    last_event_id: str = ""
    updated_at: datetime | None = None


class PendingClick(_S, frozen=True):
    """A clicked offer waiting for an order of its product."""

    product: str
    clicked_at: datetime
    deadline: datetime
    event_id: str


class Appointment(_S, frozen=True):
    """An accepted appointment: a running process on the cockpit."""

    at: datetime
    action_id: str
    opportunity_id: str
    channel: str


class MonthIncome(_S, frozen=True):
    month: int
    cents: int


class RecurringPayee(_S, frozen=True):
    key: str
    label: str
    months: int
    last_month: int


class Aggregates(_S, frozen=True):
    """Rolling transaction aggregates; raw transactions are never kept."""

    income: tuple[MonthIncome, ...] = ()
    salary_months: int = 0
    last_salary_on: date | None = None
    usual_balance: int | None = None
    balance_samples: int = 0
    last_balance: int | None = None
    overdraft_days: tuple[int, ...] = ()
    payees: tuple[RecurringPayee, ...] = ()


class Contact(_S, frozen=True):
    """One entry of the timeline: a contact or a response on a channel."""

    at: datetime
    channel: str
    kind: str  # a ContactKind, or a ResponseKind for responses to opportunities
    action_id: str | None = None
    agent_id: str | None = None


class Affinity(_S, frozen=True):
    """Per channel (in ``events.CHANNELS`` order): last day used (ordinal) and uses.

    The tuples grow only when a channel appended later (SMS, ATM, kiosk,
    social) is used, so a state that never used one is stored exactly as before
    those channels existed; missing entries read as never used (``timeline.py``).
    """

    last_day: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0)
    uses: tuple[int, ...] = (0, 0, 0, 0, 0, 0, 0)


class ActiveImpulse(_S, frozen=True):
    impulse_id: str
    kind: str
    category: str
    occurred_at: datetime
    expires_at: datetime
    product: str | None = None
    evidence: tuple[tuple[str, str], ...] = ()
    source_event_id: str | None = None


class ReasonRef(_S, frozen=True):
    impulse_id: str
    kind: str
    occurred_at: datetime


class OpportunityState(_S, frozen=True):
    """An opportunity as the state keeps it; texts come from the catalogue."""

    opportunity_id: str
    action_id: str
    created_at: datetime
    valid_until: datetime
    reasons: tuple[ReasonRef, ...]
    priority: float
    rank: int
    channel_mask: int
    revision: int = 0
    status: str = "open"  # open | withdrawn | expired
    snoozed_until: datetime | None = None
    closed_reason: str | None = None
    closed_at: datetime | None = None
    responded_channel: str | None = None
    responded_agent: str | None = None
    # ``events.CHANNELS`` indexes in the order to try them (a journey step's contact, then
    # its fallbacks); () lets the published record order the channels by affinity.
    channel_order: tuple[int, ...] = ()

    @property
    def channels(self) -> tuple[Channel, ...]:
        """The routed channels; in ``channel_order`` first when it is given."""
        routed = channels_of(self.channel_mask)
        if not self.channel_order:
            return routed
        ordered = tuple(CHANNELS[i] for i in self.channel_order if self.channel_mask & (1 << i))
        return ordered + tuple(c for c in routed if c not in ordered)


def channel_mask(channels: Iterable[str]) -> int:
    """Channels as a bit set in ``events.CHANNELS`` order (compact in the state)."""
    mask = 0
    for c in channels:
        mask |= 1 << CHANNELS.index(c)
    return mask


def channels_of(mask: int) -> tuple[Channel, ...]:
    mask &= _ALL_CHANNELS  # bits beyond the channels name none
    found = _CHANNELS_OF.get(mask)
    if found is None:
        found = _CHANNELS_OF[mask] = tuple(c for i, c in enumerate(CHANNELS) if mask & (1 << i))
    return found


# Every mask's channels, kept as they are asked (at most 2 ** len(CHANNELS) tuples): an
# opportunity's channels are read on every publication and routing.
_CHANNELS_OF: dict[int, tuple[Channel, ...]] = {}
_ALL_CHANNELS = (1 << len(CHANNELS)) - 1


def channel_order(channels: Iterable[str]) -> tuple[int, ...]:
    """Channels as ``events.CHANNELS`` indexes, in the given order."""
    return tuple(CHANNELS.index(c) for c in channels)


class Suppression(_S, frozen=True):
    """``action:<id>`` or ``product:<code>`` is not offered until ``until``."""

    subject: str
    until: datetime
    reason: str


class Seen(_S, frozen=True):
    """A detector trigger already reported (dedupe key until a day ordinal)."""

    key: str
    until_day: int


class RecentEvent(_S, frozen=True):
    """An input event the state took in: digests of its ``event_id`` and of its content."""

    event: int
    content: int


class Outreach(_S, frozen=True):
    """A sales contact about an action on any channel (a send, or a shown offer)."""

    day: int  # UTC day ordinal
    action_id: str


class JourneyProgress(_S, frozen=True):
    """Where one customer stands in one journey (``journeys.py``)."""

    journey: str
    version: int
    entered_day: int  # UTC day ordinals
    step: int  # index of the next step
    due_day: int  # when the next step is due; the finish day once ended
    status: str = "active"  # active | completed | exited
    reason: str | None = None  # why it ended: bought, declined, consent_withdrawn, ...
    declines: int = 0
    last_channel: str | None = None
    last_day: int = 0  # the last step's day
    opportunity_id: str | None = None  # the last step's opportunity (declines count on it)
    trying_since: int = 0  # the due step found no channel since this day
    contacts: int = 0


class CustomerState(_S, frozen=True):
    customer_id: str
    clock: datetime | None = None
    profile: Profile = Profile()
    aggregates: Aggregates = Aggregates()
    orders: tuple[OrderProcess, ...] = ()
    clicks: tuple[PendingClick, ...] = ()
    appointments: tuple[Appointment, ...] = ()
    contacts: tuple[Contact, ...] = ()
    affinity: Affinity = Affinity()
    impulses: tuple[ActiveImpulse, ...] = ()
    opportunities: tuple[OpportunityState, ...] = ()
    suppressions: tuple[Suppression, ...] = ()
    seen: tuple[Seen, ...] = ()
    swept_day: int = 0
    pool_last_day: int = 0
    pool_turn: int = 0
    recent: tuple[RecentEvent, ...] = ()  # the last MAX_RECENT_EVENTS events (recent_events.py)
    outreach: tuple[Outreach, ...] = ()  # sales contacts of the last days (contact_policy.py)
    journeys: tuple[JourneyProgress, ...] = ()  # one per catalogue journey at most
    journeys_checked_day: int = 0  # time-based journey entries are checked up to this day
    employer: int = 0  # the salary payer (employers.py; ids.employer_id names it), 0: none
    employer_since: int = 0  # UTC day ordinal of the salary booking that made it the employer
    household: str | None = None  # the profile's household (households.py), None: none
    household_since: int = 0  # epoch ms of the profile update that made it the household

    def open_opportunities(self) -> tuple[OpportunityState, ...]:
        return tuple(o for o in self.opportunities if o.status == "open")

    def opportunity(self, opportunity_id: str) -> OpportunityState | None:
        for opp in self.opportunities:
            if opp.opportunity_id == opportunity_id:
                return opp
        return None

    def held_products(self) -> frozenset[str]:
        return frozenset(self.profile.products)


def new_state(customer_id: str) -> CustomerState:
    """The state of a customer the core has not seen before."""
    return CustomerState(customer_id=customer_id)
