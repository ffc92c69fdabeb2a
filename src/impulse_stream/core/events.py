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


class Record(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=False, gc=False):
    """Base of every contract record.

    ``gc=False`` (inherited): the garbage collector neither tracks nor counts these
    records, a few per event. None can be part of a reference cycle: every record
    is frozen (its fields are set once, to objects that existed before it) and
    holds only scalars (str, int, float, bool, Decimal, date, datetime, None),
    other records and tuples of those; a cycle needs an object changed after it
    was made to point back.
    """


# --- input topics ------------------------------------------------------------


class Counterparty(Record, frozen=True):
    """The other party of a booking."""

    name: Annotated[ShortText, Meta(description="Name of the other party.")] = ""
    iban: Annotated[Iban | None, Meta(description="IBAN of the other party, without spaces.")] = (
        None
    )


class Transaction(Record, frozen=True):
    """A booking on an account (topic ``bank.transactions``)."""

    event_id: Annotated[
        Id, Meta(description="Unique id of the booking event; a redelivery carries the same id.")
    ]
    customer_id: Annotated[
        CustomerId, Meta(description="The account holder; equals the message key.")
    ]
    account_id: Annotated[Id, Meta(description="The booked account.")]
    booked_at: Annotated[Timestamp, Meta(description="Booking time.")]
    amount: Annotated[
        Decimal,
        Meta(description="Booked amount, unsigned: `direction` says which way the money went."),
    ]
    currency: Annotated[Currency, Meta(description="ISO 4217 currency code.")]
    direction: Annotated[Direction, Meta(description="`credit` (money in) or `debit` (money out).")]
    counterparty: Annotated[Counterparty, Meta(description="Payer or payee.")] = Counterparty()
    purpose: Annotated[Text, Meta(description="Remittance information as booked.")] = ""
    category: Annotated[
        Code,
        Meta(
            description=(
                "Booking category of core banking, e.g. `salary`, `pension`, "
                "`insurance_premium`, `loan_instalment`, `card_payment`, "
                "`returned_debit`."
            )
        ),
    ] = "transfer"
    balance_after: Annotated[
        Decimal | None, Meta(description="Account balance after this booking.")
    ] = None
    country: Annotated[
        CountryCode | None, Meta(description="ISO 3166 country of a card payment.")
    ] = None
    card_id: Annotated[Id | None, Meta(description="The card used, for card payments.")] = None
    overdraft_limit: Annotated[
        Decimal | None, Meta(description="The account's arranged overdraft (a positive amount).")
    ] = None

    @property
    def occurred_at(self) -> datetime:
        return self.booked_at


class Click(Record, frozen=True):
    """A click in online banking or the app (topic ``ebanking.clicks``)."""

    event_id: Annotated[Id, Meta(description="Unique id of the click event.")]
    customer_id: Annotated[
        CustomerId, Meta(description="The logged-in customer; equals the message key.")
    ]
    session_id: Annotated[Id, Meta(description="The online-banking or app session.")]
    occurred_at: Annotated[Timestamp, Meta(description="When the click happened.")]
    kind: Annotated[ClickKind, Meta(description="What happened.")]
    page: Annotated[ShortText, Meta(description="Page or screen, without query parameters.")] = ""
    product: Annotated[
        Code | None, Meta(description="The product of the banner or page, if any.")
    ] = None
    channel: Annotated[
        Literal["online_banking", "app", "atm", "kiosk", "social"],
        Meta(description="Where it happened."),
    ] = "online_banking"


class OrderStep(Record, frozen=True):
    """A step in an online order or application (topic ``orders.flow``)."""

    event_id: Annotated[Id, Meta(description="Unique id of the step event.")]
    customer_id: Annotated[
        CustomerId, Meta(description="The ordering customer; equals the message key.")
    ]
    order_id: Annotated[
        Id, Meta(description="The order or application; all its steps carry the same id.")
    ]
    product: Annotated[Code, Meta(description="The ordered product, e.g. `credit_card`.")]
    channel: Annotated[Channel, Meta(description="Channel the step was taken in.")]
    occurred_at: Annotated[Timestamp, Meta(description="When the step happened.")]
    status: Annotated[
        OrderStatus, Meta(description="`started`, `step_completed`, `completed` or `cancelled`.")
    ]
    step: Annotated[
        int, Meta(ge=0, le=1000, description="Number of the step reached (0 = none).")
    ] = 0
    total_steps: Annotated[
        int, Meta(ge=1, le=1000, description="Number of steps of the process.")
    ] = 1
    agent_id: Annotated[
        Id | None, Meta(description="The agent or advisor who took the step, if any.")
    ] = None


