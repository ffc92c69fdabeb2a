"""The customer's household, from the profile, and the memberships it reports.

``customers.profile`` names the customer's ``household_id``. The state keeps
it (``household``) with the time of the profile update that set it
(``household_since``, epoch ms). When a newer profile names another household
(or none), the core reports a ``HouseholdMembership`` ``left`` for the old one
and ``joined`` for the new one; the runtime re-keys them by household
(``households.members``) and keeps each household's members in Redis
(``streaming/households.py``), which the 360 view and the outbound household
cap read. A profile older than the one that set the household arriving late
does not move the customer back. The memberships are reported whatever the
catalogue says: the 360 view shows households in every deployment.

When the customer is erased (a tombstone on ``customers.profile``), the worker
publishes :func:`erasure` for the state's household: the household then
forgets the customer (``store/groups.py``).
"""

from __future__ import annotations

from datetime import UTC, datetime

from impulse_stream.core.events import CustomerProfile, HouseholdMembership
from impulse_stream.core.ids import stable_id
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState


def epoch_ms(event: CustomerProfile) -> int:
    return int(event.updated_at.timestamp() * 1000)


def on_household(run: DecisionRun, event: CustomerProfile) -> None:
    """Move the customer to the profile's household, if the profile is newer."""
    state = run.state
    new = event.household_id
    if new == state.household:
        return
    since = epoch_ms(event)
    if since <= state.household_since:
        return  # a profile not newer than the one that set the current household
    previous = state.household
    run.update(household=new, household_since=since)
    if previous is not None:
        run.memberships.append(_membership(previous, event, "left"))
    if new is not None:
        run.memberships.append(_membership(new, event, "joined"))


def _membership(household_id: str, event: CustomerProfile, status: str) -> HouseholdMembership:
    return HouseholdMembership(
        membership_id=stable_id(
            "hhm", event.customer_id, household_id, status, event.updated_at.isoformat()
        ),
        household_id=household_id,
        customer_id=event.customer_id,
        status="joined" if status == "joined" else "left",
        since=event.updated_at,
    )


def erasure(customer_id: str, state: CustomerState) -> HouseholdMembership | None:
    """The ``erased`` membership for the customer's household, or None (no household).

    The same state gives the same message: a redelivered tombstone publishes it again,
    byte for byte, and the household forgets the customer once.
    """
    household = state.household
    if household is None:
        return None
    since = datetime.fromtimestamp(state.household_since / 1000, UTC)
    return HouseholdMembership(
        membership_id=stable_id("hhm", customer_id, household, "erased", since.isoformat()),
        household_id=household,
        customer_id=customer_id,
        status="erased",
        since=since,
    )
