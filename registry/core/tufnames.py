"""The static TUF repository's rules, one copy for the registry server and the school mirror:
which metadata and target file names exist under ``/tuf/``, and how long a cache (a browser, a
CDN, a school proxy) may keep each answer.

- Metadata: ``timestamp.json``, ``root.json`` and versioned files ``N.<role>.json``.
- Targets: consistent-snapshot names ``<folder>/<sha256>.<file>``, each segment as
  :data:`registry.core.names.FILE_SEGMENT_RE` allows (what publishing accepts).
- Caching: a versioned file's bytes never change (``N.snapshot.json``, a target named by its
  hash): a year, immutable. The timestamp moves, and root files are probed for the next version
  on every refresh: revalidate each time. So is every "not found", or a probe for the next root
  would be cached as missing after a rotation.
"""

from __future__ import annotations

import re

from .names import FILE_SEGMENT_RE, MAX_FILE_DEPTH

IMMUTABLE = "public, max-age=31536000, immutable"
REVALIDATE = "no-cache"

METADATA_NAME_RE = re.compile(r"^(?:timestamp|root|[0-9]{1,10}\.[a-z0-9][a-z0-9.-]{0,60})\.json\Z", re.ASCII)
ROOT_FILE_RE = re.compile(r"^([0-9]{1,10})\.root\.json\Z", re.ASCII)
_HASHED_FILE_RE = re.compile(r"^([0-9a-f]{64})\.(.+)\Z", re.ASCII | re.DOTALL)
MAX_TARGET_DEPTH = 3 + MAX_FILE_DEPTH  # namespace/model/version/ + a file path of the version


def is_metadata_name(name: str) -> bool:
    """Is ``name`` a metadata file the repository can hold (``3.snapshot.json``, ``timestamp.json``)?"""
    return METADATA_NAME_RE.match(name) is not None


def metadata_cache_control(name: str) -> str:
    """The ``Cache-Control`` of metadata file ``name``."""
    versioned = name[:1].isdigit() and ROOT_FILE_RE.match(name) is None
    return IMMUTABLE if versioned else REVALIDATE


def split_target_path(path: str) -> tuple[str, str, str] | None:
    """``(folder, sha256, file)`` of a consistent-snapshot target path
    ``<folder>/<sha256>.<file>`` (folder ends with ``/`` or is empty): the signed target is
    ``folder + file``. None for any other name (``..``, hidden files, empty segments, no hash)."""
    parts = path.split("/")
    if not 1 <= len(parts) <= MAX_TARGET_DEPTH:
        return None
    m = _HASHED_FILE_RE.match(parts[-1])
    if m is None:
        return None
    sha256, name = m.groups()
    if not all(FILE_SEGMENT_RE.match(p) for p in (*parts[:-1], name)) or any(p == ".." for p in parts):
        return None
    return "".join(p + "/" for p in parts[:-1]), sha256, name


__all__ = [
    "IMMUTABLE",
    "MAX_TARGET_DEPTH",
    "METADATA_NAME_RE",
    "REVALIDATE",
    "ROOT_FILE_RE",
    "is_metadata_name",
    "metadata_cache_control",
    "split_target_path",
]
