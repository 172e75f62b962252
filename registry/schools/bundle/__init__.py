"""Signed offline bundles: carry a plan's files to a school on a USB stick, install them offline.

:func:`write_bundle` turns a plan (``edzoo plan``) into a folder::

    DIR/metadata/...               the registry's TUF metadata, as python-tuf's updater stores it
    DIR/blobs/sha256/<aa>/<sha>    each target file the plan needs, by content
    DIR/indexes/<ns>/<model>/versions.json, DIR/indexes/withdrawals.json
                                   the signed versions index of every model the plan names, and
                                   the registry's list of withdrawals (when it has one)
    DIR/plan.json                  the plan, byte for byte (less any withdrawn version)
    DIR/bundle.json                what the folder holds: every file with its sha256 and size
    DIR/COMPLETE                   written last, after every file was written and read back

The signed length and sha256 of every file come from TUF through a
:class:`~registry.client.download.Puller`, which downloads and verifies what its cache does not
hold yet (so a second bundle is cheap). Each file is copied under a temp name, fsync'ed and
renamed, then read back from the bundle and checked against the signed sha256; only then is the
folder marked COMPLETE. A re-run after an interruption keeps what is already there with the right
sha256. With a base bundle (``--since``) only files the base does not hold are copied.

Withdrawn (recalled) versions never go into a bundle: a plan made before a withdrawal still
names the version, and :func:`write_bundle` drops it (from the plan it writes too) and says so.
The versions indexes and the withdrawals list always travel in the bundle (a delta too), with
metadata fresh from the registry that signs them, so a device sees the withdrawal offline.

:func:`install_bundle` verifies a bundle on a device with no network, against the root the device
already trusts: the root chain, every role's signatures and versions, expiry within a bounded
grace window, rollback against the versions the device saw before, and each installed file's
signed length and sha256. It installs atomically: files go to a content store, a release folder
is built from hard links, and one ``os.replace`` of the ``current`` symlink switches to it; a
failure before that switch (a full disk, a pulled USB stick) leaves the previous install as it
was. A model version the bundle's signed indexes withdraw is never installed, and one the device
already has is left out of the new release (and deleted from the old one), with the reason.

``bundle.json`` and ``COMPLETE`` are not signed: they only detect an incomplete or damaged copy
early and with a clear message. Trust comes from the TUF metadata alone.
"""

from __future__ import annotations

from .files import DEFAULT_MAX_STALENESS, MAX_STALENESS, format_staleness, parse_staleness
from .install import InstalledFile, InstallResult, install_bundle
from .planfile import Dropped
from .verify import Freshness, OpenedBundle, open_bundle, verify_bundle
from .write import BundleResult, write_bundle

__all__ = [
    "DEFAULT_MAX_STALENESS",
    "MAX_STALENESS",
    "BundleResult",
    "Dropped",
    "Freshness",
    "InstallResult",
    "InstalledFile",
    "OpenedBundle",
    "format_staleness",
    "install_bundle",
    "open_bundle",
    "parse_staleness",
    "verify_bundle",
    "write_bundle",
]
