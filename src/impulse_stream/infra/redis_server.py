"""A redis-server of our own on loopback, durable through its append-only file.

Layout under ``<data dir>/redis``: ``redis.pid``, ``redis.log``, ``stdout.log`` and
``appendonlydir/``. No RDB snapshots (``save ""``): the AOF, written before each
reply and fsynced every second, is what survives a ``kill -9``.

Beside its plain port (which the stack's own checks use) the server can listen
with TLS on a second port (:class:`RedisTls`) and know ACL users, as a bank's
managed Redis would: the transport security tests run the worker over them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import redis
from redis.exceptions import RedisError

from impulse_stream.errors import PortInUseError
from impulse_stream.infra.install import ensure_redis_server
from impulse_stream.infra.processes import (
    LocalServer,
    PidFile,
    log_size,
    log_tail,
    port_open,
    spawn_detached,
    wait_until_serving,
)
from impulse_stream.infra.settings import HOST, StackSettings


@dataclass(frozen=True)
class RedisTls:
    """A TLS port: the server's PEM certificate and key, and the CA it trusts for clients.

    ``require_client_certificates`` makes the server refuse clients without a
    certificate signed by ``ca``.
    """

    port: int
    cert: Path
    key: Path
    ca: Path
    require_client_certificates: bool = False

    def argv(self) -> list[str]:
        return [
            "--tls-port", str(self.port),
            "--tls-cert-file", str(self.cert),
            "--tls-key-file", str(self.key),
            "--tls-ca-cert-file", str(self.ca),
            "--tls-auth-clients", "yes" if self.require_client_certificates else "no",
        ]  # fmt: skip


def acl_argv(users: Mapping[str, str]) -> list[str]:
    """``--user`` rules: each user may run every command on every key (the worker's needs)."""
    argv = []
    for name, password in sorted(users.items()):
        if not name or any(c.isspace() for c in name + password):
            raise ValueError(f"ACL user {name!r}: no spaces in name or password")
        # Separate words: redis-server quotes an argument that contains spaces.
        argv += ["--user", name, "on", f">{password}", "~*", "&*", "+@all"]
    return argv


def redis_argv(
    binary: str,
    settings: StackSettings,
    home: Path,
    tls: RedisTls | None = None,
    users: Mapping[str, str] | None = None,
    *,
    port: int | None = None,
    cluster: bool = False,
) -> list[str]:
    """The command line of one server; ``cluster`` makes it a Redis Cluster node.

    A cluster node keeps its view of the cluster in ``nodes.conf`` in its own
    directory, so after a restart (also after ``kill -9``) it rejoins by itself.
    """
    node = [
        "--cluster-enabled", "yes",
        "--cluster-config-file", str(home / "nodes.conf"),
        "--cluster-port", str(cluster_bus_port(port or settings.redis_port)),
        # A node that restarts after kill -9 is back within seconds; a short timeout
        # would only make its peers declare the cluster down meanwhile.
        "--cluster-node-timeout", "15000",
    ] if cluster else []  # fmt: skip
    extra = (tls.argv() if tls else []) + acl_argv(users or {})
    return [
        binary,
        "--bind", HOST,
        "--port", str(port or settings.redis_port),
        "--dir", str(home),
        "--daemonize", "no",
        "--set-proc-title", "no",
        "--appendonly", "yes",
        "--appendfsync", "everysec",
        "--save", "",
        "--logfile", str(home / "redis.log"),
        "--loglevel", "notice",
        # A customer's record (compressed state up to ~1.5 KiB, short fences) stays a
        # compact listpack instead of a hash table: about half the memory.
        "--hash-max-listpack-value", "2048",
        *node,
        *extra,
    ]  # fmt: skip


def cluster_bus_port(port: int) -> int:
    """Redis's own convention: the cluster bus listens on the client port + 10000."""
    return port + 10000


def redis_ping(url: str, timeout: float = 1.0, **connection: Any) -> bool:
    """True when the server at ``url`` answers PING (not while it is still loading its AOF).

    ``connection``: more client arguments (credentials, TLS), see ``RedisSecurity``.
    """
    client = redis.Redis.from_url(
        url, socket_timeout=timeout, socket_connect_timeout=timeout, **connection
    )
    try:
        return bool(client.ping())
    except (RedisError, OSError):
        return False
    finally:
        client.close()


class RedisServer(LocalServer):
    """The redis-server of one named stack: start, stop, kill."""

    stop_timeout = 15.0

    def __init__(
        self,
        settings: StackSettings,
        tls: RedisTls | None = None,
        users: Mapping[str, str] | None = None,
        *,
        port: int | None = None,
        cluster: bool = False,
    ) -> None:
        self.settings = settings
        self.tls = tls
        self.users = dict(users or {})
        self.port = port or settings.redis_port
        self.cluster = cluster
        self.home = settings.data_dir / (f"redis-{self.port}" if cluster else "redis")
        self.log = self.home / "redis.log"
        self.stdout_log = self.home / "stdout.log"
        # The command line keeps "--dir <home>" (no process title); the second marker
        # recognises a server started with a rewritten title ("redis-server 127.0.0.1:<port>").
        self.pid_file = PidFile(
            self.home / "redis.pid",
            f"--dir {self.home} ",
            f"redis-server {HOST}:{self.port}",
        )
        self._log_offsets = (0, 0)  # where this start's output begins in stdout.log, redis.log

    @property
    def url(self) -> str:
        return f"redis://{HOST}:{self.port}" + ("" if self.cluster else "/0")

    def start(self) -> int:
        """Start redis-server (replaying its AOF) and wait for PING; keeps one that runs."""
        pid = self.pid()
        if pid is None:
            ports = [self.port, cluster_bus_port(self.port)] if self.cluster else [self.port]
            for port in ports:
                if port_open(HOST, port):
                    raise PortInUseError(
                        f"port {port} is already in use by another process; stop it or "
                        f"choose another {'REDIS_CLUSTER_PORT' if self.cluster else 'REDIS_PORT'}"
                    )
            binary = ensure_redis_server(self.settings)
            self.home.mkdir(parents=True, exist_ok=True)
            self._log_offsets = (log_size(self.stdout_log), log_size(self.log))
            argv = redis_argv(
                binary,
                self.settings,
                self.home,
                self.tls,
                self.users,
                port=self.port,
                cluster=self.cluster,
            )
            pid = spawn_detached(argv, self.stdout_log)
            self.pid_file.write(pid)
        self._wait_ready(pid)
        return pid

    def _wait_ready(self, pid: int) -> None:
        wait_until_serving(
            pid,
            self.pid_file.path,
            lambda: redis_ping(self.url, timeout=0.5),
            timeout=self.settings.startup_timeout,
            poll=0.05,
            failure=self._failure,
        )

    def _failure(self, what: str) -> str:
        return (
            f"redis-server on {HOST}:{self.port} {what}; see {self.log}. "
            f"Last lines:\n{log_tail(self.stdout_log, 10, since=self._log_offsets[0])}\n"
            f"{log_tail(self.log, 20, since=self._log_offsets[1])}"
        )
