"""Run the registry under gunicorn (``edzoo serve``), or expose ``application`` for any WSGI
server: ``EDZOO_DATA=/srv/edzoo gunicorn 'registry.server.wsgi:application()'``."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask
from gunicorn.app.base import BaseApplication

from . import create_app
from .config import ServerConfig
from .repository import Registry


def application() -> Flask:
    """App factory for external WSGI servers; the data folder comes from ``EDZOO_DATA``."""
    data = os.environ.get("EDZOO_DATA")
    if not data:
        raise SystemExit("set EDZOO_DATA to the registry's data folder")
    return create_app({"EDZOO": ServerConfig.from_env(Path(data), dict(os.environ))})


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, config: ServerConfig, options: dict[str, Any]) -> None:
        self._config = config
        self._options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self._options.items():
            self.cfg.set(key, value)

    def load(self) -> Flask:
        return create_app({"EDZOO": self._config})


def run(
    data_dir: Path,
    *,
    host: str,
    port: int,
    workers: int,
    threads: int,
    access_log: bool,
    database_url: str | None = None,
    blobs: str | None = None,
    redirect_blobs: bool | None = None,
) -> None:
    config = ServerConfig.from_env(
        data_dir, dict(os.environ), database_url=database_url, blobs=blobs, redirect_blobs=redirect_blobs
    )
    # In the parent, before any worker starts: fail fast on a folder that is not a registry,
    # upgrade the index schema once, and index what a crashed publish left unindexed.
    registry = Registry(config)
    try:
        repaired = registry.reconcile()
        if repaired:
            print(f"indexed {len(repaired)} published versions the index had missed", flush=True)
    finally:
        registry.close()
    # No background renewer: clients meet the online roles only through timestamp.json, and
    # serving it first runs Registry.refresh_online, which re-signs the snapshot and the
    # timestamp once half their lifetime is spent. So every client, mirror or bundle build gets
    # metadata valid for at least half a lifetime, however long the registry sat idle; stored
    # files that expire while nobody asks harm no one, and /api/v1/health (polled by monitors)
    # renews them as well. A thread would add a second writer per worker and nothing a client
    # could observe.
    options = {
        "bind": f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "loglevel": "warning",
    }
    print(
        f"edzoo registry {data_dir} on http://{host}:{port} ({workers} workers x {threads} threads; "
        f"blobs {registry.objects.describe()}, index {registry.index.dialect})",
        flush=True,
    )
    _Gunicorn(config, options).run()