class Consents(Record, frozen=True):
    """Advertising permission per channel."""

    phone: Annotated[bool, Meta(description="Advertising by phone allowed.")] = False
    email: Annotated[bool, Meta(description="Advertising by e-mail allowed.")] = False
    letter: Annotated[bool, Meta(description="Advertising by letter allowed.")] = False
    online_banking: Annotated[
        bool, Meta(description="Advertising in online banking and the app allowed.")
    ] = False


class Contract(Record, frozen=True):
    """A held product with dates (life insurance, fixed deposit, loan)."""

    contract_id: Annotated[Id, Meta(description="The contract.")]
    product: Annotated[Code, Meta(description="Product code of the contract.")]
    matures_on: Annotated[date | None, Meta(description="Maturity date, if any.")] = None


class Card(Record, frozen=True):
    """A payment card of the customer."""

    card_id: Annotated[Id, Meta(description="The card.")]
    status: Annotated[Literal["active", "blocked"], Meta(description="`active` or `blocked`.")] = (
        "active"
    )
    expires_on: Annotated[date | None, Meta(description="Last day of validity.")] = None


class CustomerProfile(Record, frozen=True):
    """The customer master record (compacted topic ``customers.profile``)."""

    customer_id: Annotated[CustomerId, Meta(description="The customer; equals the message key.")]
    updated_at: Annotated[Timestamp, Meta(description="When the master record changed.")]
    birth_date: Annotated[date | None, Meta(description="Date of birth.")] = None
    advisor_id: Annotated[Id | None, Meta(description="The assigned personal advisor, if any.")] = (
        None
    )
    branch_id: Annotated[Id | None, Meta(description="The customer's branch or unit.")] = None
    segment: Annotated[
        Code,
        Meta(
            description=(
                "Customer segment, e.g. `retail`, `young`, `private`, `premium`, `business`."
            )
        ),
    ] = "retail"
    consents: Annotated[Consents, Meta(description="Advertising permission per channel.")] = (
        Consents()
    )
    products: Annotated[tuple[Code, ...], Meta(description="Products held, as product codes.")] = ()
    household_id: Annotated[
        Id | None, Meta(description="The household the customer belongs to.")
    ] = None
    occupation: Annotated[
        Code | None, Meta(description="Occupation code, e.g. `employee`, `student`, `retired`.")
    ] = None
    home_country: Annotated[CountryCode, Meta(description="ISO 3166 country of residence.")] = "DE"
    contracts: Annotated[
        tuple[Contract, ...],
        Meta(description="Held contracts with dates (life insurance, fixed deposit, loan)."),
    ] = ()
    cards: Annotated[tuple[Card, ...], Meta(description="The customer's payment cards.")] = ()
    standing_orders: Annotated[
        Annotated[int, Meta(ge=0, le=10_000)] | None,
        Meta(
            description=(
                "Number of active standing orders on the customer's accounts, if core banking "
                "reports it; a drop by `min_cancelled` is a retention sign."
            ),
        ),
    ] = None

    @property
    def occurred_at(self) -> datetime:
        return self.updated_at


class ChannelContact(Record, frozen=True):
    """A contact with the customer on any channel (topic ``channel.contacts``)."""

    event_id: Annotated[Id, Meta(description="Unique id of the contact event.")]
    customer_id: Annotated[
        CustomerId, Meta(description="The contacted customer; equals the message key.")
    ]
    channel: Annotated[Channel, Meta(description="Channel of the contact.")]
    kind: Annotated[ContactKind, Meta(description="What kind of contact.")]
    occurred_at: Annotated[Timestamp, Meta(description="When the contact happened (started).")]
    agent_id: Annotated[Id | None, Meta(description="The agent or advisor, if any.")] = None
    subject: Annotated[
        ShortText,
        Meta(
            description=(
                "Short subject, no free-text notes; a bank send may name the action id "
                "here instead of `action_id`."
            )
        ),
    ] = ""
    action_id: Annotated[
        Code | None,
        Meta(
            description=(
                "The catalogue action a bank send (`email_sent`, `letter_sent`, "
                "`sms_sent`, `outbound_call`) was about: it cools off on every channel "
                "and counts for the customer's contact cap."
            )
        ),
    ] = None

    def about_action(self) -> str | None:
        """The action this contact was about: ``action_id``, else a ``subject`` naming one."""
        return self.action_id if self.action_id is not None else (self.subject or None)


