"""The publisher-signed index of a model's versions and aliases (``<ns>/<model>/versions.json``).

Versions and aliases resolve from this file only: it is a TUF target, so its length and sha256
sit in publisher-signed metadata and the server cannot move an alias on its own.
"""

from __future__ import annotations

import json
from typing import Any

from . import names
from .errors import NotFoundError, UsageError

__all__ = ["build_index", "parse_index", "resolve"]


def build_index(namespace: str, model: str, versions: list[str], aliases: dict[str, str]) -> bytes:
    """Serialize an index; versions sorted by precedence, aliases checked."""
    versions = sorted(set(versions), key=names.version_key)
    for alias, target in aliases.items():
        names.check_alias(alias)
        if target not in versions:
            raise UsageError(f"alias {alias!r} points to {target}, which is not a published version")
    doc = {
        "schema_version": 1,
        "namespace": namespace,
        "name": model,
        "versions": versions,
        "aliases": dict(sorted(aliases.items())),
    }
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def parse_index(data: bytes, namespace: str, model: str) -> dict[str, Any]:
    """Parse and check an index; UsageError naming what is wrong."""
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise UsageError(f"{namespace}/{model}/{names.INDEX_FILE} is not valid JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise UsageError(f"{namespace}/{model}/{names.INDEX_FILE}: expected an object with schema_version 1")
    if doc.get("namespace") != namespace or doc.get("name") != model:
        raise UsageError(f"{namespace}/{model}/{names.INDEX_FILE} names another model")
    versions = doc.get("versions")
    aliases = doc.get("aliases", {})
    if not isinstance(versions, list) or not versions or not isinstance(aliases, dict):
        raise UsageError(f"{namespace}/{model}/{names.INDEX_FILE}: 'versions' must be a non-empty list")
    for v in versions:
        names.check_version(v)
    for alias, target in aliases.items():
        names.check_alias(alias)
        if target not in versions:
            raise UsageError(f"alias {alias!r} points to {target!r}, which is not listed")
    return doc


def resolve(doc: dict[str, Any], revision: str | None) -> str:
    """A version, an alias, or None/'latest' → a published version."""
    versions = doc["versions"]
    if revision in (None, "latest"):
        latest = names.latest_of(versions)
        assert latest is not None
        return latest
    if revision in versions:
        return revision
    if revision in doc.get("aliases", {}):
        return doc["aliases"][revision]
    raise NotFoundError(
        f"{doc['namespace']}/{doc['name']} has no version or alias {revision!r}; "
        f"published: {', '.join(versions)}"
        + (f"; aliases: {', '.join(sorted(doc['aliases']))}" if doc.get("aliases") else "")
    )
