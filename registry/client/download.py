"""Pull a model variant: TUF-verified, cached by content, usable offline.

Online, python-tuf's ``Updater`` walks root → timestamp → snapshot → targets → the publisher's
namespace role → the bin that lists the file, and verifies every file's length and sha256
before it enters the cache. Offline, :class:`registry.core.offline.OfflineVerifier` re-checks
the stored metadata and the cached bytes.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from tuf.api import exceptions as tuf_exceptions
from tuf.api.metadata import Metadata, Root, TargetFile
from tuf.ngclient import Updater, UpdaterConfig

from registry.core import manifest as manifests
from registry.core import modelindex, names, recall
from registry.core._internal import faults
from registry.core.errors import (
    DownloadError,
    EdzooError,
    NotFoundError,
    OfflineError,
    SignatureError,
    UsageError,
    WithdrawnError,
)
from registry.core.model import Manifest
from registry.core.offline import OfflineVerifier, cached_metadata_reader
from registry.core.recall import Withdrawal
from registry.core.select import POLICIES, Choice, Policy, policy_for_device, select
from registry.core.truststore import TrustStore
from registry.core.units import format_age

from .cache import Cache, RegistryCache, default_cache_dir
from .catalog import suggest, suggest_cached
from .http import USER_AGENT, ApiClient, ClientConfig, ProgressFetcher, network_error, not_a_registry
from .transfer import download_target

__all__ = ["PullResult", "Puller", "pull"]

DEFAULT_GRACE = timedelta(days=14)
ProgressFactory = Callable[[str, int], Any]  # (description, total bytes) -> context with update(n)


@dataclass(frozen=True)
class PullResult:
    """What :func:`pull` returns: a verified file and where it came from."""

    model: str
    version: str
    variant: str
    path: Path  # models/<ns>/<model>/<version>/<file> in the cache (a symlink to the blob)
    blob: Path
    sha256: str
    size: int
    manifest: dict[str, Any] = field(repr=False)
    registry: str = ""
    downloaded: bool = False
    offline: bool = False
    expired_roles: tuple[str, ...] = ()
    choice: Choice | None = field(default=None, repr=False)  # set when a device chose the variant
    policy: str | None = None  # the policy's name, and why it applies
    server_agreed: bool | None = None  # None: the registry made no suggestion
    withdrawn: Withdrawal | None = None  # set when allow_withdrawn handed out a withdrawn version
    fallback: str | None = None  # why the registry was not used and how old the cached copy is

    def to_json(self) -> dict[str, Any]:
        """What ``edzoo pull --json`` prints (the manifest left out: it is in the cache)."""
        return {
            "model": self.model,
            "version": self.version,
            "variant": self.variant,
            "path": str(self.path),
            "blob": str(self.blob),
            "sha256": self.sha256,
            "size": self.size,
            "downloaded": self.downloaded,
            "offline": self.offline,
            "expired_roles": list(self.expired_roles),
            "policy": self.policy,
            "choice": self.choice.to_json() if self.choice else None,
            "server_agreed": self.server_agreed,
            "withdrawn": self.withdrawn.to_json() if self.withdrawn else None,
            "fallback": self.fallback,
        }


class _Source(Protocol):
    def info(self, path: str) -> TargetFile: ...

    def fetch(self, path: str) -> tuple[Path, TargetFile, bool]: ...

    @property
    def bytes_downloaded(self) -> int: ...


def _map_tuf_error(e: Exception, what: str, registry: str = "", timeout_s: float = 0.0) -> EdzooError:
    if isinstance(e, tuf_exceptions.DownloadLengthMismatchError):
        return SignatureError(f"{what}: the registry sent more bytes than the signed length (endless data): {e}")
    if isinstance(e, tuf_exceptions.BadVersionNumberError):
        return SignatureError(f"{what}: rollback detected, the registry offered older metadata: {e}")
    if isinstance(e, tuf_exceptions.ExpiredMetadataError):
        return SignatureError(f"{what}: the registry's metadata has expired (frozen or stale mirror): {e}")
    if isinstance(e, tuf_exceptions.LengthOrHashMismatchError):
        return SignatureError(f"{what}: downloaded bytes do not match their signed length and sha256: {e}")
    if isinstance(e, tuf_exceptions.UnsignedMetadataError):
        return SignatureError(f"{what}: metadata is not signed by the trusted keys: {e}")
    if isinstance(e, tuf_exceptions.RepositoryError):
        return SignatureError(f"{what}: metadata failed verification: {e}")
    if isinstance(e, tuf_exceptions.DownloadHTTPError):
        if e.status_code == 404:
            return NotFoundError(f"{what}: the registry has no such file (HTTP 404)")
        return DownloadError(f"{what}: the registry answered HTTP {e.status_code}")
    named = network_error(e, registry, timeout_s) if registry else None
    if named is not None:
        return named
    if isinstance(e, tuf_exceptions.DownloadError):
        cause = e.__cause__ or e
        return DownloadError(f"{what}: download failed: {cause}")
    return DownloadError(f"{what}: {e}")


class _Updater(Updater):
    """python-tuf's updater, without rewriting the trusted root at every start: it persists the
    root it was given even when ``root_history/N.root.json`` already holds those exact bytes
    (half a millisecond of a warm pull). Verification is python-tuf's, unchanged."""

    def _persist_root(self, version: int, data: bytes) -> None:
        with contextlib.suppress(OSError):
            if (Path(self._dir) / "root_history" / f"{version}.root.json").read_bytes() == data:
                return
        super()._persist_root(version, data)


