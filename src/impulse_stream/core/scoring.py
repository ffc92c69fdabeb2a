"""Bundle scoring: a customer's impulses, evaluated together, predict a
purchase propensity per product.

    propensity(product) = 1 - (1 - base) * prod_k (1 - weight_k)

over the bundle's weight keys ``k`` (``kind`` or ``kind:product``) that match at
least one active impulse of the customer (each key counts once). This
"noisy-or" stays within [0, 1], grows with every additional impulse and needs
no training data; the learned acceptance lift (``learning.py``) corrects it.
An action whose product has no bundle uses the action's fixed ``propensity``.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Final

from impulse_stream.core.catalogue import Action, Catalogue
from impulse_stream.core.state import ActiveImpulse


class Propensity:
    """The purchase propensity of an action's bundle (or the action's fixed one)."""

    def __init__(
        self,
        value: float,
        base: float,
        contributions: tuple[tuple[str, float], ...],
        bundle: str | None,
    ) -> None:
        self.value: Final = value
        self.base: Final = base
        self.contributions: Final = contributions
        self.bundle: Final = bundle

    def describe(self) -> str:
        if self.bundle is None:
            return f"{self.value:.2f} (fixed for the action)"
        parts = ", ".join(f"{k} {w:.2f}" for k, w in self.contributions) or "no impulse"
        return f"{self.value:.2f} (bundle {self.bundle}: base {self.base:.2f}; {parts})"


class BundleScoring:
    def __init__(self, catalogue: Catalogue) -> None:
        self.catalogue = catalogue

    def for_product(
        self, product: str, impulses: Sequence[ActiveImpulse], now: datetime
    ) -> Propensity | None:
        bundle = self.catalogue.bundle(product)
        if bundle is None:
            return None
        active = [i for i in impulses if i.expires_at > now]
        remaining = 1.0 - bundle.base
        used: list[tuple[str, float]] = []
        for match, weight in bundle.weights:
            if any(match.matches(i.kind, i.product) for i in active):
                remaining *= 1.0 - weight
                used.append((str(match), weight))
        return Propensity(1.0 - remaining, bundle.base, tuple(used), bundle.product)

    def for_action(
        self, action: Action, impulses: Sequence[ActiveImpulse], now: datetime
    ) -> Propensity:
        found = self.for_product(action.product, impulses, now)
        if found is None:
            return Propensity(action.propensity, action.propensity, (), None)
        return found

    def predictions(
        self, impulses: Sequence[ActiveImpulse], now: datetime
    ) -> tuple[tuple[str, float], ...]:
        """Propensity per bundle product, highest first (the cockpit's bundle view)."""
        out = []
        for bundle in self.catalogue.bundles:
            p = self.for_product(bundle.product, impulses, now)
            if p is not None and p.contributions:
                out.append((bundle.product, round(p.value, 4)))
        return tuple(sorted(out, key=lambda kv: (-kv[1], kv[0])))
