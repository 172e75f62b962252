"""Publish a build directory: sign, on the publisher's machine, the roles that list its files.

1. read and validate the build directory (manifest, every file's sha256 and size);
2. fetch the publisher's current namespace role and the bins that will change, and check they
   carry the publisher's own signature (a registry cannot slip in other content); the snapshot
   tells which bins exist;
3. add the files and the updated versions index, bump versions, create every bin that does not
   exist yet (all of them on a first publish), sign with the publisher key;
4. upload the blobs the registry lacks, then the signed roles. The server checks it all again.
"""

from __future__ import annotations

import hashlib
import random
import tempfile
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from securesystemslib.exceptions import UnverifiedSignatureError
from securesystemslib.signer import Key
from tuf.api.exceptions import LengthOrHashMismatchError
from tuf.api.metadata import Metadata, Snapshot, SuccinctRoles, TargetFile, Targets, Timestamp

from registry.core import keys, modelindex, names, trust
from registry.core import manifest as manifests
from registry.core.errors import ConflictError, SignatureError, UsageError

from .http import ApiClient, ClientConfig

__all__ = ["PublishResult", "current_index", "publish", "retry_stale", "sign_and_post", "upload_blobs"]

ProgressFactory = Callable[[str, int], Any]
STALE_RETRIES = 8
T = TypeVar("T")


@dataclass(frozen=True)
class PublishResult:
    model: str
    version: str
    status: str  # "published" or "unchanged"
    uploaded: tuple[str, ...]  # target paths whose blobs were sent
    roles: tuple[str, ...]
    aliases: dict[str, str]


def _own_role(api: ApiClient, name: str, key: Key) -> Metadata[Targets] | None:
    data = api.get_bytes(f"/roles/{name}")
    if data is None:
        return None
    md = trust.parse_metadata(data, name, Targets.type)
    sig = md.signatures.get(key.keyid)
    if sig is None:
        raise SignatureError(
            f"role {name} on the registry is not signed by your key {key.keyid[:12]}…: publish with "
            "the key registered for this namespace"
        )
    try:
        key.verify_signature(sig, md.signed_bytes)
    except UnverifiedSignatureError as e:
        raise SignatureError(f"the registry returned role {name} with a bad signature") from e
    return md


def _listed_roles(api: ApiClient) -> set[str]:
    """Names of the roles the registry's current snapshot lists. Read without verification: it
    only tells which bins exist, and the registry checks every role it is sent again."""
    timestamp = trust.parse_metadata(api.get_bytes_raw("/tuf/metadata/timestamp.json"), "timestamp", Timestamp.type)
    version = timestamp.signed.snapshot_meta.version
    snapshot = trust.parse_metadata(
        api.get_bytes_raw(f"/tuf/metadata/{version}.snapshot.json"), "snapshot", Snapshot.type
    )
    return {name.removesuffix(".json") for name in snapshot.signed.meta}


def publish(
    build_dir: Path,
    *,
    registry: str,
    key_path: Path,
    token: str,
    aliases: Iterable[str] = (),
    config: ClientConfig = ClientConfig(),
    progress: ProgressFactory | None = None,
) -> PublishResult:
    """Publish ``build_dir`` to ``registry`` as its manifest's namespace/name@version.

    ``aliases`` move named aliases (``stable``) to this version. Raises ManifestError for a bad
    build directory, ConflictError if the version exists with other bytes, AuthError for a bad
    token, SignatureError if the registry rejects the signature.
    """
    build = manifests.read_build_dir(Path(build_dir))
    alias_names = [names.check_alias(a) for a in aliases]
    signer = keys.load_signer(Path(key_path))
    api = ApiClient(registry, token=token, config=config)
    api.check_token(build.namespace)
    return retry_stale(lambda: _publish_once(api, build, signer, alias_names, progress))


def retry_stale(attempt: Callable[[], T]) -> T:
    """Run ``attempt`` (read the roles, sign, post) again while the registry answers 409
    stale_role: another publish in the same namespace landed between reading the roles and
    posting the new ones, so they are read and signed again."""
    for n in range(STALE_RETRIES + 1):
        try:
            return attempt()
        except ConflictError as e:
            if e.code != "stale_role" or n == STALE_RETRIES:
                raise
            time.sleep(random.uniform(0.05, 0.2) * (n + 1))
    raise AssertionError("unreachable")


def current_index(
    api: ApiClient, ns: str, model: str, bins: Mapping[str, Metadata[Targets]], succinct: SuccinctRoles
) -> dict[str, Any] | None:
    """The model's versions index as the publisher's own roles (``bins``, read with
    :func:`_own_role`) sign it, or None before its first version. Raises SignatureError when
    the registry's bytes differ from the signed ones."""
    index_path = names.index_path(ns, model)
    index_bin = bins.get(succinct.get_role_for_target(index_path))
    info = index_bin.signed.targets.get(index_path) if index_bin else None
    if info is None:
        return None
    data = api.get_bytes_raw(f"/tuf/targets/{ns}/{model}/{info.hashes['sha256']}.{names.INDEX_FILE}")
    try:
        info.verify_length_and_hashes(data)
    except LengthOrHashMismatchError as e:
        raise SignatureError(f"the registry sent {index_path} with other bytes than your role signs: {e}") from e
    return modelindex.parse_index(data, ns, model)


