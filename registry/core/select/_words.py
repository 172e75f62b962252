"""Numbers for people in the sentences selection writes."""

from __future__ import annotations


def _us(x: float) -> str:
    return f"{x:,.0f} µs" if x >= 100 else f"{x:.3g} µs"


def _pct(share: float) -> str:
    return f"{share * 100:g}%"


def _ratio(r: float) -> str:
    return f"{r:.1f}x" if r >= 0.95 else f"{r:.2f}x"
