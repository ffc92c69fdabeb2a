"""The backtest report on a generated month: what it counts and how it shows it."""

from __future__ import annotations

import io
import re
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from datetime import time as dt_time

import orjson
import pytest
from rich.console import Console

from impulse_stream.catalogue_loader import load_catalogue, parse_catalogue_text
from impulse_stream.core.codec import decode_state
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.core.outbound import SENT_KIND
from impulse_stream.core.state import Contact
from impulse_stream.datatools.backtest import compare, compare_runs, run_catalogue
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.outbound_memory import OutboundFeedback, memory_selector
from impulse_stream.datatools.recording import read_recordings
from impulse_stream.datatools.render import render_html, render_json, render_terminal
from impulse_stream.datatools.svg import Series, line_chart
from impulse_stream.store.memory import MemoryStore
from impulse_stream.streaming.messages import CollectingPublisher
from impulse_stream.streaming.processor import BatchProcessor
from tests.unit.cli.test_cli_errors import REPO, assert_clean_failure, cli

DEFAULT = REPO / "src/impulse_stream/catalogue/default.yaml"


def variant(old: str, new: str, version: str):
    text = DEFAULT.read_text()
    assert text.count(old) == 1, old
    return parse_catalogue_text(
        text.replace(old, new).replace('version: "2026.11.1"', f'version: "{version}"'),
        version,
    )


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    out = tmp_path_factory.mktemp("month")
    write_files(GenerateSpec(250, 20, 3), out, 6)
    messages = list(read_recordings([out]))
    default = load_catalogue()
    return out, messages, default, run_catalogue(default, messages, "baseline")


def test_the_same_catalogue_twice_changes_nothing(month):
    _, messages, default, run = month
    report = compare_runs(
        run, run_catalogue(default, messages, "again"), default, default, len(messages), 250
    )
    assert report.added.total == report.removed.total == report.customers_affected == 0
    assert report.shifts == [] and report.samples == []
    assert report.baseline.per_action == report.candidate.per_action
    assert report.baseline.opened > 200
    assert report.baseline.suppressions == report.candidate.suppressions
    assert report.baseline.suppressions.get("product_held", 0) > 0


def test_a_higher_action_value_raises_its_priority_and_rank(month):
    _, messages, default, run = month
    richer = variant(
        "    value: 100\n    validity_days: 30\n    handling_minutes: 3\n",
        "    value: 900\n    validity_days: 30\n    handling_minutes: 3\n",
        "2026.11.1-reserve",
    )
    report = compare_runs(
        run, run_catalogue(richer, messages, "candidate"), default, richer, len(messages), 250
    )
    [shift] = [s for s in report.shifts if s.action == "financial_reserve_offer"]
    assert shift.opportunities == report.baseline.per_action["financial_reserve_offer"]
    assert shift.mean_priority_change > 0 and shift.rank_down == 0
    assert report.added.total == report.removed.total == 0
    assert report.customers_affected >= shift.opportunities // 2
    changed = [s for s in report.samples if s.change == "shifted"]
    assert changed and all(s.baseline.startswith("rank ") for s in changed)
    assert all(s.candidate != s.baseline for s in changed)


def test_days_over_a_channels_daily_capacity_are_flagged(month):
    _, messages, default, run = month
    tight = variant(
        "daily_capacity: {call_centre: 20000,",
        "daily_capacity: {call_centre: 5,",
        "2026.11.1-tight",
    )
    report = compare_runs(
        run, run_catalogue(tight, messages, "candidate"), default, tight, len(messages), 250
    )
    expected = [
        (day, counts["call_centre"])
        for day, counts in sorted(report.candidate.contacts_per_day.items())
        if counts.get("call_centre", 0) > 5
    ]
    assert expected  # the opening day has hundreds
    assert [(o["day"], o["contacts"]) for o in report.candidate.over_capacity] == expected
    assert report.baseline.over_capacity == []
    assert report.candidate.daily_capacity["call_centre"] == 5


