"""Prometheus metrics, created once with their own registry.

Labels never carry customer ids or other personal data: topics, partitions,
impulse kinds, action ids, policy rules and dead-letter reasons only.
"""

from __future__ import annotations

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)
REDIS_BUCKETS = (0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        r = self.registry
        self.events_in = Counter(
            "impulse_stream_events_in", "Input events read, per topic", ["topic"], registry=r
        )
        self.duplicates = Counter(
            "impulse_stream_duplicate_events",
            "Input events skipped because the customer's fence shows them applied",
            ["topic"],
            registry=r,
        )
        self.impulses = Counter(
            "impulse_stream_impulses", "Impulses detected, per kind", ["kind"], registry=r
        )
        self.opportunities = Counter(
            "impulse_stream_opportunities",
            "Opportunity messages published, per action and status",
            ["action", "status"],
            registry=r,
        )
        # accepted and declined both end as status "withdrawn"; the reason tells them apart
        self.opportunities_closed = Counter(
            "impulse_stream_opportunities_closed",
            "Opportunities closed, per action and reason (accepted, declined, validity_ended, ...)",
            ["action", "reason"],
            registry=r,
        )
        self.attributions = Counter(
            "impulse_stream_attributions",
            "Sales credited, per closing channel",
            ["channel"],
            registry=r,
        )
        self.suppressions = Counter(
            "impulse_stream_policy_suppressions",
            "Actions held back by the contact policy, per rule",
            ["rule"],
            registry=r,
        )
        self.dead_letters = Counter(
            "impulse_stream_dead_letters",
            "Events sent to the dead-letter topic, per reason and source topic",
            ["reason", "topic"],
            registry=r,
        )
        self.fenced_writes = Counter(
            "impulse_stream_fenced_writes",
            "Customer writes refused by the version/offset fence (stale read or zombie worker)",
            registry=r,
        )
        self.employer_memberships = Counter(
            "impulse_stream_employer_memberships",
            "Employer memberships counted (joined, left, erased) or found stale (a replay), "
            "per outcome",
            ["outcome"],
            registry=r,
        )
        self.employer_notices = Counter(
            "impulse_stream_employer_notices",
            "Members told that their employer's cluster reached the catalogue's size",
            registry=r,
        )
        self.household_memberships = Counter(
            "impulse_stream_household_memberships",
            "Household memberships applied (joined, left, erased) or found stale (a replay), "
            "per outcome",
            ["outcome"],
            registry=r,
        )
        self.outbox_redelivered = Counter(
            "impulse_stream_outbox_redelivered",
            "Outbox entries re-published after a crash or rebalance",
            registry=r,
        )
        self.latency = Histogram(
            "impulse_stream_processing_latency_seconds",
            "Event time to output publication",
            buckets=LATENCY_BUCKETS,
            registry=r,
        )
        self.redis_rtt = Histogram(
            "impulse_stream_redis_roundtrip_seconds",
            "Redis round-trip time (ping and batch calls)",
            buckets=REDIS_BUCKETS,
            registry=r,
        )
        self.batch_size = Histogram(
            "impulse_stream_batch_size",
            "Events per processed batch",
            buckets=(1, 10, 50, 100, 250, 500, 1000, 2500, 5000),
            registry=r,
        )
        self.consumer_lag = Gauge(
            "impulse_stream_consumer_lag",
            "Messages behind the partition end, per topic and partition",
            ["topic", "partition"],
            registry=r,
        )
        self.partitions_assigned = Gauge(
            "impulse_stream_partitions_assigned",
            "Input partitions assigned to this worker",
            registry=r,
        )
        self.last_progress = Gauge(
            "impulse_stream_last_progress_timestamp_seconds",
            "Wall-clock time of the last processed batch",
            registry=r,
        )
        self.erasures = Counter(
            "impulse_stream_erasures",
            "Customers whose state was erased by a tombstone on customers.profile",
            registry=r,
        )
        self.store_errors = Counter(
            "impulse_stream_store_errors", "Redis calls that failed and were retried", registry=r
        )
        self.publish_errors = Counter(
            "impulse_stream_publish_errors",
            "Kafka publishes that failed and were retried",
            registry=r,
        )

        self.partition_blocked = Gauge(
            "impulse_stream_partition_blocked",
            "1 while an input partition is stopped: state_lost (run rebuild) or batch_failed",
            ["partition", "reason"],
            registry=r,
        )
        self.late_events = Counter(
            "impulse_stream_late_events",
            "Events older than their partition's deadline clock when they arrived (applied, "
            "correcting what they contradict), per topic",
            ["topic"],
            registry=r,
        )
        self.batch_failures = Counter(
            "impulse_stream_batch_failures",
            "Batches that failed as a whole (nothing of them committed), per reason",
            ["reason"],
            registry=r,
        )

        # The registry is our own, so the default process_*/python_* collectors are not on
        # it: register them here (CPU, memory, open files, GC pauses of the worker).
        ProcessCollector(registry=r)
        PlatformCollector(registry=r)
        GCCollector(registry=r)
        self.build_info = Info(
            "impulse_stream_build",
            "Release of the worker and version of its rule catalogue (set at start)",
            registry=r,
        )

    def set_build_info(self, version: str, rules_version: str) -> None:
        self.build_info.info({"version": version, "rules_version": rules_version})

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
