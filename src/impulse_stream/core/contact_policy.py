"""The contact policy: one set of rules for inbound and outbound contacts alike.

Rules, in the order they are checked (the first failing rule blocks):

1. channel: the action may run on the channel at all (catalogue ``channels``);
2. consent: a *sales* action needs the advertising consent the channel requires
   (``contact_policy.consent_for_channel``; service needs none);
3. held product: no sales offer for a product the customer already holds;
4. declined product: no sales offer for a product declined within
   ``declined_product_days``;
5. cooling-off: the same action is not repeated on *any* channel within
   ``cooling_off_days`` (or the action's own ``cooling_off_days``) after it was
   shown or declined;
6. snooze: an opportunity answered "not now" / "no time" rests for
   ``snooze_days``;
7. frequency cap: at most ``max_offers`` different sales actions shown per
   customer, channel and ``period_days``;
8. customer cap: at most ``customer_cap.max_contacts`` sales contacts per
   customer across *all* channels and ``customer_cap.period_days``. A contact
   is a day on which one action was shown, answered or sent (``email_sent``,
   ``letter_sent``, ``sms_sent``, ``outbound_call`` naming the action); the
   state keeps them in ``CustomerState.outreach``.

The bank's own sends about an action cool that action off on every channel,
just like a shown offer (``outbound_contacts.py``).

Service before sales on an inbound call is an ordering rule, applied by the
arbitration. Global daily volumes per channel are cross-customer and live in
``channel_capacity.py``.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Final

from impulse_stream.core.catalogue import Action, Catalogue, FrequencyCap
from impulse_stream.core.dates import utc_day
from impulse_stream.core.events import Channel
from impulse_stream.core.state import CustomerState, OpportunityState

RESPONSE_KINDS = frozenset({"shown", "accepted", "declined", "not_now", "no_time"})


class PolicyVerdict:
    """The outcome of the contact policy's checks: the rules passed, the one that blocked.

    A plain class, not a dataclass: the compiled core builds it natively (a
    dataclass's generated ``__init__`` runs interpreted), several times per event.
    """

    def __init__(
        self,
        allowed: bool,
        passed: tuple[str, ...],
        blocked_by: str | None = None,
        rule: str = "",  # the blocking rule's code (a bounded set: a metric label)
    ) -> None:
        self.allowed: Final = allowed
        self.passed: Final = passed
        self.blocked_by: Final = blocked_by
        self.rule: Final = rule

    def describe(self) -> str:
        if self.blocked_by is not None:
            return f"blocked: {self.blocked_by}"
        return "; ".join(self.passed)


class ContactPolicy:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue
        self.rules = catalogue.policy

    def cooling_off(self, action: Action) -> timedelta:
        days = action.cooling_off_days
        return timedelta(days=self.rules.cooling_off_days if days is None else days)

    def cap(self, channel: str) -> FrequencyCap | None:
        for cap in self.rules.frequency_caps:
            if cap.channel == channel:
                return cap
        return None

    def sales_offers_shown(self, state: CustomerState, channel: str, now: datetime) -> int:
        cap = self.cap(channel)
        period = timedelta(days=cap.period_days if cap is not None else 30)
        shown: set[str] = set()
        for c in state.contacts:
            if (
                c.channel == channel
                and c.kind in RESPONSE_KINDS
                and c.action_id is not None
                and now - period < c.at <= now
            ):
                action = self.catalogue.action(c.action_id)
                if action is not None and action.kind == "sales":
                    shown.add(c.action_id)
        return len(shown)

    def remaining_sales_offers(
        self, state: CustomerState, channel: Channel, now: datetime
    ) -> int | None:
        cap = self.cap(channel)
        if cap is None:
            return None
        return max(0, cap.max_offers - self.sales_offers_shown(state, channel, now))

    def customer_contacts(self, state: CustomerState, now: datetime) -> int:
        """Sales contacts (days x actions) on any channel within the customer cap's period."""
        cap = self.rules.customer_cap
        if cap is None:
            return 0
        today = utc_day(now).toordinal()
        return sum(1 for o in state.outreach if today - cap.period_days < o.day <= today)

    def remaining_customer_contacts(self, state: CustomerState, now: datetime) -> int | None:
        cap = self.rules.customer_cap
        if cap is None:
            return None
        return max(0, cap.max_contacts - self.customer_contacts(state, now))

    def remaining_sales(self, state: CustomerState, channel: Channel, now: datetime) -> int | None:
        """How many more sales actions may be shown now: channel cap and customer cap."""
        left = [
            n
            for n in (
                self.remaining_sales_offers(state, channel, now),
                self.remaining_customer_contacts(state, now),
            )
            if n is not None
        ]
        return min(left) if left else None

    def suppressed_until(
        self, state: CustomerState, subject: str, now: datetime
    ) -> datetime | None:
        until = [s.until for s in state.suppressions if s.subject == subject and s.until > now]
        return max(until) if until else None

    def has_consent(self, state: CustomerState, channel: Channel) -> bool:
        consent = self.rules.consent_for_channel.get(channel)
        return consent is None or state.profile.has_consent(consent)

    def may_open(self, state: CustomerState, action: Action, now: datetime) -> PolicyVerdict:
        """Checks that do not depend on a channel: held, declined, cooling-off."""
        passed: list[str] = []
        if action.kind == "sales":
            if state.profile.holds(action.product):
                return PolicyVerdict(False, (), f"already holds {action.product}", "product_held")
            passed.append("product not held")
            until = self.suppressed_until(state, f"product:{action.product}", now)
            if until is not None:
                return PolicyVerdict(
                    False,
                    (),
                    f"{action.product} declined, resting until {until.date()}",
                    "product_declined",
                )
            passed.append("product not declined")
        until = self.suppressed_until(state, f"action:{action.id}", now)
        if until is not None:
            return PolicyVerdict(False, (), f"cooling-off until {until.date()}", "cooling_off")
        passed.append("no cooling-off")
        return PolicyVerdict(True, tuple(passed))

    def check(
        self,
        state: CustomerState,
        action: Action,
        channel: Channel,
        now: datetime,
        opportunity: OpportunityState | None = None,
    ) -> PolicyVerdict:
        """All rules for showing ``action`` to this customer on ``channel`` at ``now``."""
        if channel not in action.channels:
            return PolicyVerdict(
                False, (), f"action not offered on {channel}", "channel_not_eligible"
            )
        passed: list[str] = [f"channel {channel} eligible"]
        if action.kind == "sales":
            consent = self.rules.consent_for_channel.get(channel)
            if consent is not None and not state.profile.has_consent(consent):
                return PolicyVerdict(False, tuple(passed), f"no {consent} consent", "no_consent")
            passed.append("no consent needed" if consent is None else f"{consent} consent given")
        opening = self.may_open(state, action, now)
        if not opening.allowed:
            return PolicyVerdict(False, tuple(passed), opening.blocked_by, opening.rule)
        passed.extend(opening.passed)
        if opportunity is not None:
            if opportunity.status != "open" or opportunity.valid_until <= now:
                return PolicyVerdict(
                    False, tuple(passed), f"opportunity {opportunity.status}", "not_open"
                )
            if opportunity.snoozed_until is not None and opportunity.snoozed_until > now:
                return PolicyVerdict(
                    False,
                    tuple(passed),
                    f"snoozed until {opportunity.snoozed_until.isoformat()}",
                    "snoozed",
                )
        if action.kind == "sales":
            cap = self.cap(channel)
            if cap is not None:
                shown = self.sales_offers_shown(state, channel, now)
                if shown >= cap.max_offers:
                    return PolicyVerdict(
                        False,
                        tuple(passed),
                        f"frequency cap {shown}/{cap.max_offers} per {cap.period_days} days",
                        "frequency_cap",
                    )
                passed.append(f"cap {shown}/{cap.max_offers}")
            customer_cap = self.rules.customer_cap
            if customer_cap is not None:
                contacts = self.customer_contacts(state, now)
                if contacts >= customer_cap.max_contacts:
                    return PolicyVerdict(
                        False,
                        tuple(passed),
                        f"customer cap {contacts}/{customer_cap.max_contacts} contacts per "
                        f"{customer_cap.period_days} days on all channels",
                        "customer_cap",
                    )
                passed.append(f"customer cap {contacts}/{customer_cap.max_contacts}")
        return PolicyVerdict(True, tuple(passed))