def test_the_html_report_is_one_self_contained_file_with_a_chart_per_channel(month, tmp_path):
    out, messages, default, _ = month
    html = tmp_path / "report.html"
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(DEFAULT.read_text().replace("min_ratio: 1.5", "min_ratio: 1.2"))
    result = cli("backtest", str(out), "--candidate", str(candidate), "--html", str(html))
    assert result.returncode == 0, result.stderr
    assert f"HTML report: {html}" in result.stdout
    page = html.read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert not re.search(r"<script|<link|src=|@import", page)
    report = compare(messages, default, load_catalogue(candidate))
    channels = {ch for day in report.candidate.contacts_per_day.values() for ch in day}
    assert page.count("<svg") == len(channels) >= 3
    for ch in channels:
        assert f"{ch}: opened per day" in page
    assert page.count("<polyline") >= 2 * len(channels)  # baseline and candidate each
    assert "Policy suppressions per rule" in page and "Changed decisions" in page


def test_the_json_report_round_trips(month):
    _, messages, default, run = month
    report = compare_runs(run, run, default, default, len(messages), 250)
    data = orjson.loads(render_json(report))
    assert data["baseline"]["opened"] == report.baseline.opened
    assert data["days"] == report.days and data["customers"] == 250
    assert render_html(report).count("<svg") >= 3


def test_a_line_chart_puts_zero_at_the_bottom_and_the_maximum_at_the_top():
    svg = line_chart(
        "t",
        ["2026-11-01", "2026-11-02", "2026-11-03"],
        [Series("a", [0, 50, 100], "#000")],
        width=260,
        height=108,
    )
    # plot area: x 48..236, y 28..68; the y axis ends at 100
    assert 'points="48.0,68.0 142.0,48.0 236.0,28.0"' in svg
    assert svg.startswith("<svg") and svg.endswith("</svg>")


def test_ctrl_c_stops_a_backtest_cleanly_and_says_where(tmp_path):
    out = tmp_path / "month"
    write_files(GenerateSpec(3000, 30, 4), out, 6)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "impulse_stream.cli",
            "backtest",
            str(out),
            "--candidate",
            str(DEFAULT),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    time.sleep(8)
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr and stdout == ""
    assert re.fullmatch(
        r"interrupted: stopped (during the baseline run after [\d,]+ of [\d,]+ events"
        r"|during the baseline and candidate runs after [\d,]+ and [\d,]+ of [\d,]+ events"
        r"|while reading the recordings|between the two runs); no report written\n",
        stderr,
    ), stderr


def test_report_from_counts_only_the_period_after_the_warm_up(month, tmp_path):
    out, _, _, _ = month
    candidate = tmp_path / "candidate.yaml"
    candidate.write_text(DEFAULT.read_text().replace("min_ratio: 1.5", "min_ratio: 1.2"))
    reports = []
    for extra in ((), ("--report-from", "2026-11-01")):
        r = cli("backtest", str(out), "--candidate", str(candidate), "--json", *extra)
        assert r.returncode == 0, r.stderr
        reports.append(orjson.loads(r.stdout))
    everything, period = reports
    assert everything["days"][0] == "2026-08-01" and period["days"][0] >= "2026-11-01"
    assert period["report_from"] == "2026-11-01"
    assert set(period["removed_ids"]) <= set(everything["removed_ids"])
    assert set(period["added_ids"]) <= set(everything["added_ids"])
    for side in ("baseline", "candidate"):
        assert 0 < period[side]["opened"] < everything[side]["opened"]
        for rule, n in period[side]["suppressions"].items():
            assert n <= everything[side]["suppressions"][rule]
        assert period[side]["contacts_per_day"] == {
            day: counts
            for day, counts in everything[side]["contacts_per_day"].items()
            if day >= "2026-11-01"
        }
        # The warm-up ends a batch at the first day: from the next day on, the selector
        # did the same (docs/backtest.md: what a batch's end shifts).
        outbound = period[side]["outbound_per_day"]
        assert min(outbound) == "2026-11-01"
        assert {d: c for d, c in outbound.items() if d > "2026-11-01"} == {
            day: counts
            for day, counts in everything[side]["outbound_per_day"].items()
            if day > "2026-11-01"
        }
    result = cli("backtest", str(out), "--candidate", str(candidate), "--report-from", "nov")
    assert_clean_failure(result, "--report-from", "YYYY-MM-DD")


