"""Worker settings, read once from the environment into a frozen object.

Every value is checked at start (:meth:`Settings.validate`): a bad one is a
:class:`~impulse_stream.errors.ConfigError` whose one-line message names the
variable and says what is allowed. An empty variable counts as not set. The
table of every variable is in ``docs/settings.md``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar
from urllib.parse import urlparse

from impulse_stream.errors import ConfigError
from impulse_stream.redis_address import CLUSTER_SCHEME, is_cluster_url, parse_cluster_url
from impulse_stream.security import KafkaSecurity, RedisSecurity, parse_origins, read_api_token

LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
EVENT_LOOPS = ("uvloop", "asyncio")
# Faust's broker_request_timeout (90 s) must not be shorter than the session timeout.
MAX_SESSION_TIMEOUT_MS = 90_000
_TOPIC_PREFIX = re.compile(r"^[A-Za-z0-9._-]*$")
_KIND_WORDS = {int: "an integer", float: "a number"}
# The store's own bounds (store.redis.MAX_TIMER_SHARDS; a test keeps them equal).
MAX_TIMER_SHARDS = 4096


@dataclass(frozen=True)
class Settings:
    """Every knob of the worker; the env var is the field name upper-cased with a prefix.

    ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL`` keep their usual names; the
    transport security comes from ``KAFKA_*`` and ``REDIS_*`` variables
    (:mod:`impulse_stream.security`).
    """

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    redis_url: str = "redis://127.0.0.1:16379/0"
    app_id: str = "impulse-stream"
    topic_prefix: str = ""
    redis_prefix: str = "is:"
    # Shards of each partition's Redis timer index (store/redis.py, docs/settings.md).
    timer_shards: int = 64
    partitions: int = 6
    web_host: str = "127.0.0.1"
    web_port: int = 6066
    batch_max: int = 1000
    batch_within_ms: int = 50
    idle_advance_seconds: float = 60.0
    max_message_bytes: int = 65536
    catalogue: str = ""
    log_level: str = "INFO"
    session_timeout_ms: int = 10000
    stall_seconds: float = 120.0
    fast_drain: int = 1
    event_loop: str = "uvloop"
    faust_datadir: str = ""
    max_future_skew_seconds: float = 86400.0
    retry_blocked_seconds: float = 30.0
    allowed_lateness_seconds: float = 0.0
    topic_idle_seconds: float = 2.0
    caught_up_idle_seconds: float = 0.0
    startup_wait_seconds: float = 300.0
    # The 360 API: a bearer token (or a file holding it) and the browser origins allowed.
    api_token: str = field(default="", repr=False)  # a secret: never in a repr
    api_token_file: str = ""
    cors_origins: str = ""
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity)
    redis_security: RedisSecurity = field(default_factory=RedisSecurity)

    ENV_NAMES: ClassVar[dict[str, str]] = {
        "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
        "redis_url": "REDIS_URL",
    }
    _SECURITY: ClassVar[tuple[str, ...]] = ("kafka_security", "redis_security")

    @classmethod
    def env_name(cls, field_name: str) -> str:
        return cls.ENV_NAMES.get(field_name, "IMPULSE_STREAM_" + field_name.upper())

    @classmethod
    def variables(cls) -> list[str]:
        """Every environment variable the worker reads (docs/settings.md lists each)."""
        names = [cls.env_name(f.name) for f in fields(cls) if f.name not in cls._SECURITY]
        for security in (KafkaSecurity, RedisSecurity):
            names += security.ENV.values()
        return [*names, "KAFKA_SASL_PASSWORD_FILE", "REDIS_PASSWORD_FILE"]

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name in cls._SECURITY:
                continue
            name = cls.env_name(f.name)
            raw = env.get(name, "")
            if raw.strip():
                values[f.name] = _convert(name, raw.strip(), type(f.default))
        values["kafka_security"] = KafkaSecurity.from_env(env)
        values["redis_security"] = RedisSecurity.from_env(env)
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        check_bootstrap_servers("KAFKA_BOOTSTRAP_SERVERS", self.kafka_bootstrap_servers)
        check_redis_url("REDIS_URL", self.redis_url)
        self.redis_security.check_url(self.redis_url)
        name = self.env_name
        if not self.app_id.strip():
            raise ConfigError(f"{name('app_id')} must not be empty (it names the consumer group)")
        if not _TOPIC_PREFIX.match(self.topic_prefix):
            raise ConfigError(
                f"{name('topic_prefix')}={self.topic_prefix!r}: "
                "use letters, digits, '.', '_' or '-' (Kafka topic names)"
            )
        _check_port(name("web_port"), self.web_port)
        if not 1 <= self.timer_shards <= MAX_TIMER_SHARDS:
            raise ConfigError(
                f"{name('timer_shards')}={self.timer_shards}: expected 1 to {MAX_TIMER_SHARDS} "
                "(shards of each partition's timer index)"
            )
        for key in ("partitions", "batch_max", "batch_within_ms", "max_message_bytes"):
            if getattr(self, key) <= 0:
                raise ConfigError(f"{name(key)}={getattr(self, key)}: expected a positive integer")
        if not 0 < self.session_timeout_ms <= MAX_SESSION_TIMEOUT_MS:
            raise ConfigError(
                f"{name('session_timeout_ms')}={self.session_timeout_ms}: expected 1 to "
                f"{MAX_SESSION_TIMEOUT_MS} milliseconds (Kafka brokers allow 6000 and more "
                "by default)"
            )
        for key in ("allowed_lateness_seconds", "topic_idle_seconds", "caught_up_idle_seconds"):
            if not getattr(self, key) >= 0:
                raise ConfigError(f"{name(key)}={getattr(self, key)}: expected 0 or more seconds")
        if not self.idle_advance_seconds >= 0:
            raise ConfigError(
                f"{name('idle_advance_seconds')}={self.idle_advance_seconds}: "
                "expected 0 (off) or more seconds"
            )
        for key in (
            "stall_seconds",
            "startup_wait_seconds",
            "max_future_skew_seconds",
            "retry_blocked_seconds",
        ):
            if not getattr(self, key) > 0:
                raise ConfigError(f"{name(key)}={getattr(self, key)}: expected more than 0 seconds")
        if self.fast_drain not in (0, 1):
            raise ConfigError(f"{name('fast_drain')}={self.fast_drain}: expected 0 or 1")
        if self.event_loop not in EVENT_LOOPS:
            choices = ", ".join(EVENT_LOOPS)
            raise ConfigError(
                f"{name('event_loop')}={self.event_loop!r}: expected one of {choices}"
            )
        if self.log_level.upper() not in LOG_LEVELS:
            raise ConfigError(
                f"{name('log_level')}={self.log_level!r}: expected one of {', '.join(LOG_LEVELS)}"
            )
        if self.catalogue and not Path(self.catalogue).is_file():
            raise ConfigError(f"{name('catalogue')}={self.catalogue!r}: no such file")
        if self.faust_datadir:
            _check_datadir(name("faust_datadir"), Path(self.faust_datadir))
        parse_origins(self.cors_origins)
        if self.api_token and self.api_token_file:
            raise ConfigError(f"set {name('api_token')} or {name('api_token_file')}, not both")

    def api_bearer_token(self) -> str:
        """The token the API asks for ('' for none), read from the file when one is named."""
        return read_api_token(self.api_token, self.api_token_file)

    @property
    def allowed_origins(self) -> tuple[str, ...]:
        return parse_origins(self.cors_origins)

    @property
    def kafka_url(self) -> str:
        scheme = "impulse://" if self.fast_drain else "kafka://"
        return ";".join(scheme + s.strip() for s in self.kafka_bootstrap_servers.split(","))


def _convert(name: str, raw: str, kind: type) -> object:
    try:
        if kind is int:
            return int(raw)
        if kind is float:
            value = float(raw)
            if not math.isfinite(value):
                raise ConfigError(f"{name}={raw!r}: expected a finite number")
            return value
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected {_KIND_WORDS[kind]}") from None
    return raw


def _check_port(name: str, port: object) -> None:
    if not isinstance(port, int) or not 0 < port < 65536:
        raise ConfigError(f"{name}={port!r}: expected a port number 1-65535")


def check_bootstrap_servers(name: str, servers: str) -> None:
    """``host:port[,host:port]`` with real port numbers, else a ConfigError naming ``name``."""
    for server in servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"{name}={servers!r}: expected host:port[,host:port] with ports 1-65535"
            )


def check_redis_url(name: str, url: str) -> None:
    """A redis://, rediss:// or unix:// URL with a valid port and database number, or a
    ``redis+cluster://`` URL (:mod:`impulse_stream.redis_address`)."""
    from impulse_stream.redact import mask_url

    if is_cluster_url(url):
        parse_cluster_url(url, name)
        return
    parsed = urlparse(url)
    if parsed.scheme not in ("redis", "rediss", "unix"):
        raise ConfigError(
            f"{name}={mask_url(url)!r}: expected redis://host:port/db, rediss:// or "
            f"{CLUSTER_SCHEME}://host:port[,host:port]"
        )
    try:
        parsed.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ConfigError(f"{name}={mask_url(url)!r}: expected a port number 1-65535") from None
    db = parsed.path.strip("/")
    if parsed.scheme != "unix" and db and not db.isdigit():
        raise ConfigError(f"{name}={mask_url(url)!r}: the database (after '/') must be a number")


def _check_datadir(name: str, path: Path) -> None:
    if path.exists():
        if not path.is_dir():
            raise ConfigError(f"{name}={str(path)!r}: exists and is not a directory")
        if not os.access(path, os.W_OK):
            raise ConfigError(f"{name}={str(path)!r}: not writable")
        return
    parent = path.parent
    if not parent.is_dir():
        raise ConfigError(f"{name}={str(path)!r}: its parent directory {str(parent)!r} is missing")
    if not os.access(parent, os.W_OK):
        raise ConfigError(f"{name}={str(path)!r}: cannot create it in {str(parent)!r}")
