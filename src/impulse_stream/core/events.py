"""The public topic contract as typed, immutable records.

Every input topic has one record type; every output topic too. The JSON Schema
files in ``schemas/topics/`` describe the same messages for frontends and are
checked against these types by the test suite.

Conventions of the contract: keys are the customer id, values UTF-8 JSON,
times RFC 3339 with offset (a naive time is rejected), amounts decimal strings.
Unknown extra fields are ignored, so producers may add optional fields freely.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Literal

import msgspec
from msgspec import Meta

# --- scalar types -----------------------------------------------------------

Id = Annotated[str, Meta(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@/-]+$")]
CustomerId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:@-]+$")]
Timestamp = Annotated[datetime, Meta(tz=True)]
Text = Annotated[str, Meta(max_length=2000)]
ShortText = Annotated[str, Meta(max_length=200)]
Code = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^[a-z0-9_]+$")]
Currency = Annotated[str, Meta(pattern=r"^[A-Z]{3}$")]
Iban = Annotated[str, Meta(max_length=34, pattern=r"^[A-Z]{2}[0-9A-Z]{0,32}$")]
CountryCode = Annotated[str, Meta(pattern=r"^[A-Z]{2}$")]

Channel = Literal[
    "call_centre",
    "branch",
    "online_banking",
    "app",
    "email",
    "letter",
    "advisor",
    "sms",
    "atm",
    "kiosk",
    "social",
]
# The order is part of the stored state (channel bit masks, affinity tuples):
# a new channel is appended at the end, never inserted.
CHANNELS: tuple[Channel, ...] = (
    "call_centre",
    "branch",
    "online_banking",
    "app",
    "email",
    "letter",
    "advisor",
    "sms",
    "atm",
    "kiosk",
    "social",
)
Direction = Literal["credit", "debit"]
ClickKind = Literal["login", "page_view", "banner_view", "banner_click"]
OrderStatus = Literal["started", "step_completed", "completed", "cancelled"]
ContactKind = Literal[
    "inbound_call",
    "outbound_call",
    "appointment",
    "message",
    "email_sent",
    "letter_sent",
    "banner_shown",
    "sms_sent",
]
ResponseKind = Literal["shown", "accepted", "declined", "not_now", "no_time"]
OpportunityStatus = Literal["open", "withdrawn", "expired"]
ActionKind = Literal["sales", "service"]


class Record(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False):
    """Base of every contract record."""


# --- input topics ------------------------------------------------------------


class Counterparty(Record, frozen=True):
    name: ShortText = ""
    iban: Iban | None = None


class Transaction(Record, frozen=True):
    """A booking on an account (topic ``bank.transactions``)."""

    event_id: Id
    customer_id: CustomerId
    account_id: Id
    booked_at: Timestamp
    amount: Decimal
    currency: Currency
    direction: Direction
    counterparty: Counterparty = Counterparty()
    purpose: Text = ""
    category: Code = "transfer"
    balance_after: Decimal | None = None
    country: CountryCode | None = None
    card_id: Id | None = None
    overdraft_limit: Decimal | None = None

    @property
    def occurred_at(self) -> datetime:
        return self.booked_at


class Click(Record, frozen=True):
    """A click in online banking or the app (topic ``ebanking.clicks``)."""

    event_id: Id
    customer_id: CustomerId
    session_id: Id
    occurred_at: Timestamp
    kind: ClickKind
    page: ShortText = ""
    product: Code | None = None
    channel: Literal["online_banking", "app", "atm", "kiosk", "social"] = "online_banking"


class OrderStep(Record, frozen=True):
    """A step in an online order or application (topic ``orders.flow``)."""

    event_id: Id
    customer_id: CustomerId
    order_id: Id
    product: Code
    channel: Channel
    occurred_at: Timestamp
    status: OrderStatus
    step: Annotated[int, Meta(ge=0, le=1000)] = 0
    total_steps: Annotated[int, Meta(ge=1, le=1000)] = 1
    agent_id: Id | None = None


class Consents(Record, frozen=True):
    """Advertising permission per channel."""

    phone: bool = False
    email: bool = False
    letter: bool = False
    online_banking: bool = False


class Contract(Record, frozen=True):
    """A held product with dates (life insurance, fixed deposit, loan)."""

    contract_id: Id
    product: Code
    matures_on: date | None = None


class Card(Record, frozen=True):
    card_id: Id
    status: Literal["active", "blocked"] = "active"
    expires_on: date | None = None


class CustomerProfile(Record, frozen=True):
    """The customer master record (compacted topic ``customers.profile``)."""

    customer_id: CustomerId
    updated_at: Timestamp
    birth_date: date | None = None
    advisor_id: Id | None = None
    branch_id: Id | None = None
    segment: Code = "retail"
    consents: Consents = Consents()
    products: tuple[Code, ...] = ()
    household_id: Id | None = None
    occupation: Code | None = None
    home_country: CountryCode = "DE"
    contracts: tuple[Contract, ...] = ()
    cards: tuple[Card, ...] = ()
    standing_orders: Annotated[int, Meta(ge=0, le=10_000)] | None = None

    @property
    def occurred_at(self) -> datetime:
        return self.updated_at


class ChannelContact(Record, frozen=True):
    """A contact with the customer on any channel (topic ``channel.contacts``)."""

    event_id: Id
    customer_id: CustomerId
    channel: Channel
    kind: ContactKind
    occurred_at: Timestamp
    agent_id: Id | None = None
    subject: ShortText = ""
    action_id: Code | None = None  # the catalogue action a bank send was about

    def about_action(self) -> str | None:
        """The action this contact was about: ``action_id``, else a ``subject`` naming one."""
        return self.action_id if self.action_id is not None else (self.subject or None)


class OpportunityResponse(Record, frozen=True):
    """A channel's response to a shown opportunity (topic ``opportunities.responses``)."""

    event_id: Id
    opportunity_id: Id
    customer_id: CustomerId
    channel: Channel
    response: ResponseKind
    occurred_at: Timestamp
    agent_id: Id | None = None
    appointment_at: Timestamp | None = None


