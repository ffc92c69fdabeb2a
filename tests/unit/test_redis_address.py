"""The state store's URL: one server or a Redis Cluster."""

import pytest

from impulse_stream.errors import ConfigError
from impulse_stream.infra.settings import StackSettings
from impulse_stream.redis_address import ClusterAddress, is_cluster_url, parse_cluster_url
from impulse_stream.settings import Settings, check_redis_url


def test_a_cluster_url_lists_its_startup_nodes_and_credentials():
    got = parse_cluster_url("redis+cluster://app:s%40cret@r1:7000,r2:7001/")
    assert got == ClusterAddress((("r1", 7000), ("r2", 7001)), "app", "s@cret")


def test_a_cluster_url_without_credentials():
    assert parse_cluster_url("redis+cluster://127.0.0.1:17001") == ClusterAddress(
        (("127.0.0.1", 17001),)
    )


@pytest.mark.parametrize(
    "url",
    [
        "redis+cluster://",
        "redis+cluster://r1",
        "redis+cluster://r1:7000,r2",
        "redis+cluster://r1:70000",
        "redis+cluster://r1:7000/0",
    ],
)
def test_a_malformed_cluster_url_names_the_variable(url):
    with pytest.raises(ConfigError, match="REDIS_URL"):
        parse_cluster_url(url)


def test_a_bad_cluster_url_in_an_error_hides_its_password():
    with pytest.raises(ConfigError) as failure:
        check_redis_url("REDIS_URL", "redis+cluster://app:s3cret@r1")
    assert "s3cret" not in str(failure.value)


def test_server_urls_are_no_cluster_urls():
    assert not is_cluster_url("redis://r:6379/0")
    assert is_cluster_url("REDIS+CLUSTER://r:6379")
    check_redis_url("REDIS_URL", "rediss://r:6379/0")
    with pytest.raises(ConfigError, match="redis\\+cluster://"):
        check_redis_url("REDIS_URL", "http://r:6379")


def test_the_worker_accepts_a_cluster_url_and_refuses_a_broken_one():
    url = "redis+cluster://r1:7000,r2:7000"
    assert Settings.from_env({"REDIS_URL": url}).redis_url == url
    with pytest.raises(ConfigError, match="REDIS_URL"):
        Settings.from_env({"REDIS_URL": "redis+cluster://r1"})


def test_the_local_stack_runs_a_cluster_on_three_ports():
    s = StackSettings.from_env({"IMPULSE_STREAM_REDIS_CLUSTER": "1", "REDIS_CLUSTER_PORT": "18001"})
    assert s.redis_url == "redis+cluster://127.0.0.1:18001,127.0.0.1:18002,127.0.0.1:18003"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"IMPULSE_STREAM_REDIS_CLUSTER": "maybe"}, "expected 1 or 0"),
        ({"IMPULSE_STREAM_REDIS_CLUSTER": "1", "REDIS_CLUSTER_PORT": "60000"}, "1-55533"),
        ({"IMPULSE_STREAM_REDIS_CLUSTER": "1", "REDIS_CLUSTER_PORT": "19091"}, "overlap"),
        ({"REDIS_CLUSTER_PORT": "x"}, "port number"),
    ],
)
def test_bad_cluster_settings_name_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        StackSettings.from_env(env)


def test_a_cluster_client_logs_in_with_the_redis_security_settings_unless_the_url_has_them():
    from redis.backoff import ExponentialWithJitterBackoff

    from impulse_stream.security import RedisSecurity
    from impulse_stream.store.redis import RETRIES, redis_client

    security = RedisSecurity.from_env({"REDIS_USERNAME": "app", "REDIS_PASSWORD": "pw"})
    from_settings = redis_client("redis+cluster://r1:7000", security)
    assert from_settings.connection_kwargs["username"] == "app"
    assert from_settings.connection_kwargs["password"] == "pw"
    from_url = redis_client("redis+cluster://u:s%40t@r1:7000", security)
    assert (from_url.connection_kwargs["username"], from_url.connection_kwargs["password"]) == (
        "u",
        "s@t",
    )
    assert from_settings.retry.get_retries() == RETRIES
    assert from_settings.retry._backoff == ExponentialWithJitterBackoff(cap=0.5, base=0.05)


def test_redis_tls_files_with_a_cluster_url_are_refused_at_start(tmp_path):
    ca = tmp_path / "ca.pem"
    ca.write_text("x")
    with pytest.raises(ConfigError, match="REDIS_SSL_CA_FILE is set but REDIS_URL is not rediss"):
        Settings.from_env({"REDIS_URL": "redis+cluster://r1:7000", "REDIS_SSL_CA_FILE": str(ca)})
