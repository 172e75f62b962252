"""Constants and small helpers of the mirror: its port, the sync interval, the status file's
name, and times as mirror.json writes them."""

from __future__ import annotations

import sys
from collections.abc import Callable
from datetime import UTC, datetime

DEFAULT_PORT = 8471
DEFAULT_INTERVAL = 300
STATUS_FILE = "mirror.json"
STALE_AFTER_INTERVALS = 2  # the copy is stale when the last success is older than this many intervals

# The names the updater asks for: timestamp.json, root.json, N.root.json, V.snapshot.json, V.<role>.json.

Log = Callable[[str], None]


def stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