# --- internal topics: employer clusters (``employers.py``, ``streaming/employers.py``) ---

EmployerId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^emp-[0-9a-f]{16}$")]
MembershipStatus = Literal["joined", "left"]


class EmployerMembership(Record, frozen=True):
    """A customer joined or left the cluster of a salary payer (internal topic
    ``employers.members``, keyed by ``employer_id``, so that one worker counts one employer).

    ``since`` is the salary booking that decided it; a customer's memberships carry
    rising ``since`` times, so the older of two messages about one customer never wins.
    """

    membership_id: Id
    employer_id: EmployerId
    customer_id: CustomerId
    status: MembershipStatus
    since: Timestamp
    employer_name: ShortText = ""

    @property
    def occurred_at(self) -> datetime:
        return self.since


class EmployerCluster(Record, frozen=True):
    """The customer's employer pays ``members`` customers of the bank: a salary project
    (internal topic ``employers.clusters``, keyed by customer, read by the worker)."""

    event_id: Id
    customer_id: CustomerId
    employer_id: EmployerId
    members: Annotated[int, Meta(ge=1)]
    occurred_at: Timestamp
    employer_name: ShortText = ""


InputEvent = (
    Transaction
    | Click
    | OrderStep
    | CustomerProfile
    | ChannelContact
    | OpportunityResponse
    | EmployerCluster
)


# --- output topics -----------------------------------------------------------


class Evidence(Record, frozen=True):
    """One fact that made a detector fire, e.g. ``("step", "2")``."""

    name: ShortText
    value: Text


class Impulse(Record, frozen=True):
    """A detected sales or service moment (topic ``impulses``)."""

    impulse_id: Id
    customer_id: CustomerId
    kind: Code
    category: ActionKind
    occurred_at: Timestamp
    detected_at: Timestamp
    source_event_id: Id | None = None
    evidence: tuple[Evidence, ...] = ()
    rules_version: ShortText = ""


class Reason(Record, frozen=True):
    """An impulse as it is shown with an opportunity."""

    impulse_id: Id
    kind: Code
    occurred_at: Timestamp
    evidence: tuple[Evidence, ...] = ()


class Texts(Record, frozen=True):
    instruction: Text
    argument: Text
    objections: Text
    info_url: Text


class Opportunity(Record, frozen=True):
    """A next best action for one customer (topic ``opportunities``).

    The same opportunity is published again with a higher ``revision`` when its
    status changes (withdrawn, expired); ``(opportunity_id, revision)`` names
    one message, and a repeated delivery of it is byte-identical.
    """

    opportunity_id: Id
    revision: Annotated[int, Meta(ge=0)]
    customer_id: CustomerId
    action_id: Code
    product: Code
    kind: ActionKind
    priority: float
    rank: int
    status: OpportunityStatus
    reasons: tuple[Reason, ...]
    channels: tuple[Channel, ...]
    texts: Texts
    valid_until: Timestamp
    created_at: Timestamp
    rules_version: ShortText
    explanation: Text = ""
    handling_minutes: float = 0.0
    advisor_id: Id | None = None
    snoozed_until: Timestamp | None = None
    closed_reason: Code | None = None
    preferred_channel: Channel | None = None


class Attribution(Record, frozen=True):
    """A sale credited to the closing channel and the advisor (topic ``attributions``)."""

    attribution_id: Id
    order_id: Id
    customer_id: CustomerId
    product: Code
    closing_channel: Channel
    advisor_id: Id | None
    branch_id: Id | None
    opportunity_id: Id | None
    credited_at: Timestamp
    agent_id: Id | None = None


OutputRecord = Impulse | Opportunity | Attribution


class OutboundContact(Record, frozen=True):
    """An opportunity admitted to an outbound channel for one day (topic
    ``opportunities.outbound``): a row of the call list, a letter, an e-mail or an SMS.

    ``contact_id`` is derived from the opportunity and the day, so a replay of the
    same day yields the same message.
    """

    contact_id: Id
    opportunity_id: Id
    customer_id: CustomerId
    action_id: Code
    product: Code
    kind: ActionKind
    channel: Channel
    day: date
    priority: float
    texts: Texts
    advisor_id: Id | None = None
    fallback: bool = False  # a channel after the first choice (capacity was used up)
    carried_over: Annotated[int, Meta(ge=0)] = 0  # days it waited for capacity
    rules_version: ShortText = ""
