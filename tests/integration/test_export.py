"""A data engineer loads a generated month into Kafka, exports a range and backtests it."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import orjson
import pyarrow.parquet as pq
import pytest

from impulse_stream.contract.topics import INPUT_TOPICS, topic_specs
from impulse_stream.datatools.generate import GenerateSpec, write_files
from impulse_stream.datatools.recording import topic_file
from impulse_stream.infra import create_topics
from impulse_stream.infra.admin import delete_topics
from tests.unit.cli.test_cli_errors import REPO, assert_clean_failure, cli

pytestmark = pytest.mark.integration

SPEC = GenerateSpec(120, 6, 9, history_months=1)


@pytest.fixture
def replay_topics(kafka_bootstrap, topic_prefix):
    """The contract's topics under ``topic_prefix`` keeping everything (``retention.ms=-1``):
    Kafka's retention counts from the record timestamp, the generated event time."""
    specs = [
        replace(spec, config={**spec.config, "retention.ms": "-1"})
        for spec in topic_specs(6, prefix=topic_prefix)
    ]
    create_topics(kafka_bootstrap, specs)
    yield
    delete_topics(kafka_bootstrap, [s.name for s in specs])


@pytest.fixture
def loaded(kafka_bootstrap, replay_topics, topic_prefix, tmp_path):
    """The month on fresh topics (sent by ``generate --to-kafka``) and the same month as files."""
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix}
    args = ("--customers", "120", "--days", "6", "--seed", "9", "--history-months", "1")
    result = cli("generate", *args, "--to-kafka", env=env)
    assert result.returncode == 0, result.stderr
    files = tmp_path / "files"
    write_files(SPEC, files, 6)
    rows = [
        orjson.loads(line)
        for topic in INPUT_TOPICS
        for line in topic_file(files, topic).read_bytes().splitlines()
    ]
    return env, files, rows


def ms(text: str) -> int:
    return int(datetime.fromisoformat(text).astimezone(UTC).timestamp() * 1000)


def key(row):
    return (row["timestamp"], INPUT_TOPICS.index(row["topic"]), row["partition"], row["offset"])


def test_a_time_range_exported_from_kafka_is_exactly_the_generated_rows(loaded, tmp_path):
    env, _, rows = loaded
    out = tmp_path / "range.jsonl"
    start, end = "2026-11-02T06:00:00+01:00", "2026-11-04"
    result = cli("export", "--from", start, "--to", end, "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    exported = [orjson.loads(line) for line in out.read_bytes().splitlines()]
    expected = sorted((r for r in rows if ms(start) <= r["timestamp"] < ms(end)), key=key)
    assert len(expected) > 300
    # Same partitions and offsets as the files: generate put every key where Kafka would.
    assert exported == expected
    assert f"exported {len(expected):,} messages from 36 partitions" in result.stdout


def test_an_offset_range_of_two_topics_to_parquet(loaded, tmp_path):
    env, _, rows = loaded
    out = tmp_path / "orders.parquet"
    result = cli(
        "export",
        "--from",
        "2",
        "--to",
        "7",
        "--topics",
        "orders.flow,opportunities.responses",
        "--format",
        "parquet",
        "--out",
        str(out),
        env=env,
    )
    assert result.returncode == 0, result.stderr
    table = pq.read_table(out).to_pylist()
    expected = sorted(
        (
            r
            for r in rows
            if r["topic"] in ("orders.flow", "opportunities.responses") and 2 <= r["offset"] < 7
        ),
        key=key,
    )
    assert [
        (t["topic"], t["partition"], t["offset"], t["key"], orjson.loads(t["value"])) for t in table
    ] == [(r["topic"], r["partition"], r["offset"], r["key"], r["value"]) for r in expected]
    assert {t["timestamp"] for t in table} == {
        datetime.fromtimestamp(r["timestamp"] / 1000, UTC) for r in expected
    }


def test_a_backtest_of_the_export_of_the_files_and_of_the_topic_range_agree(loaded, tmp_path):
    env, files, _ = loaded
    out = tmp_path / "all.jsonl"
    result = cli("export", "--from", "0", "--to", "2026-12-01", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    candidate = tmp_path / "candidate.yaml"
    text = (REPO / "src/impulse_stream/catalogue/default.yaml").read_text()
    candidate.write_text(
        text.replace("min_ratio: 1.5, min_excess: 5000", "min_ratio: 1.1, min_excess: 300")
    )
    reports = []
    for source in ((str(out),), (str(files),), ("--from", "0", "--to", "2026-12-01")):
        r = cli("backtest", *source, "--candidate", str(candidate), "--json", env=env)
        assert r.returncode == 0, r.stderr
        reports.append(orjson.loads(r.stdout))
    # The export, the files and the topic range straight from Kafka give one report.
    assert reports[0]["events"] == reports[1]["events"] == reports[2]["events"] > 1000
    assert reports[0]["added"]["total"] > 0
    for field in (
        "baseline",
        "candidate",
        "added",
        "removed",
        "shifts",
        "customers_affected",
        "added_ids",
        "removed_ids",
    ):
        assert reports[0][field] == reports[1][field] == reports[2][field], field


def test_exporting_from_a_topic_that_does_not_exist(kafka_bootstrap, tmp_path):
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "IMPULSE_STREAM_TOPIC_PREFIX": "nobody."}
    result = cli("export", "--from", "0", "--to", "10", "--out", str(tmp_path / "x.jsonl"), env=env)
    assert_clean_failure(result, "nobody.bank.transactions", "does not exist")
    assert len(result.stderr.strip().splitlines()) == 1


def test_generating_to_kafka_without_the_topics(kafka_bootstrap):
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "IMPULSE_STREAM_TOPIC_PREFIX": "nobody."}
    result = cli("generate", "--customers", "5", "--days", "1", "--to-kafka", env=env)
    assert_clean_failure(result, "does not exist", "infra up")


def test_generating_an_old_month_onto_topics_that_would_delete_it(
    kafka_bootstrap, make_topics, topic_prefix
):
    make_topics(topic_prefix, 6)  # the contract's topics keep 7 days
    env = {"KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap, "IMPULSE_STREAM_TOPIC_PREFIX": topic_prefix}
    result = cli("generate", "--customers", "5", "--days", "1", "--to-kafka", env=env)
    assert_clean_failure(result, "retention.ms", "would delete them", "2026-08-01")
    assert len(result.stderr.strip().splitlines()) == 1
