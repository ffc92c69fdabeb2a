"""Server-rendered HTML of the desk: the agent desktop, the teaser view, the report.

Pure functions from views to HTML strings; every value from the state or the
catalogue is escaped. No script or style from elsewhere: ``/static/desk.css``
and ``/static/desk.js`` are the package's own.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from html import escape
from typing import Any
from urllib.parse import quote, urlencode

from impulse_stream.core.cockpit import CustomerView
from impulse_stream.core.events import CHANNELS, Opportunity

DESK_CHANNELS = ("call_centre", "branch", "advisor")
RESPONSES = (
    ("accepted", "Accepted"),
    ("declined", "Declined"),
    ("not_now", "Not now"),
    ("no_time", "No time"),
)


def label(code: str | None) -> str:
    return "" if code is None else code.replace("_", " ")


def title(code: str) -> str:
    text = label(code)
    return text[:1].upper() + text[1:]


def reasons_line(o: Opportunity, now: datetime) -> str:
    """Why, in a few words: each impulse with its age and its telling facts."""
    parts = []
    for r in o.reasons:
        facts = [
            f"{e.name.replace('_', ' ')} {e.value}"
            for e in r.evidence
            if not e.name.endswith("_id")
        ][:3]
        parts.append(
            f"{label(r.kind)} {ago(r.occurred_at, now)} ago"
            + (f" ({', '.join(facts)})" if facts else "")
        )
    return "; ".join(parts)


def product_label(product: str) -> str:
    return product.replace("_", "-")


def ago(since: datetime, now: datetime) -> str:
    minutes = max(0, int((now - since).total_seconds() // 60))
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // 1440} days"


def when(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M")


def page(title: str, body: str, *, customer: str = "", script: bool = False) -> str:
    js = '<script src="/static/desk.js" defer></script>' if script else ""
    data = f' data-customer="{escape(customer)}"' if customer else ""
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width, initial-scale=1">'
        f"<title>{escape(title)}</title>"
        f'<link rel=stylesheet href="/static/desk.css">{js}</head>'
        f"<body{data}>{body}</body></html>\n"
    )


def _options(values: Sequence[str], chosen: str) -> str:
    return "".join(
        f'<option value="{v}"{" selected" if v == chosen else ""}>{escape(label(v))}</option>'
        for v in values
    )


def header(customer: str, channel: str, minutes: float | None, agent: str) -> str:
    mins = "" if minutes is None else f"{minutes:g}"
    links = ""
    if customer:
        links = (
            f'<a id=teaser-link href="/customers/{quote(customer)}/teaser">'
            "What online banking shows</a>"
        )
    return (
        "<header><h1><a href='/'>Agent desktop</a></h1>"
        "<form id=search action=/customers method=get>"
        f'<label>Customer <input name=id id=customer-id value="{escape(customer)}" '
        'placeholder="customer id" required autofocus></label>'
        f"<label>Channel <select name=channel>{_options(DESK_CHANNELS, channel)}</select></label>"
        f"<label>Minutes left <input name=minutes id=minutes type=number min=0 max=600 step=1 "
        f'value="{mins}" placeholder="any"></label>'
        f'<label>Agent <input name=agent value="{escape(agent)}" size=8></label>'
        "<button type=submit>Open</button></form>"
        f"<nav>{links}<a href=/report>Report</a></nav></header>"
    )


def search_page(message: str = "") -> str:
    note = f"<p class=notice>{escape(message)}</p>" if message else ""
    body = header("", "call_centre", None, "") + (
        f"<main class=empty>{note}<p>Enter the caller's customer id to see the timeline, the "
        "running processes and the next best actions.</p></main>"
    )
    return page("Agent desktop", body)


def _action_card(
    o: Opportunity, customer: str, channel: str, agent: str, back: str, now: datetime
) -> str:
    t = o.texts
    info = (
        f'<a class=info href="{escape(t.info_url)}" target=_blank rel=noopener>More information</a>'
        if t.info_url
        else ""
    )
    buttons = "".join(
        f'<button type=submit name=response value="{value}" class="{value}">{text}</button>'
        for value, text in RESPONSES
    )
    default_at = now.replace(second=0, microsecond=0).strftime("%Y-%m-%dT%H:%M")
    return (
        f'<article class=action data-action-id="{escape(o.action_id)}" '
        f'data-opportunity-id="{escape(o.opportunity_id)}" data-rank="{o.rank}">'
        f"<h3><span class=rank>{o.rank}</span> {escape(title(o.action_id))}"
        f"<span class=minutes>≈ {o.handling_minutes:g} min</span></h3>"
        f"<p class=reasons>Why: {escape(reasons_line(o, now))}</p>"
        f"<details class=why><summary>How the priority was computed</summary>"
        f"{escape(o.explanation)}</details>"
        f"<dl><dt>Say</dt><dd class=instruction>{escape(t.instruction)}</dd>"
        f"<dt>Benefit</dt><dd class=argument>{escape(t.argument)}</dd>"
        f"<dt>If the customer objects</dt><dd class=objections>{escape(t.objections)}</dd></dl>"
        f"{info}"
        f'<form class=respond method=post action="/customers/{quote(customer)}/responses">'
        f'<input type=hidden name=opportunity_id value="{escape(o.opportunity_id)}">'
        f'<input type=hidden name=action_id value="{escape(o.action_id)}">'
        f'<input type=hidden name=channel value="{escape(channel)}">'
        f'<input type=hidden name=agent value="{escape(agent)}">'
        f'<input type=hidden name=back value="{escape(back)}">'
        f"<div class=buttons>{buttons}</div>"
        f"<div class=book><label>Appointment (UTC) <input type=datetime-local name=appointment_at "
        f'value="{default_at}"></label>'
        "<button type=submit name=response value=appointment class=appointment>"
        "Book appointment</button></div></form></article>"
    )


def customer_panel(
    view: CustomerView,
    actions: Sequence[Opportunity],
    profile: Mapping[str, Any],
    now: datetime,
    channel: str,
    agent: str,
    back: str,
    minutes: float | None,
) -> str:
    """The part of the desktop the live feed refreshes."""
    cid = view.customer_id
    if actions:
        cards = "".join(_action_card(o, cid, channel, agent, back, now) for o in actions)
    elif minutes is not None:
        cards = f"<p class=none>No action fits into {minutes:g} minutes.</p>"
    else:
        cards = "<p class=none>No action for this customer on this channel now.</p>"
    fit = f" (fitting {minutes:g} min)" if minutes is not None else ""
    processes = "".join(
        f'<li class="process {escape(p.status)}">{escape(product_label(p.product_or_action))} '
        + (
            f"order, step {p.step} of {p.total_steps}, {escape(p.status)}, "
            f"no activity for {ago(p.at, now)}"
            if p.kind == "order"
            else f"appointment {when(p.at)} UTC ({escape(label(p.product_or_action))})"
        )
        + "</li>"
        for p in view.running_processes
    )
    impulses = "".join(
        f"<li><b>{escape(label(i.kind))}</b> <small>{escape(i.category)}, "
        f"{ago(i.occurred_at, now)} ago</small>"
        + (
            " <small class=evidence>"
            + escape(", ".join(f"{k} {v}" for k, v in sorted(i.evidence.items())))
            + "</small>"
            if i.evidence
            else ""
        )
        + "</li>"
        for i in view.impulses
    )
    predictions = "".join(
        f"<li>{escape(label(p))} <meter min=0 max=1 value={v:.3f}></meter> {v:.0%}</li>"
        for p, v in sorted(view.predictions.items(), key=lambda kv: -kv[1])
    )
    timeline = "".join(
        f'<li><time>{when(c.at)}</time> <span class="ch">{escape(label(c.channel))}</span> '
        f"{escape(label(c.kind))}"
        + (f" <small>{escape(label(c.action_id))}</small>" if c.action_id else "")
        + (f" <small>by {escape(c.agent_id)}</small>" if c.agent_id else "")
        + "</li>"
        for c in view.timeline[:25]
    )
    consents = ", ".join(k for k, v in profile["consents"].items() if v) or "none"
    age = profile["age"]
    return (
        "<section id=actions><h2>Next best actions" + escape(fit) + "</h2>"
        f"{cards}</section>"
        "<aside>"
        f"<section id=processes><h2>Running processes</h2><ul>{processes or '<li>none</li>'}"
        "</ul></section>"
        f"<section id=impulses><h2>Impulses</h2><ul>{impulses or '<li>none</li>'}</ul></section>"
        f"<section id=predictions><h2>Predictions</h2><ul>{predictions or '<li>none</li>'}"
        "</ul></section>"
        "<section id=profile><h2>Customer</h2><p>"
        f"{escape(label(view.segment))}{f', {age} years' if age is not None else ''}; "
        f"advisor {escape(view.advisor_id or 'none')}, branch "
        f"{escape(profile['branch_id'] or 'none')}<br>holds "
        f"{escape(', '.join(label(p) for p in view.held_products) or 'nothing')}<br>"
        f"consents: {escape(consents)}</p></section>"
        f"<section id=timeline><h2>Timeline</h2><ol>{timeline or '<li>no contacts</li>'}</ol>"
        "</section></aside>"
    )


def desktop_page(
    view: CustomerView,
    actions: Sequence[Opportunity],
    profile: Mapping[str, Any],
    now: datetime,
    channel: str,
    agent: str,
    minutes: float | None,
    back: str,
    sent: str = "",
) -> str:
    cid = view.customer_id
    notice = f"<p class=notice id=sent>{escape(sent)}</p>" if sent else ""
    body = (
        header(cid, channel, minutes, agent)
        + f"<div class=who><h2>Customer {escape(cid)}</h2>{notice}</div>"
        + '<main id=panel data-panel-url="'
        + escape(f"/customers/{quote(cid)}/panel?{back.partition('?')[2]}")
        + '">'
        + customer_panel(view, actions, profile, now, channel, agent, back, minutes)
        + "</main><section id=live><h2>Live</h2><ol id=feed></ol></section>"
    )
    return page(f"Desktop - {cid}", body, customer=cid, script=True)


def teaser_page(
    customer: str, channel: str, slots: int, teasers: Sequence[Opportunity], now: datetime
) -> str:
    tiles = []
    for i in range(slots):
        if i < len(teasers):
            o = teasers[i]
            t = o.texts
            link = (
                f'<a href="{escape(t.info_url)}" target=_blank rel=noopener>Learn more</a>'
                if t.info_url
                else ""
            )
            tiles.append(
                f'<div class="slot offer" data-action-id="{escape(o.action_id)}">'
                f"<h3>{escape(title(o.product))}</h3><p>{escape(t.argument)}</p>{link}</div>"
            )
        else:
            tiles.append(
                "<div class='slot empty'><p>No offer: the bank's standard content.</p></div>"
            )
    choices = " ".join(
        f'<a href="/customers/{quote(customer)}/teaser?channel={c}"'
        f"{' class=chosen' if c == channel else ''}>{escape(label(c))}</a>"
        for c in ("online_banking", "app")
    )
    body = (
        f"<header><h1><a href='/customers/{quote(customer)}'>Agent desktop</a></h1>"
        f"<nav>{choices}<a href=/report>Report</a></nav></header>"
        f"<main class=teaser><h2>What customer {escape(customer)} sees in "
        f"{escape(label(channel))} at {when(now)} UTC</h2>"
        f"<p>{slots} teaser slot{'s' if slots != 1 else ''} (catalogue "
        f"<code>routing.top_n</code>)</p><div class=slots>{''.join(tiles)}</div></main>"
    )
    return page(f"Teasers - {customer}", body)


# --- report ------------------------------------------------------------------


def bar_chart(
    title: str,
    bars: Sequence[tuple[str, Sequence[float]]],
    legend: Sequence[str],
    percent: bool = False,
) -> str:
    """A horizontal bar chart as inline SVG; each bar may have several series."""
    series = max((len(v) for _, v in bars), default=1)
    row = 14 * series + 10
    width, left = 520, 150
    top = max((max(v, default=0) for _, v in bars), default=0) or 1
    height = row * len(bars) + 30
    parts = [
        f'<svg class=chart role=img aria-label="{escape(title)}" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}"><title>{escape(title)}</title>'
    ]
    for i, (name, values) in enumerate(bars):
        y = 20 + i * row
        parts.append(
            f'<text x="{left - 6}" y="{y + 7 * series + 4}" text-anchor=end>{escape(name)}</text>'
        )
        for j, v in enumerate(values):
            w = (width - left - 60) * v / top
            text = f"{v:.0%}" if percent else f"{v:g}"
            parts.append(
                f'<rect class="s{j}" x="{left}" y="{y + 14 * j}" width="{w:.1f}" height=12>'
                f"<title>{escape(name)}: {text}</title></rect>"
                f'<text x="{left + w + 4:.1f}" y="{y + 14 * j + 10}">{text}</text>'
            )
    for j, name in enumerate(legend):
        parts.append(
            f'<rect class="s{j}" x="{left + j * 110}" y=2 width=10 height=10></rect>'
            f'<text x="{left + 14 + j * 110}" y=11>{escape(name)}</text>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _table(cls: str, head: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def cell(v: Any) -> str:
        if isinstance(v, float):
            return f"<td>{v:.1%}</td>"
        return f"<td>{escape('' if v is None else str(v))}</td>"

    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


# The report's outcome columns, as the report names them and as its tables head them.
OUTCOME_FIELDS = ("accepted", "declined", "not_now", "no_time", "expired", "conversion")
OUTCOME_HEADINGS = tuple(f.replace("_", " ") for f in OUTCOME_FIELDS)


def report_page(report: Mapping[str, Any], day: str | None) -> str:
    days = " ".join(
        f'<a href="/report?day={d}"{" class=chosen" if d == day else ""}>{d}</a>'
        for d in report["all_days"]
    )
    channels = report["channels"]
    charts = [
        bar_chart(
            "Opportunities and responses per channel",
            [(label(c), [m["opened"], m["accepted"], m["declined"]]) for c, m in channels.items()],
            ["opened", "accepted", "declined"],
        ),
        bar_chart(
            "Sales per closing channel",
            [(label(c), [n]) for c, n in report["sales_by_closing_channel"].items()],
            ["sales"],
        ),
        bar_chart(
            "Sales credited per advisor",
            [(a, [n]) for a, n in report["sales_by_advisor"].items()],
            ["sales"],
        ),
        bar_chart(
            "Abandonment of online processes",
            [
                (label(p["product"]) + " " + p["day"][5:], [p["abandonment_rate"] or 0.0])
                for p in report["online_processes"]
            ],
            ["abandonment rate"],
            percent=True,
        ),
    ]
    opp = _table(
        "opportunities",
        ["day", "channel", "action", "segment", "opened", "shown", *OUTCOME_HEADINGS],
        [
            [
                r["day"],
                label(r["channel"]),
                label(r["action_id"]),
                r["segment"],
                r["opened"],
                r["shown"],
                *(r[f] for f in OUTCOME_FIELDS),
            ]
            for r in report["opportunities"]
        ],
    )
    per_channel = _table(
        "per-channel",
        ["channel", "opened", *OUTCOME_HEADINGS],
        [[label(c), m["opened"], *(m[f] for f in OUTCOME_FIELDS)] for c, m in channels.items()],
    )
    processes = _table(
        "processes",
        ["day", "product", "started online", "completed", "abandoned", "abandonment rate"],
        [
            [
                p["day"],
                label(p["product"]),
                p["started"],
                p["completed"],
                p["abandoned"],
                p["abandonment_rate"],
            ]
            for p in report["online_processes"]
        ],
    )
    sales = _table(
        "sales",
        ["day", "closing channel", "advisor", "branch", "product", "sales"],
        [
            [
                s["day"],
                label(s["closing_channel"]),
                s["advisor_id"],
                s["branch_id"],
                label(s["product"]),
                s["sales"],
            ]
            for s in report["sales"]
        ],
    )
    body = (
        "<header><h1><a href='/'>Agent desktop</a></h1><nav><a href=/report.json"
        + (f"?day={day}" if day else "")
        + ">JSON</a></nav></header>"
        + "<main class=report><h2>Omnichannel report"
        + (f" {escape(day)}" if day else ", all days")
        + f"</h2><p class=days>Days: <a href=/report{' class=chosen' if not day else ''}>all</a> "
        + days
        + "</p><div class=charts>"
        + "".join(charts)
        + "</div><h3>Per channel</h3>"
        + per_channel
        + "<h3>Credited sales</h3>"
        + sales
        + "<h3>Online processes</h3>"
        + processes
        + "<h3>Per day, channel, action and segment</h3>"
        + opp
        + "</main>"
    )
    return page("Omnichannel report", body)


def query_string(**params: Any) -> str:
    return urlencode({k: v for k, v in params.items() if v not in (None, "")})


__all__ = ["CHANNELS", "customer_panel", "desktop_page", "report_page", "search_page"]
