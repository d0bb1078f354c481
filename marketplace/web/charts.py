"""Small server-rendered SVG charts: no scripts, so they pass a strict CSP and read in any browser.

Every chart carries role="img", a <title> and a text table alternative is up to the page
(WCAG 1.1.1): pass the same numbers in a table or list next to the chart.
"""

from __future__ import annotations

from collections.abc import Sequence

from markupsafe import Markup, escape

from marketplace.web.i18n import format_number, format_percent

PALETTE = ("#1f5f8b", "#b4451f", "#2e7d32", "#6a1b9a", "#8d6e00", "#00695c")


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    max_value: float | None = None,
    unit: str = "",
    target: float | None = None,
    width: int = 560,
) -> Markup:
    """A horizontal bar chart of (label, value) pairs, optionally with a target line."""
    row, label_w, pad = 28, 190, 8
    top = max([v for _, v in items] + [target or 0, max_value or 0, 1e-9])
    bar_w = width - label_w - 70
    height = row * len(items) + 2 * pad
    parts = [
        f'<svg class="chart" role="img" aria-label="{escape(title)}" width="100%" '
        f'viewBox="0 0 {width} {height}" xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(title)}</title>",
    ]
    for i, (label, value) in enumerate(items):
        y = pad + i * row
        w = max(0.0, bar_w * value / top)
        shown = f"{format_number(value)}{unit}"
        parts.append(
            f'<text x="{label_w - 6}" y="{y + 18}" text-anchor="end" font-size="13" '
            f'fill="#1a1a1a">{escape(label)}</text>'
            f'<rect x="{label_w}" y="{y + 5}" width="{w:.1f}" height="18" '
            f'fill="{PALETTE[i % len(PALETTE)]}">'
            f'<title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{label_w + w + 6:.1f}" y="{y + 18}" font-size="13" '
            f'fill="#1a1a1a">{escape(shown)}</text>'
        )
    if target is not None:
        x = label_w + bar_w * target / top
        parts.append(
            f'<line x1="{x:.1f}" y1="2" x2="{x:.1f}" y2="{height - 2}" stroke="#1a1a1a" '
            f'stroke-dasharray="4 3" stroke-width="2"><title>{escape(str(target))}</title></line>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text value above is escaped


def progress_bar(fraction: float, *, label: str, width: int = 320) -> Markup:
    """A single progress bar (0..1) with its percentage written out."""
    fraction = min(1.0, max(0.0, fraction))
    pct = format_percent(fraction, digits=0)
    return Markup(  # noqa: S704 - the label is escaped, the rest are numbers
        f'<svg class="chart progress" role="img" aria-label="{escape(label)}: {pct}" '
        f'width="{width}" height="22" viewBox="0 0 {width} 22" '
        f'xmlns="http://www.w3.org/2000/svg">'
        f'<rect x="0" y="3" width="{width - 50}" height="16" fill="#e4e7eb"/>'
        f'<rect x="0" y="3" width="{(width - 50) * fraction:.1f}" height="16" fill="#1f5f8b"/>'
        f'<text x="{width - 44}" y="16" font-size="13" fill="#1a1a1a">{pct}</text></svg>'
    )