def upload_blobs(
    api: ApiClient,
    paths: Iterable[str],
    files: Mapping[str, TargetFile],
    local: Mapping[str, Path],
    progress: ProgressFactory | None = None,
) -> list[str]:
    """Upload the blobs of ``paths`` the registry lacks; returns the paths whose blob was sent."""
    uploaded = []
    for path in paths:
        info = files[path]
        sha = info.hashes["sha256"]
        if api.has_blob(sha, info.length):
            continue
        if progress is not None:
            with progress(path.rsplit("/", 1)[-1], info.length) as bar:
                api.upload_blob(local[path], sha, info.length, bar.update)
        else:
            api.upload_blob(local[path], sha, info.length)
        uploaded.append(path)
    return uploaded


def sign_and_post(api: ApiClient, changed: Mapping[str, Metadata[Targets]], signer: Any, what: str) -> dict[str, Any]:
    """Sign ``changed`` with the publisher key and POST them to /publish; returns the answer.
    A ConflictError keeps its code (stale_role) and names ``what``."""
    roles = {}
    for name, md in changed.items():
        trust.sign(md, [signer])
        roles[name] = md.to_dict()
    try:
        result: dict[str, Any] = api.post_json("/publish", {"roles": roles})
    except ConflictError as e:
        raise ConflictError(f"{what}: {e.message}", code=e.code) from e
    return result


def _publish_once(
    api: ApiClient,
    build: manifests.BuildDir,
    signer: Any,
    alias_names: list[str],
    progress: ProgressFactory | None,
) -> PublishResult:
    ns, model, version = build.namespace, build.name, build.version
    key = signer.public_key

    ns_md = _own_role(api, ns, key)

    files: dict[str, TargetFile] = {}
    local: dict[str, Path] = {}
    for f in build.files:
        path = names.target_path(ns, model, version, f.path)
        files[path] = TargetFile(f.size, {"sha256": f.sha256}, path)
        local[path] = f.local

    # The bins that will hold this version's files and the model's versions index.
    index_path = names.index_path(ns, model)
    bins: dict[str, Metadata[Targets]] = {}
    existing: set[str] = set()
    old_index = None
    if ns_md is not None:
        succinct = ns_md.signed.delegations.succinct_roles  # type: ignore[union-attr]
        assert succinct is not None
        # A namespace first published before every bin was created lacks some: plan_publish
        # creates the bins the snapshot does not list.
        existing = _listed_roles(api) & set(succinct.get_roles())
        for name in {succinct.get_role_for_target(p) for p in [*files, index_path]} & existing:
            md = _own_role(api, name, key)
            if md is not None:
                bins[name] = md
        old_index = current_index(api, ns, model, bins, succinct)
    versions = set(old_index["versions"]) if old_index else set()
    new_aliases = {**(old_index or {}).get("aliases", {}), **{a: version for a in alias_names}}
    withdrawn = modelindex.publisher_withdrawals(old_index) if old_index else {}
    index_bytes = modelindex.build_index(ns, model, [*versions, version], new_aliases, withdrawn)
    files[index_path] = TargetFile(len(index_bytes), {"sha256": hashlib.sha256(index_bytes).hexdigest()}, index_path)

    changed, new_paths = trust.plan_publish(ns_md, bins, files, key=key, existing=existing)
    ref = f"{ns}/{model}@{version}"
    if not changed and ns_md is not None:  # (without a namespace role, it is among the changed)
        # The namespace role re-sent as stored (a no-op there): a retry after a publish whose
        # commit failed completes it on the registry.
        api.post_json("/publish", {"roles": {ns: ns_md.to_dict()}})
        return PublishResult(ref.split("@")[0], version, "unchanged", (), (), new_aliases)

    with tempfile.TemporaryDirectory() as tmp:
        index_file = Path(tmp) / names.INDEX_FILE
        index_file.write_bytes(index_bytes)
        local[index_path] = index_file
        uploaded = upload_blobs(api, new_paths, files, local, progress)

    result = sign_and_post(api, changed, signer, ref)
    return PublishResult(
        f"{ns}/{model}", version, result["status"], tuple(uploaded), tuple(sorted(changed)), new_aliases
    )


def check_build(build_dir: Path) -> manifests.BuildDir:
    """Validate a build directory without publishing (``edzoo publish --dry-run``)."""
    build = manifests.read_build_dir(Path(build_dir))
    if not build.files:
        raise UsageError(f"{build_dir} holds no files")
    return build
