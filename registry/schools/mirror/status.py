"""mirror.json: the mirror's status, how fresh its copy is, and a failed sync's record."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from registry.core._internal.files import atomic_write
from registry.core.errors import (
    EdzooError,
    StorageError,
    UsageError,
)
from registry.core.units import format_age

from ..catalog import Catalog
from .common import DEFAULT_INTERVAL, STALE_AFTER_INTERVALS, STATUS_FILE, iso, now, parse_iso
from .results import SyncResult


def read_status(data_dir: Path) -> dict[str, Any] | None:
    """The mirror's status document, or None when ``data_dir`` holds none yet."""
    path = Path(data_dir) / STATUS_FILE
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as e:
        raise StorageError(f"cannot read {path}: {e}; run `edzoo mirror --once` to rewrite it") from e
    if not isinstance(doc, dict) or doc.get("kind") != "edzoo-mirror-status":
        raise UsageError(f"{path} is not an edzoo mirror status file")
    return doc


def status_report(data_dir: Path, *, now: datetime | None = None) -> dict[str, Any]:
    """The status document plus what it means now: ``age_seconds`` (since the last success),
    ``timestamp_expired``, ``fresh`` (the last success is within 2 x the sync interval and the
    served timestamp has not expired) and ``stale_reasons``.

    Raises UsageError when ``data_dir`` is not a mirror (no mirror.json).
    """
    doc = read_status(data_dir)
    if doc is None:
        raise UsageError(
            f"{data_dir} is not a mirror data folder (no {STATUS_FILE}); "
            "run `edzoo mirror --upstream URL --catalog CATALOG --data DIR --once` first"
        )
    return with_freshness(doc, now or datetime.now(UTC))


def with_freshness(doc: dict[str, Any], now: datetime) -> dict[str, Any]:
    out = dict(doc)
    reasons: list[str] = []
    interval = float(doc.get("interval_seconds") or DEFAULT_INTERVAL)
    age = None
    if doc.get("last_success"):
        elapsed = max(0.0, (now - parse_iso(doc["last_success"])).total_seconds())
        age = int(elapsed)
        if elapsed > STALE_AFTER_INTERVALS * interval:
            reasons.append(
                f"the last successful sync was {format_age(age)} ago, more than {STALE_AFTER_INTERVALS} "
                f"sync intervals ({format_age(interval)} each)"
            )
    else:
        reasons.append("the mirror has never synced successfully")
    expired = True
    if doc.get("timestamp_expires"):
        expired = parse_iso(doc["timestamp_expires"]) <= now
        if expired:
            reasons.append(
                f"the served timestamp expired at {doc['timestamp_expires']}: devices refuse it until "
                "the mirror reaches the upstream again"
            )
    if reasons and doc.get("last_error"):
        reasons.append(f"the last sync failed: {doc['last_error']}")
    out["age_seconds"] = age
    out["timestamp_expired"] = expired
    out["fresh"] = not reasons
    out["stale_reasons"] = reasons
    return out


def has_copy(data_dir: Path) -> bool:
    """Whether ``data_dir`` holds a complete copy to serve (its timestamp is written last)."""
    return (Path(data_dir) / "www" / "tuf" / "metadata" / "timestamp.json").is_file()


def write_status(data_dir: Path, doc: dict[str, Any]) -> None:
    atomic_write(Path(data_dir) / STATUS_FILE, (json.dumps(doc, indent=2) + "\n").encode())


def _catalog_json(cat: Catalog) -> dict[str, str]:
    return {"id": cat.id, "title": cat.title, "sha256": cat.sha256}


def success_doc(result: SyncResult, cat: Catalog, interval: float) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "kind": "edzoo-mirror-status",
        "upstream": result.upstream,
        "catalog": _catalog_json(cat),
        "interval_seconds": interval,
        "last_attempt": iso(result.started),
        "last_success": iso(result.started),
        "last_error": None,
        "timestamp_version": result.timestamp_version,
        "snapshot_version": result.snapshot_version,
        "timestamp_expires": iso(result.timestamp_expires),
        "models": [m.to_json() for m in result.models],
        "unavailable": [{"model": u.model, "reason": u.reason} for u in result.unavailable],
        "withdrawn": [w.to_json() for w in result.withdrawn],
        "last_sync": {
            "fetched_files": result.fetched_files,
            "fetched_bytes": result.fetched_bytes,
            "skipped_files": result.skipped_files,
            "skipped_bytes": result.skipped_bytes,
            "metadata_bytes": result.metadata_bytes,
            "written_files": result.written_files,
            "removed_files": result.removed_files,
            "seconds": round(result.seconds, 3),
        },
    }


def record_failure(
    data_dir: Path,
    previous: dict[str, Any] | None,
    upstream: str,
    cat: Catalog,
    interval: float,
    started: datetime,
    message: str,
) -> None:
    """Note a failed sync in mirror.json; everything about the served copy stays as it was."""
    doc = dict(previous or {"schema_version": 1, "kind": "edzoo-mirror-status", "last_success": None})
    doc.update(
        upstream=upstream,
        catalog=doc.get("catalog") or _catalog_json(cat),
        interval_seconds=interval,
        last_attempt=iso(started),
        last_error=message,
    )
    with contextlib.suppress(OSError):  # a full disk must not hide the sync's own error
        write_status(data_dir, doc)


def describe_failure(data_dir: Path, message: str) -> str:
    try:
        last = (read_status(data_dir) or {}).get("last_success")
    except EdzooError:
        last = None
    serving = f"still serving the copy synced at {last}" if last else "nothing to serve yet"
    return f"{iso(now())} sync FAILED: {message}; {serving}"
