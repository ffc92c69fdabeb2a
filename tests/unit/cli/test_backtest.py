"""A data engineer backtests a rule change on recorded events."""

from __future__ import annotations

from datetime import timedelta

import orjson

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.tools import recorded_messages, run_model
from tests.support.scenarios import T0, abandoned_card_order, inbound_call, order_step, profile
from tests.unit.cli.test_cli_errors import REPO, assert_clean_failure, cli

DEFAULT = REPO / "src/impulse_stream/catalogue/default.yaml"


def record(path, events):
    lines = [
        orjson.dumps(
            {
                "topic": topic,
                "partition": 0,
                "offset": n,
                "timestamp": int(T0.timestamp() * 1000) + n,
                "value": event,
            }
        )
        for n, (topic, event) in enumerate(events)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def slower_abandonment(tmp_path):
    """A copy of the default catalogue with one threshold changed: 30 -> 90 minutes."""
    slower = tmp_path / "slower.yaml"
    text = DEFAULT.read_text()
    assert text.count("window_minutes: 30") == 1
    slower.write_text(
        text.replace("window_minutes: 30", "window_minutes: 90").replace(
            'version: "2026.11.1"', 'version: "2026.11.2-slower"'
        )
    )
    return slower


def two_card_orders(tmp_path):
    """c1 abandons a card order for good; c2 finishes hers after 60 minutes."""
    events = tmp_path / "events.jsonl"
    members = ["current_account", "membership"]
    c2_order = [order_step("c2", "ord-c2", "started", 0, T0 + timedelta(minutes=5))]
    c2_order.append(order_step("c2", "ord-c2", "completed", 4, T0 + timedelta(minutes=65)))
    record(
        events,
        [("customers.profile", profile("c1", products=members))]
        + [("customers.profile", profile("c2", products=members))]
        + [("orders.flow", e) for e in abandoned_card_order("c1")]
        + [("orders.flow", e) for e in c2_order]
        + [("channel.contacts", inbound_call("c1", T0 + timedelta(hours=3)))],
    )
    return events


def test_a_longer_abandonment_window_removes_exactly_the_offer_of_the_late_finisher(tmp_path):
    events = two_card_orders(tmp_path)
    slower = slower_abandonment(tmp_path)
    # What the baseline opened for c2, computed on its own.
    baseline = run_model(DecisionEngine(load_catalogue(DEFAULT)), recorded_messages(events))
    opened = [orjson.loads(m.value) for m in baseline.messages if m.topic == "opportunities"]
    c2 = {o["action_id"]: o["opportunity_id"] for o in opened if o["customer_id"] == "c2"}
    # The completed order's thank-you opens with both catalogues; only the finish offer goes.
    assert sorted(c2) == ["finish_credit_card_order", "welcome_onboarding"]

    result = cli("backtest", str(events), "--candidate", str(slower), "--json")
    assert result.returncode == 0, result.stderr
    report = orjson.loads(result.stdout)
    assert report["removed_ids"] == [c2["finish_credit_card_order"]]
    assert report["added_ids"] == []
    assert report["removed"] == {
        "total": 1,
        "per_action": {"finish_credit_card_order": 1},
        "per_product": {"credit_card": 1},
        "per_channel": {"online_banking": 1},  # c2's best channel: the order was online
    }
    assert report["added"]["total"] == 0
    assert report["customers_affected"] == 1
    assert report["baseline"]["per_action"]["finish_credit_card_order"] == 2
    assert report["candidate"]["per_action"]["finish_credit_card_order"] == 1
    assert report["candidate"]["rules_version"] == "2026.11.2-slower"
    [sample] = report["samples"]
    assert sample["change"] == "removed" and sample["action"] == "finish_credit_card_order"
    assert sample["opportunity_id"] == c2["finish_credit_card_order"]
    assert "order_abandoned" in sample["baseline"] or "abandon" in sample["baseline"]
    assert sample["candidate"] == "not opened; opened welcome_onboarding"
    assert not sample["customer"].startswith("c2")  # a pseudonym


def test_the_terminal_report_names_the_change_per_action(tmp_path):
    events = two_card_orders(tmp_path)
    result = cli("backtest", str(events), "--catalogue", str(slower_abandonment(tmp_path)))
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "added 0, removed 1; customers affected 1" in out
    row = next(line for line in out.splitlines() if "finish_credit_card_order" in line)
    assert [cell.strip() for cell in row.strip("│ ").split("│")][:5] == [
        "finish_credit_card_order",
        "2",
        "1",
        "0",
        "1",
    ]
    for title in ("opportunities per product", "policy suppressions per rule", "changed decisions"):
        assert title in out


def test_a_backtest_of_a_malformed_recording(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"offset": 1}\n')
    assert_clean_failure(
        cli("backtest", str(events), "--catalogue", str(DEFAULT)), "events.jsonl:1"
    )


def test_a_backtest_with_an_invalid_candidate_catalogue_names_file_and_field(tmp_path):
    events = two_card_orders(tmp_path)
    bad = tmp_path / "bad.yaml"
    bad.write_text(DEFAULT.read_text().replace("window_minutes: 30", "window_minutes: soon"))
    result = cli("backtest", str(events), "--candidate", str(bad))
    assert_clean_failure(result, "bad.yaml:", "window_minutes")
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_backtest_of_a_missing_recording(tmp_path):
    result = cli("backtest", str(tmp_path / "none.jsonl"), "--candidate", str(DEFAULT))
    assert_clean_failure(result, "none.jsonl")


def test_a_backtest_takes_recordings_or_a_topic_range_not_both(tmp_path):
    events = two_card_orders(tmp_path)
    no_kafka = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}
    both = cli("backtest", str(events), "--from", "0", "--to", "9", "--candidate", str(DEFAULT))
    assert_clean_failure(both, "not both")
    half = cli("backtest", "--from", "0", "--candidate", str(DEFAULT), env=no_kafka)
    assert_clean_failure(half, "both --from and --to")
    backwards = cli(
        "backtest",
        "--from",
        "2026-11-02",
        "--to",
        "2026-11-01",
        "--candidate",
        str(DEFAULT),
        env=no_kafka,
    )
    assert_clean_failure(backwards, "empty range")
