"""The worker's start-up wait: backoff with jitter, /readyz red while waiting, fatal errors at once.

The checks here are small functions handed to ``wait_for_dependencies`` (as a
clock is handed to the core); the real Kafka and Redis checks run in
``tests/integration/test_startup_wait.py`` and ``test_transport_security.py``.
"""

from __future__ import annotations

import asyncio
import logging

import orjson
import pytest

from impulse_stream.errors import ConfigError, DependencyUnavailable
from impulse_stream.settings import Settings
from impulse_stream.startup import NotYet, backoff_delays, wait_for_dependencies
from tests.support.worker_process import free_port


async def http_get(port: int, path: str) -> tuple[int, dict]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    raw = await reader.read()
    writer.close()
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), orjson.loads(body)


def test_the_backoff_doubles_from_half_a_second_up_to_ten_with_jitter():
    low, high = backoff_delays(lambda: 0.0), backoff_delays(lambda: 1.0)
    assert [low(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [0.25, 0.5, 1.0, 2.0, 4.0, 5.0, 5.0]
    assert [high(n) for n in (1, 2, 3, 4, 5, 6, 10)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


async def test_readyz_is_red_with_the_reason_while_kafka_is_awaited_and_the_wait_ends_on_answer(
    caplog,
):
    port = free_port()
    settings = Settings.from_env({}, web_port=port)
    answers = asyncio.Event()
    attempts = []

    async def kafka(_: Settings) -> None:
        attempts.append(1)
        if not answers.is_set():
            raise NotYet("connection refused")

    async def redis(_: Settings) -> None:
        return None

    caplog.set_level(logging.WARNING, logger="impulse_stream.startup")
    waiting = asyncio.create_task(
        wait_for_dependencies(
            settings, checks={"Kafka at k:1": kafka, "Redis at r": redis}, delay=lambda n: 0.05
        )
    )
    while len(attempts) < 3:
        await asyncio.sleep(0.01)
    status, body = await http_get(port, "/readyz")
    assert status == 503
    assert body == {"ready": False, "problems": ["waiting for Kafka at k:1: connection refused"]}
    status, body = await http_get(port, "/healthz")
    assert status == 200 and body["status"] == "starting"
    answers.set()
    total = await asyncio.wait_for(waiting, 5)
    assert total == len(attempts) >= 4
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == total - 1  # one line per failed attempt
    assert lines[0] == "waiting for Kafka at k:1: connection refused (attempt 1, next in 0.1 s)"
    with pytest.raises(OSError):
        await http_get(port, "/readyz")  # the port is free again for Faust's web server


async def test_a_refused_login_ends_the_wait_at_once():
    calls = []

    async def kafka(_: Settings) -> None:
        calls.append(1)
        raise ConfigError("KAFKA_SASL_PASSWORD: Kafka at k:1 refused the login")

    with pytest.raises(ConfigError, match="KAFKA_SASL_PASSWORD"):
        await wait_for_dependencies(
            Settings.from_env({}, web_port=free_port()), checks={"Kafka": kafka}, delay=lambda n: 1
        )
    assert calls == [1]


async def test_the_wait_gives_up_after_startup_wait_seconds_with_the_last_reason():
    now = [0.0]

    async def redis(_: Settings) -> None:
        raise NotYet("Connection refused")

    def delay(n: int) -> float:
        now[0] += 1.0  # each pause moves the injected clock by a second
        return 0.0

    settings = Settings.from_env({"IMPULSE_STREAM_STARTUP_WAIT_SECONDS": "3"}, web_port=free_port())
    with pytest.raises(DependencyUnavailable) as caught:
        await wait_for_dependencies(
            settings, checks={"Redis at r": redis}, delay=delay, clock=lambda: now[0]
        )
    message = str(caught.value)
    assert message.startswith("gave up after 3 s (IMPULSE_STREAM_STARTUP_WAIT_SECONDS)")
    assert message.endswith("waiting for Redis at r: Connection refused")


async def test_a_busy_web_port_is_a_one_line_setting_error():
    port = free_port()
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", port)
    try:
        with pytest.raises(ConfigError, match=f"IMPULSE_STREAM_WEB_PORT={port}: cannot listen"):
            await wait_for_dependencies(Settings.from_env({}, web_port=port), checks={})
    finally:
        server.close()
        await server.wait_closed()


async def test_a_redis_cluster_no_node_of_which_answers_is_waited_for():
    from impulse_stream.startup import check_redis

    url = f"redis+cluster://127.0.0.1:{free_port()}"
    with pytest.raises(NotYet, match="cannot be connected"):
        await check_redis(Settings.from_env({"REDIS_URL": url}))
