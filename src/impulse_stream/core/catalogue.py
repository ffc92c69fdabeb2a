"""The rule and action catalogue as an immutable, validated model.

The catalogue is data the bank edits (``catalogue/default.yaml``): detector
parameters, actions with their texts, bundle weights, context weights, contact
policy and routing. ``parse_catalogue`` validates a decoded document against the
JSON Schema (``src/impulse_stream/schemas/catalogue.schema.json``) and then checks what a schema
cannot express (references between sections). Every problem is a
``CatalogueError`` naming the file, the line when the loader knows it, and the
JSON path of the field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar, cast

import jsonschema  # type: ignore[import-untyped]

from impulse_stream.core.events import CHANNELS, ActionKind, Channel, Texts
from impulse_stream.errors import CatalogueError, JsonPath

K = TypeVar("K")
V = TypeVar("V")


@dataclass(frozen=True, slots=True)
class ImpulseMatch:
    """``kind`` or ``kind:product``: an impulse of that kind (naming that product)."""

    kind: str
    product: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImpulseMatch:
        kind, _, product = text.partition(":")
        return cls(kind, product or None)

    def matches(self, kind: str, product: str | None) -> bool:
        return kind == self.kind and (self.product is None or self.product == product)

    def __str__(self) -> str:
        return self.kind if self.product is None else f"{self.kind}:{self.product}"


@dataclass(frozen=True, slots=True)
class Action:
    """One thing the bank can do with a customer, with everything a channel needs."""

    id: str
    product: str
    kind: ActionKind
    channels: tuple[Channel, ...]
    texts: Texts
    value: float
    validity_days: int
    handling_minutes: float
    triggers: tuple[ImpulseMatch, ...]
    min_propensity: float
    propensity: float
    prior_accepted: float
    prior_declined: float
    cooling_off_days: int | None

    @property
    def prior_mean(self) -> float:
        return self.prior_accepted / (self.prior_accepted + self.prior_declined)


@dataclass(frozen=True, slots=True)
class Bundle:
    """Scoring rule: impulses of a customer -> purchase propensity for one product."""

    product: str
    base: float
    weights: tuple[tuple[ImpulseMatch, float], ...]


@dataclass(frozen=True, slots=True)
class DetectorRule:
    """A detector's switch, impulse category, lifetimes and parameters."""

    kind: str
    category: ActionKind
    enabled: bool
    ttl_days: float
    repeat_after_days: float
    params: Mapping[str, Any]

    def number(self, name: str) -> float:
        return float(self.params[name])

    def integer(self, name: str) -> int:
        return int(self.params[name])

    def strings(self, name: str) -> tuple[str, ...]:
        return tuple(str(v) for v in self.params.get(name, ()))

    def mapping(self, name: str) -> Mapping[str, str]:
        raw = cast(Mapping[str, Any], self.params.get(name, {}))
        return MappingProxyType({str(k): str(v) for k, v in raw.items()})


@dataclass(frozen=True, slots=True)
class FrequencyCap:
    channel: Channel
    max_offers: int
    period_days: int


@dataclass(frozen=True, slots=True)
class CustomerCap:
    """At most ``max_contacts`` sales contacts per customer across all channels and period."""

    max_contacts: int
    period_days: int


@dataclass(frozen=True, slots=True)
class HouseholdCap:
    """At most ``max_contacts`` outbound contacts per household and period of ``period_days``
    (``core/outbound.py`` names the periods)."""

    max_contacts: int
    period_days: int


# The key of ``branch_capacity`` that gives every branch not listed its limits.
ANY_BRANCH = "*"


@dataclass(frozen=True, slots=True)
class ContactPolicyRules:
    cooling_off_days: int
    declined_product_days: int
    frequency_caps: tuple[FrequencyCap, ...]
    snooze_days: Mapping[str, float]
    consent_for_channel: Mapping[Channel, str | None]
    service_first_channels: tuple[Channel, ...]
    daily_capacity: Mapping[Channel, int]
    customer_cap: CustomerCap | None = None
    household_cap: HouseholdCap | None = None
    # Daily outbound limits per branch and channel; ``"*"``: every branch not listed.
    branch_capacity: Mapping[str, Mapping[Channel, int]] = field(
        default_factory=lambda: MappingProxyType({})
    )


@dataclass(frozen=True, slots=True)
class RoutingRules:
    top_n: Mapping[Channel, int]
    digital_channels: tuple[Channel, ...]
    digital_affinity_days: int


