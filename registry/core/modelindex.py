"""The publisher-signed index of a model's versions and aliases (``<ns>/<model>/versions.json``).

Versions and aliases resolve from this file only: it is a TUF target, so its length and sha256
sit in publisher-signed metadata and the server cannot move an alias on its own. The index also
lists the versions its publisher withdrew (``"withdrawn"``); such an index is written with
``schema_version`` 2, so a client that does not know withdrawals refuses it instead of handing
out a recalled version. A withdrawn version stays listed: its files are immutable.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from . import names
from .errors import NotFoundError, UsageError, WithdrawnError
from .recall import BY_PUBLISHER, Withdrawal, withdrawn_versions

__all__ = ["build_index", "latest_version", "parse_index", "publisher_withdrawals", "resolve"]

SCHEMA_VERSIONS = (1, 2)


def build_index(
    namespace: str,
    model: str,
    versions: list[str],
    aliases: dict[str, str],
    withdrawn: Mapping[str, Withdrawal] | None = None,
) -> bytes:
    """Serialize an index; versions sorted by precedence, aliases and withdrawals checked.

    An alias that points to a withdrawn version moves to that withdrawal's ``use``, or is
    removed when it names none. Raises UsageError.
    """
    versions = sorted(set(versions), key=names.version_key)
    withdrawn = dict(withdrawn or {})
    for version, w in withdrawn.items():
        if w.version != version or w.by != BY_PUBLISHER:
            raise UsageError(f"withdrawal of {version}: expected the publisher's entry for that version")
        _check_withdrawal(f"{namespace}/{model}", w, versions, withdrawn)
    moved = {}
    for alias, target in aliases.items():
        names.check_alias(alias)
        if target not in versions:
            raise UsageError(f"alias {alias!r} points to {target}, which is not a published version")
        if target in withdrawn:
            if withdrawn[target].use is not None:
                moved[alias] = withdrawn[target].use
        else:
            moved[alias] = target
    doc: dict[str, Any] = {
        "schema_version": 2 if withdrawn else 1,
        "namespace": namespace,
        "name": model,
        "versions": versions,
        "aliases": dict(sorted(moved.items())),
    }
    if withdrawn:
        doc["withdrawn"] = {v: withdrawn[v].to_dict() for v in sorted(withdrawn, key=names.version_key)}
    return (json.dumps(doc, indent=1, sort_keys=True) + "\n").encode()


def parse_index(data: bytes, namespace: str, model: str) -> dict[str, Any]:
    """Parse and check an index; UsageError naming what is wrong."""
    where = f"{namespace}/{model}/{names.INDEX_FILE}"
    try:
        doc = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as e:
        raise UsageError(f"{where} is not valid JSON: {e}") from e
    if not isinstance(doc, dict) or doc.get("schema_version") not in SCHEMA_VERSIONS:
        raise UsageError(
            f"{where}: expected an object with schema_version 1 or 2 (a newer edzoo may be needed to read it)"
        )
    if doc.get("namespace") != namespace or doc.get("name") != model:
        raise UsageError(f"{where} names another model")
    versions = doc.get("versions")
    aliases = doc.get("aliases", {})
    if not isinstance(versions, list) or not versions or not isinstance(aliases, dict):
        raise UsageError(f"{where}: 'versions' must be a non-empty list")
    for v in versions:
        names.check_version(v)
    raw = doc.get("withdrawn", {})
    if not isinstance(raw, dict):
        raise UsageError(f"{where}: 'withdrawn' must map versions to withdrawals")
    if raw and doc["schema_version"] < 2:
        raise UsageError(f"{where}: an index that withdraws versions must have schema_version 2")
    try:
        withdrawn = {v: Withdrawal.from_dict(v, d, by=BY_PUBLISHER) for v, d in raw.items()}
        for w in withdrawn.values():
            _check_withdrawal(f"{namespace}/{model}", w, versions, withdrawn)
    except UsageError as e:
        raise UsageError(f"{where}: {e.message}") from e
    for alias, target in aliases.items():
        names.check_alias(alias)
        if target not in versions:
            raise UsageError(f"{where}: alias {alias!r} points to {target!r}, which is not listed")
        if target in withdrawn:
            raise UsageError(f"{where}: alias {alias!r} points to {target}, which is withdrawn")
    return doc


def publisher_withdrawals(doc: Mapping[str, Any]) -> dict[str, Withdrawal]:
    """The versions a parsed index withdraws itself (its publisher's entries)."""
    return {v: Withdrawal.from_dict(v, d, by=BY_PUBLISHER) for v, d in (doc.get("withdrawn") or {}).items()}


def _check_withdrawal(model_id: str, w: Withdrawal, versions: list[str], withdrawn: Mapping[str, Withdrawal]) -> None:
    if w.version not in versions:
        raise UsageError(f"{model_id}@{w.version} is withdrawn but not a published version")
    if w.use is not None:
        if w.use not in versions:
            raise UsageError(f"{model_id}@{w.version}: the version to use, {w.use}, is not published")
        if w.use in withdrawn:
            raise UsageError(f"{model_id}@{w.version}: the version to use, {w.use}, is withdrawn too")


def latest_version(doc: Mapping[str, Any], withdrawn: Mapping[str, Withdrawal] | None = None) -> str | None:
    """The newest release that neither the index nor ``withdrawn`` withdraws (the newest
    pre-release when no release is left), or None when every version is withdrawn."""
    out = publisher_withdrawals(doc)
    out.update(withdrawn or {})
    return names.latest_of([v for v in doc["versions"] if v not in out])


def resolve(
    doc: dict[str, Any],
    revision: str | None,
    *,
    withdrawn: Mapping[str, Withdrawal] | None = None,
    allow_withdrawn: bool = False,
) -> str:
    """A version, an alias, or None/'latest' → a published version.

    ``withdrawn`` adds to the withdrawals the index lists itself (the registry admin's, see
    :func:`registry.core.recall.withdrawn_versions`). 'latest' is the newest version that is
    not withdrawn (NotFoundError when every one is); a withdrawn version asked for by number,
    or reached through an alias, raises WithdrawnError unless ``allow_withdrawn``.
    """
    model_id = f"{doc['namespace']}/{doc['name']}"
    out = withdrawn_versions(doc, None, model_id)
    out.update(withdrawn or {})
    versions = doc["versions"]
    if revision in (None, "latest"):
        latest = latest_version(doc, out)
        if latest is None:
            raise NotFoundError(
                f"every version of {model_id} is withdrawn ({_reasons(out)}); "
                "pin one with --allow-withdrawn to take it anyway"
            )
        return latest
    assert revision is not None
    if revision in versions:
        version = revision
    elif revision in doc.get("aliases", {}):
        version = doc["aliases"][revision]
    else:
        what = f"version {revision}" if names.SEMVER_RE.match(revision) else f"version or alias {revision!r}"
        aliases = ", ".join(f"{a} -> {v}" for a, v in sorted(doc.get("aliases", {}).items()))
        raise NotFoundError(
            f"{model_id} has no {what}; published: {', '.join(versions)}" + (f"; aliases: {aliases}" if aliases else "")
        )
    w = out.get(version)
    if w is not None and not allow_withdrawn:
        via = "" if version == revision else f" (alias {revision!r} points to it)"
        raise WithdrawnError(
            f"{w.message(model_id)}{via}; pass --allow-withdrawn to take it anyway",
            ref=f"{model_id}@{revision}",
            version=version,
            reason=w.reason,
            use=w.use,
        )
    return version


def _reasons(withdrawn: Mapping[str, Withdrawal]) -> str:
    return "; ".join(f"{v}: {withdrawn[v].reason}" for v in sorted(withdrawn, key=names.version_key))
