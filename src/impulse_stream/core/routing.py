"""Channel routing: where an opportunity may be played for this customer.

- call centre and branch: always reachable (the customer calls or comes in); the
  call-centre desktop shows the top 3 with instruction texts;
- online banking and the app (teaser slots): only for digital-affine customers,
  i.e. who used a digital channel within ``routing.digital_affinity_days``;
- advisor: an advisor task, for customers with an assigned advisor who are
  *not* digital-affine;
- e-mail and letter: only with the matching consent, for service too;
- SMS: only with the phone consent, for service too;
- ATM and kiosk: always reachable (the customer stands at the bank's machine);
- social (the bank's messenger inbox): only for customers who used it within
  ``routing.digital_affinity_days``;
- the C-customer pool journey names its channel in the impulse (rotation), and
  its opportunity goes to that channel only.

On top, every channel must pass the ``ContactPolicy``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from impulse_stream.core.catalogue import Action, Catalogue
from impulse_stream.core.contact_policy import ContactPolicy
from impulse_stream.core.events import Channel
from impulse_stream.core.impulses.c_customer_pool import KIND as POOL_KIND
from impulse_stream.core.state import ActiveImpulse, CustomerState, OpportunityState
from impulse_stream.core.timeline import used_within


class ChannelRouting:
    def __init__(self, catalogue: Catalogue, policy: ContactPolicy) -> None:
        self.rules = catalogue.routing
        self.policy = policy

    def top_n(self, channel: Channel) -> int:
        return self.rules.top_n.get(channel, 3)

    def is_digital_affine(self, state: CustomerState, now: datetime) -> bool:
        return used_within(
            state.affinity, self.rules.digital_channels, now, self.rules.digital_affinity_days
        )

    def reachable(self, state: CustomerState, channel: Channel, now: datetime) -> bool:
        if channel in self.rules.digital_channels:
            return self.is_digital_affine(state, now)
        if channel == "advisor":
            return state.profile.advisor_id is not None and not self.is_digital_affine(state, now)
        if channel == "email":
            return state.profile.has_consent("email")
        if channel == "letter":
            return state.profile.has_consent("letter")
        if channel == "sms":
            return state.profile.has_consent("phone")
        if channel == "social":
            return used_within(state.affinity, ("social",), now, self.rules.digital_affinity_days)
        return True

    def routes(
        self,
        state: CustomerState,
        action: Action,
        now: datetime,
        reasons: Sequence[ActiveImpulse],
        opportunity: OpportunityState | None = None,
    ) -> tuple[Channel, ...]:
        pinned = {
            v for i in reasons if i.kind == POOL_KIND for k, v in i.evidence if k == "channel"
        }
        return tuple(
            c
            for c in action.channels
            if (not pinned or c in pinned)
            and self.reachable(state, c, now)
            and self.policy.check(state, action, c, now, opportunity).allowed
        )
