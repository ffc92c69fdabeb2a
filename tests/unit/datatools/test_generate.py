"""A data engineer generates a synthetic bank month and replays it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime

import orjson
import pytest

from impulse_stream.catalogue_loader import load_catalogue
from impulse_stream.contract.codec import decode
from impulse_stream.contract.topics import INPUT_TOPICS
from impulse_stream.core.engine import DecisionEngine
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.partitioner import partition_for
from impulse_stream.datatools.recording import read_recordings, topic_file
from impulse_stream.tools import run_model
from tests.unit.cli.test_cli_errors import REPO, assert_clean_failure, cli


@pytest.fixture(scope="module")
def month(tmp_path_factory):
    """600 customers, 30 days from 2026-11-01 (and three months of history), seed 11."""
    out = tmp_path_factory.mktemp("month")
    stats = write_files(GenerateSpec(600, 30, 11), out, 6)
    return out, stats


def rows(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_the_same_arguments_give_byte_identical_files(tmp_path):
    args = ("generate", "--customers", "150", "--days", "12", "--seed", "42")
    first, second = tmp_path / "a", tmp_path / "b"
    for out in (first, second):
        result = cli(*args, "--out", str(out))
        assert result.returncode == 0, result.stderr
        assert "generated" in result.stdout and "events/s" in result.stdout
    names = sorted(p.name for p in first.iterdir())
    assert names == sorted([*(f"{t}.jsonl" for t in INPUT_TOPICS), "manifest.json"])
    for name in names:
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    assert (first / "bank.transactions.jsonl").stat().st_size > 100_000


def test_another_seed_gives_another_bank(tmp_path):
    a = write_files(GenerateSpec(100, 5, 1), tmp_path / "a", 6)
    b = write_files(GenerateSpec(100, 5, 2), tmp_path / "b", 6)
    assert a.per_customer != b.per_customer
    assert (tmp_path / "a" / "bank.transactions.jsonl").read_bytes() != (
        tmp_path / "b" / "bank.transactions.jsonl"
    ).read_bytes()


def test_every_generated_event_decodes_on_its_topic_with_its_key(month):
    out, stats = month
    for topic in INPUT_TOPICS:
        found = rows(topic_file(out, topic))
        assert len(found) == stats.per_topic[topic] > 0, topic
        for row in found:
            key = row["key"].encode()
            event = decode(topic, key, orjson.dumps(row["value"]))
            assert row["topic"] == topic and event.customer_id == row["key"]


def test_rows_sit_on_kafkas_partition_with_contiguous_offsets_in_event_time_order(month):
    out, _ = month
    for topic in INPUT_TOPICS:
        offsets: dict[int, list[int]] = {}
        last = 0
        for row in rows(topic_file(out, topic)):
            assert row["partition"] == partition_for(row["key"].encode(), 6)
            offsets.setdefault(row["partition"], []).append(row["offset"])
            assert row["timestamp"] >= last
            last = row["timestamp"]
            value = row["value"]
            at = value.get("booked_at") or value.get("occurred_at") or value["updated_at"]
            assert datetime.fromisoformat(at).timestamp() * 1000 == row["timestamp"]
        for partition, seen in offsets.items():
            assert seen == list(range(len(seen))), (topic, partition)


def test_events_fall_in_the_history_months_and_the_period(month):
    out, _ = month
    manifest = orjson.loads((out / "manifest.json").read_bytes())
    assert manifest["history_start"] == "2026-08-01" and manifest["start"] == "2026-11-01"
    first = datetime(2026, 8, 1, tzinfo=UTC).timestamp() * 1000
    end = datetime(2026, 12, 1, tzinfo=UTC).timestamp() * 1000
    for topic in INPUT_TOPICS:
        stamps = [r["timestamp"] for r in rows(topic_file(out, topic))]
        assert first <= min(stamps) and max(stamps) < end
    # Only bookings (and the opening profiles) before the period.
    before = {
        t
        for day, counts in manifest["per_day"].items()
        if day < "2026-11-01"
        for t, n in counts.items()
        if n
    }
    assert before == {"bank.transactions", "customers.profile"}
    assert sum(manifest["per_topic"].values()) == manifest["events"]


def test_the_month_has_the_bank_s_typical_traffic(month):
    _, stats = month
    cats = stats.categories
    for category in (
        "salary",
        "pension",
        "rent",
        "card_payment",
        "insurance_premium",
        "loan_instalment",
        "building_savings",
        "transfer",
        "returned_debit",
    ):
        assert cats.get(category, 0) > 0, category
    assert cats["card_payment"] > cats["salary"] > cats["loan_instalment"]
    # Orders stop at every step, complete or are cancelled; calls answer the offers.
    assert {"started", "completed", "cancelled"} <= set(stats.order_outcomes)
    assert stats.order_outcomes["started"] > stats.order_outcomes["completed"]
    assert {"accepted", "declined"} <= set(stats.responses)


def test_generated_data_makes_the_core_fire_a_broad_set_of_impulses(month):
    out, _ = month
    run = run_model(DecisionEngine(load_catalogue()), list(read_recordings([out])))
    kinds: Counter[str] = Counter()
    actions: Counter[str] = Counter()
    for m in run.messages:
        value = orjson.loads(m.value)
        if m.topic == "impulses":
            kinds[value["kind"]] += 1
        elif m.topic == "opportunities" and value["revision"] == 0:
            actions[value["action_id"]] += 1
        assert m.topic != "impulse-stream.dlq", m.headers
    # salary_project_member needs the employer clusters of the worker (streaming/employers.py)
    detectors = set(load_catalogue().detectors) - {"salary_project_member"}
    assert len(set(kinds)) >= len(detectors) - 2, sorted(detectors - set(kinds))
    assert {
        "order_abandoned",
        "offer_clicked_not_ordered",
        "salary_increase",
        "first_salary",
        "large_incoming_payment",
        "balance_above_usual",
        "recurring_overdraft",
        "competitor_payment",
        "payment_difficulty",
        "card_used_abroad",
        "card_expiring",
        "missing_consent",
        "coming_of_age",
        "retirement_approaching",
        "product_maturing",
        "birthday",
        "standing_orders_cancelled",
        "education_started",
        "education_ended",
        "income_group_reached",
        "new_purchase",  # the C-customer pool is a journey now (c_pool_contact_due is off)
    } <= set(kinds)
    assert len(actions) >= 15
    assert any(m.topic == "attributions" for m in run.messages)  # sales credited


def test_ctrl_c_stops_generate_cleanly_and_says_where(tmp_path):
    out = tmp_path / "big"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "impulse_stream.cli",
            "generate",
            "--customers",
            "100000",
            "--days",
            "30",
            "--out",
            str(out),
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ},
    )
    transactions = out / "bank.transactions.jsonl"

    def last_booking_day() -> str:
        if not transactions.exists():
            return ""
        with transactions.open("rb") as f:
            f.seek(max(0, transactions.stat().st_size - 2000))
            tail = f.read()
        return tail.rsplit(b'"booked_at":"', 1)[-1][:10].decode() if b"booked_at" in tail else ""

    deadline = time.monotonic() + 90
    while time.monotonic() < deadline and last_booking_day() < "2026-08-02":
        time.sleep(0.02)  # the second day is being written: the first is complete
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    assert "stopped after 2026-" in stderr and "hold every event up to" in stderr
    last_day = stderr.split("stopped after ")[1][:10]
    data = transactions.read_bytes()
    assert data.endswith(b"\n")
    last = orjson.loads(data.splitlines()[-1])
    assert last["value"]["booked_at"][:10] == last_day


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--start", "first of november", "--out", "x"), ("--start", "YYYY-MM-DD")),
        (("--customers", "0", "--out", "x"), ("--customers",)),
        (("--out", "x", "--to-kafka"), ("exactly one of",)),
        ((), ("exactly one of",)),
    ],
)
def test_generate_with_bad_arguments_says_what_is_wrong(args, words):
    result = cli("generate", *args)
    assert_clean_failure(result, *words)
    assert len(result.stderr.strip().splitlines()) == 1
