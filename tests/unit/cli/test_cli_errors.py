"""Bad input on the command line: a one-line message and exit code 2, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    import os

    return subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, **(env or {})},
        timeout=60,
    )


def assert_clean_failure(result: subprocess.CompletedProcess[str], *words: str) -> None:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in result.stderr


def test_the_packaged_catalogue_is_valid():
    result = cli("catalogue", "validate", "src/impulse_stream/catalogue/default.yaml")
    assert result.returncode == 0 and "valid" in result.stdout


def test_a_missing_catalogue_file(tmp_path):
    assert_clean_failure(cli("catalogue", "validate", str(tmp_path / "nope.yaml")), "nope.yaml")


def test_a_catalogue_with_a_bad_field_names_file_line_and_field(tmp_path):
    text = (REPO / "src/impulse_stream/catalogue/default.yaml").read_text()
    bad = tmp_path / "bank.yaml"
    bad.write_text(text.replace("window_minutes: 30", "window_minutes: soon", 1))
    assert_clean_failure(cli("catalogue", "validate", str(bad)), "bank.yaml:", "window_minutes")


def test_producing_to_an_unknown_topic(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text('{"customer_id": "c1"}\n')
    assert_clean_failure(cli("produce", "no.such.topic", str(events)), "not an input topic")


def test_producing_a_file_that_is_not_json_lines(tmp_path):
    events = tmp_path / "e.jsonl"
    events.write_text("{oops\n")
    assert_clean_failure(cli("produce", "orders.flow", str(events)), "e.jsonl:1")


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("IMPULSE_STREAM_WEB_PORT", "eighty"),
        ("KAFKA_BOOTSTRAP_SERVERS", "no-port-here"),
        ("REDIS_URL", "http://x"),
        ("IMPULSE_STREAM_LOG_LEVEL", "LOUD"),
        ("REDIS_URL", "redis+cluster://node-without-port"),
        ("IMPULSE_STREAM_CORS_ORIGINS", "desk.bank.example"),
        ("IMPULSE_STREAM_API_TOKEN_FILE", "/nonexistent/api-token"),
    ],
)
def test_a_worker_with_a_bad_setting_says_which(name, value):
    assert_clean_failure(cli("worker", env={name: value}), name)


def test_an_unknown_command_is_a_usage_error():
    result = cli("fly")
    assert result.returncode == 2 and "Traceback" not in result.stderr
