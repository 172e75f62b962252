"""The background loop: a sync every interval; a failure is logged and the served copy stays."""

from __future__ import annotations

import threading
from pathlib import Path

from registry.client.http import ClientConfig
from registry.core.errors import (
    EdzooError,
)

from ..catalog import Catalog
from .common import DEFAULT_INTERVAL, Log, stderr
from .results import SyncResult, describe_sync
from .status import describe_failure
from .sync import sync


class SyncLoop:
    """Re-syncs every ``interval`` seconds in a daemon thread. A failed sync is logged and noted
    in mirror.json; the served copy stays as it was, and the next interval tries again.
    A catalog given as a path is re-read on each sync, so edits apply without a restart."""

    def __init__(
        self,
        upstream: str,
        catalog: Catalog | Path,
        data_dir: Path,
        *,
        root: bytes | Path | None = None,
        interval: float = DEFAULT_INTERVAL,
        config: ClientConfig = ClientConfig(),
        log: Log = stderr,
    ) -> None:
        self.upstream, self.catalog, self.data_dir = upstream, catalog, Path(data_dir)
        self.root, self.interval, self.config, self.log = root, interval, config, log
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="edzoo-mirror-sync", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 30) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.run_once()

    def run_once(self) -> SyncResult | None:
        """One sync, logged in one line; never raises (a mirror must keep serving)."""
        try:
            result = sync(
                self.upstream,
                self.catalog,
                self.data_dir,
                root=self.root,
                config=self.config,
                interval=self.interval,
            )
        except EdzooError as e:
            self.log(describe_failure(self.data_dir, e.message))
            return None
        except Exception as e:  # a bug must not stop the loop, nor the server
            self.log(describe_failure(self.data_dir, f"unexpected {type(e).__name__}: {e}"))
            return None
        self.log(describe_sync(result))
        return result
