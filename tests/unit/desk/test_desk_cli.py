"""``impulse-stream desk`` refuses bad input with one line."""

from __future__ import annotations

from tests.unit.cli.test_cli_errors import assert_clean_failure, cli


def test_a_port_out_of_range_is_one_line_and_exit_2():
    assert_clean_failure(cli("desk", "--port", "70000"), "--port=70000")


def test_a_bad_redis_url_is_named_before_anything_starts():
    result = cli("desk", env={"REDIS_URL": "http://nope"})
    assert_clean_failure(result, "REDIS_URL")


def test_demo_refuses_a_negative_duration():
    assert_clean_failure(cli("demo", "--for", "-5"), "--for=-5")