class _Online:
    def __init__(
        self, reg: RegistryCache, bootstrap: bytes, config: ClientConfig, progress: ProgressFactory | None
    ) -> None:
        self.reg = reg
        self.config = config
        self.fetcher = ProgressFetcher(config)
        self.progress = progress
        self._consistent: bool | None = None
        with reg.cache.writing():
            reg.metadata_dir.mkdir(parents=True, exist_ok=True)
            faults.point("cache:metadata")
            try:
                self.updater = _Updater(
                    metadata_dir=str(reg.metadata_dir),
                    metadata_base_url=f"{reg.url}/tuf/metadata/",
                    target_base_url=f"{reg.url}/tuf/targets/",
                    fetcher=self.fetcher,
                    config=UpdaterConfig(app_user_agent=USER_AGENT),
                    bootstrap=bootstrap,
                )
                self.updater.refresh()
            except tuf_exceptions.DownloadHTTPError as e:
                if e.status_code != 404:
                    raise self._error(e, f"refreshing metadata from {reg.url}") from e
                raise not_a_registry(reg.url, "it has no /tuf/metadata/timestamp.json (HTTP 404)") from e
            except (tuf_exceptions.RepositoryError, tuf_exceptions.DownloadError) as e:
                raise self._error(e, f"refreshing metadata from {reg.url}") from e
            except ValueError as e:
                raise SignatureError(f"the trusted root is not valid TUF root metadata: {e}") from e
        reg.mark_refreshed()

    def _error(self, e: Exception, what: str) -> EdzooError:
        return _map_tuf_error(e, what, self.reg.url, self.config.timeout_s)

    @property
    def bytes_downloaded(self) -> int:
        return int(self.fetcher.bytes_downloaded)

    def info(self, path: str) -> TargetFile:
        try:
            with self.reg.cache.writing():
                info = self.updater.get_targetinfo(path)
        except (tuf_exceptions.RepositoryError, tuf_exceptions.DownloadError) as e:
            raise self._error(e, path) from e
        if info is None:
            raise NotFoundError(f"{path} is not published in {self.reg.url}")
        return info  # type: ignore[no-any-return]

    def fetch(self, path: str) -> tuple[Path, TargetFile, bool]:
        info = self.info(path)
        cache = self.reg.cache
        sha = info.hashes["sha256"]
        blob = cache.verified_blob(sha, info.length)
        if blob is not None:
            return blob, info, False
        with cache.writing():
            bar = self.progress(path.rsplit("/", 1)[-1], info.length) if self.progress else contextlib.nullcontext()
            try:
                with bar as b:
                    return (
                        download_target(
                            self.fetcher,
                            self._target_url(info),
                            info,
                            cache,
                            registry=self.reg.url,
                            on_progress=b.update if b is not None else None,
                        ),
                        info,
                        True,
                    )
            except (tuf_exceptions.RepositoryError, tuf_exceptions.DownloadError) as e:
                raise self._error(e, path) from e

    def _target_url(self, info: TargetFile) -> str:
        """Where the registry serves a target: ``<folder>/<sha256>.<name>`` with consistent
        snapshots (the verified root says), as python-tuf's updater would ask for it."""
        if self._consistent is None:
            root = Metadata[Root].from_bytes((self.reg.metadata_dir / "root.json").read_bytes())
            self._consistent = bool(root.signed.consistent_snapshot)
        folder, sep, name = info.path.rpartition("/")
        return (
            f"{self.reg.url}/tuf/targets/{folder}{sep}{info.hashes['sha256'] + '.' if self._consistent else ''}{name}"
        )


