"""Every worker setting is checked at start; a bad one names its variable in one line."""

from __future__ import annotations

import ssl

import faust
import pytest

from impulse_stream.errors import ConfigError
from impulse_stream.security import KafkaSecurity, RedisSecurity
from impulse_stream.settings import Settings


def test_the_defaults_are_valid_and_plaintext():
    s = Settings.from_env({})
    assert s.web_port == 6066 and s.startup_wait_seconds == 300.0
    assert s.kafka_security.aiokafka_kwargs() == {"security_protocol": "PLAINTEXT"}
    assert s.kafka_security.faust_credentials() is None
    assert s.redis_security.redis_kwargs(s.redis_url) == {}


def test_an_empty_variable_counts_as_not_set():
    s = Settings.from_env({"IMPULSE_STREAM_WEB_PORT": "", "KAFKA_SECURITY_PROTOCOL": " "})
    assert s.web_port == 6066 and s.kafka_security.protocol == "PLAINTEXT"


def test_numbers_and_flags_are_read_from_the_environment(tmp_path):
    s = Settings.from_env(
        {
            "IMPULSE_STREAM_WEB_PORT": "65535",
            "IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": "0",
            "IMPULSE_STREAM_FAST_DRAIN": "0",
            "IMPULSE_STREAM_FAUST_DATADIR": str(tmp_path / "faust"),
            "IMPULSE_STREAM_STARTUP_WAIT_SECONDS": "2.5",
        }
    )
    assert (s.web_port, s.idle_advance_seconds, s.fast_drain) == (65535, 0.0, 0)
    assert s.startup_wait_seconds == 2.5 and s.kafka_url.startswith("kafka://")


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMPULSE_STREAM_WEB_PORT": "99999"}, "IMPULSE_STREAM_WEB_PORT=99999: expected a port"),
        ({"IMPULSE_STREAM_WEB_PORT": "0"}, "IMPULSE_STREAM_WEB_PORT=0: expected a port number"),
        ({"IMPULSE_STREAM_WEB_PORT": "eighty"}, "'eighty': expected an integer"),
        ({"IMPULSE_STREAM_BATCH_MAX": "0"}, "IMPULSE_STREAM_BATCH_MAX=0: expected a positive"),
        ({"IMPULSE_STREAM_PARTITIONS": "-1"}, "IMPULSE_STREAM_PARTITIONS=-1: expected a positive"),
        ({"IMPULSE_STREAM_TIMER_SHARDS": "0"}, "IMPULSE_STREAM_TIMER_SHARDS=0: expected 1 to 4096"),
        ({"IMPULSE_STREAM_TIMER_SHARDS": "4097"}, "IMPULSE_STREAM_TIMER_SHARDS=4097: expected 1"),
        ({"IMPULSE_STREAM_TIMER_SHARDS": "many"}, "'many': expected an integer"),
        ({"IMPULSE_STREAM_SESSION_TIMEOUT_MS": "0"}, "IMPULSE_STREAM_SESSION_TIMEOUT_MS=0"),
        ({"IMPULSE_STREAM_SESSION_TIMEOUT_MS": "120000"}, "expected 1 to 90000 milliseconds"),
        ({"IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": "nan"}, "'nan': expected a finite number"),
        ({"IMPULSE_STREAM_IDLE_ADVANCE_SECONDS": "-5"}, "expected 0 (off) or more seconds"),
        ({"IMPULSE_STREAM_STALL_SECONDS": "inf"}, "IMPULSE_STREAM_STALL_SECONDS='inf'"),
        ({"IMPULSE_STREAM_STALL_SECONDS": "0"}, "IMPULSE_STREAM_STALL_SECONDS=0.0: expected more"),
        ({"IMPULSE_STREAM_STALL_SECONDS": "soon"}, "'soon': expected a number"),
        ({"IMPULSE_STREAM_STARTUP_WAIT_SECONDS": "0"}, "IMPULSE_STREAM_STARTUP_WAIT_SECONDS"),
        ({"IMPULSE_STREAM_FAST_DRAIN": "2"}, "IMPULSE_STREAM_FAST_DRAIN=2: expected 0 or 1"),
        ({"IMPULSE_STREAM_EVENT_LOOP": "tokio"}, "'tokio': expected one of uvloop, asyncio"),
        ({"IMPULSE_STREAM_LOG_LEVEL": "LOUD"}, "IMPULSE_STREAM_LOG_LEVEL='LOUD': expected one of"),
        ({"IMPULSE_STREAM_TOPIC_PREFIX": "a b/"}, "IMPULSE_STREAM_TOPIC_PREFIX='a b/'"),
        ({"IMPULSE_STREAM_CATALOGUE": "/no/such/bank.yaml"}, "IMPULSE_STREAM_CATALOGUE="),
        ({"KAFKA_BOOTSTRAP_SERVERS": "broker"}, "KAFKA_BOOTSTRAP_SERVERS='broker': expected host"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "a:9092,b:70000"}, "with ports 1-65535"),
        ({"REDIS_URL": "http://x"}, "REDIS_URL='http://x': expected redis://"),
        ({"REDIS_URL": "redis://h:99999/0"}, "REDIS_URL='redis://h:99999/0': expected a port"),
        ({"REDIS_URL": "redis://h:6379/zero"}, "the database (after '/') must be a number"),
        ({"REDIS_URL": "redis://u:s3cret@h:99999/0"}, "REDIS_URL='redis://u:***@h:99999/0'"),
    ],
)
def test_a_bad_setting_names_the_variable_and_what_is_allowed(env, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_a_faust_data_dir_whose_parent_is_missing_is_refused(tmp_path):
    missing = tmp_path / "no" / "faust"
    with pytest.raises(ConfigError, match=r"IMPULSE_STREAM_FAUST_DATADIR=.*parent directory"):
        Settings.from_env({"IMPULSE_STREAM_FAUST_DATADIR": str(missing)})


def test_a_faust_data_dir_that_is_a_file_is_refused(tmp_path):
    file = tmp_path / "faust"
    file.write_text("")
    with pytest.raises(ConfigError, match="exists and is not a directory"):
        Settings.from_env({"IMPULSE_STREAM_FAUST_DATADIR": str(file)})


def test_command_line_overrides_are_checked_too():
    with pytest.raises(ConfigError, match="IMPULSE_STREAM_WEB_PORT=70000"):
        Settings.from_env({}, web_port=70000)


# Transport security.

SASL_SSL = {
    "KAFKA_SECURITY_PROTOCOL": "sasl_ssl",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "worker",
    "KAFKA_SASL_PASSWORD": "s3cret",
}


def test_sasl_ssl_gives_aiokafka_a_verifying_tls_context_and_the_scram_login():
    kwargs = KafkaSecurity.from_env(SASL_SSL).aiokafka_kwargs()
    context = kwargs.pop("ssl_context")
    assert kwargs == {
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_plain_username": "worker",
        "sasl_plain_password": "s3cret",
    }
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname


def test_sasl_ssl_gives_faust_sasl_credentials_over_tls():
    credentials = KafkaSecurity.from_env(SASL_SSL).faust_credentials()
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("worker", "s3cret")


def test_ssl_alone_gives_faust_ssl_credentials_and_sasl_plaintext_no_tls():
    ssl_only = KafkaSecurity.from_env({"KAFKA_SECURITY_PROTOCOL": "SSL"})
    assert isinstance(ssl_only.faust_credentials(), faust.SSLCredentials)
    assert "sasl_mechanism" not in ssl_only.aiokafka_kwargs()
    plain = KafkaSecurity.from_env({**SASL_SSL, "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT"})
    assert "ssl_context" not in plain.aiokafka_kwargs()
    assert plain.faust_credentials().protocol.value == "SASL_PLAINTEXT"


def test_a_kubernetes_secret_file_gives_the_password_without_its_newline(tmp_path):
    secret = tmp_path / "password"
    secret.write_text("from-a-secret\n")
    env = {**SASL_SSL, "KAFKA_SASL_PASSWORD": "", "KAFKA_SASL_PASSWORD_FILE": str(secret)}
    assert KafkaSecurity.from_env(env).sasl_password == "from-a-secret"
    redis = RedisSecurity.from_env({"REDIS_USERNAME": "w", "REDIS_PASSWORD_FILE": str(secret)})
    assert redis.redis_kwargs("redis://h:6379/0") == {"username": "w", "password": "from-a-secret"}


def test_passwords_stay_out_of_the_settings_repr():
    s = Settings.from_env({**SASL_SSL, "REDIS_USERNAME": "w", "REDIS_PASSWORD": "r3dis"})
    assert "s3cret" not in repr(s) and "r3dis" not in repr(s)


def test_rediss_verifies_the_server_against_the_configured_ca(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("-----BEGIN CERTIFICATE-----\n")
    security = RedisSecurity.from_env({"REDIS_SSL_CA_FILE": str(ca)})
    assert security.redis_kwargs("rediss://h:6380/0") == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": True,
        "ssl_ca_certs": str(ca),
    }


def test_hostname_checks_can_be_turned_off_but_the_chain_is_still_verified():
    kafka = KafkaSecurity.from_env(
        {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CHECK_HOSTNAME": "0"}
    )
    context = kafka.aiokafka_kwargs()["ssl_context"]
    assert not context.check_hostname and context.verify_mode == ssl.CERT_REQUIRED
    redis = RedisSecurity.from_env({"REDIS_SSL_CHECK_HOSTNAME": "false"})
    assert redis.redis_kwargs("rediss://h:6380/0") == {
        "ssl_cert_reqs": "required",
        "ssl_check_hostname": False,
    }


def test_a_redis_password_without_a_user_is_the_default_users_password():
    security = RedisSecurity.from_env({"REDIS_PASSWORD": "requirepass"})
    assert security.redis_kwargs("redis://h:6379/0") == {"password": "requirepass"}


def test_the_store_retries_dropped_connections_with_jittered_exponential_backoff():
    from redis.backoff import ExponentialWithJitterBackoff

    from impulse_stream.store.redis import RETRIES, RedisStore

    store = RedisStore("redis://127.0.0.1:1/0")
    retry = store.redis.get_retry()
    assert retry.get_retries() == RETRIES == 3
    assert retry._backoff == ExponentialWithJitterBackoff(cap=0.5, base=0.05)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"KAFKA_SECURITY_PROTOCOL": "TLS"}, "KAFKA_SECURITY_PROTOCOL='TLS': expected one of"),
        ({"KAFKA_SASL_MECHANISM": "OAUTHBEARER"}, "KAFKA_SASL_MECHANISM='OAUTHBEARER'"),
        ({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"}, "needs KAFKA_SASL_USERNAME and"),
        ({**SASL_SSL, "KAFKA_SASL_PASSWORD_FILE": "/x"}, "set KAFKA_SASL_PASSWORD or"),
        (
            {**SASL_SSL, "KAFKA_SASL_PASSWORD": "", "KAFKA_SASL_PASSWORD_FILE": "/no/file"},
            "KAFKA_SASL_PASSWORD_FILE='/no/file': cannot read",
        ),
        ({"KAFKA_SSL_CA_FILE": "/no/ca.pem"}, "KAFKA_SSL_CA_FILE='/no/ca.pem': no such file"),
        ({"KAFKA_SSL_CHECK_HOSTNAME": "maybe"}, "KAFKA_SSL_CHECK_HOSTNAME='maybe': expected 1"),
        ({"REDIS_USERNAME": "worker"}, "REDIS_USERNAME needs REDIS_PASSWORD"),
        ({"REDIS_SSL_CERT_FILE": "/no/cert.pem"}, "REDIS_SSL_CERT_FILE='/no/cert.pem'"),
    ],
)
def test_a_bad_security_setting_names_the_variable(env, message):
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert message in str(caught.value)


