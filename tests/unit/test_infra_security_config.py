"""The local stack's settings and the TLS/SASL configuration of its servers (no server runs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from impulse_stream.errors import ConfigError, InfraError
from impulse_stream.infra import StackSettings
from impulse_stream.infra.cli import app
from impulse_stream.infra.kafka_broker import SecureListener, render_server_properties
from impulse_stream.infra.redis_server import RedisTls, redis_argv


def props(text: str) -> dict[str, str]:
    return dict(line.split("=", 1) for line in text.splitlines() if line)


def test_a_sasl_ssl_listener_with_scram_sits_beside_the_plaintext_one(tmp_path):
    settings = StackSettings.from_env({}, name="s", data_root=tmp_path, kafka_port=39092)
    listener = SecureListener(
        39443, keystore=tmp_path / "keystore.pem", scram_users={"worker": "s3cret"}
    )
    p = props(render_server_properties(settings, tmp_path / "logs", listener))
    assert p["listeners"] == (
        "PLAINTEXT://127.0.0.1:39092,CONTROLLER://127.0.0.1:39093,SASL_SSL://127.0.0.1:39443"
    )
    assert p["advertised.listeners"] == "PLAINTEXT://127.0.0.1:39092,SASL_SSL://127.0.0.1:39443"
    assert p["listener.security.protocol.map"].endswith(",SASL_SSL:SASL_SSL")
    assert p["inter.broker.listener.name"] == "PLAINTEXT"
    assert p["listener.name.sasl_ssl.sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert p["listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config"] == (
        "org.apache.kafka.common.security.scram.ScramLoginModule required;"
    )
    assert p["listener.name.sasl_ssl.ssl.keystore.type"] == "PEM"
    assert p["listener.name.sasl_ssl.ssl.keystore.location"] == str(tmp_path / "keystore.pem")
    assert "listener.name.sasl_ssl.ssl.client.auth" not in p
    assert listener.scram_arguments() == [
        "--add-scram",
        "SCRAM-SHA-512=[name=worker,password=s3cret]",
    ]


def test_without_a_secure_listener_the_broker_is_plaintext_only(tmp_path):
    settings = StackSettings.from_env({}, name="s", data_root=tmp_path)
    p = props(render_server_properties(settings, tmp_path / "logs"))
    assert p["listener.security.protocol.map"] == "PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT"
    assert not any(k.startswith("listener.name.") for k in p)


def test_a_truststore_makes_the_listener_require_client_certificates(tmp_path):
    listener = SecureListener(1, "SSL", keystore=Path("k.pem"), truststore=Path("ca.pem"))
    p = listener.properties()
    assert p["listener.name.ssl.ssl.client.auth"] == "required"
    assert p["listener.name.ssl.ssl.truststore.location"] == "ca.pem"
    assert not any("sasl" in k for k in p)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"protocol": "PLAINTEXT"}, "protocol must be one of"),
        ({"protocol": "SSL"}, "SSL needs a PEM keystore"),
        ({"protocol": "SASL_PLAINTEXT", "scram_mechanism": "PLAIN"}, "mechanism must be"),
    ],
)
def test_a_secure_listener_refuses_what_it_cannot_configure(kwargs, message):
    with pytest.raises(InfraError, match=message):
        SecureListener(1, **kwargs)


def test_a_scram_password_that_breaks_the_format_argument_is_refused():
    listener = SecureListener(1, "SASL_PLAINTEXT", scram_users={"w": "a,b"})
    with pytest.raises(InfraError, match="SCRAM user 'w'"):
        listener.scram_arguments()


def test_redis_gets_a_tls_port_and_acl_users_as_separate_words(tmp_path):
    settings = StackSettings.from_env({}, name="s", data_root=tmp_path)
    tls = RedisTls(6380, tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem")
    argv = redis_argv("redis-server", settings, tmp_path, tls, {"worker": "s3cret"})
    joined = " ".join(argv)
    assert f"--tls-port 6380 --tls-cert-file {tmp_path}/cert.pem" in joined
    assert "--tls-auth-clients no" in joined
    assert argv[argv.index("--user") :] == [
        "--user",
        "worker",
        "on",
        ">s3cret",
        "~*",
        "&*",
        "+@all",
    ]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"IMPULSE_STREAM_PARTITIONS": "six"},
            "IMPULSE_STREAM_PARTITIONS='six': expected an integer",
        ),
        ({"IMPULSE_STREAM_STARTUP_TIMEOUT": "nan"}, "expected a finite number of seconds"),
        ({"IMPULSE_STREAM_STARTUP_TIMEOUT": "-1"}, "IMPULSE_STREAM_STARTUP_TIMEOUT=-1.0: expected"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:0"}, "KAFKA_BOOTSTRAP_SERVERS='k:0': expected host:port"),
        ({"REDIS_URL": "redis://r:70000/0"}, "REDIS_URL='redis://r:70000/0': expected a port"),
        ({"KAFKA_BOOTSTRAP_SERVERS": "k:1", "KAFKA_SECURITY_PROTOCOL": "X"}, "KAFKA_SECURITY"),
    ],
)
def test_a_bad_stack_setting_names_the_variable(env, message):
    with pytest.raises(ConfigError) as caught:
        StackSettings.from_env(env)
    assert message in str(caught.value)


def test_an_existing_secured_kafka_gets_the_admin_client_its_security(tmp_path):
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka:9093",
        "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
        "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
        "KAFKA_SASL_USERNAME": "ops",
        "KAFKA_SASL_PASSWORD": "s3cret",
    }
    kwargs = StackSettings.from_env(env).kafka_security.aiokafka_kwargs()
    assert kwargs["security_protocol"] == "SASL_SSL" and kwargs["sasl_plain_username"] == "ops"


@pytest.mark.parametrize(
    "text",
    [
        "(env KAFKA_PORT, default 19092)",
        "(env REDIS_PORT, default 16379)",
        "(env IMPULSE_STREAM_PARTITIONS, default 6)",
        "(env IMPULSE_STREAM_INFRA_NAME, default local)",
    ],
)
def test_infra_help_shows_each_options_variable_and_default(text):
    result = CliRunner().invoke(app, ["up", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert text in " ".join(result.output.split())