class _Offline:
    def __init__(self, reg: RegistryCache, trusted_root: bytes, grace: timedelta) -> None:
        self.reg = reg
        if not (reg.metadata_dir / "timestamp.json").exists():
            raise OfflineError(f"nothing from {reg.url} is cached yet; pull once while online")
        self.verifier = OfflineVerifier(cached_metadata_reader(reg.metadata_dir), trusted_root, grace)

    bytes_downloaded = 0

    def info(self, path: str) -> TargetFile:
        try:
            return self.verifier.target_info(path)
        except OfflineError as e:
            raise OfflineError(f"{path} was never pulled from {self.reg.url}; pull it once while online") from e

    def fetch(self, path: str) -> tuple[Path, TargetFile, bool]:
        info = self.info(path)
        blob = self.reg.cache.blob_path(info.hashes["sha256"])
        try:
            with open(blob, "rb") as f:
                self.verifier.verify_file(path, f)
        except FileNotFoundError as e:
            raise OfflineError(f"{path} is signed but not in the cache; pull it once while online") from e
        return blob, info, False


def cache_trust(reg: RegistryCache) -> TrustStore:
    """The root a cache trusts for ``reg``: pinned in ``pinned-root.json``; python-tuf's updater
    keeps the chain it verified from there in ``metadata/root_history``."""
    pinned = reg.root / "pinned-root.json"
    return TrustStore(
        pinned,
        reg.metadata_dir / "root_history",
        first_use=f"no trusted root for {reg.url}: pass --root root.json (from `edzoo trust export`) the first time",
        other_root=f"the root given differs from the root pinned for {reg.url} ({pinned}); remove that cache "
        "folder to trust a new registry",
    )


