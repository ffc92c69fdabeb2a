"""A local Redis Cluster: three masters on loopback, no replicas, each durable through its AOF.

Node ``i`` listens on ``REDIS_CLUSTER_PORT + i`` (its cluster bus on that port +
10000) and lives in ``<data dir>/redis-<port>`` (``nodes.conf``, AOF, log). On
the first start ``redis-cli --cluster create`` spreads the 16384 slots over the
three; later starts find ``nodes.conf`` and the nodes rejoin by themselves.
Either way :meth:`LocalRedisCluster.start` returns once every node reports
``cluster_state:ok``, so a client can write to every slot.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import redis
from redis.exceptions import RedisError

from impulse_stream.errors import ServerStartError, ToolMissingError
from impulse_stream.infra.install import ensure_redis_server
from impulse_stream.infra.redis_server import RedisServer
from impulse_stream.infra.settings import HOST, StackSettings
from impulse_stream.redis_address import cluster_url

NODES = 3
SLOTS = 16384


def cluster_info(port: int, timeout: float = 1.0) -> dict[str, str]:
    """``CLUSTER INFO`` of the node on ``port`` (empty when it does not answer)."""
    client = redis.Redis(
        host=HOST, port=port, socket_timeout=timeout, socket_connect_timeout=timeout
    )
    try:
        raw = client.execute_command("CLUSTER INFO")  # type: ignore[no-untyped-call]
    except (RedisError, OSError):
        return {}
    finally:
        client.close()
    if isinstance(raw, dict):  # redis-py parses the reply already
        return {str(k): str(v) for k, v in raw.items()}
    text = raw.decode() if isinstance(raw, bytes) else str(raw)
    pairs = (line.split(":", 1) for line in text.splitlines() if ":" in line)
    return {k.strip(): v.strip() for k, v in pairs}


def cluster_ok(ports: list[int], timeout: float = 1.0) -> bool:
    """True when every node serves and sees all slots assigned and the cluster up."""
    for port in ports:
        info = cluster_info(port, timeout)
        if info.get("cluster_state") != "ok" or info.get("cluster_slots_assigned") != str(SLOTS):
            return False
    return True


def redis_cli_binary(settings: StackSettings) -> str:
    """``redis-cli``; Debian installs it with redis-server (package redis-tools)."""
    found = shutil.which("redis-cli")
    if found is None:
        server = Path(ensure_redis_server(settings))
        beside = server.with_name("redis-cli")
        if beside.exists():
            return str(beside)
        raise ToolMissingError(
            "redis-cli not found: install redis-tools (apt-get install redis-tools)"
        )
    return found


class LocalRedisCluster:
    """Three redis-server processes in cluster mode, started, stopped and killed together."""

    def __init__(self, settings: StackSettings) -> None:
        self.settings = settings
        self.ports = [settings.redis_cluster_port + i for i in range(NODES)]
        self.nodes = [RedisServer(settings, port=p, cluster=True) for p in self.ports]

    @property
    def url(self) -> str:
        return cluster_url([(HOST, p) for p in self.ports])

    @property
    def homes(self) -> list[Path]:
        return [n.home for n in self.nodes]

    def pids(self) -> list[int | None]:
        return [n.pid() for n in self.nodes]

    def pid(self) -> int | None:
        """The first node's pid while every node runs, else None (one line of ``status``)."""
        pids = self.pids()
        return pids[0] if all(pids) else None

    def answering(self) -> bool:
        return cluster_ok(self.ports)

    def start(self) -> None:
        """Start every node that is not running, form the cluster once, wait for ``ok``."""
        for node in self.nodes:
            node.start()
        if not any(cluster_info(p).get("cluster_known_nodes", "1") != "1" for p in self.ports):
            self._create()
        self._wait_ok()

    def stop(self, *, hard: bool = False) -> bool:
        stopped = [node.stop(hard=hard) for node in self.nodes]
        return any(stopped)

    def _create(self) -> None:
        cli = redis_cli_binary(self.settings)
        log = self.settings.data_dir / "redis-cluster-create.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        argv = [
            cli, "--cluster", "create", *(f"{HOST}:{p}" for p in self.ports),
            "--cluster-replicas", "0", "--cluster-yes",
        ]  # fmt: skip
        with log.open("wb") as out:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, check=False
            )
        if done.returncode != 0:
            raise ServerStartError(
                f"redis-cli --cluster create failed (exit {done.returncode}); "
                f"log {log}:\n{log.read_text(errors='replace')[-2000:]}"
            )

    def _wait_ok(self) -> None:
        deadline = time.monotonic() + self.settings.startup_timeout
        while not cluster_ok(self.ports, timeout=0.5):
            if time.monotonic() > deadline:
                states = {p: cluster_info(p).get("cluster_state", "no answer") for p in self.ports}
                raise ServerStartError(
                    f"the Redis Cluster on ports {self.ports} is not ok after "
                    f"{self.settings.startup_timeout:.0f}s: {states}; see "
                    f"{', '.join(str(h / 'redis.log') for h in self.homes)}"
                )
            time.sleep(0.1)