@dataclass(frozen=True, slots=True)
class ContextWeights:
    channel: Mapping[Channel, float]
    segment: Mapping[str, float]
    recency_half_life_days: float
    recency_floor: float

    def for_channel(self, channel: Channel) -> float:
        return self.channel.get(channel, 1.0)

    def for_segment(self, segment: str) -> float:
        return self.segment.get(segment, 1.0)


@dataclass(frozen=True, slots=True)
class AggregateRules:
    income_categories: tuple[str, ...]
    balance_smoothing: float
    income_months: int


@dataclass(frozen=True, slots=True)
class JourneyEntry:
    """Who enters a journey, and when (all given conditions must hold)."""

    segments: tuple[str, ...] = ()
    min_age: int | None = None
    max_age: int | None = None
    holds: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    contract: str | None = None  # a held contract of this product with a maturity date
    within_months: int = 0  # ... that matures within this many months
    impulses: tuple[str, ...] = ()  # entered only when an impulse of one of these kinds is reported
    has_advisor: bool | None = None


@dataclass(frozen=True, slots=True)
class JourneyExit:
    bought: tuple[str, ...] = ()
    consent_withdrawn: bool = False
    declined: int | None = None
    advisor_assigned: bool = False


@dataclass(frozen=True, slots=True)
class JourneyStep:
    """One contact of a journey: when, what, and on which channels in order of preference."""

    id: str
    action: str
    channels: tuple[Channel, ...]
    wait_days: int = 0  # after the previous step (or the entry)
    wait_months: int = 0
    at_age: int | None = None  # on the birthday of this age
    months_before_maturity: int | None = None  # of the entry contract; 0 = at maturity
    retry_days: int = 30  # no channel passes the policy: try again daily this long


@dataclass(frozen=True, slots=True)
class Journey:
    """An automated sequence of contacts for a segment over weeks or years."""

    id: str
    version: int
    entry: JourneyEntry
    steps: tuple[JourneyStep, ...]
    exit: JourneyExit
    reentry_after_days: int | None = None  # None: never again after an exit or the end
    repeat: bool = False  # the last step repeats while the customer stays (the C-customer pool)
    rotate_channels: bool = False  # never the same channel twice in a row


@dataclass(frozen=True, slots=True)
class Catalogue:
    """The validated, immutable rule and action catalogue (one ``version``)."""

    version: str
    source: str
    actions: tuple[Action, ...]
    bundles: tuple[Bundle, ...]
    detectors: Mapping[str, DetectorRule]
    policy: ContactPolicyRules
    routing: RoutingRules
    weights: ContextWeights
    aggregates: AggregateRules
    journeys: tuple[Journey, ...] = ()

    _actions_by_id: Mapping[str, Action] = field(init=False, repr=False, compare=False)
    _bundles_by_product: Mapping[str, Bundle] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Lookup indexes; the dataclass is frozen, so set them once here.
        object.__setattr__(
            self, "_actions_by_id", MappingProxyType({a.id: a for a in self.actions})
        )
        object.__setattr__(
            self, "_bundles_by_product", MappingProxyType({b.product: b for b in self.bundles})
        )

    def action(self, action_id: str) -> Action | None:
        return self._actions_by_id.get(action_id)

    def bundle(self, product: str) -> Bundle | None:
        return self._bundles_by_product.get(product)

    def detector(self, kind: str) -> DetectorRule | None:
        rule = self.detectors.get(kind)
        return rule if rule is not None and rule.enabled else None

    def journey(self, journey_id: str) -> Journey | None:
        return next((j for j in self.journeys if j.id == journey_id), None)

    def actions_triggered_by(self, kind: str, product: str | None) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if any(t.matches(kind, product) for t in a.triggers))


def parse_catalogue(data: Any, source: str, schema: Mapping[str, Any]) -> Catalogue:
    """Validate a decoded catalogue document and build the immutable model.

    Raises ``CatalogueError`` for the first problem found (schema errors first,
    in document order, then references between sections). The error's ``path``
    is the JSON path of the offending field; the file loader adds the line.
    """
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path])
    if errors:
        first = jsonschema.exceptions.best_match(errors) or errors[0]
        raise CatalogueError(source, tuple(first.absolute_path), first.message)
    return _Builder(source).build(cast(Mapping[str, Any], data))