def test_a_month_with_25_colleagues_of_one_employer_reports_salary_project_members(month):
    _, messages, default, run = month
    members = [orjson.loads(m.value) for m in run.messages
               if m.topic == "employers.members" and m.value]  # fmt: skip
    per_employer: dict[str, set[str]] = {}
    for m in members:
        if m["status"] == "joined":
            per_employer.setdefault(m["employer_id"], set()).add(m["customer_id"])
    clusters = {e for e, customers in per_employer.items() if len(customers) >= 25}
    assert clusters  # the generated month has salary projects
    larger = variant("params: {cluster_size: 25}", "params: {cluster_size: 100000}", "2026.11.1-c")
    report = compare_runs(
        run, run_catalogue(larger, messages, "candidate"), default, larger, len(messages), 250
    )
    told = report.baseline.impulses["salary_project_member"]
    assert told == sum(len(per_employer[e]) for e in clusters)  # every member, once
    assert "salary_project_member" not in report.candidate.impulses
    assert report.removed.per_action.get("salary_project_offer", 0) > 0


def test_a_call_centre_capacity_of_n_admits_at_most_n_a_day_and_carries_the_rest_over(month):
    _, messages, default, run = month
    n = 5
    tight = variant(
        "daily_capacity: {call_centre: 20000,",
        f"daily_capacity: {{call_centre: {n},",
        "2026.11.1-tight",
    )
    first = run_catalogue(tight, messages, "candidate")
    report = compare_runs(run, first, default, tight, len(messages), 250)
    old, new = report.baseline.outbound_per_day, report.candidate.outbound_per_day

    def total(side, channel, what):
        return sum(per.get(channel, {}).get(what, 0) for per in side.values())

    calls = [per["call_centre"]["admitted"] for per in new.values() if "call_centre" in per]
    assert calls and max(calls) == n  # the busy days fill the capacity, never more
    assert max(per.get("call_centre", {}).get("admitted", 0) for per in old.values()) > n
    waited = total(new, "call_centre", "carried_over") + total(new, "call_centre", "dropped")
    assert waited > total(old, "call_centre", "carried_over") + total(old, "call_centre", "dropped")
    fallback = sum(total(new, ch, "fallback") for ch in ("letter", "email", "sms"))
    assert fallback > sum(total(old, ch, "fallback") for ch in ("letter", "email", "sms"))
    again = run_catalogue(tight, messages, "again")
    assert again.outbound == first.outbound and again.messages == first.messages
    rendered = render_json(report)
    assert orjson.loads(rendered)["candidate"]["outbound_per_day"] == new
    assert "Outbound selector per day and channel" in render_html(report)
    console = Console(file=io.StringIO(), width=240)
    render_terminal(report, console)
    terminal = console.file.getvalue()
    assert "outbound selector per day and channel" in terminal
    day, per = next((d, p["call_centre"]) for d, p in new.items() if "call_centre" in p)
    cell = f"{per['admitted']} ({per['fallback']}) / {per['carried_over']} / {per['dropped']}"
    assert any(day in line and cell in line for line in terminal.splitlines())


async def test_the_backtests_outbound_sends_reach_the_customers_timelines_and_cool_off(month):
    _, messages, default, _ = month
    store, publisher = MemoryStore(), CollectingPublisher()
    processor = BatchProcessor(DecisionEngine(default), store, publisher)
    feedback = OutboundFeedback(processor, publisher, memory_selector(default))
    for start in range(0, len(messages), 500):
        batch = messages[start : start + 500]
        await processor.process(batch)
        feedback.heard(batch)
        await feedback.after_batch()
    assert len(feedback.contacts) > 100
    latest = {c.customer_id: c for c in sorted(feedback.contacts, key=lambda c: c.day)}
    cooling = 0
    for c in latest.values():  # the timeline keeps the recent contacts
        record = store.customers[c.customer_id]
        assert record.state is not None
        state = decode_state(record.state)
        sent = datetime.combine(c.day, dt_time(23, 59, 59), UTC)
        assert Contact(sent, c.channel, SENT_KIND[c.channel], c.action_id) in state.contacts, c
        until = {s.subject: s.until for s in state.suppressions}.get(f"action:{c.action_id}")
        assert until is None or until > sent, c  # cooling off (or over, and forgotten)
        cooling += until is not None
    assert cooling > 20  # the later sends still cool their action off
