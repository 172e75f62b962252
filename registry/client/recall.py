"""Withdraw (yank) a published version, or restore it: a publisher-signed change of the model's
versions index, and nothing else.

1. read the namespace role and the bin that lists ``<ns>/<model>/versions.json``, each checked
   to carry the publisher's own signature, and the index whose sha256 that bin signs;
2. build the new index: the version listed under ``"withdrawn"`` (aliases to it move to the
   replacement, or are removed), or taken off that list;
3. sign the bin with the publisher key, upload the index blob, POST /publish. The registry
   checks it again: it keeps every published version listed, and no file changes.
"""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tuf.api.metadata import TargetFile

from registry.core import keys, modelindex, names, recall, trust
from registry.core.errors import NotFoundError, UsageError
from registry.core.recall import Withdrawal

from .http import ApiClient, ClientConfig
from .upload import _listed_roles, _own_role, current_index, retry_stale, sign_and_post, upload_blobs

__all__ = ["RecallResult", "unyank", "yank"]

Change = Callable[[dict[str, Withdrawal], list[str]], dict[str, Withdrawal]]


@dataclass(frozen=True)
class RecallResult:
    """What :func:`yank` and :func:`unyank` did."""

    model: str  # ns/model
    version: str
    status: str  # "withdrawn", "restored" or "unchanged"
    withdrawal: Withdrawal | None  # the entry now signed, None after unyank
    aliases: dict[str, str]  # the aliases the signed index now holds
    latest: str | None  # what 'latest' resolves to now (None when every version is withdrawn)


def yank(
    ref: str | names.ModelRef,
    *,
    reason: str,
    use: str | None = None,
    registry: str,
    key_path: Path,
    token: str,
    config: ClientConfig = ClientConfig(),
) -> RecallResult:
    """Withdraw ``ns/model@version``: clients stop resolving 'latest' and aliases to it and
    refuse a pin of it, naming ``reason`` and ``use`` (a published version that is not
    withdrawn). Yanking a withdrawn version again replaces its reason and replacement.

    Raises UsageError (no version in the reference, a bad reason or replacement), NotFoundError,
    AuthError, SignatureError (the registry's roles are not signed by this key).
    """
    ref, version = _version_ref(ref)
    recall.check_reason(reason)
    if use is not None:
        names.check_version(use)

    def change(withdrawn: dict[str, Withdrawal], versions: list[str]) -> dict[str, Withdrawal]:
        old = withdrawn.get(version)
        if old is not None and (old.reason, old.use) == (reason, use):
            return withdrawn  # a retry, or the same yank again: nothing to sign
        entry = Withdrawal(version=version, reason=reason, use=use, at=trust.now(), by=recall.BY_PUBLISHER)
        return {**withdrawn, version: entry}

    return _change(ref, version, change, registry=registry, key_path=key_path, token=token, config=config)


def unyank(
    ref: str | names.ModelRef,
    *,
    registry: str,
    key_path: Path,
    token: str,
    config: ClientConfig = ClientConfig(),
) -> RecallResult:
    """Restore a version its publisher withdrew ('latest' may resolve to it again; aliases that
    moved away stay where they are). Raises as :func:`yank` does."""
    ref, version = _version_ref(ref)

    def change(withdrawn: dict[str, Withdrawal], versions: list[str]) -> dict[str, Withdrawal]:
        return {v: w for v, w in withdrawn.items() if v != version}

    return _change(ref, version, change, registry=registry, key_path=key_path, token=token, config=config)


def _version_ref(ref: str | names.ModelRef) -> tuple[names.ModelRef, str]:
    ref = names.ModelRef.parse(ref) if isinstance(ref, str) else ref
    if ref.revision is None or not names.SEMVER_RE.match(ref.revision):
        raise UsageError(f"name the version to withdraw or restore by number: {ref.id}@1.0.0, not {ref}")
    return ref, ref.revision


def _change(
    ref: names.ModelRef,
    version: str,
    change: Change,
    *,
    registry: str,
    key_path: Path,
    token: str,
    config: ClientConfig,
) -> RecallResult:
    signer = keys.load_signer(Path(key_path))
    api = ApiClient(registry, token=token, config=config)
    api.check_token(ref.namespace)
    return retry_stale(lambda: _change_once(api, ref, version, change, signer))


def _change_once(api: ApiClient, ref: names.ModelRef, version: str, change: Change, signer: Any) -> RecallResult:
    ns, model = ref.namespace, ref.model
    key = signer.public_key
    index_path = names.index_path(ns, model)
    ns_md = _own_role(api, ns, key)
    if ns_md is None:
        raise NotFoundError(f"nothing is published in namespace {ns!r}, so {ref} cannot be withdrawn")
    succinct = ns_md.signed.delegations.succinct_roles  # type: ignore[union-attr]
    assert succinct is not None
    existing = _listed_roles(api) & set(succinct.get_roles())
    bin_name = succinct.get_role_for_target(index_path)
    bin_md = _own_role(api, bin_name, key) if bin_name in existing else None
    bins = {bin_name: bin_md} if bin_md is not None else {}
    old = current_index(api, ns, model, bins, succinct)
    if old is None:
        raise NotFoundError(f"no model {ref.id} is published")
    if version not in old["versions"]:
        raise NotFoundError(f"{ref.id} has no version {version}; published: {', '.join(old['versions'])}")
    before = modelindex.publisher_withdrawals(old)
    after = change(dict(before), list(old["versions"]))
    data = modelindex.build_index(ns, model, old["versions"], old.get("aliases", {}), after)
    doc = modelindex.parse_index(data, ns, model)
    status = "unchanged"
    if after != before:
        info = TargetFile(len(data), {"sha256": hashlib.sha256(data).hexdigest()}, index_path)
        changed, new_paths = trust.plan_publish(ns_md, bins, {index_path: info}, key=key, existing=existing)
        if changed:
            with tempfile.TemporaryDirectory() as tmp:
                local = Path(tmp) / names.INDEX_FILE
                local.write_bytes(data)
                upload_blobs(api, new_paths, {index_path: info}, {index_path: local})
            sign_and_post(api, changed, signer, f"{ref.id}@{version}")
            status = "withdrawn" if version in after else "restored"
    try:
        latest: str | None = modelindex.resolve(doc, None)
    except NotFoundError:
        latest = None
    return RecallResult(ref.id, version, status, after.get(version), doc["aliases"], latest)
