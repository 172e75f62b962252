"""``bundle.json``, the unsigned listing of what a bundle holds, and ``COMPLETE``."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from registry.core.errors import (
    ManifestError,
    UsageError,
)

from .files import _canonical, _read_json
from .planfile import _check_file_entry, _check_index_entry

MAX_BUNDLE_JSON_BYTES = 64 << 20


def _bundle_id(targets: list[dict[str, Any]], metadata: dict[str, dict[str, Any]], base: str | None) -> str:
    """What a bundle is: its files and the metadata that signs them (and the base it extends)."""
    doc = {
        "base": base,
        "metadata": {k: v["sha256"] for k, v in sorted(metadata.items())},
        "targets": sorted([t["target"], t["sha256"]] for t in targets),
    }
    return hashlib.sha256(_canonical(doc)).hexdigest()


def _read_complete_bundle(path: Path, fix: str) -> tuple[bytes, dict[str, Any]]:
    """``bundle.json`` of a COMPLETE bundle folder, after checking COMPLETE's hash of it."""
    path = Path(path)
    if not path.is_dir():
        raise UsageError(f"{path} is not a bundle folder: {fix}")
    try:
        complete = json.loads((path / "COMPLETE").read_text())
        expected = complete["bundle_sha256"]
    except FileNotFoundError as e:
        raise UsageError(f"incomplete bundle {path} (no COMPLETE): re-run `edzoo bundle` to finish it") from e
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise UsageError(f"incomplete bundle {path} (COMPLETE is damaged): re-run `edzoo bundle` to finish it") from e
    data, doc = _read_json(path / "bundle.json", MAX_BUNDLE_JSON_BYTES, "bundle.json", "re-run `edzoo bundle`")
    if hashlib.sha256(data).hexdigest() != expected:
        raise UsageError(
            f"incomplete bundle {path} (bundle.json differs from what COMPLETE records): "
            "re-run `edzoo bundle` to finish it"
        )
    if not isinstance(doc, dict) or doc.get("kind") != "edzoo-bundle" or doc.get("schema_version") != 1:
        raise ManifestError(f"{path}/bundle.json is not an edzoo bundle (schema_version 1): {fix}")
    targets = doc.get("targets")
    metadata = doc.get("metadata")
    if not isinstance(targets, list) or not isinstance(metadata, dict) or not isinstance(doc.get("id"), str):
        raise ManifestError(f"{path}/bundle.json lacks id, targets or metadata: {fix}")
    for i, item in enumerate(targets):
        _check_file_entry(item, f"{path}/bundle.json: $.targets[{i}]")
        if not isinstance(item.get("in_bundle"), bool):
            raise ManifestError(f"{path}/bundle.json: $.targets[{i}].in_bundle: expected true or false")
    for rel, info in metadata.items():
        if not _safe_rel(rel) or not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
            raise ManifestError(f"{path}/bundle.json: $.metadata[{rel!r}]: expected a relative path with a sha256")
    indexes = doc.setdefault("indexes", [])  # absent in bundles made before withdrawals existed
    if not isinstance(indexes, list):
        raise ManifestError(f"{path}/bundle.json: $.indexes: expected a list of signed files: {fix}")
    for i, item in enumerate(indexes):
        _check_index_entry(item, f"{path}/bundle.json: $.indexes[{i}]")
    return data, doc


def _safe_rel(rel: str) -> bool:
    parts = rel.split("/")
    return bool(rel) and all(p and p not in {".", ".."} and not p.startswith(".") for p in parts)