class _Builder:
    def __init__(self, source: str) -> None:
        self.source = source

    def fail(self, path: JsonPath, message: str) -> CatalogueError:
        return CatalogueError(self.source, path, message)

    def build(self, doc: Mapping[str, Any]) -> Catalogue:
        detectors = self._detectors(doc["detectors"])
        known_kinds = set(detectors)
        actions = tuple(
            self._action(raw, ("actions", i), known_kinds) for i, raw in enumerate(doc["actions"])
        )
        _unique([a.id for a in actions], ("actions",), "action id", self.fail)
        bundles = tuple(
            self._bundle(raw, ("bundles", i), known_kinds) for i, raw in enumerate(doc["bundles"])
        )
        _unique([b.product for b in bundles], ("bundles",), "bundle product", self.fail)
        pol = doc["contact_policy"]
        policy = ContactPolicyRules(
            cooling_off_days=int(pol["cooling_off_days"]),
            declined_product_days=int(pol["declined_product_days"]),
            frequency_caps=tuple(
                FrequencyCap(c["channel"], int(c["max_offers"]), int(c["period_days"]))
                for c in pol["frequency_caps"]
            ),
            snooze_days=_frozen({k: float(v) for k, v in pol["snooze_days"].items()}),
            consent_for_channel=_frozen(
                {_channel(k): v for k, v in pol["consent_for_channel"].items()}
            ),
            service_first_channels=tuple(pol["service_first_channels"]),
            daily_capacity=_frozen(
                {_channel(k): int(v) for k, v in pol.get("daily_capacity", {}).items()}
            ),
            customer_cap=(
                CustomerCap(
                    int(pol["customer_cap"]["max_contacts"]),
                    int(pol["customer_cap"]["period_days"]),
                )
                if "customer_cap" in pol
                else None
            ),
            household_cap=(
                HouseholdCap(
                    int(pol["household_cap"]["max_contacts"]),
                    int(pol["household_cap"]["period_days"]),
                )
                if "household_cap" in pol
                else None
            ),
            branch_capacity=_frozen(
                {
                    str(branch): _frozen({_channel(k): int(v) for k, v in limits.items()})
                    for branch, limits in pol.get("branch_capacity", {}).items()
                }
            ),
        )
        rt = doc["routing"]
        routing = RoutingRules(
            top_n=_frozen({_channel(k): int(v) for k, v in rt["top_n"].items()}),
            digital_channels=tuple(rt["digital_channels"]),
            digital_affinity_days=int(rt["digital_affinity_days"]),
        )
        cw = doc["context_weights"]
        weights = ContextWeights(
            channel=_frozen({_channel(k): float(v) for k, v in cw["channel"].items()}),
            segment=_frozen({str(k): float(v) for k, v in cw["segment"].items()}),
            recency_half_life_days=float(cw["recency_half_life_days"]),
            recency_floor=float(cw["recency_floor"]),
        )
        ag = doc["aggregates"]
        aggregates = AggregateRules(
            income_categories=tuple(ag["income_categories"]),
            balance_smoothing=float(ag["balance_smoothing"]),
            income_months=int(ag["income_months"]),
        )
        journeys = tuple(
            self._journey(raw, ("journeys", i), known_kinds, actions)
            for i, raw in enumerate(doc.get("journeys", ()))
        )
        _unique([j.id for j in journeys], ("journeys",), "journey id", self.fail)
        return Catalogue(
            journeys=journeys,
            version=str(doc["version"]),
            source=self.source,
            actions=actions,
            bundles=bundles,
            detectors=detectors,
            policy=policy,
            routing=routing,
            weights=weights,
            aggregates=aggregates,
        )

    def _detectors(self, raw: Mapping[str, Any]) -> Mapping[str, DetectorRule]:
        out: dict[str, DetectorRule] = {}
        for kind in sorted(raw):
            spec = raw[kind]
            out[kind] = DetectorRule(
                kind=kind,
                category=spec["category"],
                enabled=bool(spec.get("enabled", True)),
                ttl_days=float(spec["ttl_days"]),
                repeat_after_days=float(spec["repeat_after_days"]),
                params=_frozen(dict(spec.get("params", {}))),
            )
        return _frozen(out)

    def _matches(
        self, items: Iterable[str], path: JsonPath, known: set[str]
    ) -> tuple[ImpulseMatch, ...]:
        out = []
        for i, text in enumerate(items):
            match = ImpulseMatch.parse(text)
            if match.kind not in known:
                raise self.fail(
                    (*path, i), f"unknown impulse kind {match.kind!r}; define it under detectors"
                )
            out.append(match)
        return tuple(out)

    def _action(self, raw: Mapping[str, Any], path: JsonPath, known: set[str]) -> Action:
        texts = raw["texts"]
        prior = raw.get("prior", {"accepted": 1, "declined": 1})
        return Action(
            id=raw["id"],
            product=raw["product"],
            kind=raw["kind"],
            channels=tuple(raw["channels"]),
            texts=Texts(
                instruction=texts["instruction"].strip(),
                argument=texts["argument"].strip(),
                objections=texts["objections"].strip(),
                info_url=texts["info_url"].strip(),
            ),
            value=float(raw["value"]),
            validity_days=int(raw["validity_days"]),
            handling_minutes=float(raw.get("handling_minutes", 0)),
            triggers=self._matches(raw["triggers"], (*path, "triggers"), known),
            min_propensity=float(raw.get("min_propensity", 0.0)),
            propensity=float(raw.get("propensity", 1.0)),
            prior_accepted=float(prior["accepted"]),
            prior_declined=float(prior["declined"]),
            cooling_off_days=(int(raw["cooling_off_days"]) if "cooling_off_days" in raw else None),
        )

    def _journey(
        self,
        raw: Mapping[str, Any],
        path: JsonPath,
        known: set[str],
        actions: tuple[Action, ...],
    ) -> Journey:
        en = raw["entry"]
        age = en.get("age", {})
        contract = en.get("contract", {})
        raw_impulse = en.get("impulse", ())
        single = isinstance(raw_impulse, str)
        impulses = (raw_impulse,) if single else tuple(raw_impulse)
        for k, kind in enumerate(impulses):
            if kind not in known:
                where = (*path, "entry", "impulse") if single else (*path, "entry", "impulse", k)
                raise self.fail(where, f"unknown impulse kind {kind!r}; define it under detectors")
        entry = JourneyEntry(
            segments=tuple(en.get("segments", ())),
            min_age=age.get("min"),
            max_age=age.get("max"),
            holds=tuple(en.get("holds", ())),
            missing=tuple(en.get("missing", ())),
            contract=contract.get("product"),
            within_months=int(contract.get("within_months", 0)),
            impulses=impulses,
            has_advisor=en.get("has_advisor"),
        )
        by_id = {a.id: a for a in actions}
        steps = []
        for i, st in enumerate(raw["steps"]):
            where = (*path, "steps", i)
            action = by_id.get(st["action"])
            if action is None:
                raise self.fail((*where, "action"), f"unknown action {st['action']!r}")
            for k, c in enumerate(st["channels"]):
                if c not in action.channels:
                    raise self.fail(
                        (*where, "channels", k), f"action {action.id!r} does not run on {c}"
                    )
            when = st["when"]
            if "before_maturity_months" in when and entry.contract is None:
                raise self.fail((*where, "when"), "before_maturity_months needs an entry contract")
            steps.append(
                JourneyStep(
                    id=st["id"],
                    action=action.id,
                    channels=tuple(st["channels"]),
                    wait_days=int(when.get("wait_days", 0)),
                    wait_months=int(when.get("wait_months", 0)),
                    at_age=when.get("at_age"),
                    months_before_maturity=when.get("before_maturity_months"),
                    retry_days=int(st.get("retry_days", 30)),
                )
            )
        _unique([s.id for s in steps], (*path, "steps"), "step id", self.fail)
        ex = raw.get("exit", {})
        return Journey(
            id=raw["id"],
            version=int(raw["version"]),
            entry=entry,
            steps=tuple(steps),
            exit=JourneyExit(
                bought=tuple(ex.get("bought", ())),
                consent_withdrawn=bool(ex.get("consent_withdrawn", False)),
                declined=ex.get("declined"),
                advisor_assigned=bool(ex.get("advisor_assigned", False)),
            ),
            reentry_after_days=raw.get("reentry_after_days"),
            repeat=bool(raw.get("repeat", False)),
            rotate_channels=bool(raw.get("rotate_channels", False)),
        )

    def _bundle(self, raw: Mapping[str, Any], path: JsonPath, known: set[str]) -> Bundle:
        names = sorted(raw["weights"])
        matches = self._matches(names, (*path, "weights"), known)
        return Bundle(
            product=raw["product"],
            base=float(raw["base"]),
            weights=tuple(
                (m, float(raw["weights"][n])) for m, n in zip(matches, names, strict=True)
            ),
        )


def _channel(name: str) -> Channel:
    if name not in CHANNELS:  # the schema already restricts the keys
        raise ValueError(name)
    return name


def _frozen(d: dict[K, V]) -> Mapping[K, V]:
    return MappingProxyType(d)


def _unique(
    values: list[str],
    path: JsonPath,
    what: str,
    fail: Callable[[JsonPath, str], CatalogueError],
) -> None:
    seen: set[str] = set()
    for i, v in enumerate(values):
        if v in seen:
            raise fail((*path, i), f"duplicate {what} {v!r}")
        seen.add(v)
