"""Runtime and memory histograms of a stage's Slurm elements, as inline SVG.

Drawn from provenance.json (sacct Elapsed and MaxRSS per element) when the page is rendered:
no plotting library in the api-server, no image files to keep in sync with the data.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

WIDTH, HEIGHT = 320, 160
MARGIN_LEFT, MARGIN_BOTTOM, MARGIN_TOP = 34, 30, 22


def bin_counts(values: Sequence[float], bins: int) -> tuple[list[int], float, float]:
    """Counts in ``bins`` equal bins over [min, max]; one bin when every value is equal."""
    low, high = min(values), max(values)
    if math.isclose(low, high):
        return [len(values)], low, high
    counts = [0] * bins
    width = (high - low) / bins
    for value in values:
        counts[min(int((value - low) / width), bins - 1)] += 1
    return counts, low, high


def svg_histogram(values: Sequence[float], title: str, unit: str, bins: int = 10) -> str:
    """An SVG bar chart of ``values``; an empty chart says there is no data."""
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="histogram" width="{WIDTH}" '
        f'height="{HEIGHT}" role="img" aria-label="{escape(title)}">'
        f'<text x="{WIDTH / 2}" y="14" text-anchor="middle" font-size="12">{escape(title)}</text>'
    )
    if not values:
        return (
            head + f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}" text-anchor="middle" '
            'font-size="11">no sacct data</text></svg>'
        )
    counts, low, high = bin_counts(values, bins)
    plot_w = WIDTH - MARGIN_LEFT - 8
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    tallest = max(counts)
    bar_w = plot_w / len(counts)
    bars = []
    for i, count in enumerate(counts):
        h = plot_h * count / tallest
        x = MARGIN_LEFT + i * bar_w
        y = MARGIN_TOP + plot_h - h
        bars.append(
            f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(bar_w - 1, 1):.1f}" height="{h:.1f}" '
            f'fill="#4a90d9"><title>{count}</title></rect>'
        )
    axis_y = MARGIN_TOP + plot_h
    labels = (
        f'<line x1="{MARGIN_LEFT}" y1="{axis_y}" x2="{WIDTH - 8}" y2="{axis_y}" stroke="#333"/>'
        f'<text x="{MARGIN_LEFT}" y="{axis_y + 14}" font-size="10">{low:.3g}</text>'
        f'<text x="{WIDTH - 8}" y="{axis_y + 14}" font-size="10" text-anchor="end">'
        f"{high:.3g} {escape(unit)}</text>"
        f'<text x="4" y="{MARGIN_TOP + 8}" font-size="10">{tallest}</text>'
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 2}" font-size="10" text-anchor="middle">'
        f"{len(values)} elements</text>"
    )
    return head + "".join(bars) + labels + "</svg>"
