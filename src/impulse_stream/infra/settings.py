"""Where the local stack lives and which ports it uses, read once from the environment.

Several stacks can run side by side (the demo's and the test suite's): each has a
``name``, its own ports and its own data directory ``<data root>/<name>``. The
Kafka jars are shared by all of them in the cache directory.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import ClassVar

from impulse_stream.errors import ConfigError
from impulse_stream.redis_address import cluster_url
from impulse_stream.security import KafkaSecurity, RedisSecurity
from impulse_stream.settings import check_bootstrap_servers, check_redis_url

HOST = "127.0.0.1"
DEFAULT_NAME = "local"
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


def repo_root() -> Path:
    """The checkout this package runs from (it holds ``infra/kafka/pom.xml``), else the cwd."""
    for parent in Path(__file__).resolve().parents:
        if (parent / "infra" / "kafka" / "pom.xml").is_file() and (
            parent / "pyproject.toml"
        ).is_file():
            return parent
    return Path.cwd()


@dataclass(frozen=True)
class StackSettings:
    """Every knob of the local stack; ``ENV`` names the variable that sets each field."""

    name: str = DEFAULT_NAME
    cache_dir: Path = field(default_factory=lambda: repo_root() / ".cache")
    data_root: Path = field(default_factory=lambda: repo_root() / "var")
    kafka_pom: Path = field(default_factory=lambda: repo_root() / "infra" / "kafka" / "pom.xml")
    kafka_port: int = 19092
    kafka_controller_port: int = 19093
    redis_port: int = 16379
    # A Redis Cluster of three masters (ports redis_cluster_port .. +2) instead of one server.
    redis_cluster: bool = False
    redis_cluster_port: int = 17001
    partitions: int = 6
    kafka_heap: str = "1g"
    startup_timeout: float = 120.0
    # Servers that already run elsewhere; when set, nothing is started for them.
    external_kafka: str = ""
    external_redis: str = ""
    # How the admin client talks to KAFKA_BOOTSTRAP_SERVERS (TLS, SASL); not a stack knob.
    kafka_security: KafkaSecurity = field(default_factory=KafkaSecurity, compare=False)
    redis_security: RedisSecurity = field(default_factory=RedisSecurity, compare=False)

    ENV: ClassVar[dict[str, str]] = {
        "name": "IMPULSE_STREAM_INFRA_NAME",
        "cache_dir": "IMPULSE_STREAM_CACHE_DIR",
        "data_root": "IMPULSE_STREAM_DATA_DIR",
        "kafka_pom": "IMPULSE_STREAM_KAFKA_POM",
        "kafka_port": "KAFKA_PORT",
        "kafka_controller_port": "KAFKA_CONTROLLER_PORT",
        "redis_port": "REDIS_PORT",
        "redis_cluster": "IMPULSE_STREAM_REDIS_CLUSTER",
        "redis_cluster_port": "REDIS_CLUSTER_PORT",
        "partitions": "IMPULSE_STREAM_PARTITIONS",
        "kafka_heap": "IMPULSE_STREAM_KAFKA_HEAP",
        "startup_timeout": "IMPULSE_STREAM_STARTUP_TIMEOUT",
        "external_kafka": "KAFKA_BOOTSTRAP_SERVERS",
        "external_redis": "REDIS_URL",
    }

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: object) -> StackSettings:
        """Defaults, then the environment, then ``overrides`` (``None`` means "not given")."""
        env = os.environ if env is None else env
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name not in cls.ENV:
                continue
            raw = env.get(cls.ENV[f.name], "").strip()
            if raw:
                values[f.name] = _convert(cls.ENV[f.name], raw, f.name)
        for key, value in overrides.items():
            if key not in cls.ENV:
                raise TypeError(f"unknown stack setting {key!r}")
            if value is not None:
                is_path = key.endswith(("_dir", "_root", "_pom"))
                values[key] = Path(str(value)) if is_path else value
        if "external_kafka" in values:
            values["kafka_security"] = KafkaSecurity.from_env(env)
        if "external_redis" in values:
            values["redis_security"] = RedisSecurity.from_env(env)
        # A second stack given only a broker port gets the controller port next to it.
        if "kafka_port" in values and "kafka_controller_port" not in values:
            values["kafka_controller_port"] = int(values["kafka_port"]) + 1  # type: ignore[call-overload]
        settings = cls(**values)  # type: ignore[arg-type]
        settings.validate()
        return settings

    def validate(self) -> None:
        if not _NAME.match(self.name):
            raise ConfigError(
                f"{self.ENV['name']}={self.name!r}: use letters, digits, '.', '_' or '-' "
                "(it names a directory)"
            )
        ports = {
            "kafka_port": self.kafka_port,
            "kafka_controller_port": self.kafka_controller_port,
            "redis_port": self.redis_port,
        }
        for key, port in ports.items():
            if not isinstance(port, int) or not 0 < port < 65536:
                raise ConfigError(f"{self.ENV[key]}={port!r}: expected a port number 1-65535")
        if self.redis_cluster:
            first = self.redis_cluster_port
            if not isinstance(first, int) or not 0 < first <= 65535 - 10002:
                raise ConfigError(
                    f"REDIS_CLUSTER_PORT={first!r}: expected a port number 1-55533 "
                    "(the three nodes use it and the next two, their cluster bus each + 10000)"
                )
            used = {self.kafka_port, self.kafka_controller_port}
            cluster_ports = {first + i + bus for i in range(3) for bus in (0, 10000)}
            if used & cluster_ports:
                raise ConfigError(
                    f"REDIS_CLUSTER_PORT={first}: the cluster's ports {sorted(cluster_ports)} "
                    "overlap KAFKA_PORT or KAFKA_CONTROLLER_PORT"
                )
        if len(set(ports.values())) != len(ports):
            raise ConfigError(
                f"KAFKA_PORT, KAFKA_CONTROLLER_PORT and REDIS_PORT must differ, got {ports}"
            )
        if not isinstance(self.partitions, int) or self.partitions < 1:
            raise ConfigError(
                f"{self.ENV['partitions']}={self.partitions!r}: expected a positive integer"
            )
        if not re.fullmatch(r"\d+[mg]", self.kafka_heap):
            raise ConfigError(
                f"{self.ENV['kafka_heap']}={self.kafka_heap!r}: expected a JVM size like 512m or 1g"
            )
        if not self.startup_timeout > 0:
            raise ConfigError(
                f"{self.ENV['startup_timeout']}={self.startup_timeout}: "
                "expected more than 0 seconds"
            )
        if self.external_kafka:
            check_bootstrap_servers("KAFKA_BOOTSTRAP_SERVERS", self.external_kafka)
        if self.external_redis:
            check_redis_url("REDIS_URL", self.external_redis)
            self.redis_security.check_url(self.external_redis)

    @property
    def data_dir(self) -> Path:
        """This stack's own directory: pid files, logs, Kafka log dirs, Redis AOF."""
        return self.data_root / self.name

    @property
    def bootstrap_servers(self) -> str:
        return self.external_kafka or f"{HOST}:{self.kafka_port}"

    @property
    def redis_url(self) -> str:
        if self.external_redis:
            return self.external_redis
        if self.redis_cluster:
            return cluster_url([(HOST, self.redis_cluster_port + i) for i in range(3)])
        return f"redis://{HOST}:{self.redis_port}/0"


def _convert(env_name: str, raw: str, field_name: str) -> object:
    if field_name == "redis_cluster":
        if raw.lower() not in ("1", "0", "true", "false", "yes", "no"):
            raise ConfigError(f"{env_name}={raw!r}: expected 1 or 0")
        return raw.lower() in ("1", "true", "yes")
    if field_name in (
        "kafka_port",
        "kafka_controller_port",
        "redis_port",
        "redis_cluster_port",
        "partitions",
    ):
        try:
            return int(raw)
        except ValueError:
            what = "a port number 1-65535" if "port" in field_name else "an integer"
            raise ConfigError(f"{env_name}={raw!r}: expected {what}") from None
    if field_name == "startup_timeout":
        try:
            seconds = float(raw)
        except ValueError:
            raise ConfigError(f"{env_name}={raw!r}: expected seconds (a number)") from None
        if not math.isfinite(seconds):
            raise ConfigError(f"{env_name}={raw!r}: expected a finite number of seconds")
        return seconds
    if field_name.endswith(("_dir", "_root", "_pom")):
        return Path(raw).expanduser()
    return raw
