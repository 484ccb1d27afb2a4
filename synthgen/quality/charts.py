"""Small inline SVG charts (horizontal stacked bars, histograms) for the HTML report.

Hand-written SVG so the report is one file that opens offline: no CDN, no JS library. Every
bar carries a <title>, which browsers show as a tooltip without any script.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from html import escape

CHAR_W = 7.2  # px per character of 12px sans-serif: enough to size label columns
ROW_H = 22
BAR_H = 14


def _num(x: float) -> str:
    return f"{x:g}" if x != int(x) else str(int(x))


def _label(text: str, max_chars: int) -> str:
    return text if len(text) <= max_chars else text[: max_chars - 1] + "\u2026"


def _svg(width: int, height: int, aria: str) -> str:
    # width/height give the natural size; viewBox lets CSS shrink the chart on a narrow window
    return (f'<svg class="chart" role="img" aria-label="{escape(aria)}" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">')


def stacked_bars(rows: Sequence[tuple[str, Sequence[float]]], series: Sequence[tuple[str, str]], *,
                 width: int = 1040, max_value: float | None = None,
                 value_text: Callable[[str, Sequence[float]], str] | None = None,
                 colors: Sequence[Sequence[str] | None] | None = None, aria: str = "bar chart",
                 normalize: bool = False) -> str:
    """One horizontal bar per row, segments in `series` order (name, colour); the total at its end.

    `colors` may override the colours of one row's segments; `value_text(label, values)` the text
    at the bar's end (default: the total). `normalize` draws every bar full length (shares), so a
    small row is as readable as a large one.
    """
    if not rows:
        return '<p class="empty">nothing to show</p>'
    max_chars = min(28, max(len(label) for label, _ in rows))
    label_w = int(max_chars * CHAR_W) + 12
    value_w = 110
    plot_w = width - label_w - value_w
    top = max_value if max_value else max((sum(v) for _, v in rows), default=0) or 1
    height = ROW_H * len(rows) + 6
    out = [_svg(width, height, aria)]
    for i, (label, values) in enumerate(rows):
        y = 3 + i * ROW_H
        out.append(f'<text x="{label_w - 8}" y="{y + BAR_H - 2}" text-anchor="end" class="lbl">'
                   f'<title>{escape(label)}</title>{escape(_label(label, max_chars))}</text>')
        out.append(f'<rect x="{label_w}" y="{y}" width="{plot_w}" height="{BAR_H}" class="track"/>')
        x = float(label_w)
        row_colors = colors[i] if colors and colors[i] else [c for _, c in series]
        scale = plot_w / ((sum(values) or 1) if normalize else top)
        for (name, _), color, v in zip(series, row_colors, values):
            if v <= 0:
                continue
            w = max(1.0, scale * v)
            out.append(f'<rect x="{x:.1f}" y="{y}" width="{w:.1f}" height="{BAR_H}" fill="{color}">'
                       f'<title>{escape(label)}: {escape(name)} {_num(v)}</title></rect>')
            x += w
        text = value_text(label, values) if value_text else _num(sum(values))
        out.append(f'<text x="{label_w + plot_w + 8}" y="{y + BAR_H - 2}" class="val">{escape(text)}</text>')
    out.append("</svg>")
    return "".join(out)


def histogram(edges: Sequence[int], counts: Sequence[int], *, width: int = 300, height: int = 150,
              color: str = "#4c78a8", aria: str = "histogram") -> str:
    """Vertical bars over equal-width bins [edges[i], edges[i+1]); x labels at a few edges."""
    if not counts:
        return '<p class="empty">no accepted examples</p>'
    left, right, top_pad, bottom = 34, 18, 8, 30
    plot_w, plot_h = width - left - right, height - top_pad - bottom
    top = max(counts) or 1
    bw = plot_w / len(counts)
    out = [_svg(width, height, aria),
           f'<line x1="{left}" y1="{top_pad + plot_h}" x2="{left + plot_w}" y2="{top_pad + plot_h}" class="axis"/>',
           f'<text x="{left - 4}" y="{top_pad + 9}" text-anchor="end" class="tick">{top}</text>',
           f'<text x="{left - 4}" y="{top_pad + plot_h}" text-anchor="end" class="tick">0</text>']
    for i, n in enumerate(counts):
        h = plot_h * n / top
        lo, hi = edges[i], edges[i + 1] - 1
        span = f"{lo}" if lo == hi else f"{lo}\u2013{hi}"
        out.append(f'<rect x="{left + i * bw + 1:.1f}" y="{top_pad + plot_h - h:.1f}" width="{max(bw - 2, 1):.1f}" '
                   f'height="{h:.1f}" fill="{color}"><title>{span} words: {n}</title></rect>')
    step = max(1, -(-len(counts) // 5))  # at most ~6 x labels so they never overlap
    for i in range(0, len(edges), step):
        x = left + i * bw
        out.append(f'<text x="{x:.1f}" y="{top_pad + plot_h + 14}" text-anchor="middle" class="tick">{edges[i]}</text>')
    out.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" text-anchor="middle" class="tick">words</text>')
    out.append("</svg>")
    return "".join(out)


def legend(series: Sequence[tuple[str, str]]) -> str:
    return '<div class="legend">' + "".join(
        f'<span><i style="background:{c}"></i>{escape(name)}</span>' for name, c in series) + "</div>"
