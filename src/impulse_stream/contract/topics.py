"""Topic names and layout of the public contract.

All topics are keyed by customer id and co-partitioned: every input and output
topic has the same partition count, so that one worker owns all of a
customer's events and state. The internal topic ``employers.members`` is keyed
by employer instead (the same partition count), so that one worker at a time
counts one employer's cluster; ``households.members`` is keyed by household, so
that one worker at a time keeps one household's members.
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
# Internal topics of the employer clusters (streaming/employers.py): the worker publishes
# memberships keyed by employer, counts them, and reads the cluster notices back by customer.
EMPLOYER_MEMBERS = "employers.members"
EMPLOYER_CLUSTERS = "employers.clusters"
# Internal topic of the households (streaming/households.py): memberships keyed by household.
HOUSEHOLD_MEMBERS = "households.members"

# Append only: a topic's position names its offset fence in the stored customer records.
INPUT_TOPICS: tuple[str, ...] = (TRANSACTIONS, CLICKS, ORDERS, PROFILES, CONTACTS, RESPONSES)
OUTPUT_TOPICS: tuple[str, ...] = (IMPULSES, OPPORTUNITIES, ATTRIBUTIONS)
INTERNAL_TOPICS: tuple[str, ...] = (EMPLOYER_MEMBERS, EMPLOYER_CLUSTERS, HOUSEHOLD_MEMBERS)
# What the worker's decision agent reads: the bank's inputs and the cluster notices. The
# notices' offset fence is named by the topic, not by a position (INPUT_TOPICS only grows).
WORKER_INPUT_TOPICS: tuple[str, ...] = (*INPUT_TOPICS, EMPLOYER_CLUSTERS)

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
    specs.extend(TopicSpec(prefix + name, partitions) for name in INTERNAL_TOPICS)
    specs.append(
        TopicSpec(prefix + DEAD_LETTERS, partitions, {"retention.ms": str(30 * 86400_000)})
    )
    return specs