class Puller:
    """Pull several things from one registry with one metadata refresh."""

    def __init__(
        self,
        registry: str,
        *,
        root: bytes | Path | None = None,
        cache_dir: Path | None = None,
        offline: bool = False,
        grace: timedelta = DEFAULT_GRACE,
        config: ClientConfig = ClientConfig(),
        progress: ProgressFactory | None = None,
        fallback: bool = False,
    ) -> None:
        """``fallback``: when the registry cannot be reached (a DownloadError: refused, timed out,
        a captive portal, an HTTP 5xx) and the cache holds its metadata, serve the verified cached
        copy instead, as ``offline`` does; :attr:`fell_back` then says why and how old it is. Off
        by default here (a mirror's sync or a bundle must not quietly use an old copy); on in
        :func:`pull`."""
        if not registry.startswith(("http://", "https://")):
            raise UsageError(f"registry URL must start with http:// or https://, got {registry!r}")
        self.cache = Cache(cache_dir or default_cache_dir())
        with self.cache.writing():
            self.reg = self.cache.registry(registry)
        self.offline = offline
        self.config = config
        self.fell_back: str | None = None
        self._indexes: dict[str, dict[str, Any]] = {}
        self._admin_withdrawals: dict[str, dict[str, Withdrawal]] | None = None
        self.trust = cache_trust(self.reg)
        trusted = self.trust.trusted(root)
        with self.cache.writing():
            self.trust.pin(trusted)
        self.source: _Source
        if offline:
            self.source = _Offline(self.reg, trusted, grace)
            return
        current = self.reg.metadata_dir / "root.json"
        bootstrap = current.read_bytes() if current.exists() else trusted
        try:
            self.source = _Online(self.reg, bootstrap, config, progress)
        except DownloadError as e:
            if not fallback or not (self.reg.metadata_dir / "timestamp.json").exists():
                raise
            self.source = _Offline(self.reg, trusted, grace)
            self.offline = True
            self.fell_back = f"{e.message}; serving the verified copy in the cache ({self._age()}; --no-fallback fails)"

    def _age(self) -> str:
        when = self.reg.refreshed()
        if when is None:
            return "metadata refreshed at an unknown time"
        age = format_age((datetime.now(UTC) - when).total_seconds())
        return f"metadata last refreshed {age} ago, {when:%Y-%m-%d %H:%M} UTC"

    # -- the public API that schools (bundles, plans, the mirror) build on -------------------------
    def target_info(self, path: str) -> TargetFile:
        """The signed length and hashes of target ``path``, from verified metadata, without
        downloading the file. NotFoundError when the registry does not publish it; offline,
        OfflineError when the stored metadata never covered it."""
        return self.source.info(path)

    def fetch(self, path: str) -> tuple[Path, TargetFile, bool]:
        """Target ``path`` as a verified file in the cache: ``(blob, signed info, downloaded)``;
        a blob already cached (and matching its hash) is not downloaded again. The cache links
        it under ``models/<path>``, so `edzoo cache prune` keeps it."""
        blob, info, downloaded = self.source.fetch(path)
        with self.cache.writing():
            self.reg.link(path, info.hashes["sha256"])
        return blob, info, downloaded

    @property
    def bytes_downloaded(self) -> int:
        """Bytes this Puller received from the registry (metadata and targets); 0 offline."""
        return self.source.bytes_downloaded

    @property
    def urls_fetched(self) -> tuple[str, ...]:
        """Every URL this Puller fetched, in order (metadata and targets); none offline."""
        fetcher = getattr(self.source, "fetcher", None)
        return tuple(fetcher.urls) if isinstance(fetcher, ProgressFetcher) else ()

    @property
    def registry_url(self) -> str:
        """The registry's URL as the cache records it (no trailing slash)."""
        return self.reg.url

    @property
    def metadata_dir(self) -> Path:
        """The folder of this registry's verified TUF metadata, as python-tuf's updater keeps it
        (``root_history/``, ``timestamp.json``, ``snapshot.json``, one file per role)."""
        return self.reg.metadata_dir

    def cached_blob(self, sha256: str, size: int) -> Path | None:
        """The cache's blob of ``sha256`` when it holds one of ``size`` bytes, else None. Not
        hashed here: :meth:`fetch` verifies; a caller that reads the file checks it itself."""
        return self.cache.blob_path(sha256) if self.cache.has_blob(sha256, size) else None

    @property
    def trusted_root(self) -> bytes:
        """The newest root this cache verified for the registry (the pinned one before any
        rotation): what verifying its stored metadata offline starts from."""
        return self.trust.trusted(None)

    def _index(self, ref: names.ModelRef) -> dict[str, Any]:
        """The model's verified versions index (read once per Puller, like the metadata)."""
        if ref.id not in self._indexes:
            path = names.index_path(ref.namespace, ref.model)
            try:
                blob, _, _ = self.fetch(path)
            except NotFoundError as e:
                if self.offline:
                    close = suggest_cached(self.reg, ref.id)
                else:
                    close = suggest(self.reg.url, ref.id, cache=self.cache, config=self.config)
                hint = f"; did you mean {' or '.join(close)}?" if close else "; `edzoo search` lists what it holds"
                raise NotFoundError(f"no model {ref.id} in {self.reg.url}{hint}") from e
            except OfflineError as e:
                close = suggest_cached(self.reg, ref.id)
                hint = f"; the cache holds {' and '.join(close)}" if close else ""
                raise OfflineError(f"{e.message}{hint}") from e
            self._indexes[ref.id] = modelindex.parse_index(blob.read_bytes(), ref.namespace, ref.model)
        return self._indexes[ref.id]

    def _registry_withdrawals(self) -> dict[str, dict[str, Withdrawal]]:
        """The registry admin's verified list (``withdrawals.json``), empty when it has none."""
        if self._admin_withdrawals is None:
            try:
                blob, _, _ = self.fetch(recall.WITHDRAWALS_PATH)
            except NotFoundError:
                self._admin_withdrawals = {}
            else:
                self._admin_withdrawals = recall.parse_withdrawals(blob.read_bytes())
        return self._admin_withdrawals

    def withdrawn(self, ref: names.ModelRef) -> dict[str, Withdrawal]:
        """The withdrawn versions of ``ref``'s model, from verified metadata (online, or offline
        as the cache last saw it): its publisher's and the registry admin's."""
        return recall.withdrawn_versions(self._index(ref), self._registry_withdrawals(), ref.id)

    def resolve(self, ref: names.ModelRef, *, allow_withdrawn: bool = False) -> str:
        """A version number for ``ref`` from the publisher-signed versions index. 'latest' and
        aliases never resolve to a withdrawn version; a pin of one raises WithdrawnError (with
        the reason and the version to use) unless ``allow_withdrawn``. A pinned version is
        checked too, so the index is read for every reference."""
        return modelindex.resolve(
            self._index(ref), ref.revision, withdrawn=self.withdrawn(ref), allow_withdrawn=allow_withdrawn
        )

    def manifest(self, ref: names.ModelRef, version: str) -> tuple[dict[str, Any], bool]:
        path = names.target_path(ref.namespace, ref.model, version, names.MANIFEST_FILE)
        try:
            blob, info, downloaded = self.fetch(path)
        except NotFoundError as e:
            raise NotFoundError(f"no version {version} of {ref.id} in {self.reg.url}") from e
        doc = manifests.parse_manifest(blob.read_bytes())
        if (doc["namespace"], doc["name"], doc["version"]) != (ref.namespace, ref.model, version):
            raise SignatureError(f"the manifest at {path} describes another model")
        return doc, downloaded

    def choose(
        self,
        ref: str | names.ModelRef,
        device: dict[str, Any],
        policy: Policy | str | None = None,
        *,
        allow_withdrawn: bool = False,
    ) -> tuple[str, dict[str, Any], Choice, str]:
        """Choose a variant for ``device`` from the signed manifest, without downloading it.

        Returns ``(version, manifest, choice, "policy name: why")``. Raises
        NoCompatibleVariantError listing each variant's rejection, WithdrawnError as
        :meth:`resolve` does.
        """
        ref = names.ModelRef.parse(ref) if isinstance(ref, str) else ref
        version = self.resolve(ref, allow_withdrawn=allow_withdrawn)
        doc, _ = self.manifest(ref, version)
        name, resolved, why = _policy(policy, device)
        return version, doc, select(doc, device, resolved), f"{name} ({why})"

    def server_suggestion(
        self, ref: names.ModelRef, version: str, device: dict[str, Any], policy: Policy | str | None
    ) -> dict[str, Any] | None:
        """What the registry suggests for this device, or None when it cannot say (an older
        registry, a network error). Only ever compared, never trusted."""
        _, resolved, _ = _policy(policy, device)
        api = ApiClient(self.reg.url, config=self.config)
        try:
            return api.post_json(
                f"/models/{ref.namespace}/{ref.model}/resolve",
                {"profile": device, "policy": resolved.to_dict(), "version": version},
            )
        except EdzooError:
            return None

    def pull(
        self,
        ref: str | names.ModelRef,
        *,
        variant: str | None = None,
        device: dict[str, Any] | None = None,
        policy: Policy | str | None = None,
        allow_withdrawn: bool = False,
    ) -> PullResult:
        """Pull ``ref`` (see :func:`pull`); ``allow_withdrawn`` takes a withdrawn version that is
        pinned or aliased (PullResult.withdrawn then says why it was withdrawn)."""
        ref = names.ModelRef.parse(ref) if isinstance(ref, str) else ref
        choice = policy_text = agreed = None
        if device is not None and variant is None:
            version, doc, choice, policy_text = self.choose(ref, device, policy, allow_withdrawn=allow_withdrawn)
            chosen = choice.variant
            if not self.offline:
                suggestion = self.server_suggestion(ref, version, device, policy)
                if suggestion is not None:
                    agreed = (suggestion.get("version"), suggestion.get("variant")) == (version, choice.variant_id)
                    if not agreed:
                        raise SignatureError(
                            f"the registry suggested {suggestion.get('variant')} of {suggestion.get('version')}, "
                            f"but the signed manifest gives {choice.variant_id} of {version} for this device: "
                            "refusing the registry's suggestion"
                        )
        else:
            version = self.resolve(ref, allow_withdrawn=allow_withdrawn)
            doc, _ = self.manifest(ref, version)
            model = Manifest.from_dict(doc)
            chosen = manifests.variant_by_id(model, variant) if variant else model.variants[0]
        path = names.target_path(ref.namespace, ref.model, version, chosen.file)
        blob, info, downloaded = self.source.fetch(path)
        sha = info.hashes["sha256"]
        if sha != chosen.sha256 or info.length != chosen.size:
            raise SignatureError(f"{path}: the signed hash differs from the one in its manifest")
        with self.cache.writing():
            link = self.reg.link(path, sha)
        return PullResult(
            model=ref.id,
            version=version,
            variant=chosen.id,
            path=link,
            blob=blob,
            sha256=sha,
            size=info.length,
            manifest=doc,
            registry=self.reg.url,
            downloaded=downloaded,
            offline=self.offline,
            expired_roles=tuple(getattr(getattr(self.source, "verifier", None), "expired", ())),
            choice=choice,
            policy=policy_text,
            server_agreed=agreed,
            withdrawn=self.withdrawn(ref).get(version),
            fallback=self.fell_back,
        )


