"""``impulse-stream infra up|down|status``: the local Kafka broker and redis-server.

Mounted by the main CLI; also runs alone as ``python -m impulse_stream.infra.cli``.
Every failure ends in a short message on stderr and a non-zero exit code.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Annotated, ParamSpec, TypeVar

import typer

from impulse_stream.errors import ConfigError, ImpulseStreamError
from impulse_stream.infra.stack import Stack

app = typer.Typer(
    help="Local Kafka (KRaft) and redis-server for the demo, the tests and development.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

P = ParamSpec("P")
R = TypeVar("R")

EXIT_ERROR = 2
EXIT_NOT_RUNNING = 3  # as LSB init scripts answer "status" for a stopped service

Name = Annotated[
    str | None,
    typer.Option(
        help="Name of the stack; stacks with different names and ports run side by side "
        "(env IMPULSE_STREAM_INFRA_NAME, default local)."
    ),
]
KafkaPort = Annotated[str | None, typer.Option(help="Broker port (env KAFKA_PORT, default 19092).")]
ControllerPort = Annotated[
    str | None,
    typer.Option(
        help="KRaft controller port (env KAFKA_CONTROLLER_PORT, default broker port + 1)."
    ),
]
RedisPort = Annotated[
    str | None, typer.Option(help="redis-server port (env REDIS_PORT, default 16379).")
]
RedisCluster = Annotated[
    bool,
    typer.Option(
        "--redis-cluster",
        help="A Redis Cluster of three masters instead of one redis-server "
        "(env IMPULSE_STREAM_REDIS_CLUSTER=1, ports REDIS_CLUSTER_PORT, default 17001-17003).",
    ),
]
Partitions = Annotated[
    str | None,
    typer.Option(
        help="Partitions of each contract topic (env IMPULSE_STREAM_PARTITIONS, default 6)."
    ),
]


def _one_line_errors(command: Callable[P, R]) -> Callable[P, R]:
    @functools.wraps(command)
    def run(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return command(*args, **kwargs)
        except ImpulseStreamError as e:
            typer.echo(f"impulse-stream infra: {e}", err=True)
            raise typer.Exit(EXIT_ERROR) from None
        except KeyboardInterrupt:
            typer.echo("impulse-stream infra: interrupted", err=True)
            raise typer.Exit(130) from None
        except OSError as e:
            typer.echo(f"impulse-stream infra: {e}", err=True)
            raise typer.Exit(EXIT_ERROR) from None

    return run


def _stack(
    name: str | None,
    kafka_port: str | None = None,
    kafka_controller_port: str | None = None,
    redis_port: str | None = None,
    partitions: str | None = None,
    redis_cluster: bool = False,
) -> Stack:
    return Stack.from_env(
        name=name,
        redis_cluster=True if redis_cluster else None,
        kafka_port=_whole_number("--kafka-port", kafka_port),
        kafka_controller_port=_whole_number("--kafka-controller-port", kafka_controller_port),
        redis_port=_whole_number("--redis-port", redis_port),
        partitions=_whole_number("--partitions", partitions),
    )


def _whole_number(option: str, raw: str | None) -> int | None:
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise ConfigError(f"{option}={raw!r}: expected an integer") from None


@app.command()
@_one_line_errors
def up(
    name: Name = None,
    kafka_port: KafkaPort = None,
    kafka_controller_port: ControllerPort = None,
    redis_port: RedisPort = None,
    partitions: Partitions = None,
    redis_cluster: RedisCluster = False,
    topics: Annotated[bool, typer.Option(help="Create the contract's topics.")] = True,
    fresh: Annotated[bool, typer.Option(help="Delete this stack's data before starting.")] = False,
) -> None:
    """Install what is missing, start Kafka and Redis, create the topics; wait until they serve."""
    stack = _stack(name, kafka_port, kafka_controller_port, redis_port, partitions, redis_cluster)
    stack.up(fresh=fresh)
    for line in stack.status():
        took = stack.timings.get(line.service)
        typer.echo(line.describe() + (f"  ({took:.1f}s)" if took is not None else ""))
    if topics:
        names = stack.create_topics()
        typer.echo(
            f"topics {len(names)} contract topics, {stack.settings.partitions} partitions each"
        )
    typer.echo(f"data   {stack.settings.data_dir}")
    typer.echo(
        f"use    KAFKA_BOOTSTRAP_SERVERS={stack.bootstrap_servers} REDIS_URL={stack.redis_url}"
    )


@app.command()
@_one_line_errors
def down(
    name: Name = None,
    kafka_port: KafkaPort = None,
    redis_port: RedisPort = None,
    redis_cluster: RedisCluster = False,
    purge: Annotated[bool, typer.Option(help="Also delete the stack's data directory.")] = False,
) -> None:
    """Stop the servers this stack started (servers from KAFKA_BOOTSTRAP_SERVERS/REDIS_URL stay)."""
    stack = _stack(name, kafka_port, redis_port=redis_port, redis_cluster=redis_cluster)
    stopped = stack.down(purge=purge)
    typer.echo(f"stopped {', '.join(stopped)}" if stopped else "nothing was running")
    if purge:
        typer.echo(f"deleted {stack.settings.data_dir}")


@app.command()
@_one_line_errors
def status(
    name: Name = None,
    kafka_port: KafkaPort = None,
    redis_port: RedisPort = None,
    redis_cluster: RedisCluster = False,
) -> None:
    """Which servers answer, on which address, with which pid. Exits 3 when one is down."""
    stack = _stack(name, kafka_port, redis_port=redis_port, redis_cluster=redis_cluster)
    lines = stack.status()
    for line in lines:
        typer.echo(line.describe())
    if not all(line.answering for line in lines):
        raise typer.Exit(EXIT_NOT_RUNNING)


if __name__ == "__main__":
    app(prog_name="impulse-stream infra")
