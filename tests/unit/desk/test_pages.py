"""The desk's HTML: what the agent reads, escaped, with the answers it can give."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from impulse_stream.core.cockpit import CustomerView, RunningProcess
from impulse_stream.core.events import Evidence, Opportunity, Reason, Texts
from impulse_stream.desk.pages import bar_chart, customer_panel, desktop_page, teaser_page

NOW = datetime(2026, 11, 23, 11, 0, tzinfo=UTC)


def _opportunity(instruction: str = "Ask whether to finish the order.") -> Opportunity:
    return Opportunity(
        opportunity_id="opp-1",
        revision=0,
        customer_id="c1",
        action_id="finish_credit_card_order",
        product="credit_card",
        kind="sales",
        priority=96.4,
        rank=1,
        status="open",
        reasons=(
            Reason(
                impulse_id="i1",
                kind="order_abandoned",
                occurred_at=NOW - timedelta(minutes=10),
                evidence=(Evidence(name="step", value="2"), Evidence(name="order_id", value="o")),
            ),
        ),
        channels=("call_centre",),
        texts=Texts(
            instruction=instruction,
            argument="Free cash withdrawals abroad.",
            objections='"Too expensive": the first year is free.',
            info_url="https://bank.example/cards",
        ),
        valid_until=NOW + timedelta(days=2),
        created_at=NOW - timedelta(minutes=5),
        rules_version="v",
        explanation="Priority 96.41 = propensity 0.80 x value 120",
        handling_minutes=4,
    )


def _view() -> CustomerView:
    return CustomerView(
        customer_id="c1",
        advisor_id="adv-0042",
        segment="retail",
        held_products=("current_account",),
        timeline=(),
        running_processes=(
            RunningProcess(
                kind="order",
                ref="o1",
                product_or_action="credit_card",
                status="abandoned",
                at=NOW - timedelta(minutes=6),
                step=2,
                total_steps=4,
            ),
        ),
        impulses=(),
        predictions={"financial_reserve": 0.31},
        opportunities=(_opportunity(),),
        rules_version="v",
    )


PROFILE = {"age": 57, "branch_id": "br-017", "consents": {"phone": True, "email": False}}


def _panel(actions=None, minutes=None) -> str:  # type: ignore[no-untyped-def]
    actions = [_opportunity()] if actions is None else actions
    return customer_panel(
        _view(), actions, PROFILE, NOW, "call_centre", "kdc-12", "/customers/c1?", minutes
    )


def test_a_running_order_reads_as_the_agent_says_it():
    assert "credit-card order, step 2 of 4, abandoned, no activity for 6 min" in _panel()


def test_each_action_has_its_texts_handling_time_reason_and_every_answer():
    html = _panel()
    assert "Finish credit card order" in html and "≈ 4 min" in html
    assert "Why: order abandoned 10 min ago (step 2)" in html  # ids are no reason to read
    assert 'href="https://bank.example/cards"' in html
    answers = re.findall(r'name=response value="?([a-z_]+)', html)
    assert answers == ["accepted", "declined", "not_now", "no_time", "appointment"]
    assert 'name=opportunity_id value="opp-1"' in html and 'name=agent value="kdc-12"' in html
    assert "type=datetime-local name=appointment_at" in html


def test_catalogue_texts_are_escaped():
    html = _panel([_opportunity("<script>alert(1)</script>")])
    assert "<script>alert" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html


def test_no_action_that_fits_the_minutes_left_is_said_so():
    assert "No action fits into 2 minutes." in _panel([], minutes=2)


def test_the_desktop_page_loads_only_its_own_script_and_style():
    html = desktop_page(_view(), [_opportunity()], PROFILE, NOW, "call_centre", "kdc", None, "/")
    sources = re.findall(r'(?:src|href)="([^"]+\.(?:js|css))"', html)
    assert sources == ["/static/desk.css", "/static/desk.js"]
    assert 'data-customer="c1"' in html and "id=feed" in html


def test_the_teaser_view_fills_the_channels_slots_and_marks_empty_ones():
    html = teaser_page("c1", "online_banking", 2, [_opportunity()], NOW)
    assert html.count('class="slot offer"') == 1 and html.count("class='slot empty'") == 1
    assert "Free cash withdrawals abroad." in html and "Ask whether" not in html


def test_a_bar_chart_draws_one_bar_per_value_and_names_them():
    svg = bar_chart("Sales", [("call centre", [3]), ("branch", [1])], ["sales"])
    assert svg.startswith("<svg") and svg.count('<rect class="s0"') == 3  # 2 bars + legend
    assert "call centre: 3" in svg and "<title>Sales</title>" in svg
