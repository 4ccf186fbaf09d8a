"""Small, dependency-free HTML pieces for reports: a page shell, tables, an SVG heatmap and
SVG interval bars. Plain inline SVG so a report is one self-contained file."""
from __future__ import annotations

from html import escape
from typing import Sequence

STYLE = """
body{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;max-width:72rem;
color:#1f2937;padding:0 1rem}h1{font-size:1.6rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #e5e7eb}
table{border-collapse:collapse;font-size:.9rem;margin:.5rem 0}td,th{padding:.3rem .6rem;border-bottom:1px solid #f0f0f0;text-align:right}
th{background:#f9fafb}td:first-child,th:first-child{text-align:left}.note{color:#6b7280;font-size:.85rem}
code{background:#f3f4f6;padding:0 .2rem;border-radius:3px}.good{color:#047857}.bad{color:#b91c1c}
.cards{display:flex;gap:1rem;flex-wrap:wrap}.card{border:1px solid #e5e7eb;border-radius:8px;padding:.8rem 1rem;min-width:10rem}
.card b{display:block;font-size:1.4rem}
details{margin:.3rem 0}summary{cursor:pointer;padding:.2rem 0}
"""


def page(title: str, body: str) -> str:
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>{escape(title)}</title>"
            f"<style>{STYLE}</style></head><body><h1>{escape(title)}</h1>{body}</body></html>")


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{_cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.3f}"
    return escape(str(value)) if value is not None else "–"


def cards(items: Sequence[tuple[str, object]]) -> str:
    return "<div class='cards'>" + "".join(
        f"<div class='card'>{escape(label)}<b>{_cell(v)}</b></div>" for label, v in items) + "</div>"


CHAR_PX = 6.6  # width of one character at font-size 11 (system-ui), generous


def _color(value: float) -> str:
    """White (0) to deep teal (1)."""
    v = max(0.0, min(1.0, value))
    r, g, b = (int(255 + (c - 255) * v) for c in (13, 115, 119))
    return f"rgb({r},{g},{b})"


def heatmap(rows: Sequence[str], cols: Sequence[str], values: dict[tuple[str, str], float],
            cell: int = 64) -> str:
    """An SVG heatmap of values in [0,1], rows x cols, each cell labelled."""
    # column labels are rotated 35 degrees up and to the right: their height is about
    # sin(35) of their length and the last one reaches cos(35) of its length past its column
    longest = max((len(c) for c in cols), default=0) * CHAR_PX
    left = max((len(r) for r in rows), default=0) * CHAR_PX + 12
    top = int(longest * 0.58) + 24
    w = left + cell * len(cols) + max(10, int(longest * 0.82) - cell // 2)
    h = top + cell * len(rows) + 10
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{w}' height='{h}' "
             f"font-family='system-ui,sans-serif' font-size='11'>"]
    for j, c in enumerate(cols):
        x = left + j * cell + cell / 2
        parts.append(f"<text x='{x}' y='{top - 6}' transform='rotate(-35 {x} {top - 6})'>"
                     f"{escape(c)}</text>")
    for i, r in enumerate(rows):
        y = top + i * cell
        parts.append(f"<text x='{left - 6}' y='{y + cell / 2 + 4}' text-anchor='end'>{escape(r)}</text>")
        for j, c in enumerate(cols):
            v = values.get((r, c))
            x = left + j * cell
            fill = _color(v) if v is not None else "#eee"
            ink = "#fff" if v is not None and v > 0.6 else "#111"
            label = f"{v:.2f}" if v is not None else ""
            parts.append(f"<rect x='{x}' y='{y}' width='{cell - 2}' height='{cell - 2}' fill='{fill}'>"
                         f"<title>{escape(r)} → {escape(c)}: {label}</title></rect>"
                         f"<text x='{x + cell / 2 - 1}' y='{y + cell / 2 + 4}' text-anchor='middle' "
                         f"fill='{ink}'>{label}</text>")
    parts.append("</svg>")
    return "".join(parts)


def interval_bars(items: Sequence[tuple[str, float, float, float]], width: int = 420) -> str:
    """Horizontal bars: (label, lo, mid, hi) on a 0-1 axis; room for the longest label."""
    left = int(max((len(i[0]) for i in items), default=10) * CHAR_PX) + 16
    row = 22
    h = row * len(items) + 30
    parts = [f"<svg xmlns='http://www.w3.org/2000/svg' width='{left + width + 20}' height='{h}' "
             f"font-family='system-ui,sans-serif' font-size='11'>"]
    for t in (0, 0.25, 0.5, 0.75, 1.0):
        x = left + t * width
        parts.append(f"<line x1='{x}' x2='{x}' y1='0' y2='{h - 20}' stroke='#e5e7eb'/>"
                     f"<text x='{x}' y='{h - 6}' text-anchor='middle'>{t:g}</text>")
    for i, (label, lo, mid, hi) in enumerate(items):
        y = i * row + 12
        parts.append(f"<text x='{left - 8}' y='{y + 4}' text-anchor='end'>{escape(label)}</text>"
                     f"<line x1='{left + lo * width}' x2='{left + hi * width}' y1='{y}' y2='{y}' "
                     f"stroke='#0d7377' stroke-width='4'/>"
                     f"<circle cx='{left + mid * width}' cy='{y}' r='4' fill='#111'/>")
    parts.append("</svg>")
    return "".join(parts)


SERIES_COLORS = ("#0d7377", "#d97706", "#7c3aed", "#dc2626")


