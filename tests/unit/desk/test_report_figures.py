"""The report's figures from its counters, and the counters an event raises."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from impulse_stream.core.events import (
    Attribution,
    Opportunity,
    OpportunityResponse,
    OrderStep,
    Texts,
)
from impulse_stream.core.state import CustomerState, OpportunityState, Profile
from impulse_stream.desk.report import build_report, decode, tallies

T = datetime(2026, 11, 23, 9, 0, tzinfo=UTC)


def _opp(revision: int = 0, status: str = "open", channels=("call_centre", "app")) -> Opportunity:
    return Opportunity(
        opportunity_id="opp-1",
        revision=revision,
        customer_id="c1",
        action_id="finish_credit_card_order",
        product="credit_card",
        kind="sales",
        priority=1.0,
        rank=1,
        status=status,  # type: ignore[arg-type]
        reasons=(),
        channels=channels,  # type: ignore[arg-type]
        texts=Texts(instruction="", argument="", objections="", info_url=""),
        valid_until=T + timedelta(days=2),
        created_at=T,
        rules_version="v",
    )


def _state() -> CustomerState:
    return CustomerState(
        customer_id="c1",
        profile=Profile(known=True, segment="premium"),
        opportunities=(
            OpportunityState(
                opportunity_id="opp-1",
                action_id="finish_credit_card_order",
                created_at=T,
                valid_until=T + timedelta(days=2),
                reasons=(),
                priority=1.0,
                rank=1,
                channel_mask=1,
            ),
        ),
    )


def test_a_new_opportunity_counts_as_opened_on_every_routed_channel_in_its_segment():
    (t,), _ = tallies([_opp()], {"c1": _state()}, {})
    assert t.day == "2026-11-23" and t.event_id == "o:opp-1:0"
    assert t.counters == (
        "o|call_centre|finish_credit_card_order|premium|opened",
        "o|app|finish_credit_card_order|premium|opened",
    )


def test_a_revision_counts_only_when_it_expires_and_on_its_validity_day():
    assert tallies([_opp(1, "open")], {}, {})[0] == []
    assert tallies([_opp(2, "withdrawn")], {}, {})[0] == []
    (t,), _ = tallies([_opp(3, "expired")], {}, {})
    assert t.day == "2026-11-25" and t.counters[0].endswith("|-|expired")  # segment unknown


def test_a_response_counts_for_its_channel_with_the_action_from_the_customers_state():
    r = OpportunityResponse(
        event_id="e1",
        opportunity_id="opp-1",
        customer_id="c1",
        channel="call_centre",
        response="declined",
        occurred_at=T,
    )
    (t,), _ = tallies([r], {"c1": _state()}, {})
    assert t.counters == ("o|call_centre|finish_credit_card_order|premium|declined",)
    (unknown,), _ = tallies([r], {}, {})
    assert unknown.counters == ("o|call_centre|-|-|declined",)


def test_an_online_order_completed_on_the_phone_counts_for_the_day_it_started():
    def step(status: str, channel: str, at: datetime) -> OrderStep:
        return OrderStep(
            event_id=f"s-{status}",
            customer_id="c1",
            order_id="ord-1",
            product="credit_card",
            channel=channel,  # type: ignore[arg-type]
            occurred_at=at,
            status=status,  # type: ignore[arg-type]
        )

    counted, started = tallies(
        [step("started", "online_banking", T), step("completed", "call_centre", T + timedelta(1))],
        {},
        {},
    )
    assert started == [("ord-1", "2026-11-23", "credit_card")]
    assert [(t.day, t.counters) for t in counted] == [
        ("2026-11-23", ("p|credit_card|started",)),
        ("2026-11-23", ("p|credit_card|completed",)),
    ]
    # an order started in the branch is no online process
    assert tallies([step("started", "branch", T)], {}, {}) == ([], [])


def test_a_sale_counts_for_the_closing_channel_advisor_and_branch():
    a = Attribution(
        attribution_id="a1",
        order_id="o1",
        customer_id="c1",
        product="credit_card",
        closing_channel="call_centre",
        advisor_id="adv-1",
        branch_id=None,
        opportunity_id=None,
        credited_at=T,
    )
    (t,), _ = tallies([a], {}, {})
    assert t.counters == ("s|call_centre|adv-1|-|credit_card",)


def test_conversion_is_accepted_over_answered_and_abandonment_is_unfinished_over_started():
    report = build_report(
        {
            "2026-11-23": {
                "o|call_centre|a1|retail|opened": 10,
                "o|call_centre|a1|retail|shown": 4,
                "o|call_centre|a1|retail|accepted": 3,
                "o|call_centre|a1|retail|declined": 2,
                "o|call_centre|a1|retail|no_time": 1,
                "p|credit_card|started": 8,
                "p|credit_card|completed": 2,
                "s|call_centre|adv-1|br-1|credit_card": 2,
                "s|online_banking|adv-1|-|savings_plan": 1,
                "x|something|new": 5,
            },
            "2026-11-24": {"o|call_centre|a1|retail|accepted": 1},
        }
    )
    assert [r["conversion"] for r in report["opportunities"]] == [0.5, 1.0]
    assert report["channels"]["call_centre"]["accepted"] == 4
    assert report["channels"]["call_centre"]["conversion"] == round(4 / 7, 4)
    (cards,) = report["online_processes"]
    assert (cards["abandoned"], cards["abandonment_rate"]) == (6, 0.75)
    assert report["sales_by_closing_channel"] == {"call_centre": 2, "online_banking": 1}
    assert report["sales_by_advisor"] == {"adv-1": 3}
    assert report["sales_by_branch"] == {"-": 1, "br-1": 2}
    assert build_report({})["channels"] == {}


def test_messages_the_report_cannot_read_are_left_out():
    assert decode("opportunities", b"not json") is None
    assert decode("opportunities", None) is None
    assert decode("bank.transactions", b"{}") is None
