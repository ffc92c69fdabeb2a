"""The API's settings: the bearer token (or its file) and the CORS origins."""

from __future__ import annotations

import logging

import pytest

from impulse_stream.api.security import NoRequestDetails
from impulse_stream.errors import ConfigError
from impulse_stream.settings import Settings


def test_the_token_comes_from_its_file_first_line(tmp_path):
    f = tmp_path / "token"
    f.write_text("s3cret-token\n")
    assert Settings.from_env({"IMPULSE_STREAM_API_TOKEN_FILE": str(f)}).api_bearer_token() == (
        "s3cret-token"
    )
    assert Settings.from_env({"IMPULSE_STREAM_API_TOKEN": "t1"}).api_bearer_token() == "t1"
    assert Settings.from_env({}).api_bearer_token() == ""


@pytest.mark.parametrize("content", ["", "\n", "one\ntwo\n"])
def test_an_empty_or_multi_line_token_file_is_a_config_error(tmp_path, content):
    f = tmp_path / "token"
    f.write_text(content)
    with pytest.raises(ConfigError, match="IMPULSE_STREAM_API_TOKEN_FILE"):
        Settings.from_env({"IMPULSE_STREAM_API_TOKEN_FILE": str(f)}).api_bearer_token()


def test_a_missing_token_file_names_the_variable_but_not_a_token(tmp_path):
    with pytest.raises(ConfigError, match="cannot read it"):
        Settings.from_env(
            {"IMPULSE_STREAM_API_TOKEN_FILE": str(tmp_path / "absent")}
        ).api_bearer_token()


def test_token_and_token_file_together_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="not both"):
        Settings.from_env(
            {"IMPULSE_STREAM_API_TOKEN": "a", "IMPULSE_STREAM_API_TOKEN_FILE": str(tmp_path)}
        )


def test_cors_origins_are_exact_origins():
    s = Settings.from_env(
        {"IMPULSE_STREAM_CORS_ORIGINS": "https://Desk.Bank.example/, http://localhost:3000"}
    )
    assert s.allowed_origins == ("https://desk.bank.example", "http://localhost:3000")
    assert Settings.from_env({}).allowed_origins == ()


@pytest.mark.parametrize("bad", ["desk.bank.example", "https://desk/app", "ftp://desk", "*"])
def test_a_cors_entry_that_is_no_origin_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="IMPULSE_STREAM_CORS_ORIGINS"):
        Settings.from_env({"IMPULSE_STREAM_CORS_ORIGINS": bad})


def test_a_bad_request_log_record_keeps_the_type_and_status_but_not_the_request_line():
    try:
        raise ValueError("Got more than 8190 bytes: GET /customers/c-secret-4711?x")
    except ValueError as exc:
        exc.code = 400  # type: ignore[attr-defined]
        record = logging.LogRecord(
            "aiohttp.server", logging.ERROR, __file__, 1, "Error handling request from %s",
            ("127.0.0.1",), (ValueError, exc, exc.__traceback__),
        )  # fmt: skip
    assert NoRequestDetails().filter(record)
    text = logging.Formatter().format(record)
    assert text == "Error handling request from 127.0.0.1 (ValueError, status 400)"


def test_the_token_never_shows_in_the_settings_repr():
    assert "s3cret" not in repr(Settings.from_env({"IMPULSE_STREAM_API_TOKEN": "s3cret"}))
