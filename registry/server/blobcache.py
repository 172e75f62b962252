"""Small blobs of a remote object store, kept in memory by the server process.

Blobs are named by their sha256, so a copy never goes stale: the cache needs no invalidation,
only a bound. It keeps whole blobs up to 1/64 of its budget each (a manifest, a versions index,
a small variant), least recently served out first; larger ones are streamed from the store
every time (or redirected to it with ``EDZOO_REDIRECT_BLOBS``). Only stores without local files
use it (S3): a folder store is served with sendfile, which no cache beats.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["BlobCache"]


class BlobCache:
    """At most ``budget`` bytes of blobs, by key, least recently used out first."""

    def __init__(self, budget: int) -> None:
        self.budget = max(0, budget)
        self.largest = self.budget // 64
        self._lock = threading.Lock()
        self._blobs: OrderedDict[str, bytes] = OrderedDict()
        self._held = 0

    def get(self, key: str, size: int, read: Callable[[str], bytes]) -> bytes | None:
        """The ``size`` bytes of blob ``key``: from memory, else ``read(key)`` once and kept.
        None when a blob of ``size`` is too large to keep (the caller streams it). Bytes that
        are not ``size`` long (a damaged store) are returned as they are but never kept."""
        if size > self.largest:
            return None
        with self._lock:
            data = self._blobs.get(key)
            if data is not None:
                self._blobs.move_to_end(key)
                return data
        data = read(key)  # outside the lock: the store may be remote; two readers may both read
        if len(data) != size:
            return data
        with self._lock:
            if key not in self._blobs:
                self._blobs[key] = data
                self._held += size
                while self._held > self.budget:
                    _, dropped = self._blobs.popitem(last=False)
                    self._held -= len(dropped)
        return data

    @property
    def held(self) -> int:
        """Bytes held now."""
        return self._held

    def __len__(self) -> int:
        return len(self._blobs)
