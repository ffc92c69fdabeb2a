"""Worker settings, read once from the environment into a frozen object."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from typing import ClassVar
from urllib.parse import urlparse

from impulse_stream.api.security import parse_origins, read_api_token
from impulse_stream.errors import ConfigError
from impulse_stream.redis_address import is_cluster_url, parse_cluster_url


@dataclass(frozen=True)
class Settings:
    """Every knob of the worker; the env var is the field name upper-cased with a prefix.

    ``KAFKA_BOOTSTRAP_SERVERS`` and ``REDIS_URL`` keep their usual names.
    """

    kafka_bootstrap_servers: str = "127.0.0.1:19092"
    redis_url: str = "redis://127.0.0.1:16379/0"
    app_id: str = "impulse-stream"
    topic_prefix: str = ""
    redis_prefix: str = "is:"
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
    faust_datadir: str = ""
    # The 360 API: a bearer token (or a file holding it) and the browser origins allowed.
    api_token: str = field(default="", repr=False)  # a secret: never in a repr
    api_token_file: str = ""
    cors_origins: str = ""

    ENV_NAMES: ClassVar[dict[str, str]] = {
        "kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS",
        "redis_url": "REDIS_URL",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            name = cls.ENV_NAMES.get(f.name, "IMPULSE_STREAM_" + f.name.upper())
            if name in env:
                values[f.name] = _convert(name, env[name], type(f.default))
        values.update({k: v for k, v in overrides.items() if v is not None})
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        for hostport in self.kafka_bootstrap_servers.split(","):
            host, _, port = hostport.strip().rpartition(":")
            if not host or not port.isdigit():
                raise ConfigError(
                    f"KAFKA_BOOTSTRAP_SERVERS={self.kafka_bootstrap_servers!r}: "
                    "expected host:port[,host:port]"
                )
        if is_cluster_url(self.redis_url):
            parse_cluster_url(self.redis_url)
        elif urlparse(self.redis_url).scheme not in ("redis", "rediss", "unix"):
            raise ConfigError(f"REDIS_URL: expected redis://host:port/db, got {self.redis_url!r}")
        for name in ("partitions", "web_port", "batch_max", "batch_within_ms", "max_message_bytes"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"IMPULSE_STREAM_{name.upper()} must be positive")
        parse_origins(self.cors_origins)
        if self.api_token and self.api_token_file:
            raise ConfigError(
                "set IMPULSE_STREAM_API_TOKEN or IMPULSE_STREAM_API_TOKEN_FILE, not both"
            )
        if self.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ConfigError("IMPULSE_STREAM_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR")

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
            return float(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r}: expected a {kind.__name__}") from None
    return raw