class OpportunityResponse(Record, frozen=True):
    """A channel's response to a shown opportunity (topic ``opportunities.responses``)."""

    event_id: Annotated[Id, Meta(description="Unique id of the response event.")]
    opportunity_id: Annotated[Id, Meta(description="The opportunity responded to.")]
    customer_id: Annotated[CustomerId, Meta(description="The customer; equals the message key.")]
    channel: Annotated[Channel, Meta(description="Channel that showed the opportunity.")]
    response: Annotated[
        ResponseKind, Meta(description="`shown`, `accepted`, `declined`, `not_now` or `no_time`.")
    ]
    occurred_at: Annotated[Timestamp, Meta(description="When the customer responded.")]
    agent_id: Annotated[
        Id | None, Meta(description="The agent or advisor who recorded it, if any.")
    ] = None
    appointment_at: Annotated[
        Timestamp | None, Meta(description="A booked appointment, if the response booked one.")
    ] = None


# --- internal topics: employer clusters (``employers.py``, ``streaming/employers.py``) ---

EmployerId = Annotated[str, Meta(min_length=1, max_length=64, pattern=r"^emp-[0-9a-f]{16}$")]
# ``erased``: the customer was erased (a tombstone on ``customers.profile``); the group
# forgets the customer whatever ``since`` says. Older messages carry only the first two.
MembershipStatus = Literal["joined", "left", "erased"]


class EmployerMembership(Record, frozen=True):
    """A customer joined, left or was erased from the cluster of a salary payer (internal
    topic ``employers.members``, keyed by ``employer_id``, so that one worker counts one
    employer).

    ``since`` is the salary booking that decided it; a customer's memberships carry
    rising ``since`` times, so the older of two messages about one customer never wins.
    """

    membership_id: Annotated[
        Id, Meta(description="Stable id from customer, employer, status and the salary booking.")
    ]
    employer_id: Annotated[
        EmployerId,
        Meta(
            description="The salary payer: a digest of its normalised name (else its IBAN); "
            "equals the message key."
        ),
    ]
    customer_id: Annotated[CustomerId, Meta(description="The customer paid by it.")]
    status: Annotated[
        MembershipStatus,
        Meta(
            description="`joined` (the employer of the latest salary), `left` (another "
            "employer pays now) or `erased` (the customer was erased: the cluster forgets "
            "them)."
        ),
    ]
    since: Annotated[
        Timestamp,
        Meta(
            description="The salary booking that decided it (for `erased`, the one that "
            "made the employer); a customer's memberships are counted in this order, an "
            "older one never wins."
        ),
    ]
    employer_name: Annotated[
        ShortText, Meta(description="The payer's name as booked (empty for `left`, `erased`).")
    ] = ""

    @property
    def occurred_at(self) -> datetime:
        return self.since


class EmployerCluster(Record, frozen=True):
    """The customer's employer pays ``members`` customers of the bank: a salary project
    (internal topic ``employers.clusters``, keyed by customer, read by the worker)."""

    event_id: Annotated[
        Id,
        Meta(
            description="Stable id from employer, customer, count and the membership that told it."
        ),
    ]
    customer_id: Annotated[CustomerId, Meta(description="The member; equals the message key.")]
    employer_id: Annotated[EmployerId, Meta(description="The salary payer of the cluster.")]
    members: Annotated[
        int, Meta(ge=1, description="Customers of the bank the employer pays (distinct, current).")
    ]
    occurred_at: Annotated[
        Timestamp,
        Meta(
            description="The salary booking that brought the cluster to its size, or the member in."
        ),
    ]
    employer_name: Annotated[ShortText, Meta(description="The payer's name as booked.")] = ""


# --- internal topic: households (``households.py``, ``streaming/households.py``) ---


class HouseholdMembership(Record, frozen=True):
    """A customer joined, left or was erased from a household (internal topic
    ``households.members``, keyed by ``household_id``, so that one worker keeps one
    household's members).

    ``since`` is the profile update that decided it; a customer's memberships carry
    rising ``since`` times, so the older of two messages about one customer never wins.
    """

    membership_id: Annotated[
        Id, Meta(description="Stable id from customer, household, status and the profile update.")
    ]
    household_id: Annotated[
        Id, Meta(description="The household of the customer's profile; equals the message key.")
    ]
    customer_id: Annotated[CustomerId, Meta(description="The member.")]
    status: Annotated[
        MembershipStatus,
        Meta(
            description="`joined` (the household of the latest profile), `left` (the "
            "profile names another household, or none) or `erased` (the customer was "
            "erased: the household forgets them)."
        ),
    ]
    since: Annotated[
        Timestamp,
        Meta(
            description="The profile update that decided it (for `erased`, the one that "
            "set the household); a customer's memberships are applied in this order, an "
            "older one never wins."
        ),
    ]

    @property
    def occurred_at(self) -> datetime:
        return self.since


