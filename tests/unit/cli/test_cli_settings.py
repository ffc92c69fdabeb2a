"""The worker and the safe-operation commands, run as an SRE runs them (no servers needed)."""

from __future__ import annotations

import pytest

from impulse_stream import __version__
from tests.support.worker_process import free_port
from tests.unit.cli.test_cli_errors import assert_clean_failure, cli


@pytest.mark.parametrize(
    ("name", "value", "words"),
    [
        ("IMPULSE_STREAM_WEB_PORT", "99999", "expected a port number 1-65535"),
        ("IMPULSE_STREAM_SESSION_TIMEOUT_MS", "0", "expected 1 to 90000 milliseconds"),
        ("IMPULSE_STREAM_IDLE_ADVANCE_SECONDS", "nan", "expected a finite number"),
        ("IMPULSE_STREAM_FAUST_DATADIR", "/no/such/parent/faust", "parent directory"),
        ("KAFKA_SECURITY_PROTOCOL", "TLS", "expected one of PLAINTEXT, SSL"),
    ],
)
def test_a_worker_with_a_bad_setting_stops_in_one_line(name, value, words):
    result = cli("worker", env={name: value})
    assert_clean_failure(result, name, words)
    assert len(result.stderr.strip().splitlines()) == 1


def test_a_worker_whose_kafka_host_does_not_exist_waits_logs_each_attempt_then_gives_up():
    result = cli(
        "worker",
        env={
            "KAFKA_BOOTSTRAP_SERVERS": "nowhere.invalid:1",
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "IMPULSE_STREAM_WEB_PORT": str(free_port()),
            "IMPULSE_STREAM_STARTUP_WAIT_SECONDS": "2",
        },
    )
    assert_clean_failure(result, "gave up after 2 s (IMPULSE_STREAM_STARTUP_WAIT_SECONDS)")
    assert "waiting for Kafka at nowhere.invalid:1" in result.stderr
    assert "waiting for Redis at redis://127.0.0.1:" in result.stderr
    assert "(attempt 1, next in" in result.stderr and "(attempt 2, next in" in result.stderr


def test_version_prints_the_package_version():
    result = cli("--version")
    assert result.returncode == 0 and result.stdout.strip() == f"impulse-stream {__version__}"


def test_forget_asks_first_and_sends_nothing_when_the_answer_is_no():
    import subprocess
    import sys

    from tests.unit.cli.test_cli_errors import REPO

    result = subprocess.run(
        [sys.executable, "-m", "impulse_stream.cli", "forget", "c-1"],
        input="n\n",
        capture_output=True,
        text=True,
        cwd=REPO,
        env={"KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{free_port()}", "PATH": ""},
        timeout=60,
    )
    assert result.returncode == 1
    assert "Erase this customer's state" in result.stdout and "nothing sent" in result.stdout


def test_forget_refuses_an_id_that_cannot_be_a_customer_id():
    assert_clean_failure(cli("forget", "not a customer!", "--yes"), "customer id must be")
