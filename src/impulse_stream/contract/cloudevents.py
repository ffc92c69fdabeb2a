"""CloudEvents 1.0 headers for output records (Kafka protocol binding, binary mode).

The value stays the plain record JSON; the event attributes travel as
``ce_*`` headers, so a consumer that knows nothing of CloudEvents still reads
the value. Headers are derived from the record alone: a re-published message
(outbox redelivery, replay) carries byte-identical headers.

The customer id is deliberately not a header (no ``ce_subject``, no
``ce_partitionkey``): it is the message key, and headers end up in logs and
tracing systems that should not hold personal data.
"""

from __future__ import annotations

from datetime import datetime
from urllib.parse import quote

import msgspec

from impulse_stream.core.events import (
    Attribution,
    EmployerMembership,
    HouseholdMembership,
    Impulse,
    Opportunity,
    OutputRecord,
)

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
SOURCE_PREFIX = "/impulse-stream/"
FALLBACK_SOURCE = "worker"

# The worker's records: its outputs and the memberships it re-keys by employer and household.
Published = OutputRecord | EmployerMembership | HouseholdMembership

EVENT_TYPES: dict[type[Published], str] = {
    Opportunity: "io.impulsestream.opportunity.v1",
    Impulse: "io.impulsestream.impulse.v1",
    Attribution: "io.impulsestream.attribution.v1",
    EmployerMembership: "io.impulsestream.employer_membership.v1",
    HouseholdMembership: "io.impulsestream.household_membership.v1",
}

Headers = list[tuple[str, bytes]]


def cloudevent_id(record: Published) -> str:
    """``ce_id``: unique per message; an opportunity's id is ``<opportunity_id>:<revision>``."""
    if isinstance(record, Opportunity):
        return f"{record.opportunity_id}:{record.revision}"
    if isinstance(record, Impulse):
        return record.impulse_id
    if isinstance(record, EmployerMembership | HouseholdMembership):
        return record.membership_id
    return record.attribution_id


def cloudevent_source(record: Published) -> str:
    """``ce_source``: ``/impulse-stream/<rules_version>``, or ``/impulse-stream/worker``."""
    version = getattr(record, "rules_version", "")
    return SOURCE_PREFIX + (quote(version, safe="") if version else FALLBACK_SOURCE)


def cloudevent_time(record: Published) -> datetime:
    """``ce_time``: when the record was made (created, detected or credited)."""
    if isinstance(record, Opportunity):
        return record.created_at
    if isinstance(record, Impulse):
        return record.detected_at
    if isinstance(record, EmployerMembership | HouseholdMembership):
        return record.since
    return record.credited_at


def cloudevent_headers(record: Published) -> Headers:
    """Binary-mode CloudEvents headers for ``record``, ready for aiokafka."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", cloudevent_id(record).encode()),
        ("ce_source", cloudevent_source(record).encode()),
        ("ce_type", EVENT_TYPES[type(record)].encode()),
        ("ce_time", rfc3339(cloudevent_time(record)).encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]


def rfc3339(moment: datetime) -> str:
    """The same RFC 3339 text the record's JSON carries (UTC as ``Z``)."""
    return msgspec.json.encode(moment)[1:-1].decode()
