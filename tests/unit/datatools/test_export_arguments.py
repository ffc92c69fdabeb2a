"""Bad export ranges, topics and formats end in one line and exit code 2 (no broker needed)."""

from __future__ import annotations

import pytest

from impulse_stream.datatools.export import Bound, parse_bound
from tests.unit.cli.test_cli_errors import assert_clean_failure, cli

# A port nothing listens on: every case must fail before Kafka is asked.
NO_KAFKA = {"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1"}


def test_bounds_are_times_dates_or_offsets():
    assert parse_bound("1200", "--from") == Bound(offset=1200)
    assert parse_bound("2026-11-01", "--from") == Bound(time_ms=1793491200000)
    assert parse_bound("2026-11-01T01:00:00+01:00", "--from") == Bound(time_ms=1793491200000)
    assert parse_bound("2026-11-01T00:00:00Z", "--to") == Bound(time_ms=1793491200000)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (("--from", "2026-11-05", "--to", "2026-11-01"), ("empty range", "--from 2026-11-05")),
        (("--from", "50", "--to", "50"), ("empty range", "offset 50")),
        (("--from", "yesterday", "--to", "2026-11-01"), ("--from", "RFC 3339")),
        (("--from", "2026-11-01T10:00:00", "--to", "2026-11-02"), ("needs an offset",)),
        (
            ("--from", "0", "--to", "9", "--topics", "orders.flow,no.such"),
            ("unknown topic", "'no.such'"),
        ),
        (("--from", "0", "--to", "9", "--format", "csv"), ("--format", "jsonl, parquet")),
    ],
)
def test_a_bad_export_says_what_is_wrong(args, words, tmp_path):
    result = cli("export", *args, "--out", str(tmp_path / "x.jsonl"), env=NO_KAFKA)
    assert_clean_failure(result, *words)
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "x.jsonl").exists()
