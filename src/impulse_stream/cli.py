"""The ``impulse-stream`` command.

Each command is a few lines: it reads settings, builds through
:mod:`impulse_stream.bootstrap` and runs. Every error a user can cause ends in
a one-line message and a non-zero exit code, never a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from impulse_stream.errors import ImpulseStreamError

app = typer.Typer(
    name="impulse-stream",
    help="Real-time next-best-action engine for retail banks.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _show_version(value: bool) -> None:
    if value:
        from impulse_stream import __version__

        typer.echo(f"impulse-stream {__version__}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_show_version, is_eager=True, help="Print the version and exit."
        ),
    ] = False,
) -> None:
    """Real-time next-best-action engine for retail banks."""


def _mount_infra() -> None:
    from impulse_stream.infra.cli import app as infra_app

    app.add_typer(infra_app, name="infra", help="Local Kafka (KRaft) and redis-server.")


_mount_infra()


def _mount_datatools() -> None:
    from impulse_stream.datatools.cli import mount

    mount(app)  # generate, export, backtest


_mount_datatools()

catalogue_app = typer.Typer(no_args_is_help=True, help="The rule and action catalogue.")
app.add_typer(catalogue_app, name="catalogue")


def use_event_loop(name: str) -> None:
    """Make the event loop Faust creates a uvloop one (``asyncio``: the standard loop)."""
    if name == "uvloop":
        import asyncio

        import uvloop

        asyncio.set_event_loop_policy(uvloop.EventLoopPolicy())


@app.command()
def worker(
    web_port: Annotated[
        int | None, typer.Option(help="Port of /metrics, /healthz, the 360 API.")
    ] = None,
    topic_prefix: Annotated[str | None, typer.Option(help="Prefix of every topic name.")] = None,
) -> None:
    """Run a worker: wait for Kafka and Redis, consume the input topics, decide, publish."""
    import faust

    from impulse_stream.bootstrap import build
    from impulse_stream.logs import configure_logging
    from impulse_stream.settings import Settings
    from impulse_stream.startup import wait_for_dependencies_blocking
    from impulse_stream.streaming.collector import collect_less_often

    settings = Settings.from_env(web_port=web_port, topic_prefix=topic_prefix)
    configure_logging(settings.log_level)
    use_event_loop(settings.event_loop)
    container = build(settings)
    collect_less_often()  # the start-up heap is built: never walk it again
    wait_for_dependencies_blocking(settings)
    runner = faust.Worker(
        container.app,
        loglevel=settings.log_level.lower(),
        quiet=True,
        override_logging=False,
    )
    runner.spinner = None  # it writes terminal escapes into the JSON log on SIGTERM
    runner.execute_from_commandline()


@app.command()
def outbound(
    topic_prefix: Annotated[str | None, typer.Option(help="Prefix of every topic name.")] = None,
) -> None:
    """Run the outbound selector: the day's call list, letters, e-mails and SMS within capacity."""
    import faust

    from impulse_stream.bootstrap import build_outbound
    from impulse_stream.logs import configure_logging
    from impulse_stream.settings import Settings
    from impulse_stream.startup import wait_for_dependencies_blocking

    settings = Settings.from_env(topic_prefix=topic_prefix)
    configure_logging(settings.log_level)
    use_event_loop(settings.event_loop)
    outbound_app, _ = build_outbound(settings)
    wait_for_dependencies_blocking(settings)
    runner = faust.Worker(
        outbound_app, loglevel=settings.log_level.lower(), quiet=True, override_logging=False
    )
    runner.spinner = None
    runner.execute_from_commandline()


@app.command()
def desk(
    port: Annotated[int, typer.Option(help="Port of the desktop, teaser view and report.")] = 6070,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
) -> None:
    """Serve the agent desktop, the online-banking teaser view and the omnichannel report."""
    from impulse_stream.desk.server import run_desk
    from impulse_stream.logs import configure_logging
    from impulse_stream.settings import Settings

    if not 0 < port < 65536:
        _fail(f"--port={port}: expected a port number 1-65535")
    settings = Settings.from_env()
    configure_logging(settings.log_level)
    run_desk(settings, host or settings.web_host, port)


