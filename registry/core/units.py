"""Quantities for people, in one rule everywhere: binary units, as manifests and device
profiles count them (1 kB = 2^10 bytes, 1 MB = 2^20 bytes, a profile's ``ram_mb`` and
``free_storage_mb`` are MB of 2^20 bytes). The CLI, the server's messages, the web catalog, plans
and bundles all print through these functions; ages (how old cached metadata is) too."""

from __future__ import annotations

KB = 1 << 10
MB = 1 << 20
GB = 1 << 30


def format_bytes(n: float) -> str:
    """A byte count: ``950 B``, ``12.3 kB``, ``4.5 MB``, ``1.2 GB`` (one decimal from kB up)."""
    if abs(n) < KB:
        return f"{n:,.0f} B"
    if abs(n) < MB:
        return f"{n / KB:,.1f} kB"
    if abs(n) < GB:
        return f"{n / MB:,.1f} MB"
    return f"{n / GB:,.1f} GB"


def format_bytes_exact(n: int) -> str:
    """A byte count with the exact number beside it from 1 kB up: ``460.0 kB (471,040 bytes)``."""
    return format_bytes(n) if abs(n) < KB else f"{format_bytes(n)} ({n:,} bytes)"


def format_mb(x: float) -> str:
    """A quantity already in MB (a device's RAM or free storage, a budget): ``48 MB``, ``1.5 MB``
    (whole MB from 10 MB up, or when whole), and from 1,024 MB up as :func:`format_bytes` says it:
    ``4.0 GB``."""
    if abs(x) >= 1024:
        return format_bytes(x * MB)
    return f"{x:,.0f} MB" if abs(x) >= 10 or x == int(x) else f"{x:,.1f} MB"


def format_age(seconds: float) -> str:
    """How long ago, in the largest whole unit: ``40 s``, ``12 min``, ``5 h``, ``3 days`` (a
    negative age, from a clock set back, reads ``0 s``)."""
    s = max(0, int(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 2 * 86400:
        return f"{s // 3600} h"
    return f"{s // 86400} days"


__all__ = ["GB", "KB", "MB", "format_age", "format_bytes", "format_bytes_exact", "format_mb"]
