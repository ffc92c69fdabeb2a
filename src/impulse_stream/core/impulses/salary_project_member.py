"""Salary project: the customer's employer pays at least ``cluster_size`` customers of
the bank, so the customer can get the group offer for the employer's staff.

The runtime counts the customers per employer (``streaming/employers.py``) and
tells each member on ``employers.clusters`` once the cluster has reached the
size; this detector checks the notice against the catalogue's size and against
the state: a customer who has moved to another employer since gets nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from impulse_stream.core.catalogue import Catalogue, DetectorRule
from impulse_stream.core.events import EmployerCluster
from impulse_stream.core.ids import employer_id
from impulse_stream.core.impulses.base import Detection, Listens, Observed, ParamSchemas, Trigger

KIND = "salary_project_member"


class SalaryProjectMemberDetector:
    kind: ClassVar[str] = KIND
    trigger: ClassVar[Trigger] = Trigger.EVENT
    listens_to: ClassVar[Listens] = (EmployerCluster,)
    params: ClassVar[ParamSchemas] = {
        "cluster_size": {"type": "integer", "minimum": 2, "maximum": 1_000_000},
    }

    def __init__(self, rule: DetectorRule, catalogue: Catalogue) -> None:
        self.cluster_size = rule.integer("cluster_size")

    def detect(self, seen: Observed) -> Sequence[Detection]:
        notice = seen.event
        if not isinstance(notice, EmployerCluster):
            return ()
        if notice.members < self.cluster_size:
            return ()
        if employer_id(seen.before.employer) != notice.employer_id:
            return ()  # moved to another employer since
        evidence = [("members", str(notice.members))]
        if notice.employer_name:
            evidence.insert(0, ("employer", notice.employer_name))
        return (
            Detection(
                kind=KIND,
                occurred_at=notice.occurred_at,
                trigger=f"employer:{notice.employer_id}",
                key=notice.employer_id,
                source_event_id=notice.event_id,
                evidence=tuple(evidence),
            ),
        )