@app.command()
def demo(
    seconds: Annotated[
        float | None, typer.Option("--for", help="Stop after this many seconds (default: Ctrl-C).")
    ] = None,
    customers: Annotated[int, typer.Option(help="Synthetic customers in the bank day.")] = 3000,
    rate: Annotated[float, typer.Option(help="Customer moments sent per second.")] = 30.0,
) -> None:
    """A bank day you can watch: stack, worker and agent desktop, until Ctrl-C."""
    from impulse_stream.demo import run_demo

    if not rate > 0:
        _fail(f"--rate={rate:g}: expected more than 0")
    run_demo(seconds=seconds, customers=customers, rate=rate)


@app.command()
def produce(
    topic: Annotated[str, typer.Argument(help="Topic to write to, e.g. orders.flow.")],
    file: Annotated[
        Path, typer.Argument(help="JSON Lines file, one event per line ('-' = stdin).")
    ],
) -> None:
    """Send events from a JSON Lines file; the key is each event's customer_id."""
    from impulse_stream.tools import produce_file

    count = produce_file(topic, file)
    typer.echo(f"sent {count} events to {topic}")


@app.command()
def rebuild(
    yes: Annotated[bool, typer.Option("--yes", help="Confirm: all state is deleted.")] = False,
) -> None:
    """Delete all state and rewind the consumer group: the next worker rebuilds from the topics."""
    from impulse_stream.redact import mask_url
    from impulse_stream.settings import Settings
    from impulse_stream.tools import rebuild as run_rebuild

    settings = Settings.from_env()
    if not yes:
        _fail(
            f"this deletes every Redis key under {settings.redis_prefix!r} at "
            f"{mask_url(settings.redis_url)} and rewinds group {settings.app_id!r}; add --yes"
        )
    deleted, partitions = run_rebuild(settings)
    typer.echo(f"deleted {deleted} Redis keys; rewound {partitions} input partitions")


@app.command()
def forget(
    customer: Annotated[str, typer.Argument(help="The customer id to erase.")],
    yes: Annotated[bool, typer.Option("--yes", help="Do not ask for confirmation.")] = False,
    wait: Annotated[
        float, typer.Option(help="Seconds to wait for the worker's erasure in Redis.")
    ] = 30.0,
) -> None:
    """Right to erasure: write the customer's profile tombstone and confirm the erasure."""
    from impulse_stream.erasure import check_customer_id
    from impulse_stream.erasure import forget as run_forget
    from impulse_stream.settings import Settings

    settings = Settings.from_env()
    check_customer_id(customer)
    if not wait >= 0:
        _fail(f"--wait={wait}: expected 0 or more seconds")
    if not yes and not typer.confirm(
        f"Erase this customer's state (tombstone on "
        f"{settings.topic_prefix}customers.profile, app {settings.app_id!r})?"
    ):
        typer.echo("nothing sent")
        raise typer.Exit(1)
    result = run_forget(settings, customer, wait)
    typer.echo(
        f"tombstone written to {result.topic} (partition {result.partition}, "
        f"offset {result.offset})"
    )
    if result.erased:
        typer.echo("erased: the customer's state is gone from Redis")
    else:
        typer.echo(
            f"pending: the state is still in Redis after {result.waited:.0f} s; a running "
            "worker erases it when it reaches the tombstone"
        )
        raise typer.Exit(3)


@catalogue_app.command("validate")
def catalogue_validate(
    path: Annotated[Path, typer.Argument(help="Catalogue YAML file.")],
) -> None:
    """Check a catalogue against the packaged catalogue schema (schemas/catalogue.schema.json)."""
    from impulse_stream.catalogue_loader import load_catalogue

    cat = load_catalogue(path)
    typer.echo(f"{path}: valid, version {cat.version}")


def main() -> None:
    from impulse_stream.errors import Interrupted

    try:
        app()
    except Interrupted as exc:
        typer.secho(f"interrupted: {exc}", err=True, fg=typer.colors.YELLOW)
        sys.exit(130)
    except ImpulseStreamError as exc:
        _fail(str(exc))
    except OSError as exc:
        # A file the user named: missing, unreadable, a directory.
        _fail(f"{exc.filename or ''}: {exc.strerror or exc}".lstrip(": "))
    except KeyboardInterrupt:
        sys.exit(130)


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", err=True, fg=typer.colors.RED)
    sys.exit(2)


if __name__ == "__main__":
    main()
