"""Server-drawn SVG scatter plots of a metric against file size or latency, with nice ticks
and labels placed so they do not overlap; the page shows a data table beside each."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from registry.core.model import Variant
from registry.core.units import format_bytes

from .pagetext import MetricFormat, human_us

PLOT_WIDTH, PLOT_HEIGHT = 640, 360
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 76, 28, 20, 58
_CHAR_W, _LABEL_H = 7.8, 15.0  # label box estimate at the plot's 13px font


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class PlotPoint:
    id: str
    cx: float
    cy: float
    label: str
    lx: float
    ly: float
    anchor: str
    leader: bool  # the label was moved away from its point: draw a line to it
    chosen: bool
    x_text: str
    y_text: str


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    desc: str
    x_title: str
    y_title: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    points: list[PlotPoint]
    width: int = PLOT_WIDTH
    height: int = PLOT_HEIGHT
    left: int = _MARGIN_LEFT
    right: int = PLOT_WIDTH - _MARGIN_RIGHT
    top: int = _MARGIN_TOP
    bottom: int = PLOT_HEIGHT - _MARGIN_BOTTOM
    x_column: str = ""
    y_column: str = ""


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    log: bool
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def frac(self, x: float) -> float:
        if self.log:
            lo, hi, x = math.log(self.lo), math.log(self.hi), math.log(max(x, 1e-12))
        else:
            lo, hi = self.lo, self.hi
        return 0.5 if hi == lo else (x - lo) / (hi - lo)


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power + 1e-15:
            return m * power
    return 10 * power


def _linear_scale(
    values: Sequence[float],
    label: Callable[[float, float], str],
    *,
    floor0: bool = False,
    within: tuple[float, float] | None = None,
) -> _Scale:
    """A scale with nice ticks over ``values``; ``within`` (a metric's range, 0..1 for a
    fraction) keeps the axis inside what the metric can be: no accuracy axis to 104%."""
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    if within is not None:
        lo, hi = max(lo, within[0]), min(hi, within[1])
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step + 1e-9) * step
    hi = math.ceil(hi / step - 1e-9) * step
    if within is not None:
        lo, hi = max(lo, within[0]), min(hi, within[1])
    if floor0 and lo < 0 <= min(values):
        lo = 0.0
    count = round((hi - lo) / step)
    ticks = [(lo + i * step, label(lo + i * step, step)) for i in range(count + 1)]
    return _Scale(lo, hi, False, ticks)


def _log_scale(values: Sequence[float], label: Callable[[float], str], *, base2: bool) -> _Scale:
    """A log axis. Byte sizes get powers of 2 (16 kB, 32 kB, ...), other quantities 1-2-5 steps."""
    lo, hi = max(min(values), 1e-9), max(max(values), 1e-9)
    if base2:
        a, b = math.floor(math.log2(lo) + 1e-9), math.ceil(math.log2(hi) - 1e-9)
        if a == b:
            a, b = a - 1, b + 1
        exps = list(range(a, b + 1))
        stride = math.ceil(len(exps) / 7)
        marks = [2.0**e for e in exps[::stride]]
        return _Scale(2.0**a, 2.0**b, True, [(m, label(m)) for m in marks])
    candidates = [
        m * 10.0**e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2) for m in (1, 2, 5)
    ]
    below = [c for c in candidates if c <= lo * (1 + 1e-9)]
    above = [c for c in candidates if c >= hi * (1 - 1e-9)]
    start, end = max(below), min(above)
    if start == end:
        start, end = start / 2, end * 2
    marks = [c for c in candidates if start * (1 - 1e-9) <= c <= end * (1 + 1e-9)]
    if len(marks) > 8:
        marks = [c for c in marks if math.isclose(math.log10(c), round(math.log10(c)), abs_tol=1e-9)]
    return _Scale(start, end, True, [(m, label(m)) for m in marks])


def _place_labels(points: list[tuple[str, float, float, bool]], right: float) -> list[tuple[float, float, str, bool]]:
    """Put each label beside its point where it overlaps no label placed before (greedy)."""
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float, str, bool]] = []
    for vid, cx, cy, chosen in points:
        text = vid + (" (chosen)" if chosen else "")
        width = len(text) * _CHAR_W
        anchor = "start" if cx + 10 + width <= right else "end"
        x0 = cx + 10 if anchor == "start" else cx - 10 - width
        lx = cx + 10 if anchor == "start" else cx - 10
        best = None
        for step in range(0, 24):
            dy = (step + 1) // 2 * _LABEL_H * (1 if step % 2 else -1) if step else 0.0
            top = cy - _LABEL_H / 2 + dy
            if top < 2 or top + _LABEL_H > PLOT_HEIGHT - _MARGIN_BOTTOM + 4:
                continue  # it would leave the plot area
            box = (x0, top, x0 + width, top + _LABEL_H)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in placed):
                best = (box, dy)
                break
        if best is None:
            best = ((x0, cy - _LABEL_H / 2, x0 + width, cy + _LABEL_H / 2), 0.0)
        placed.append(best[0])
        out.append((lx, cy + best[1] + 4, anchor, abs(best[1]) > 0))
    return out


def scatter(
    plot_id: str,
    variants: Sequence[Variant],
    *,
    x_of: Callable[[Variant], float],
    x_kind: str,
    metric: MetricFormat,
    chosen: str | None,
    subject: str,
) -> Plot:
    """A scatter plot of the metric (y) against ``x_kind`` (``size`` in bytes on a log scale, or
    ``latency`` in µs: log scale when the values span more than 10×)."""
    xs = [float(x_of(v)) for v in variants]
    ys = [float(v.metrics.value) for v in variants]
    x_text: Callable[[float], str]
    if x_kind == "size":
        xscale = _log_scale(xs, format_bytes, base2=True)
        x_title, x_column, x_text = "File size (bytes, log scale)", "File size", format_bytes
    else:
        if min(xs) > 0 and max(xs) / min(xs) > 10:
            xscale = _log_scale(xs, human_us, base2=False)
            x_title = "Median latency on the reference machine (µs, log scale)"
        else:
            xscale = _linear_scale(xs, lambda x, step: human_us(x), floor0=True)
            x_title = "Median latency on the reference machine (µs)"
        x_column, x_text = "Median latency", human_us
    yscale = _linear_scale(ys, metric.tick, within=(0.0, 1.0) if metric.fraction else None)
    left, right = _MARGIN_LEFT, PLOT_WIDTH - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, PLOT_HEIGHT - _MARGIN_BOTTOM

    def px(x: float) -> float:
        return round(left + xscale.frac(x) * (right - left), 1)

    def py(y: float) -> float:
        return round(bottom - yscale.frac(y) * (bottom - top), 1)

    raw = [(v.id, px(x), py(y), v.id == chosen) for v, x, y in zip(variants, xs, ys, strict=True)]
    order = sorted(range(len(raw)), key=lambda i: (raw[i][2], raw[i][1]))
    labels = _place_labels([raw[i] for i in order], right)
    placed = {order[k]: labels[k] for k in range(len(order))}
    points = []
    for i, (vid, cx, cy, is_chosen) in enumerate(raw):
        lx, ly, anchor, leader = placed[i]
        points.append(
            PlotPoint(
                id=vid,
                cx=cx,
                cy=cy,
                label=vid + (" (chosen)" if is_chosen else ""),
                lx=lx,
                ly=round(ly, 1),
                anchor=anchor,
                leader=leader,
                chosen=is_chosen,
                x_text=x_text(xs[i]),
                y_text=metric.value(ys[i]),
            )
        )
    what = "file size" if x_kind == "size" else "median latency"
    desc = (
        f"{len(points)} variant{'s' if len(points) != 1 else ''} of {subject}: {metric.name} from "
        f"{metric.value(min(ys))} to {metric.value(max(ys))}, {what} from {x_text(min(xs))} to {x_text(max(xs))}."
        + (f" The variant chosen for the device is {chosen}." if chosen else "")
    )
    return Plot(
        id=plot_id,
        title=f"{metric.title} against {what}",
        desc=desc,
        x_title=x_title,
        y_title=metric.title,
        x_ticks=[Tick(px(v), text) for v, text in xscale.ticks],
        y_ticks=[Tick(py(v), text) for v, text in yscale.ticks],
        points=points,
        x_column=x_column,
        y_column=metric.title,
    )