def test_tls_files_without_a_tls_protocol_are_refused(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("")
    with pytest.raises(ConfigError, match="KAFKA_SSL_CA_FILE is set but KAFKA_SECURITY_PROTOCOL"):
        Settings.from_env({"KAFKA_SSL_CA_FILE": str(ca)})
    with pytest.raises(ConfigError, match="REDIS_SSL_CA_FILE is set but REDIS_URL is not rediss"):
        Settings.from_env({"REDIS_SSL_CA_FILE": str(ca)})


def test_a_client_certificate_needs_its_key(tmp_path):
    cert = tmp_path / "client.pem"
    cert.write_text("")
    env = {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CERT_FILE": str(cert)}
    with pytest.raises(ConfigError, match="KAFKA_SSL_CERT_FILE and KAFKA_SSL_KEY_FILE go together"):
        Settings.from_env(env)


def test_a_ca_file_that_is_not_pem_is_named_when_the_context_is_built(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("not a certificate")
    security = KafkaSecurity.from_env(
        {"KAFKA_SECURITY_PROTOCOL": "SSL", "KAFKA_SSL_CA_FILE": str(ca)}
    )
    with pytest.raises(ConfigError, match=r"KAFKA_SSL_CA_FILE=.*not a PEM CA certificate"):
        security.aiokafka_kwargs()


def test_docs_settings_table_names_every_variable_the_code_reads():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "settings.md").read_text()
    names = [*Settings.variables(), "IMPULSE_STREAM_PSEUDONYM_KEY"]
    assert "KAFKA_SECURITY_PROTOCOL" in names and "IMPULSE_STREAM_WEB_PORT" in names
    missing = [n for n in names if f"`{n}`" not in text]
    assert not missing


def test_the_worker_runs_on_uvloop_unless_the_standard_loop_is_asked_for() -> None:
    import asyncio

    import uvloop

    from impulse_stream.cli import use_event_loop

    before = asyncio.get_event_loop_policy()
    try:
        use_event_loop(Settings.from_env({}).event_loop)
        assert isinstance(asyncio.get_event_loop_policy(), uvloop.EventLoopPolicy)
        asyncio.set_event_loop_policy(before)
        use_event_loop(Settings.from_env({"IMPULSE_STREAM_EVENT_LOOP": "asyncio"}).event_loop)
        assert asyncio.get_event_loop_policy() is before
    finally:
        asyncio.set_event_loop_policy(before)