def policy_json(policy: Policy | str | None, device: dict[str, Any]) -> dict[str, Any]:
    """The policy that applies to ``device`` as data, in the shape the registry's resolve
    answer uses: ``{"name", "why", ...the policy's fields}``."""
    name, resolved, why = _policy(policy, device)
    return {"name": name, "why": why, **resolved.to_dict()}


def _policy(policy: Policy | str | None, device: dict[str, Any]) -> tuple[str, Policy, str]:
    """(name, policy, why) for an app's policy: a Policy, a preset name, or None (the device's
    default)."""
    if policy is None:
        return policy_for_device(device)
    if isinstance(policy, Policy):
        return "custom", policy, "set by the app"
    if policy not in POLICIES:
        raise UsageError(f"unknown policy {policy!r}; presets: {', '.join(POLICIES)} (or a policy JSON file)")
    return policy, POLICIES[policy], "asked for"


def pull(
    ref: str | names.ModelRef,
    *,
    registry: str,
    root: bytes | Path | None = None,
    variant: str | None = None,
    device: dict[str, Any] | None = None,
    policy: Policy | str | None = None,
    cache_dir: Path | None = None,
    offline: bool = False,
    grace: timedelta = DEFAULT_GRACE,
    config: ClientConfig = ClientConfig(),
    progress: ProgressFactory | None = None,
    allow_withdrawn: bool = False,
    fallback: bool = True,
) -> PullResult:
    """Pull ``namespace/model[@version|@alias]`` and return the verified, cached file.

    'latest' and aliases never resolve to a withdrawn version; a pin of one raises
    WithdrawnError (reason, version to use) unless ``allow_withdrawn``. A registry that cannot
    be reached falls back to the verified cached copy (``PullResult.fallback`` says why, and how
    old its metadata is) unless ``fallback`` is False. Raises NotFoundError, SignatureError (any
    failed verification: nothing unverified is left in the cache), DownloadError (NotARegistryError
    for a URL that answers but is no registry), StorageError (a cache that cannot be written),
    OfflineError, UsageError.
    """
    puller = Puller(
        registry,
        root=root,
        cache_dir=cache_dir,
        offline=offline,
        grace=grace,
        config=config,
        progress=progress,
        fallback=fallback,
    )
    return puller.pull(ref, variant=variant, device=device, policy=policy, allow_withdrawn=allow_withdrawn)


