"""The rules a decision applies, built once per catalogue and statistics snapshot.

``Rules`` bundles the narrow collaborators that opening, scoring and routing an
opportunity need: the catalogue, the contact policy, bundle scoring,
arbitration and channel routing. Handlers and the ``DecisionRun`` receive it
(or the one part they use) instead of the engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from impulse_stream.core.arbitration import Arbitration
from impulse_stream.core.catalogue import Catalogue
from impulse_stream.core.contact_policy import ContactPolicy
from impulse_stream.core.events import Channel
from impulse_stream.core.learning import AcceptanceStatistics
from impulse_stream.core.routing import ChannelRouting
from impulse_stream.core.scoring import BundleScoring
from impulse_stream.core.state import CustomerState


@dataclass(frozen=True, slots=True)
class Rules:
    catalogue: Catalogue
    policy: ContactPolicy
    scoring: BundleScoring
    arbitration: Arbitration
    routing: ChannelRouting

    @classmethod
    def from_catalogue(cls, catalogue: Catalogue, statistics: AcceptanceStatistics) -> Rules:
        policy = ContactPolicy(catalogue)
        scoring = BundleScoring(catalogue)
        return cls(
            catalogue=catalogue,
            policy=policy,
            scoring=scoring,
            arbitration=Arbitration(catalogue, scoring, statistics),
            routing=ChannelRouting(catalogue, policy),
        )

    @property
    def rules_version(self) -> str:
        return self.catalogue.version

    def can_contact(self, state: CustomerState, channel: Channel, now: datetime) -> bool:
        """The channel reaches the customer and has the advertising consent it needs."""
        return self.routing.reachable(state, channel, now) and self.policy.has_consent(
            state, channel
        )
