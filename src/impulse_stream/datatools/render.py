"""A :class:`~impulse_stream.datatools.backtest.BacktestReport` as a terminal table
(rich), as JSON for scripts, and as one self-contained HTML file with inline SVG
charts of the contacts per channel and day, baseline against candidate."""

from __future__ import annotations

import dataclasses
from html import escape

import orjson
from rich.console import Console
from rich.table import Table

from impulse_stream.datatools.backtest import BacktestReport, Delta, Side
from impulse_stream.datatools.outbound_memory import VOLUMES
from impulse_stream.datatools.svg import Series, line_chart

BASELINE_COLOUR = "#7f7f7f"
CANDIDATE_COLOUR = "#1f6fd1"
CAPACITY_COLOUR = "#d62728"


def render_json(report: BacktestReport) -> str:
    return orjson.dumps(dataclasses.asdict(report), option=orjson.OPT_INDENT_2).decode()


def _pairs(a: dict[str, int], b: dict[str, int]) -> list[tuple[str, int, int]]:
    keys = sorted(set(a) | set(b), key=lambda k: (-(b.get(k, 0) + a.get(k, 0)), k))
    return [(k, a.get(k, 0), b.get(k, 0)) for k in keys]


def _signed(n: float) -> str:
    return f"{n:+,}" if isinstance(n, int) else f"{n:+.4f}"


OUTBOUND_HEADERS = [
    "day",
    "channel",
    "capacity",
    "baseline admitted",
    "of which fallback",
    "carried over",
    "dropped",
    "candidate admitted",
    "of which fallback",
    "carried over",
    "dropped",
]


def outbound_rows(report: BacktestReport) -> list[list[str]]:
    """The outbound selector per day and channel: the candidate's capacity, then admitted,
    of which on a fallback channel, carried over and dropped for baseline and candidate."""
    b, c = report.baseline, report.candidate
    rows = []
    for day in report.days:
        old = b.outbound_per_day.get(day, {})
        new = c.outbound_per_day.get(day, {})
        for ch in sorted(set(old) | set(new)):
            cap = c.daily_capacity.get(ch)
            row = [day, ch, f"{cap:,}" if cap is not None else "none"]
            for side in (old, new):
                counts = side.get(ch, {})
                row += [f"{counts.get(k, 0):,}" for k in VOLUMES]
            rows.append(row)
    return rows


