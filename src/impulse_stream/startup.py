"""Start-up: the worker waits for Kafka and Redis instead of failing when they are late.

In a deployment the worker, the broker and Redis start in any order (a
Kubernetes rollout, a node reboot). Before the Faust app starts, the worker
tries both servers, with exponential backoff and jitter (0.5 s doubling up to
10 s, each wait drawn between half and all of that) and one log line per
failed attempt, for at most ``IMPULSE_STREAM_STARTUP_WAIT_SECONDS``.

Meanwhile the worker's web port answers ``/readyz`` with 503 and the reason
(``{"ready": false, "problems": [...]}``) and ``/healthz`` with 200 (the
process is alive and waiting: a liveness probe must not restart it).

Some failures cannot heal by waiting: a refused SASL login, a server
certificate the configured CA does not trust, a Redis ACL password. They
end the start at once with a :class:`~impulse_stream.errors.ConfigError`
naming the setting to fix.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
import time
from collections.abc import Awaitable, Callable

import orjson

from impulse_stream.errors import ConfigError, DependencyUnavailable
from impulse_stream.redact import mask_url
from impulse_stream.settings import Settings

log = logging.getLogger(__name__)

FIRST_DELAY = 0.5
MAX_DELAY = 10.0
ATTEMPT_TIMEOUT = 10.0


class NotYet(Exception):
    """A server did not answer this time; worth another try."""


def backoff_delays(rng: Callable[[], float] = random.random) -> Callable[[int], float]:
    """``delay(n)``: the wait after failed attempt n: half to all of min(10, 0.5 x 2^(n-1)) s."""

    def delay(attempt: int) -> float:
        bound = min(MAX_DELAY, FIRST_DELAY * 2.0 ** (attempt - 1))
        return bound / 2 + rng() * bound / 2

    return delay


def _ssl_error(exc: BaseException) -> ssl.SSLError | None:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, ssl.SSLError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


async def check_kafka(settings: Settings) -> None:
    """One connection (TLS handshake and SASL login included) to any bootstrap server."""
    from aiokafka.conn import create_conn
    from aiokafka.errors import (
        KafkaError,
        SaslAuthenticationFailed,
        UnsupportedSaslMechanismError,
    )

    security = settings.kafka_security
    env = security.ENV
    reasons = []
    servers = settings.kafka_bootstrap_servers.split(",")
    for server in servers:
        host, _, port = server.strip().rpartition(":")
        try:
            conn = await asyncio.wait_for(
                create_conn(
                    host.strip("[]"),
                    int(port),
                    client_id="impulse-stream-startup",
                    request_timeout_ms=int(ATTEMPT_TIMEOUT * 1000),
                    **security.aiokafka_kwargs(),
                ),
                ATTEMPT_TIMEOUT,
            )
        except SaslAuthenticationFailed:
            raise ConfigError(
                f"{env['sasl_password']}: Kafka at {server.strip()} refused the "
                f"{security.sasl_mechanism} login of {env['sasl_username']}="
                f"{security.sasl_username!r}"
            ) from None
        except UnsupportedSaslMechanismError:
            raise ConfigError(
                f"{env['sasl_mechanism']}: Kafka at {server.strip()} does not offer "
                f"{security.sasl_mechanism} on this listener"
            ) from None
        except (OSError, KafkaError, TimeoutError) as exc:
            tls = _ssl_error(exc)
            if isinstance(tls, ssl.SSLCertVerificationError):
                raise ConfigError(
                    f"{env['ssl_cafile']}: the certificate of Kafka at {server.strip()} is not "
                    f"trusted ({tls.verify_message or tls.reason})"
                ) from None
            if tls is not None:
                raise ConfigError(
                    f"{env['protocol']}={security.protocol}: the TLS handshake with Kafka at "
                    f"{server.strip()} failed ({tls.reason or tls}); check the listener's "
                    "protocol and KAFKA_SSL_* files"
                ) from None
            text = str(exc) or type(exc).__name__
            reasons.append(f"{server.strip()}: {text}" if len(servers) > 1 else text)
            continue
        conn.close()
        return
    raise NotYet("; ".join(reasons))


async def check_redis(settings: Settings) -> None:
    """PING with the configured credentials and TLS."""
    from redis.exceptions import (
        AuthenticationError,
        RedisClusterException,
        RedisError,
        ResponseError,
    )

    from impulse_stream.store.redis import redis_client

    where = mask_url(settings.redis_url)
    env = settings.redis_security.ENV
    client = redis_client(
        settings.redis_url,
        settings.redis_security,
        socket_connect_timeout=ATTEMPT_TIMEOUT,
        socket_timeout=ATTEMPT_TIMEOUT,
    )
    try:
        await client.ping()
    except AuthenticationError as exc:
        raise ConfigError(
            f"{env['password']}: Redis at {where} refused the login ({exc})"
        ) from None
    except ResponseError as exc:
        if "NOAUTH" in str(exc) or "WRONGPASS" in str(exc) or "NOPERM" in str(exc):
            raise ConfigError(
                f"{env['username']} / {env['password']}: Redis at {where} refused ({exc})"
            ) from None
        raise NotYet(str(exc)) from None
    except (RedisError, RedisClusterException, OSError) as exc:  # a cluster: no node answers
        tls = _ssl_error(exc)
        text = str(exc)
        if isinstance(tls, ssl.SSLCertVerificationError) or "certificate verify failed" in text:
            raise ConfigError(
                f"{env['ssl_cafile']}: the certificate of Redis at {where} is not trusted "
                f"({mask_url(text)})"
            ) from None
        raise NotYet(mask_url(text) or type(exc).__name__) from None
    finally:
        with contextlib.suppress(Exception):
            await client.aclose()


class WaitingEndpoint:
    """The worker's web port while it waits: ``/readyz`` 503 with the problems, ``/healthz`` 200."""

    def __init__(self) -> None:
        self.problems: list[str] = ["starting"]
        self.server: asyncio.Server | None = None

    async def start(self, host: str, port: int) -> None:
        try:
            self.server = await asyncio.start_server(self._serve, host, port)
        except OSError as exc:
            raise ConfigError(
                f"IMPULSE_STREAM_WEB_PORT={port}: cannot listen on {host}:{port} ({exc.strerror})"
            ) from None

    async def close(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            request = await asyncio.wait_for(reader.readline(), 5.0)
            while (await asyncio.wait_for(reader.readline(), 5.0)).strip():
                pass  # headers
            parts = request.decode("latin-1").split()
            path = parts[1].split("?")[0] if len(parts) > 1 else ""
            body: dict[str, object]
            if path == "/healthz":
                status, body = 200, {"status": "starting", "problems": self.problems}
            elif path == "/readyz":
                status, body = 503, {"ready": False, "problems": self.problems}
            else:
                status, body = 503, {"error": "starting", "problems": self.problems}
            payload = orjson.dumps(body)
            reason = "OK" if status == 200 else "Service Unavailable"
            writer.write(
                f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(payload)}\r\nConnection: close\r\n\r\n".encode()
                + payload
            )
            await writer.drain()
        except (OSError, TimeoutError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()


async def wait_for_dependencies(
    settings: Settings,
    *,
    checks: dict[str, Callable[[Settings], Awaitable[None]]] | None = None,
    delay: Callable[[int], float] | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> int:
    """Try Kafka and Redis until both answer; returns the number of attempts.

    Raises :class:`ConfigError` for a failure that waiting cannot fix and
    :class:`DependencyUnavailable` when ``startup_wait_seconds`` ran out.
    """
    checks = checks or {
        f"Kafka at {settings.kafka_bootstrap_servers}": check_kafka,
        f"Redis at {mask_url(settings.redis_url)}": check_redis,
    }
    delay = delay or backoff_delays()
    endpoint = WaitingEndpoint()
    await endpoint.start(settings.web_host, settings.web_port)
    deadline = clock() + settings.startup_wait_seconds
    attempt = 0
    try:
        while True:
            attempt += 1
            results = await asyncio.gather(
                *(check(settings) for check in checks.values()), return_exceptions=True
            )
            problems = []
            for what, result in zip(checks, results, strict=True):
                if isinstance(result, NotYet):
                    problems.append(f"waiting for {what}: {result}")
                elif isinstance(result, BaseException):
                    raise result
            if not problems:
                if attempt > 1:
                    log.info("Kafka and Redis answer after %d attempts", attempt)
                return attempt
            endpoint.problems = problems
            pause = delay(attempt)
            left = deadline - clock()
            if left <= 0:
                raise DependencyUnavailable(
                    f"gave up after {settings.startup_wait_seconds:g} s "
                    f"(IMPULSE_STREAM_STARTUP_WAIT_SECONDS): {'; '.join(problems)}"
                )
            pause = min(pause, left)
            for problem in problems:
                log.warning("%s (attempt %d, next in %.1f s)", problem, attempt, pause)
            await asyncio.sleep(pause)
    finally:
        await endpoint.close()


def wait_for_dependencies_blocking(settings: Settings) -> int:
    """:func:`wait_for_dependencies` from plain code, on a loop of its own (Faust's stays unset)."""
    from impulse_stream.infra.admin import run_blocking

    return run_blocking(lambda: wait_for_dependencies(settings))
