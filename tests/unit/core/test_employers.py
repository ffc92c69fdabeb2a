"""Employer clusters in the core: salary payers recognised from the bookings, the
customer's memberships, and the ``salary_project_member`` detector on a cluster notice."""

from __future__ import annotations

import msgspec
import pytest

from impulse_stream.catalogue_loader import DEFAULT_CATALOGUE, parse_catalogue_text
from impulse_stream.core.employers import erasure as employer_erasure
from impulse_stream.core.employers import normalise_employer_name, salary_payer
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.events import EmployerCluster, EmployerMembership
from impulse_stream.core.ids import employer_id

from .conftest import CUSTOMER, at, booking, impulse_kinds, opportunities


def salary(days: float, name: str = "ACME Maschinenbau GmbH", iban: str | None = None):
    return booking(at(days=days), "3200.00", category="salary", name=name, iban=iban)


def memberships(engine: DecisionEngine, events) -> tuple[object, list[EmployerMembership]]:
    state, found = None, []
    for event in events:
        decision = engine.apply(state, event, event.occurred_at)
        state = decision.state
        found += decision.memberships
    return state, found


def notice(employer: str, members: int, days: float = 40) -> EmployerCluster:
    return EmployerCluster(
        event_id=f"cl-{employer}-{members}",
        customer_id=CUSTOMER,
        employer_id=employer,
        members=members,
        occurred_at=at(days=days),
        employer_name="ACME Maschinenbau GmbH",
    )


@pytest.mark.parametrize(
    "booked",
    [
        "ACME Maschinenbau GmbH",
        "Acme Maschinenbau",
        "ACME MASCHINENBAU GMBH, LOHN 03/2026",
        "Acme Maschinenbau GmbH & Co. KG",
        "  acme   maschinenbau  ag ",
    ],
)
def test_spellings_of_one_payer_normalise_to_one_employer(booked: str) -> None:
    assert normalise_employer_name(booked) == "acme maschinenbau"
    reference = salary_payer(salary(0))
    assert reference is not None
    payer = salary_payer(salary(0, name=booked))
    assert payer is not None and payer.employer_id == reference.employer_id


def test_umlauts_and_accents_are_spelled_out_and_distinct_payers_stay_distinct() -> None:
    assert normalise_employer_name("Müller & Söhne Bäckerei e.V.") == "mueller soehne baeckerei"
    assert normalise_employer_name("Café Élysée SARL") == "cafe elysee"
    first, other = salary_payer(salary(0)), salary_payer(salary(0, name="ACME Logistik GmbH"))
    assert first is not None and other is not None and first.employer_id != other.employer_id


def test_a_payer_without_a_name_is_known_by_its_iban_and_a_transfer_names_no_employer() -> None:
    by_iban = salary_payer(salary(0, name="", iban="DE89370400440532013000"))
    assert by_iban is not None and by_iban.employer_id.startswith("emp-")
    assert by_iban == salary_payer(salary(3, name="GmbH", iban="DE89370400440532013000"))
    assert salary_payer(salary(0, name="", iban=None)) is None
    transfer = booking(at(), "3200.00", category="transfer", name="ACME Maschinenbau GmbH")
    assert salary_payer(transfer) is None
    refund = booking(at(), "30.00", "debit", category="salary", name="ACME Maschinenbau GmbH")
    assert salary_payer(refund) is None


def test_the_first_salary_joins_the_cluster_and_the_next_ones_of_the_payer_report_nothing(
    engine: DecisionEngine,
) -> None:
    state, found = memberships(engine, [salary(0), salary(31), salary(61)])
    payer = salary_payer(salary(0))
    assert payer is not None
    assert [(m.status, m.employer_id, m.customer_id) for m in found] == [
        ("joined", payer.employer_id, CUSTOMER)
    ]
    assert found[0].since == at(days=0) and found[0].employer_name == "ACME Maschinenbau GmbH"
    assert employer_id(state.employer) == payer.employer_id


def test_a_new_employer_leaves_the_old_cluster_and_joins_the_new_one(
    engine: DecisionEngine,
) -> None:
    _, found = memberships(engine, [salary(0), salary(31, name="Stadtwerke Musterstadt")])
    old, new = salary_payer(salary(0)), salary_payer(salary(31, name="Stadtwerke Musterstadt"))
    assert old is not None and new is not None
    assert [(m.status, m.employer_id) for m in found] == [
        ("joined", old.employer_id),
        ("left", old.employer_id),
        ("joined", new.employer_id),
    ]
    assert found[1].since == found[2].since == at(days=31)
    assert len({m.membership_id for m in found}) == 3


