"""A data engineer backtests a rule change on recorded events."""

from __future__ import annotations

from datetime import timedelta

import orjson

from tests.support.scenarios import T0, abandoned_card_order, inbound_call, profile
from tests.unit.cli.test_cli_errors import REPO, assert_clean_failure, cli


def record(path, events):
    lines = [
        orjson.dumps({"topic": topic, "partition": 0, "offset": n, "value": event})
        for n, (topic, event) in enumerate(events)
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")


def test_a_longer_abandonment_window_loses_the_card_offer(tmp_path):
    events = tmp_path / "events.jsonl"
    record(
        events,
        [("customers.profile", profile("c1"))]
        + [("orders.flow", e) for e in abandoned_card_order("c1")]
        + [("channel.contacts", inbound_call("c1", T0 + timedelta(minutes=40)))],
    )
    default = REPO / "src/impulse_stream/catalogue/default.yaml"
    slower = tmp_path / "slower.yaml"
    slower.write_text(default.read_text().replace("window_minutes: 30", "window_minutes: 90", 1))
    result = cli("backtest", str(events), "--catalogue", str(slower), "--baseline", str(default))
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0] == "events: 5"
    assert "finish_credit_card_order=1" in lines[1]  # baseline
    assert "finish_credit_card_order" not in lines[2]  # candidate
    assert "only with baseline: " in lines[3] and not lines[3].endswith(" 0")


def test_a_backtest_of_a_malformed_recording(tmp_path):
    events = tmp_path / "events.jsonl"
    events.write_text('{"offset": 1}\n')
    default = str(REPO / "src/impulse_stream/catalogue/default.yaml")
    assert_clean_failure(cli("backtest", str(events), "--catalogue", default), "events.jsonl:1")