def verify_cached(
    path: Path, *, cache_dir: Path | None = None, grace: timedelta = DEFAULT_GRACE, allow_withdrawn: bool = False
) -> tuple[str, TargetFile, list[str]]:
    """Re-check a file under the cache's ``models/`` tree against the stored signed metadata.

    Returns ``(target path, signed info, roles accepted within the grace window)``. Raises
    SignatureError when the file differs from its signed hash, WithdrawnError when it is
    authentic but belongs to a version that the stored metadata withdraws (unless
    ``allow_withdrawn``).
    """
    cache = Cache(cache_dir or default_cache_dir())
    path = Path(path)
    reg = cache.registry_containing(path)
    if reg is None:
        raise UsageError(
            f"{path} is not a pulled file in the cache {cache.root} (expected a path under "
            "registries/<registry>/models/)"
        )
    target = reg.target_of(path)
    assert target is not None
    verifier = OfflineVerifier(cached_metadata_reader(reg.metadata_dir), cache_trust(reg).trusted(None), grace)
    try:
        with open(os.path.realpath(path), "rb") as f:
            info = verifier.verify_file(target, f)
    except FileNotFoundError as e:
        raise OfflineError(f"{path}: the cached file is missing") from e
    try:
        t: names.TargetName | None = names.TargetName.parse(target)
    except UsageError:
        t = None  # a registry-wide file (withdrawals.json): no version to be withdrawn
    if t is not None and t.version is not None and not allow_withdrawn:
        ref = names.ModelRef(t.namespace, t.model, t.version)
        try:
            withdrawn = Puller(reg.url, cache_dir=cache.root, offline=True, grace=grace).withdrawn(ref)
        except (OfflineError, NotFoundError):
            withdrawn = {}  # no versions index in the cache: nothing it holds withdraws the version
        w = withdrawn.get(t.version)
        if w is not None:
            raise WithdrawnError(
                f"{path}: the file is authentic, but {w.message(ref.id)}",
                ref=str(ref),
                version=t.version,
                reason=w.reason,
                use=w.use,
            )
    return target, info, verifier.expired