def render_terminal(report: BacktestReport, console: Console | None = None) -> None:
    console = console or Console()
    b, c = report.baseline, report.candidate
    console.print(
        f"[bold]backtest[/bold] {report.events:,} events, {report.customers:,} customers; "
        f"baseline {b.rules_version} ({report.baseline_source}), "
        f"candidate {c.rules_version} ({report.candidate_source})"
    )
    if report.report_from:
        console.print(f"counted from {report.report_from} on (earlier events warm up the state)")
    console.print(
        f"opened: baseline {b.opened:,}, candidate {c.opened:,}; "
        f"added {report.added.total:,}, removed {report.removed.total:,}; "
        f"customers affected {report.customers_affected:,}"
    )
    for title, field in (
        ("action", "per_action"),
        ("product", "per_product"),
        ("channel", "per_channel"),
    ):
        table = Table(title=f"opportunities per {title}")
        for name in (title, "baseline", "candidate", "added", "removed"):
            table.add_column(name, justify="left" if name == title else "right")
        added: dict[str, int] = getattr(report.added, field)
        removed: dict[str, int] = getattr(report.removed, field)
        for key, old, new in _pairs(getattr(b, field), getattr(c, field)):
            table.add_row(
                key, f"{old:,}", f"{new:,}", f"{added.get(key, 0):,}", f"{removed.get(key, 0):,}"
            )
        console.print(table)
    if report.shifts:
        table = Table(title="rank and priority shifts (opened by both)")
        for name in ("action", "opportunities", "rank up", "rank down", "mean priority change"):
            table.add_column(name, justify="left" if name == "action" else "right")
        for s in report.shifts:
            table.add_row(
                s.action,
                f"{s.opportunities:,}",
                f"{s.rank_up:,}",
                f"{s.rank_down:,}",
                _signed(s.mean_priority_change),
            )
        console.print(table)
    table = Table(title="policy suppressions per rule")
    for name in ("rule", "baseline", "candidate", "change"):
        table.add_column(name, justify="left" if name == "rule" else "right")
    for rule, old, new in _pairs(b.suppressions, c.suppressions):
        table.add_row(rule, f"{old:,}", f"{new:,}", _signed(new - old))
    console.print(table)
    table = Table(title="contacts per channel and day (opened, best channel) vs daily capacity")
    channels = sorted(
        {ch for side in (b, c) for day in side.contacts_per_day.values() for ch in day}
    )
    table.add_column("day")
    for ch in channels:
        cap = c.daily_capacity.get(ch)
        table.add_column(f"{ch}" + (f" (cap {cap:,})" if cap else ""), justify="right")
    for day in report.days:
        row = [day]
        for ch in channels:
            old = b.contacts_per_day.get(day, {}).get(ch, 0)
            new = c.contacts_per_day.get(day, {}).get(ch, 0)
            cap = c.daily_capacity.get(ch)
            text = f"{old:,} → {new:,}" if old != new else f"{new:,}"
            row.append(f"[red]{text}[/red]" if cap is not None and new > cap else text)
        table.add_row(*row)
    console.print(table)
    rows = outbound_rows(report)
    if rows:
        table = Table(
            title="outbound selector per day and channel vs daily capacity: "
            "admitted (of which fallback) / carried over / dropped"
        )
        for name in ("day", "channel", "capacity", "baseline", "candidate"):
            table.add_column(name, justify="left" if name in ("day", "channel") else "right")
        for row in rows:
            table.add_row(
                *row[:3], *(f"{a} ({f}) / {co} / {d}" for a, f, co, d in (row[3:7], row[7:]))
            )
        console.print(table)
    for label, side in (("baseline", b), ("candidate", c)):
        for o in side.over_capacity:
            console.print(
                f"[red]{label} over capacity[/red]: {o['day']} {o['channel']} "
                f"{o['contacts']:,} > {o['capacity']:,}"
            )
    if report.samples:
        table = Table(title="changed decisions (sample)", show_lines=True)
        for name in ("change", "customer", "action", "channel", "baseline", "candidate"):
            table.add_column(name, overflow="fold")
        for d in report.samples:
            table.add_row(d.change, d.customer, d.action, d.channel, d.baseline, d.candidate)
        console.print(table)


