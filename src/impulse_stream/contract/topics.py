"""Topic names and layout of the public contract.

All topics are keyed by customer id and co-partitioned: every input and output
topic has the same partition count, so that one worker owns all of a
customer's events and state.
"""

from __future__ import annotations

from dataclasses import dataclass, field

TRANSACTIONS = "bank.transactions"
CLICKS = "ebanking.clicks"
ORDERS = "orders.flow"
PROFILES = "customers.profile"
CONTACTS = "channel.contacts"
RESPONSES = "opportunities.responses"

IMPULSES = "impulses"
OPPORTUNITIES = "opportunities"
ATTRIBUTIONS = "attributions"
DEAD_LETTERS = "impulse-stream.dlq"
OUTBOUND = "opportunities.outbound"  # the outbound selector's admitted contacts

# Append only: a topic's position names its offset fence in the stored customer records.
INPUT_TOPICS: tuple[str, ...] = (TRANSACTIONS, CLICKS, ORDERS, PROFILES, CONTACTS, RESPONSES)
OUTPUT_TOPICS: tuple[str, ...] = (IMPULSES, OPPORTUNITIES, ATTRIBUTIONS)

DEFAULT_PARTITIONS = 6


@dataclass(frozen=True)
class TopicSpec:
    """A topic to create: name, partition count and topic-level configs."""

    name: str
    partitions: int
    config: dict[str, str] = field(default_factory=dict)


def topic_specs(
    partitions: int = DEFAULT_PARTITIONS, prefix: str = "", replication: int = 1
) -> list[TopicSpec]:
    """Every topic of the contract, optionally prefixed (tests isolate by prefix)."""
    del replication  # single-node local broker; production sets it in the topic operator
    specs = []
    for name in INPUT_TOPICS + OUTPUT_TOPICS:
        config: dict[str, str] = {}
        if name == PROFILES:
            config["cleanup.policy"] = "compact"
        specs.append(TopicSpec(prefix + name, partitions, config))
    specs.append(TopicSpec(prefix + OUTBOUND, partitions))
    specs.append(
        TopicSpec(prefix + DEAD_LETTERS, partitions, {"retention.ms": str(30 * 86400_000)})
    )
    return specs
