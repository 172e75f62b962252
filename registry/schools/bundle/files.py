"""What every part of the bundle code shares: reading JSON with a size cap, content paths, copies
that fsync and rename, progress bars, staleness, storage errors."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import tempfile
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

from registry.client.download import ProgressFactory
from registry.core.errors import (
    ManifestError,
    StorageError,
    UsageError,
    storage_error,
)

COPY_CHUNK = 8 << 20
# The grace for expired metadata is always bounded: a stolen stick must not stay valid forever.
MAX_STALENESS = timedelta(days=365)
ProgressUpdate = Callable[[int], object]
TEMP_SUFFIX = ".tmp"
_NO_FAST_COPY = {errno.EXDEV, errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP, errno.EBADF, errno.ETXTBSY}
_STALENESS_RE = re.compile(r"^\s*(\d{1,6})\s*([dh]?)\s*\Z")
DEFAULT_MAX_STALENESS = timedelta(days=30)


def parse_staleness(text: str) -> timedelta:
    """``30d``, ``12h`` or ``0`` as a timedelta; refuses more than :data:`MAX_STALENESS`."""
    m = _STALENESS_RE.match(text or "")
    if not m or (not m[2] and int(m[1]) != 0):
        raise UsageError(f"invalid staleness {text!r}: expected a duration like 30d, 12h or 0")
    value = int(m[1])
    grace = timedelta(hours=value) if m[2] == "h" else timedelta(days=value)
    _check_staleness(grace, f"--max-staleness {text}")
    return grace


def _check_staleness(grace: timedelta, what: str) -> None:
    if grace < timedelta(0):
        raise UsageError(f"{what}: a grace window cannot be negative")
    if grace > MAX_STALENESS:
        raise UsageError(
            f"{what} is more than {MAX_STALENESS.days} days: the grace for expired metadata is never "
            "unlimited; make a fresh bundle instead"
        )


def format_staleness(grace: timedelta) -> str:
    """``30-day``, ``12-hour``, ``0-day``: how messages name a grace window."""
    seconds = int(grace.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400}-day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600}-hour"
    return f"{seconds / 86400:.2f}-day"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _span(delta: timedelta, more: bool = False) -> str:
    """``3 days``, ``5 hours``, ``1 minute`` (``3 more days`` with ``more``)."""
    if delta >= timedelta(days=1):
        n, unit = delta.days, "day"
    elif delta >= timedelta(hours=1):
        n, unit = int(delta.total_seconds() // 3600), "hour"
    else:
        n, unit = max(1, int(delta.total_seconds() // 60)), "minute"
    return _plural(n, f"more {unit}" if more else unit)


def _blob_rel(sha256: str) -> str:
    return f"blobs/sha256/{sha256[:2]}/{sha256}"


def _index_rel(target: str) -> str:
    return f"indexes/{target}"


def _canonical(doc: Any) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _pretty(doc: Any) -> bytes:
    return (json.dumps(doc, indent=2, ensure_ascii=False) + "\n").encode()


def _fsync_dir(path: Path) -> None:
    # Makes a rename in ``path`` durable; some filesystems (FAT on a USB stick) cannot, and
    # the files themselves were fsync'ed already.
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _copy_file(src: Path, dst: Path, update: ProgressUpdate | None = None) -> None:
    """Copy ``src`` over the (temp) file ``dst`` and fsync it. Uses the kernel's copy when it can."""
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        fast = True
        while True:
            if fast:
                try:
                    n = os.copy_file_range(fin.fileno(), fout.fileno(), COPY_CHUNK)
                except OSError as e:
                    if e.errno not in _NO_FAST_COPY:
                        raise
                    fast = False
                    continue
            else:
                block = fin.read(COPY_CHUNK)
                n = len(block)
                if n:
                    fout.write(block)
            if not n:
                break
            if update is not None:
                update(n)
        fout.flush()
        os.fsync(fout.fileno())


def _place(src: Path, dest: Path, *, hardlink: bool, update: ProgressUpdate | None) -> None:
    """Put a copy of ``src`` at ``dest`` via a temp name and a rename (a hard link if asked for and
    possible)."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=TEMP_SUFFIX)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        linked = False
        if hardlink:
            tmp.unlink()
            try:
                os.link(src, tmp)
                linked = True
                if update is not None:
                    update(src.stat().st_size)
            except OSError:
                tmp.touch()
        if not linked:
            _copy_file(src, tmp, update)
        os.replace(tmp, dest)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


@contextlib.contextmanager
def _bar(progress: ProgressFactory | None, desc: str, total: int) -> Iterator[ProgressUpdate | None]:
    if progress is None or total <= 0:
        yield None
        return
    with progress(desc, total) as b:
        yield b.update if b is not None else None


def _storage_error(e: OSError, where: Path, what: str, then: str) -> StorageError:
    return storage_error(e, f"{what} ({where})", then=then)


def _read_json(path: Path, limit: int, what: str, fix: str) -> tuple[bytes, Any]:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except FileNotFoundError as e:
        raise UsageError(f"{path} does not exist: {fix}") from e
    except OSError as e:
        raise UsageError(f"cannot read {what} {path}: {e.strerror or e}") from e
    if len(data) > limit:
        raise ManifestError(f"{path}: larger than the {limit >> 20} MiB a {what} may have")
    try:
        return data, json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ManifestError(f"{path} is not valid JSON ({e}): {fix}") from e
