"""A school's LAN mirror of a registry (``edzoo mirror``).

The mirror is a TUF client of the upstream registry and a static server of what it verified.
:func:`sync` pulls, through python-tuf's updater, the metadata and every file a catalog needs,
each checked against the upstream's signed metadata, and lays them out exactly as a registry
serves them under ``DATA_DIR/www/tuf/``. Devices point at the mirror as at the registry and
verify everything against the root they pinned: the mirror holds no keys and signs nothing, so
a file altered on its disk fails the device's check.

Data folder::

    DATA_DIR/cache/                                 the mirror's own client cache (verified blobs, metadata)
    DATA_DIR/www/tuf/metadata/N.root.json, root.json, V.snapshot.json, V.targets.json, V.<role>.json,
                              timestamp.json        (written last: it switches clients to the new copy)
    DATA_DIR/www/tuf/targets/<dir>/<sha256>.<file>  hard links to the cache's blobs (copies across devices)
    DATA_DIR/mirror.json                            status: upstream, catalog, last attempt and success,
                                                    versions, expiry, models, last error

``www/`` is a plain static tree: any web server can serve it. :func:`create_mirror_app` adds
the status endpoint and the freshness header, and :func:`run_mirror` serves it while re-syncing.

Withdrawn (recalled) versions, from each model's signed versions index and the registry's signed
``withdrawals.json`` (which the mirror serves too), are never synced: ``latest`` is the newest
version that is not withdrawn, and a catalog pin to a withdrawn version is reported unavailable.
Files of a withdrawn version the mirror already held are deleted from ``www/`` and answered 404
with the withdrawal; mirror.json lists every withdrawn version of the catalog's models.
"""

from __future__ import annotations

from .common import DEFAULT_INTERVAL, DEFAULT_PORT
from .loop import SyncLoop
from .results import MirroredModel, SyncResult, Unavailable, WithdrawnVersion, describe_sync
from .serve import create_mirror_app, run_mirror
from .status import has_copy, read_status, status_report
from .sync import sync

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_PORT",
    "MirroredModel",
    "SyncLoop",
    "SyncResult",
    "Unavailable",
    "WithdrawnVersion",
    "create_mirror_app",
    "describe_sync",
    "has_copy",
    "read_status",
    "run_mirror",
    "status_report",
    "sync",
]
