"""The data engineer's commands: ``generate``, ``export``, ``backtest``.

Registered on the ``impulse-stream`` app by :func:`mount`. Each checks its
arguments itself so that a mistake ends in one line (``error: ...``, exit 2);
Ctrl-C ends in one line saying where the run stopped (exit 130).
"""

from __future__ import annotations

import time
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from impulse_stream.errors import DataToolError, Interrupted

if TYPE_CHECKING:
    from impulse_stream.streaming.processor import InboundMessage


def mount(app: typer.Typer) -> None:
    app.command(name="generate")(generate)
    app.command(name="export")(export)
    app.command(name="backtest")(backtest)
    app.command(name="replay")(replay)


def generate(
    customers: Annotated[int, typer.Option(help="Number of customers.")] = 1000,
    days: Annotated[int, typer.Option(help="Days in the period.")] = 30,
    seed: Annotated[int, typer.Option(help="Random seed: same arguments, same bytes.")] = 1,
    start: Annotated[str, typer.Option(help="First day of the period, YYYY-MM-DD.")] = (
        "2026-11-01"
    ),
    out: Annotated[
        Path | None, typer.Option(help="Directory for one JSON Lines file per topic.")
    ] = None,
    to_kafka: Annotated[
        bool, typer.Option("--to-kafka", help="Send to the topics (KAFKA_BOOTSTRAP_SERVERS).")
    ] = False,
    partitions: Annotated[
        int | None,
        typer.Option(help="Partitions the files assume (default IMPULSE_STREAM_PARTITIONS)."),
    ] = None,
    history_months: Annotated[
        int, typer.Option(help="Calendar months of regular bookings before --start.")
    ] = 3,
) -> None:
    """A synthetic bank month on all six input topics, reproducible from the seed."""
    from impulse_stream.datatools.generate import GenerateSpec, produce_to_kafka, write_files
    from impulse_stream.datatools.progress import progress_bar
    from impulse_stream.settings import Settings

    if customers < 1 or days < 1 or history_months < 0:
        raise DataToolError("--customers and --days must be at least 1, --history-months >= 0")
    if (out is None) == (not to_kafka):
        raise DataToolError("give exactly one of --out DIR and --to-kafka")
    spec = GenerateSpec(customers, days, seed, parse_day(start, "--start"), history_months)
    settings = Settings.from_env()
    parts = settings.partitions if partitions is None else partitions
    if parts < 1:
        raise DataToolError("--partitions must be at least 1")
    began = time.perf_counter()
    with progress_bar("generate", len(spec.all_days()), "events") as bar:
        if out is not None:
            stats = write_files(spec, out, parts, bar)
            where = str(out)
        else:
            stats = produce_to_kafka(spec, settings, bar)
            where = f"Kafka at {settings.kafka_bootstrap_servers}"
    seconds = time.perf_counter() - began
    total = sum(stats.per_topic.values())
    typer.echo(
        f"generated {total:,} events for {customers:,} customers over {days} days "
        f"(+{history_months} months of history) to {where} in {seconds:.1f} s "
        f"({total / max(seconds, 1e-9):,.0f} events/s)"
    )


def export(
    from_: Annotated[
        str, typer.Option("--from", help="Start: an RFC 3339 time, a date, or an offset.")
    ],
    to: Annotated[str, typer.Option(help="End (exclusive): a time, a date, or an offset.")],
    out: Annotated[Path, typer.Option(help="File to write.")],
    topics: Annotated[
        str | None, typer.Option(help="Comma-separated input topics (default: all six).")
    ] = None,
    format: Annotated[str, typer.Option(help="jsonl (for backtest) or parquet.")] = "jsonl",
) -> None:
    """Copy a time or offset range of topics to JSON Lines (backtest) or Parquet."""
    from impulse_stream.datatools.export import ExportSpec, export_range, parse_bound
    from impulse_stream.settings import Settings

    spec = ExportSpec(
        start=parse_bound(from_, "--from"),
        end=parse_bound(to, "--to"),
        topics=parse_topics(topics),
        format=format,
        out=out,
    )
    settings = Settings.from_env()
    result = export_range(spec, settings)
    typer.echo(
        f"exported {result.messages:,} messages from {len(result.partitions)} partitions "
        f"to {out} ({format})"
    )


def replay(
    name: Annotated[str, typer.Option(help="Namespace: Redis prefix and output-topic prefix.")],
    from_: Annotated[
        str | None, typer.Option("--from", help="Start: an RFC 3339 time, a date, or an offset.")
    ] = None,
    to: Annotated[
        str | None, typer.Option(help="End (exclusive): a time, a date, or an offset.")
    ] = None,
    topics: Annotated[
        str | None, typer.Option(help="Comma-separated input topics (default: all six).")
    ] = None,
    input: Annotated[
        list[Path] | None, typer.Option("--input", help="Recorded JSON Lines (export output).")
    ] = None,
    catalogue: Annotated[
        Path | None, typer.Option(help="Catalogue to decide with (default: packaged).")
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            help="Processes sharing the partitions (default: the number of CPUs; 1: one)."
        ),
    ] = None,
) -> None:
    """Re-run a range of the input topics (or recorded files) into an isolated namespace."""
    from impulse_stream.datatools.export import parse_bound
    from impulse_stream.datatools.replay import ReplaySpec
    from impulse_stream.datatools.replay import replay as run_replay
    from impulse_stream.settings import Settings

    spec = ReplaySpec(
        name=name,
        start=parse_bound(from_, "--from") if from_ is not None else None,
        end=parse_bound(to, "--to") if to is not None else None,
        topics=parse_topics(topics),
        inputs=tuple(input or ()),
        catalogue=catalogue,
        workers=parse_workers(workers),
    )
    began = time.perf_counter()
    result = run_replay(spec, Settings.from_env())
    seconds = time.perf_counter() - began
    processes = "1 process" if result.workers == 1 else f"{result.workers} processes"
    typer.echo(
        f"replayed {result.events:,} events in {seconds:.1f} s: {result.published:,} messages "
        f"published to {result.topic_prefix}*, state under {result.redis_prefix!r} "
        f"({processes})"
    )


