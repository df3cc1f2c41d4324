"""Small inline SVG charts for the planner page: probability bar, sparkline, share bars."""

from __future__ import annotations

import math
from collections.abc import Sequence

from markupsafe import Markup, escape


def _finite(x: float | None) -> bool:
    return x is not None and isinstance(x, int | float) and math.isfinite(x)


def probability_bar(p: float, scale_max: float, width: int = 96, height: int = 12) -> Markup:
    """A horizontal bar of `p` on a scale whose full width is `scale_max`."""
    if not _finite(p):
        return Markup("")
    top = scale_max if _finite(scale_max) and scale_max > 0 else 1.0
    w = max(1.0, min(1.0, p / top) * width)
    return Markup(
        f'<svg class="pbar" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{p:.1%}"><rect class="track" width="{width}" '
        f'height="{height}" rx="3"/><rect class="fill" width="{w:.1f}" height="{height}" '
        f'rx="3"/></svg>')


def sparkline(values: Sequence[float], width: int = 96, height: int = 26,
              label: str = "") -> Markup:
    """A polyline through the known `values` (NaN weeks are skipped), a dot on the last one."""
    known = [(i, v) for i, v in enumerate(values) if _finite(v)]
    if len(known) < 2:
        return Markup('<span class="muted">too few posts</span>')
    lo = min(v for _, v in known)
    hi = max(v for _, v in known)
    span = hi - lo if hi > lo else 1.0
    pad = 3
    step = (width - 2 * pad) / max(1, len(values) - 1)

    def xy(i: int, v: float) -> tuple[float, float]:
        return pad + i * step, height - pad - (v - lo) / span * (height - 2 * pad)

    points = " ".join("{:.1f},{:.1f}".format(*xy(i, v)) for i, v in known)
    lx, ly = xy(*known[-1])
    return Markup(
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(label)}"><title>{escape(label)}</title>'
        f'<polyline points="{points}"/><circle cx="{lx:.1f}" cy="{ly:.1f}" r="2.2"/></svg>')


def share_bars(segments: Sequence[str], audience: Sequence[float | None],
               target: Sequence[float | None], title: str, width: int = 120,
               row_height: int = 9) -> Markup:
    """One row per segment: the audience share as a bar, the brand's target as a tick.

    A missing audience share (unknown) draws no bar; a missing or zero target draws no tick.
    """
    label_w = 36
    bar_w = width - label_w - 4
    rows = []
    for k, (seg, a, t) in enumerate(zip(segments, audience, target, strict=True)):
        y = k * row_height
        parts = [f'<text x="0" y="{y + row_height - 1.5}">{escape(seg)}</text>',
                 f'<rect class="track" x="{label_w}" y="{y + 1}" width="{bar_w}" '
                 f'height="{row_height - 2}"/>']
        tip = [f"{seg}:"]
        if _finite(a):
            parts.append(f'<rect class="aud" x="{label_w}" y="{y + 1}" '
                         f'width="{max(0.0, min(1.0, a)) * bar_w:.1f}" height="{row_height - 2}"/>')
            tip.append(f"audience {a:.0%}")
        if _finite(t) and t > 0:
            tx = label_w + max(0.0, min(1.0, t)) * bar_w
            parts.append(f'<rect class="tgt" x="{tx - 1:.1f}" y="{y}" width="2" '
                         f'height="{row_height}"/>')
            tip.append(f"target {t:.0%}")
        rows.append(f'<g><title>{escape(" ".join(tip))}</title>{"".join(parts)}</g>')
    height = row_height * len(segments)
    return Markup(
        f'<svg class="shares" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{escape(title)}">{"".join(rows)}</svg>')
