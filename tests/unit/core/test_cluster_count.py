"""The employer clusters' counting rule in memory (the model of the Redis script; a test on
the real redis-server checks that both give the same answers)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from impulse_stream.core.cluster_count import ClusterCounts, Counted
from impulse_stream.core.events import EmployerMembership

ACME = "emp-00000000000000a1"
OTHER = "emp-00000000000000b2"
T0 = datetime(2026, 11, 2, 6, 0, tzinfo=UTC)


def membership(customer: str, employer: str = ACME, status: str = "joined", days: int = 0):
    return EmployerMembership(
        membership_id=f"mem-{customer}-{employer}-{status}-{days}",
        employer_id=employer,
        customer_id=customer,
        status=status,  # type: ignore[arg-type]
        since=T0 + timedelta(days=days),
    )


def send(counts: ClusterCounts, *memberships: EmployerMembership) -> list[str]:
    """Count each and mark its members told, like the agent; the customers told."""
    told: list[str] = []
    for m in memberships:
        counted = counts.count(m)
        counts.mark_told(m.employer_id, counted.tell, counted.full_scan)
        told += counted.tell
    return told


def test_the_cluster_tells_every_member_once_when_it_reaches_the_size() -> None:
    counts = ClusterCounts(3)
    assert send(counts, membership("c-2"), membership("c-1")) == []
    assert counts.count(membership("c-3")) == Counted(True, 3, True, ("c-1", "c-2", "c-3"))
    counts.mark_told(ACME, ("c-1", "c-2", "c-3"), True)
    assert send(counts, membership("c-4", days=30)) == ["c-4"]
    assert counts.members(ACME) == 4


def test_a_replay_counts_nothing_twice_and_tells_nobody_again() -> None:
    counts = ClusterCounts(3)
    everyone = [membership(f"c-{n}") for n in range(1, 5)]
    assert send(counts, *everyone) == ["c-1", "c-2", "c-3", "c-4"]
    assert counts.count(everyone[0]) == Counted(False, 4, False, ())
    assert send(counts, *everyone) == []
    assert counts.members(ACME) == 4


def test_a_mover_leaves_the_old_cluster_and_an_older_message_does_not_bring_it_back() -> None:
    counts = ClusterCounts(3)
    send(counts, membership("c-1"), membership("c-2"))
    send(counts, membership("c-1", status="left", days=31), membership("c-1", OTHER, days=31))
    assert (counts.members(ACME), counts.members(OTHER)) == (1, 1)
    assert counts.count(membership("c-1")) == Counted(False, 1, False, ())
    assert send(counts, membership("c-3"), membership("c-4")) == ["c-2", "c-3", "c-4"]


def test_a_cluster_that_shrank_below_the_size_tells_only_new_members_when_back() -> None:
    counts = ClusterCounts(3)
    send(counts, membership("c-1"), membership("c-2"), membership("c-3"))
    send(counts, membership("c-3", status="left", days=31))
    assert send(counts, membership("c-4", days=32)) == ["c-4"]
    assert send(counts, membership("c-3", days=40)) == []  # told already


def test_an_erased_member_is_counted_out_and_forgotten_whatever_the_since() -> None:
    counts = ClusterCounts(3)
    send(counts, membership("c-1"), membership("c-2"), membership("c-3", days=5))
    assert counts.count(membership("c-3", status="erased")) == Counted(True, 2, False, ())
    assert counts.count(membership("c-3", status="erased")) == Counted(False, 2, False, ())
    # the id is forgotten with its mark: a later join is a new, untold member
    assert send(counts, membership("c-3", days=1)) == ["c-3"]
    assert counts.members(ACME) == 3