class _Plot:
    """The frame shared by the line chart and the scatter: data ranges mapped to a plot area
    with 5 ticks per axis and axis labels."""
    left, top, bottom = 56, 12, 40

    def __init__(self, x_range: tuple[float, float], y_range: tuple[float, float],
                 width: int, height: int):
        (self.x0, self.x1), (self.y0, self.y1) = x_range, y_range
        self.w, self.h = width - self.left - 16, height - self.top - self.bottom

    def sx(self, x: float) -> float:
        return self.left + (x - self.x0) / (self.x1 - self.x0) * self.w

    def sy(self, y: float) -> float:
        return self.top + self.h - (y - self.y0) / (self.y1 - self.y0) * self.h

    def frame(self, x_label: str, y_label: str, grid: bool) -> str:
        parts, base = [], self.top + self.h
        for i in range(5):
            xv = self.x0 + (self.x1 - self.x0) * i / 4
            yv = self.y0 + (self.y1 - self.y0) * i / 4
            if grid:
                parts.append(f"<line x1='{self.left}' x2='{self.left + self.w}' "
                             f"y1='{self.sy(yv):.1f}' y2='{self.sy(yv):.1f}' stroke='#e5e7eb'/>")
            parts.append(f"<text x='{self.left - 6}' y='{self.sy(yv) + 4:.1f}' "
                         f"text-anchor='end'>{yv:.3g}</text><text x='{self.sx(xv):.1f}' "
                         f"y='{base + 16}' text-anchor='middle'>{xv:.4g}</text>")
        mid = self.top + self.h / 2
        parts.append(f"<text x='{self.left + self.w / 2}' y='{base + 32}' text-anchor='middle'>"
                     f"{escape(x_label)}</text><text x='12' y='{mid}' text-anchor='middle' "
                     f"transform='rotate(-90 12 {mid})'>{escape(y_label)}</text>")
        return "".join(parts)


def _svg(width: int, height: int) -> str:
    return (f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
            f"font-family='system-ui,sans-serif' font-size='11'>")


def _span(lo: float, hi: float) -> tuple[float, float]:
    return (lo, hi if hi > lo else lo + 1)


def line_chart(series: dict[str, Sequence[tuple[float, float]]], x_label: str = "",
               y_label: str = "", width: int = 560, height: int = 260) -> str:
    """An SVG line chart of named (x, y) series with axis ticks and a legend."""
    points = [p for s in series.values() for p in s]
    if not points:
        return "<p class='note'>No data points.</p>"
    plot = _Plot(_span(min(p[0] for p in points), max(p[0] for p in points)),
                 _span(min(0.0, min(p[1] for p in points)), max(p[1] for p in points)),
                 width, height)
    parts = [_svg(width, height + 18 * len(series)), plot.frame(x_label, y_label, grid=True)]
    for k, (name, pts) in enumerate(series.items()):
        color = SERIES_COLORS[k % len(SERIES_COLORS)]
        path = " ".join(f"{plot.sx(x):.1f},{plot.sy(y):.1f}" for x, y in pts)
        parts.append(f"<polyline fill='none' stroke='{color}' stroke-width='2' points='{path}'/>")
        ly = height + 18 * k + 4
        parts.append(f"<rect x='{plot.left}' y='{ly - 9}' width='12' height='4' fill='{color}'/>"
                     f"<text x='{plot.left + 18}' y='{ly - 4}'>{escape(name)}</text>")
    parts.append("</svg>")
    return "".join(parts)


def scatter(points: Sequence[tuple[float, float, str]], x_label: str = "", y_label: str = "",
            x_mark: float | None = None, y_mark: float | None = None, width: int = 520,
            height: int = 320) -> str:
    """An SVG scatter of labelled (x, y) points (hover for the label), with optional dashed
    reference lines at x = x_mark and y = y_mark."""
    if not points:
        return "<p class='note'>No data points.</p>"
    xs = [p[0] for p in points] + ([x_mark] if x_mark is not None else [])
    ys = [p[1] for p in points] + ([y_mark] if y_mark is not None else [])
    pad = lambda lo, hi: (lo - 0.05 * (hi - lo or 1), hi + 0.05 * (hi - lo or 1))  # noqa: E731
    plot = _Plot(pad(min(xs), max(xs)), pad(min(ys), max(ys)), width, height)
    top, h, left, w = plot.top, plot.h, plot.left, plot.w
    parts = [_svg(width, height), plot.frame(x_label, y_label, grid=False),
             f"<rect x='{left}' y='{top}' width='{w}' height='{h}' fill='none' stroke='#e5e7eb'/>"]
    if x_mark is not None:
        parts.append(f"<line x1='{plot.sx(x_mark):.1f}' x2='{plot.sx(x_mark):.1f}' y1='{top}' "
                     f"y2='{top + h}' stroke='#9ca3af' stroke-dasharray='4 3'/>")
    if y_mark is not None:
        parts.append(f"<line x1='{left}' x2='{left + w}' y1='{plot.sy(y_mark):.1f}' "
                     f"y2='{plot.sy(y_mark):.1f}' stroke='#9ca3af' stroke-dasharray='4 3'/>")
    for x, y, label in points:
        parts.append(f"<circle cx='{plot.sx(x):.1f}' cy='{plot.sy(y):.1f}' r='5' fill='#0d7377' "
                     f"fill-opacity='.8'><title>{escape(label)}: ({x:.3f}, {y:+.3f})</title>"
                     f"</circle>")
    parts.append("</svg>")
    return "".join(parts)