_CSS = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
th,td{border:1px solid #ccc;padding:3px 8px;text-align:right;vertical-align:top}
th:first-child,td:first-child,td.text{text-align:left}
th{background:#f3f3f3}.over{color:#d62728;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:12px}.summary td{text-align:left}
"""


def _table(headers: list[str], rows: list[list[str]], raw: bool = False) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers) if any(headers) else ""
    body = "".join(
        "<tr>" + "".join(f"<td>{cell if raw else escape(cell)}</td>" for cell in row) + "</tr>"
        for row in rows
    )
    return f"<table>{f'<tr>{head}</tr>' if head else ''}{body}</table>"


def _delta_table(title: str, field: str, b: Side, c: Side, added: Delta, removed: Delta) -> str:
    rows = [
        [
            k,
            f"{o:,}",
            f"{n:,}",
            f"{getattr(added, field).get(k, 0):,}",
            f"{getattr(removed, field).get(k, 0):,}",
        ]
        for k, o, n in _pairs(getattr(b, field), getattr(c, field))
    ]
    return f"<h2>Opportunities per {title}</h2>" + _table(
        [title, "baseline", "candidate", "added", "removed"], rows
    )


def render_html(report: BacktestReport) -> str:
    b, c = report.baseline, report.candidate
    channels = sorted(
        {ch for side in (b, c) for day in side.contacts_per_day.values() for ch in day}
    )
    charts = []
    for ch in channels:
        series = [
            Series(
                f"baseline {b.rules_version}",
                [b.contacts_per_day.get(d, {}).get(ch, 0) for d in report.days],
                BASELINE_COLOUR,
                dashed=True,
            ),
            Series(
                f"candidate {c.rules_version}",
                [c.contacts_per_day.get(d, {}).get(ch, 0) for d in report.days],
                CANDIDATE_COLOUR,
            ),
        ]
        cap = c.daily_capacity.get(ch)
        title = f"{ch}: opened per day"
        busiest = max((v for sr in series for v in sr.values), default=0)
        if cap is not None and cap > 5 * max(busiest, 1):
            title += f" (capacity {cap:,}, far above)"  # a line up there would flatten the rest
        elif cap is not None:
            series.append(
                Series(f"capacity {cap:,}", [cap] * len(report.days), CAPACITY_COLOUR, dashed=True)
            )
        charts.append(line_chart(title, report.days, series))
    summary = _table(
        ["", ""],
        [
            ["events", f"{report.events:,}"],
            ["customers", f"{report.customers:,}"],
            ["baseline", f"{b.rules_version} ({report.baseline_source})"],
            ["candidate", f"{c.rules_version} ({report.candidate_source})"],
            ["opened", f"baseline {b.opened:,}, candidate {c.opened:,}"],
            ["added / removed", f"{report.added.total:,} / {report.removed.total:,}"],
            ["customers affected", f"{report.customers_affected:,}"],
            ["counted from", report.report_from or "the first event"],
        ],
    )
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f"<title>Backtest {escape(b.rules_version)} vs {escape(c.rules_version)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Backtest: {escape(b.rules_version)} → {escape(c.rules_version)}</h1>",
        f'<div class="summary">{summary}</div>',
        "<h2>Contacts per channel and day (opened opportunities, best channel)</h2>",
        f'<div class="charts">{"".join(charts)}</div>',
    ]
    for title, field in (
        ("action", "per_action"),
        ("product", "per_product"),
        ("channel", "per_channel"),
    ):
        parts.append(_delta_table(title, field, b, c, report.added, report.removed))
    if report.shifts:
        parts.append(
            "<h2>Rank and priority shifts</h2>"
            + _table(
                ["action", "opportunities", "rank up", "rank down", "mean priority change"],
                [
                    [
                        s.action,
                        f"{s.opportunities:,}",
                        f"{s.rank_up:,}",
                        f"{s.rank_down:,}",
                        _signed(s.mean_priority_change),
                    ]
                    for s in report.shifts
                ],
            )
        )
    parts.append(
        "<h2>Policy suppressions per rule</h2>"
        + _table(
            ["rule", "baseline", "candidate", "change"],
            [
                [r, f"{o:,}", f"{n:,}", _signed(n - o)]
                for r, o, n in _pairs(b.suppressions, c.suppressions)
            ],
        )
    )
    rows = []
    for day in report.days:
        row = [escape(day)]
        for ch in channels:
            old = b.contacts_per_day.get(day, {}).get(ch, 0)
            new = c.contacts_per_day.get(day, {}).get(ch, 0)
            cap = c.daily_capacity.get(ch)
            text = f"{old:,} → {new:,}" if old != new else f"{new:,}"
            row.append(
                f'<span class="over">{text}</span>' if cap is not None and new > cap else text
            )
        rows.append(row)
    headers = ["day"] + [
        ch + (f" (cap {c.daily_capacity[ch]:,})" if ch in c.daily_capacity else "")
        for ch in channels
    ]
    parts.append(
        "<h2>Contacts per channel and day against the daily capacity</h2>"
        + _table(headers, rows, raw=True)
    )
    outbound = outbound_rows(report)
    if outbound:
        parts.append(
            "<h2>Outbound selector per day and channel against the daily capacity</h2>"
            + _table(OUTBOUND_HEADERS, outbound)
        )
    if report.samples:
        parts.append(
            "<h2>Changed decisions (sample)</h2>"
            + _table(
                ["change", "customer", "action", "channel", "baseline", "candidate"],
                [
                    [s.change, s.customer, s.action, s.channel, s.baseline, s.candidate]
                    for s in report.samples
                ],
            )
        )
    parts.append("</body></html>\n")
    return "".join(parts)