# What the core re-keys by group: employer clusters and households.
Membership = EmployerMembership | HouseholdMembership


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

    name: Annotated[ShortText, Meta(description="Name of the fact, e.g. `step`.")]
    value: Annotated[Text, Meta(description="Its value as text, e.g. `2`.")]


class Impulse(Record, frozen=True):
    """A detected sales or service moment (topic ``impulses``)."""

    impulse_id: Annotated[
        Id, Meta(description="Stable id: the same trigger always gives the same id.")
    ]
    customer_id: Annotated[CustomerId, Meta(description="The customer; equals the message key.")]
    kind: Annotated[
        Code,
        Meta(description="The detector that fired, e.g. `order_abandoned`, `salary_increase`."),
    ]
    category: Annotated[ActionKind, Meta(description="`sales` or `service`.")]
    occurred_at: Annotated[Timestamp, Meta(description="When the moment happened (event time).")]
    detected_at: Annotated[
        Timestamp, Meta(description="Event-time clock of the worker when detected.")
    ]
    source_event_id: Annotated[
        Id | None,
        Meta(description="The input event that triggered it; null for deadlines and dates."),
    ] = None
    evidence: Annotated[
        tuple[Evidence, ...], Meta(description="The facts that made the detector fire.")
    ] = ()
    rules_version: Annotated[ShortText, Meta(description="Version of the rule catalogue.")] = ""


class Reason(Record, frozen=True):
    """An impulse as it is shown with an opportunity."""

    impulse_id: Annotated[Id, Meta(description="The impulse.")]
    kind: Annotated[Code, Meta(description="Its kind.")]
    occurred_at: Annotated[Timestamp, Meta(description="When it happened.")]
    evidence: Annotated[tuple[Evidence, ...], Meta(description="Its facts.")] = ()


class Texts(Record, frozen=True):
    """What the agent or channel shows for the action (from the action catalogue)."""

    instruction: Annotated[Text, Meta(description="What the agent should do.")]
    argument: Annotated[Text, Meta(description="The benefit argument.")]
    objections: Annotated[Text, Meta(description="Objection handling.")]
    info_url: Annotated[Text, Meta(description="Link to further information.")]


class Opportunity(Record, frozen=True):
    """A next best action for one customer (topic ``opportunities``).

    The same opportunity is published again with a higher ``revision`` when its
    status changes (withdrawn, expired); ``(opportunity_id, revision)`` names
    one message, and a repeated delivery of it is byte-identical.
    """

    opportunity_id: Annotated[
        Id, Meta(description="Stable id from customer, action and the opening impulse.")
    ]
    revision: Annotated[
        int,
        Meta(
            ge=0,
            description=(
                "Starts at 0, +1 on every status change; (`opportunity_id`, `revision`)"
                " names one message."
            ),
        ),
    ]
    customer_id: Annotated[CustomerId, Meta(description="The customer; equals the message key.")]
    action_id: Annotated[Code, Meta(description="The action of the catalogue.")]
    product: Annotated[Code, Meta(description="Product of the action.")]
    kind: Annotated[ActionKind, Meta(description="`sales` or `service`; service comes first.")]
    priority: Annotated[
        float,
        Meta(
            description="Priority score (higher first); the explanation shows how it was computed."
        ),
    ]
    rank: Annotated[
        int, Meta(description="Rank among the customer's open opportunities (1 = top).")
    ]
    status: Annotated[
        OpportunityStatus,
        Meta(description="`open`, `withdrawn` (closed by a response or an event) or `expired`."),
    ]
    reasons: Annotated[
        tuple[Reason, ...], Meta(description="The impulses behind it, with their evidence.")
    ]
    channels: Annotated[
        tuple[Channel, ...],
        Meta(
            description=(
                "Channels it may be shown in, best first: the ones the customer uses "
                "most, then most recently, then the action's order in the catalogue."
            )
        ),
    ]
    texts: Annotated[Texts, Meta(description="Texts for the agent or channel.")]
    valid_until: Annotated[Timestamp, Meta(description="End of validity.")]
    created_at: Annotated[
        Timestamp, Meta(description="When it was first opened (the same for every revision).")
    ]
    rules_version: Annotated[ShortText, Meta(description="Version of the rule catalogue.")]
    explanation: Annotated[
        Text, Meta(description="Why, in words: impulses, score, routing, or why it was closed.")
    ] = ""
    handling_minutes: Annotated[float, Meta(description="Expected handling time on a call.")] = 0.0
    advisor_id: Annotated[Id | None, Meta(description="The customer's advisor, if any.")] = None
    snoozed_until: Annotated[
        Timestamp | None,
        Meta(description="Not shown again before this time (response `not_now`, `no_time`)."),
    ] = None
    closed_reason: Annotated[
        Code | None,
        Meta(
            description=(
                "Why it was closed, e.g. `accepted`, `declined`, `order_completed`, "
                "`validity_ended`."
            )
        ),
    ] = None
    preferred_channel: Annotated[
        Channel | None,
        Meta(
            description=(
                "Service opportunities: the routed channel the customer uses most "
                "(`channels` are ordered so, too); tell it there proactively. Absent "
                "for sales."
            )
        ),
    ] = None
    branch_id: Annotated[
        Id | None,
        Meta(description="The customer's branch or unit (outbound capacity per branch)."),
    ] = None
    household_id: Annotated[
        Id | None,
        Meta(description="The customer's household, if any (the household's contact cap)."),
    ] = None


