"""Salary payers recognised from the bookings, and the customer's employer cluster.

A ``salary`` credit names its payer as counterparty. The payer's name is
normalised (case, umlauts and accents, punctuation, digits, legal forms such as
``GmbH`` or ``AG`` and payroll words such as ``Lohn`` dropped), so that
``"ACME Maschinenbau GmbH, Lohn 03/2026"`` and ``"Acme Maschinenbau"`` are one
employer; a payer without a name is known by its IBAN. The employer id is a
stable digest of that form (``emp-<16 hex>``): the same payer gives the same id
in every worker and on every replay.

The customer's employer is the payer of the latest salary booking (a booking of
the same or an older day arriving late does not move the customer back). When it changes, the
core reports an ``EmployerMembership`` ``left`` for the old employer and
``joined`` for the new one; the runtime re-keys them by employer
(``employers.members``) and counts each cluster (``streaming/employers.py``).
Memberships are reported only while the ``salary_project_member`` detector is
enabled: without it nobody counts the clusters.

When the customer is erased (a tombstone on ``customers.profile``), the worker
publishes :func:`erasure` for the state's employer, whatever the catalogue says
(the detector may have been enabled when the customer joined): the cluster then
forgets the customer (``store/groups.py``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from impulse_stream.core.dates import day_start, utc_day
from impulse_stream.core.events import EmployerMembership, Transaction
from impulse_stream.core.ids import employer_id, employer_number, stable_id
from impulse_stream.core.impulses.salary_project_member import KIND as SALARY_PROJECT
from impulse_stream.core.run import DecisionRun
from impulse_stream.core.state import CustomerState

# Legal forms and their pieces, after normalisation (``e.V.`` -> ``e v``, ``& Co.`` -> ``co``).
_LEGAL = "gmbh mbh ag se kg kgaa ohg gbr ug haftungsbeschraenkt e v ev eg co und ltd limited"
_LEGAL += " inc llc plc corp sa sas sarl srl spa bv nv ab as oy"
LEGAL_FORMS = frozenset(_LEGAL.split(" "))
# Words of the booking text that name the payment, not the payer.
_PAYROLL = "lohn gehalt bezuege entgelt verguetung salary salaries payroll wages wage"
PAYROLL_WORDS = frozenset((_PAYROLL + " lohnzahlung gehaltszahlung").split(" "))
_UMLAUTS = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "ß": "ss"})
_NOT_WORD = re.compile(r"[^a-z0-9]+")
SALARY_CATEGORY = "salary"
_EPOCH_DAY = date(1970, 1, 1).toordinal()


@dataclass(frozen=True, slots=True)
class Employer:
    number: int  # in the state; ``employer_id`` on the topics
    name: str  # the payer's name as booked (shortened), for evidence

    @property
    def employer_id(self) -> str:
        return employer_id(self.number)


def normalise_employer_name(name: str) -> str:
    """The comparable form of a payer's name; ``""`` when nothing distinctive is left."""
    text = unicodedata.normalize("NFKD", name.casefold().translate(_UMLAUTS))
    text = "".join(c for c in text if not unicodedata.combining(c))
    words = [
        w
        for w in _NOT_WORD.split(text)
        if w and not w.isdigit() and w not in LEGAL_FORMS and w not in PAYROLL_WORDS
    ]
    return " ".join(words)


def salary_payer(tx: Transaction) -> Employer | None:
    """The employer a salary booking names, or None (not a salary, or no payer given)."""
    if tx.direction != "credit" or tx.category != SALARY_CATEGORY:
        return None
    name = normalise_employer_name(tx.counterparty.name)
    if name:
        return Employer(employer_number("name", name), tx.counterparty.name.strip()[:80])
    iban = tx.counterparty.iban
    if iban:
        return Employer(employer_number("iban", iban.upper()), "")
    return None


def on_salary(run: DecisionRun, tx: Transaction) -> None:
    """Move the customer to the cluster of the booking's payer, if it is a newer salary."""
    payer = salary_payer(tx)
    if payer is None:
        return
    state = run.state
    if state.employer == payer.number:
        return
    day = utc_day(tx.booked_at).toordinal()
    if day <= state.employer_since:
        return  # a salary not newer than the one that made the current employer
    previous = state.employer
    run.update(employer=payer.number, employer_since=day)
    if run.rules.catalogue.detector(SALARY_PROJECT) is None:
        return
    if previous:
        run.memberships.append(_membership(employer_id(previous), "", tx, "left"))
    run.memberships.append(_membership(payer.employer_id, payer.name, tx, "joined"))


def _membership(employer_id: str, name: str, tx: Transaction, status: str) -> EmployerMembership:
    return EmployerMembership(
        membership_id=stable_id("mem", tx.customer_id, employer_id, status, tx.event_id),
        employer_id=employer_id,
        customer_id=tx.customer_id,
        status="joined" if status == "joined" else "left",
        since=tx.booked_at,
        employer_name=name,
    )


def erasure(customer_id: str, state: CustomerState) -> EmployerMembership | None:
    """The ``erased`` membership for the customer's employer, or None (no employer).

    The same state gives the same message: a redelivered tombstone publishes it again,
    byte for byte, and the cluster forgets the customer once.
    """
    if not state.employer:
        return None
    employer = employer_id(state.employer)
    since = day_start(date.fromordinal(state.employer_since or _EPOCH_DAY))
    return EmployerMembership(
        membership_id=stable_id("mem", customer_id, employer, "erased", since.isoformat()),
        employer_id=employer,
        customer_id=customer_id,
        status="erased",
        since=since,
    )