def test_a_late_older_salary_of_the_previous_employer_does_not_move_the_customer_back(
    engine: DecisionEngine,
) -> None:
    late_old = salary(10)
    state, found = memberships(
        engine, [salary(0), salary(31, name="Stadtwerke Musterstadt"), late_old]
    )
    new = salary_payer(salary(31, name="Stadtwerke Musterstadt"))
    assert new is not None and employer_id(state.employer) == new.employer_id
    assert [m.status for m in found] == ["joined", "left", "joined"]


def test_memberships_are_deterministic_on_a_replay(engine: DecisionEngine) -> None:
    events = [salary(0), salary(31, name="Stadtwerke Musterstadt")]
    first, again = memberships(engine, events)[1], memberships(engine, events)[1]
    assert msgspec.json.encode(first) == msgspec.json.encode(again)


def _catalogue(text: str) -> DecisionEngine:
    return DecisionEngine(parse_catalogue_text(text, "bank.yaml"))


def test_without_the_salary_project_detector_no_membership_is_reported() -> None:
    text = DEFAULT_CATALOGUE.read_text(encoding="utf-8")
    entry = "  salary_project_member:\n"
    assert entry in text
    engine = _catalogue(text.replace(entry, entry + "    enabled: false\n"))
    state, found = memberships(engine, [salary(0)])
    assert found == [] and state.employer != 0  # the employer is still known


def test_a_cluster_of_the_customers_employer_at_the_size_opens_the_group_offer(
    engine: DecisionEngine,
) -> None:
    state, _ = memberships(engine, [salary(0)])
    payer = salary_payer(salary(0))
    assert payer is not None
    decision = engine.apply(state, notice(payer.employer_id, 25), at(days=40))
    assert impulse_kinds(decision.outputs) == ["salary_project_member"]
    impulse = decision.outputs[0]
    assert [(e.name, e.value) for e in impulse.evidence] == [  # type: ignore[union-attr]
        ("employer", "ACME Maschinenbau GmbH"),
        ("members", "25"),
    ]
    assert [o.action_id for o in opportunities(decision.outputs)] == ["salary_project_offer"]
    again = engine.apply(decision.state, notice(payer.employer_id, 26, days=41), at(days=41))
    assert impulse_kinds(again.outputs) == []  # one group offer per member


def test_a_cluster_below_the_catalogues_size_opens_nothing(engine: DecisionEngine) -> None:
    state, _ = memberships(engine, [salary(0)])
    payer = salary_payer(salary(0))
    assert payer is not None
    decision = engine.apply(state, notice(payer.employer_id, 24), at(days=40))
    assert impulse_kinds(decision.outputs) == []


def test_a_customer_who_moved_to_another_employer_gets_no_offer_of_the_old_cluster(
    engine: DecisionEngine,
) -> None:
    state, _ = memberships(engine, [salary(0), salary(31, name="Stadtwerke Musterstadt")])
    old = salary_payer(salary(0))
    assert old is not None
    decision = engine.apply(state, notice(old.employer_id, 30), at(days=40))
    assert impulse_kinds(decision.outputs) == []


def test_the_erasure_of_a_customer_names_their_current_employer_and_nothing_older(
    engine: DecisionEngine,
) -> None:
    state, _ = memberships(engine, [salary(0), salary(31, name="Stadtwerke Musterstadt")])
    new = salary_payer(salary(31, name="Stadtwerke Musterstadt"))
    assert new is not None
    erased = employer_erasure(CUSTOMER, state)
    assert erased is not None
    assert (erased.status, erased.employer_id, erased.customer_id, erased.employer_name) == (
        "erased",
        new.employer_id,
        CUSTOMER,
        "",
    )
    assert erased.since == at(days=31).replace(hour=0, minute=0, second=0, microsecond=0)
    # the same state gives the same bytes: a redelivered tombstone publishes it again
    assert msgspec.json.encode(employer_erasure(CUSTOMER, state)) == msgspec.json.encode(erased)


def test_a_customer_without_a_salary_has_no_employer_to_erase_from(
    engine: DecisionEngine,
) -> None:
    state, _ = memberships(engine, [booking(at(days=0), "12.00")])
    assert employer_erasure(CUSTOMER, state) is None