class Attribution(Record, frozen=True):
    """A sale credited to the closing channel and the advisor (topic ``attributions``)."""

    attribution_id: Annotated[Id, Meta(description="Stable id of the credit.")]
    order_id: Annotated[Id, Meta(description="The completed order.")]
    customer_id: Annotated[CustomerId, Meta(description="The customer; equals the message key.")]
    product: Annotated[Code, Meta(description="The sold product.")]
    closing_channel: Annotated[Channel, Meta(description="The channel that closed the sale.")]
    advisor_id: Annotated[Id | None, Meta(description="The customer's advisor, credited too.")]
    branch_id: Annotated[Id | None, Meta(description="The customer's branch or unit.")]
    opportunity_id: Annotated[
        Id | None, Meta(description="The accepted opportunity that led to the sale, if any.")
    ]
    credited_at: Annotated[Timestamp, Meta(description="When the sale completed.")]
    agent_id: Annotated[Id | None, Meta(description="The agent who closed it, if any.")] = None


OutputRecord = Impulse | Opportunity | Attribution


class OutboundContact(Record, frozen=True):
    """An opportunity admitted to an outbound channel for one day (topic
    ``opportunities.outbound``): a row of the call list, a letter, an e-mail or an SMS.

    ``contact_id`` is derived from the opportunity and the day, so a replay of the
    same day yields the same message.
    """

    contact_id: Annotated[
        Id,
        Meta(
            description=(
                "Stable id from the opportunity and the day: a replay of the day repeats it."
            )
        ),
    ]
    opportunity_id: Annotated[Id, Meta(description="The admitted opportunity.")]
    customer_id: Annotated[CustomerId, Meta(description="The customer; equals the message key.")]
    action_id: Annotated[Code, Meta(description="The catalogue action to carry out.")]
    product: Annotated[Code, Meta(description="Product of the action.")]
    kind: Annotated[ActionKind, Meta(description="`sales` or `service`.")]
    channel: Annotated[
        Channel,
        Meta(
            description=(
                "The outbound channel that admitted it: `call_centre`, `letter`, `email`, `sms`."
            )
        ),
    ]
    day: Annotated[date, Meta(description="The day (UTC) whose capacity it uses.")]
    priority: Annotated[
        float,
        Meta(
            description=(
                "The opportunity's priority; the day's contacts are admitted by "
                "priority, then opportunity id."
            )
        ),
    ]
    texts: Annotated[
        Texts,
        Meta(description="Instruction, argument, objection handling and link for the channel."),
    ]
    advisor_id: Annotated[Id | None, Meta(description="The customer's advisor, if any.")] = None
    fallback: Annotated[
        bool,
        Meta(description="True when an earlier channel of the opportunity had no capacity left."),
    ] = False  # a channel after the first choice (capacity was used up)
    carried_over: Annotated[
        int, Meta(ge=0, description="Days it waited for capacity before this one.")
    ] = 0  # days it waited for capacity
    rules_version: Annotated[
        ShortText, Meta(description="The catalogue version that opened the opportunity.")
    ] = ""
    branch_id: Annotated[
        Id | None, Meta(description="The customer's branch, whose capacity it may use.")
    ] = None
    household_id: Annotated[
        Id | None, Meta(description="The customer's household, whose contact cap it uses.")
    ] = None