def parse_workers(text: str | None) -> int | None:
    """``--workers``: a whole number of processes, at least 1 (None: the default)."""
    if text is None:
        return None
    try:
        workers = int(text.strip())
    except ValueError:
        workers = 0
    if workers < 1:
        raise DataToolError(f"--workers {text!r}: expected a whole number of processes, at least 1")
    return workers


def backtest(
    candidate: Annotated[
        Path, typer.Option("--candidate", "--catalogue", help="Catalogue to test.")
    ],
    events: Annotated[
        list[Path] | None,
        typer.Argument(help="Recordings: JSON Lines files or directories of them."),
    ] = None,
    baseline: Annotated[
        Path | None, typer.Option(help="Catalogue to compare with (default: packaged).")
    ] = None,
    json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    html: Annotated[
        Path | None, typer.Option(help="Write a self-contained HTML report here.")
    ] = None,
    samples: Annotated[int, typer.Option(help="Changed decisions to show.")] = 10,
    report_from: Annotated[
        str | None,
        typer.Option(help="Count from this day (YYYY-MM-DD) on; earlier events warm up."),
    ] = None,
    from_: Annotated[
        str | None,
        typer.Option("--from", help="Instead of files: a topic range from this time/offset."),
    ] = None,
    to: Annotated[str | None, typer.Option(help="End (exclusive) of the topic range.")] = None,
    topics: Annotated[
        str | None, typer.Option(help="Topics of the range (default: all six).")
    ] = None,
    workers: Annotated[
        str | None,
        typer.Option(
            help="Processes (default: the number of CPUs; 1: one after the other in one; "
            "2 or more: the two catalogues side by side)."
        ),
    ] = None,
) -> None:
    """Replay recorded events (files or a topic range) with two catalogues and report."""
    from impulse_stream.catalogue_loader import load_catalogue
    from impulse_stream.datatools.backtest import compare
    from impulse_stream.datatools.recording import read_timed_recordings, recording_files
    from impulse_stream.datatools.render import render_html, render_json, render_terminal

    if bool(events) == (from_ is not None or to is not None):
        raise DataToolError("give recordings (files, directories) or --from and --to, not both")
    if not events and (from_ is None or to is None):
        raise DataToolError("a topic range needs both --from and --to")
    processes = parse_workers(workers)
    files = recording_files(events or [])
    for f in files:
        if not f.is_file():
            raise DataToolError(f"{f}: no such file")
    old = load_catalogue(baseline)
    new = load_catalogue(candidate)
    since = parse_day(report_from, "--report-from").isoformat() if report_from else ""
    since_ms = (
        int(datetime.fromisoformat(since + "T00:00:00+00:00").timestamp() * 1000) if since else 0
    )
    try:
        if files:
            timed = list(read_timed_recordings(files))
        else:
            assert from_ is not None and to is not None
            timed = _topic_range(from_, to, topics)
    except KeyboardInterrupt:
        raise Interrupted("stopped while reading the recordings; no report written") from None
    messages = [m for _, m in timed]
    warm_up = sum(1 for ts, _ in timed if ts < since_ms)
    try:
        report = compare(
            messages, old, new, samples, warm_up=warm_up, report_from=since, workers=processes
        )
    except KeyboardInterrupt:
        raise Interrupted("stopped between the two runs; no report written") from None
    report.baseline_source = str(baseline) if baseline else "packaged default.yaml"
    report.candidate_source = str(candidate)
    if html is not None:
        html.write_text(render_html(report), encoding="utf-8")
    if json:
        typer.echo(render_json(report))
    else:
        render_terminal(report)
        if html is not None:
            typer.echo(f"HTML report: {html}")


def _topic_range(start: str, end: str, topics: str | None) -> list[tuple[int, InboundMessage]]:
    from impulse_stream.datatools.export import ExportSpec, parse_bound, read_range
    from impulse_stream.datatools.recording import timed_messages
    from impulse_stream.settings import Settings

    spec = ExportSpec(
        parse_bound(start, "--from"),
        parse_bound(end, "--to"),
        parse_topics(topics),
        "jsonl",
        Path("-"),
    )
    rows, _ = read_range(spec, Settings.from_env())
    return [(ts, m) for ts, _, _, m in timed_messages(enumerate(rows, 1), "topic range")]


def parse_day(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise DataToolError(f"{option}: expected a date YYYY-MM-DD, got {text!r}") from None


def parse_topics(text: str | None) -> tuple[str, ...]:
    from impulse_stream.contract.topics import INPUT_TOPICS

    if text is None:
        return INPUT_TOPICS
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in INPUT_TOPICS]
    if unknown or not names:
        raise DataToolError(
            f"unknown topic {', '.join(map(repr, unknown)) or repr(text)}; "
            f"use input topics of the contract: {', '.join(INPUT_TOPICS)}"
        )
    return names
