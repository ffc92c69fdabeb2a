"""The counting rule of employer clusters, in memory: the model of the Redis script.

``streaming/employers.py`` keeps the count per employer in Redis and applies each
``EmployerMembership`` in one Lua script (``store/groups.py``, ``APPLY_SCRIPT``
with the catalogue's ``cluster_size``); the backtest
(``datatools/backtest.py``) has no Redis and counts with ``ClusterCounts``. Both
follow one rule, and a test drives the same memberships through the script on a
real redis-server and through this model and compares every answer:

* a membership applies only if its ``since`` (milliseconds) is newer than the
  one known for the customer; a joined member counts once, a customer who left
  (or moved to another employer) counts no more;
* when an applied or repeated membership finds the cluster at ``cluster_size``
  or more and the cluster is not yet *open*, every member not told yet is to be
  told (``full_scan``); in an open cluster a joined member not told yet is told
  alone; a cluster below the size is no longer open;
* an ``erased`` membership (the customer was erased) forgets the customer
  whatever its ``since``: a member counts no more, nothing of the customer is
  kept (applied if something was), and the rule above follows;
* ``mark_told`` records the members told (and the cluster open after a full
  scan), as the agent does once Kafka acknowledged the notices.

Pure and deterministic: the members to tell come sorted.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from impulse_stream.core.events import EmployerMembership


@dataclass(frozen=True, slots=True)
class Counted:
    """What one membership did to its cluster."""

    applied: bool  # False: not newer than what the cluster knew of the customer (a replay)
    members: int
    full_scan: bool  # the cluster reached its size now: every untold member is in ``tell``
    tell: tuple[str, ...]  # customers to notify, sorted


def since_ms(since: datetime) -> int:
    """A membership's ``since`` as the counter stores it (milliseconds since the epoch)."""
    return int(since.timestamp() * 1000)


@dataclass(slots=True)
class _Cluster:
    members: dict[str, int] = field(default_factory=dict)  # since ms, negative after leaving
    count: int = 0
    told: set[str] = field(default_factory=set)
    open: bool = False


class ClusterCounts:
    """Distinct customers per employer, counted in memory by the clusters' rule."""

    def __init__(self, cluster_size: int) -> None:
        self.cluster_size = cluster_size
        self._clusters: dict[str, _Cluster] = {}

    def count(self, m: EmployerMembership) -> Counted:
        cluster = self._clusters.setdefault(m.employer_id, _Cluster())
        customer, since = m.customer_id, since_ms(m.since)
        joined = m.status == "joined"
        current = cluster.members.get(customer)
        if m.status == "erased":
            applied = current is not None or customer in cluster.told
            cluster.members.pop(customer, None)
            cluster.told.discard(customer)
            if current is not None and current > 0:
                cluster.count -= 1
            return self._tell(cluster, customer, False, applied)
        applied = current is None or abs(current) < since
        if applied:
            was = current is not None and current > 0
            cluster.members[customer] = since if joined else -since
            if joined and not was:
                cluster.count += 1
            elif not joined and was:
                cluster.count -= 1
        return self._tell(cluster, customer, joined, applied)

    def _tell(self, cluster: _Cluster, customer: str, joined: bool, applied: bool) -> Counted:
        if cluster.count < self.cluster_size:
            cluster.open = False
            return Counted(applied, cluster.count, False, ())
        if not cluster.open:
            tell = sorted(c for c, s in cluster.members.items() if s > 0 and c not in cluster.told)
            return Counted(applied, cluster.count, True, tuple(tell))
        if not joined:
            return Counted(applied, cluster.count, False, ())
        mine = cluster.members[customer]
        alone = mine > 0 and customer not in cluster.told
        return Counted(applied, cluster.count, False, (customer,) if alone else ())

    def mark_told(self, employer_id: str, customers: tuple[str, ...], full: bool) -> None:
        cluster = self._clusters.setdefault(employer_id, _Cluster())
        cluster.told.update(customers)
        if full:
            cluster.open = True

    def members(self, employer_id: str) -> int:
        cluster = self._clusters.get(employer_id)
        return cluster.count if cluster is not None else 0
