"""Line charts as inline SVG, drawn here (no script, no CDN): the HTML report
stays one self-contained file."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape


@dataclass(frozen=True)
class Series:
    label: str
    values: Sequence[float]
    colour: str
    dashed: bool = False


def _nice_max(value: float) -> float:
    """A round top for the y axis whose quarters are whole numbers."""
    if value <= 0:
        return 4.0
    if value <= 20:
        return float(4 * math.ceil(value / 4))
    step = 10 ** (len(str(int(value))) - 1)
    for m in (1, 2, 5, 10):
        if value <= m * step:
            return float(m * step)
    return float(10 * step)


def line_chart(
    title: str,
    x_labels: Sequence[str],
    series: Sequence[Series],
    width: int = 520,
    height: int = 220,
) -> str:
    """An SVG line chart of ``series`` over ``x_labels`` with a y axis from zero."""
    left, right, top, bottom = 48, 24, 28, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    top_value = _nice_max(max((v for s in series for v in s.values), default=0.0))
    n = max(1, len(x_labels) - 1)

    def x(i: int) -> float:
        return left + plot_w * i / n

    def y(v: float) -> float:
        return top + plot_h * (1 - v / top_value)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
        f'<text x="{left}" y="16" font-size="13" font-weight="bold">{escape(title)}</text>',
    ]
    for k in range(5):
        v = top_value * k / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
            'stroke="#ddd" stroke-width="1"/>'
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="10" text-anchor="end">'
            f"{v:,.0f}</text>"
        )
    every = max(1, len(x_labels) // 8)
    for i, label in enumerate(x_labels):
        if i % every == 0 or i == len(x_labels) - 1:
            parts.append(
                f'<text x="{x(i):.1f}" y="{height - bottom + 16}" font-size="10" '
                f'text-anchor="middle">{escape(label[5:])}</text>'
            )
    for s in series:
        points = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in enumerate(s.values))
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<polyline fill="none" stroke="{s.colour}" stroke-width="2"{dash} '
            f'points="{points}"><title>{escape(s.label)}</title></polyline>'
        )
    lx = left
    for s in series:
        dash = ' stroke-dasharray="6 4"' if s.dashed else ""
        parts.append(
            f'<line x1="{lx}" x2="{lx + 18}" y1="{height - 8}" y2="{height - 8}" '
            f'stroke="{s.colour}" stroke-width="2"{dash}/>'
            f'<text x="{lx + 22}" y="{height - 4}" font-size="10">{escape(s.label)}</text>'
        )
        lx += 30 + 6 * len(s.label)
    parts.append("</svg>")
    return "".join(parts)
