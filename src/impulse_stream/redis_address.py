"""Where the state store lives: one Redis server or a Redis Cluster, named by one URL.

* ``redis://host:port/db``, ``rediss://…``, ``unix://…``: one server (redis-py's own
  URL forms).
* ``redis+cluster://[user:password@]host:port[,host:port…]``: a Redis Cluster. The
  nodes listed are only where the client starts; it learns every master and the
  slot map from any one of them, so one answering node is enough. A cluster has
  no databases, so the URL has no ``/db``.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from impulse_stream.errors import ConfigError
from impulse_stream.redact import mask_url

CLUSTER_SCHEME = "redis+cluster"


@dataclass(frozen=True)
class ClusterAddress:
    """The parsed ``redis+cluster://`` URL."""

    nodes: tuple[tuple[str, int], ...]
    username: str | None = None
    password: str | None = None


def is_cluster_url(url: str) -> bool:
    return url.partition("://")[0].lower() == CLUSTER_SCHEME


def cluster_url(nodes: list[tuple[str, int]]) -> str:
    return f"{CLUSTER_SCHEME}://" + ",".join(f"{host}:{port}" for host, port in nodes)


def parse_cluster_url(url: str, variable: str = "REDIS_URL") -> ClusterAddress:
    """Nodes and credentials of a ``redis+cluster://`` URL; :class:`ConfigError` when malformed."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() != CLUSTER_SCHEME:
        raise ConfigError(f"{variable}={mask_url(url)!r}: expected {CLUSTER_SCHEME}://host:port")
    userinfo, at, hosts = rest.rpartition("@")
    hosts = hosts.rstrip("/")
    if "/" in hosts or "?" in hosts:
        raise ConfigError(
            f"{variable}={mask_url(url)!r}: a cluster URL has no /db or options "
            f"({CLUSTER_SCHEME}://host:port[,host:port])"
        )
    nodes = []
    for node in hosts.split(","):
        host, _, port = node.strip().rpartition(":")
        if not host or not port.isdigit() or not 0 < int(port) < 65536:
            raise ConfigError(
                f"{variable}={mask_url(url)!r}: expected {CLUSTER_SCHEME}://host:port[,host:port]"
            )
        nodes.append((host.strip("[]"), int(port)))
    username = password = None
    if at:
        user, colon, secret = userinfo.partition(":")
        username = unquote(user) or None
        password = unquote(secret) if colon else None
    return ClusterAddress(tuple(nodes), username, password)
