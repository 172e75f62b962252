"""The one error hierarchy of edzoo.

Every error a user can cause or meet derives from :class:`EdzooError`. Each class carries
``code`` (a stable machine-readable string, also the ``error`` field of JSON error bodies),
``http_status`` (what the server answers) and ``exit_code`` (what the CLI exits with).
Errors that are also a builtin kind inherit it too, so callers can catch either.
"""

from __future__ import annotations

import errno
from datetime import datetime
from typing import NamedTuple


class EdzooError(Exception):
    """Root of every edzoo error."""

    code = "error"
    http_status = 500
    exit_code = 1

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class UsageError(EdzooError, ValueError):
    """A malformed argument or request: a name, a version, a JSON body."""

    code = "bad_request"
    http_status = 400
    exit_code = 2


class ManifestError(UsageError):
    """A manifest (or another data contract) does not validate."""

    code = "invalid_manifest"
    http_status = 422


class AuthError(EdzooError, PermissionError):
    """A missing or wrong upload token, or a namespace the caller does not own."""

    code = "unauthorized"
    http_status = 401
    exit_code = 3


class SignatureError(EdzooError):
    """Signed metadata failed to verify: wrong key, bad signature, rollback, freeze, outside
    the namespace, or a file whose length or hash differs from the signed one."""

    code = "verification_failed"
    http_status = 403
    exit_code = 4


class UntrustedMetadataError(SignatureError):
    """Metadata is not signed by the keys the trusted root names, or that root itself is not
    valid root metadata: it comes from another registry or was forged."""


class ExpiredMetadataError(SignatureError):
    """Signed metadata expired, beyond any grace allowed. ``role`` and ``expires`` (an aware
    datetime) say which and when, so callers explain it without reading the message."""

    def __init__(self, message: str, *, role: str, expires: datetime, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.role, self.expires = role, expires


class ConflictError(EdzooError):
    """Publishing would change something already published."""

    code = "conflict"
    http_status = 409
    exit_code = 5


class NotFoundError(EdzooError, LookupError):
    """A model, version, variant, blob or role that does not exist."""

    code = "not_found"
    http_status = 404
    exit_code = 6


class RoleNotInSnapshotError(NotFoundError):
    """Stored metadata delegates to ``role`` but the snapshot lists no version of it: nothing
    was ever published under it (a hash bin that no file falls in yet), so nothing it would
    sign exists. A NotFoundError, with the role as data."""

    def __init__(self, message: str, *, role: str, code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.role = role


class StorageError(EdzooError, OSError):
    """The blob store or the index failed (disk full, permissions, S3 error)."""

    code = "storage_error"
    http_status = 507
    exit_code = 7


class _DiskFailure(NamedTuple):
    code: str
    reason: str  # what happened, for a person
    remedy: str  # what usually fixes it


#: The storage failures a person can fix, by errno.
_DISK_FAILURES: dict[int, _DiskFailure] = {
    errno.ENOSPC: _DiskFailure(code="disk_full", reason="the disk is full", remedy="free some space"),
    errno.EDQUOT: _DiskFailure(code="disk_full", reason="the disk quota is used up", remedy="free some space"),
    errno.EROFS: _DiskFailure(code="read_only", reason="the file system is read-only", remedy="use a writable folder"),
    errno.EACCES: _DiskFailure(
        code="permission_denied",
        reason="permission denied",
        remedy="use a folder you may write to, or fix its permissions",
    ),
    errno.EPERM: _DiskFailure(
        code="permission_denied", reason="operation not permitted", remedy="use a folder you may write to"
    ),
}


def storage_error(e: OSError, what: str, *, or_else: str = "", then: str = "") -> StorageError:
    """The one mapping of an operating-system error to :class:`StorageError`: ``code`` is
    ``disk_full``, ``read_only``, ``permission_denied`` or ``storage_error``, decided on the
    errno, never on the text. ``what`` says what was being done (``writing the cache
    /home/x/.cache/edzoo``); ``or_else`` is a second remedy after the usual one (``use another
    cache: --cache DIR``); ``then`` says what state things are in (``nothing was changed``)."""
    known = _DISK_FAILURES.get(e.errno or 0)
    if known is None:
        reason = e.strerror or str(e) or type(e).__name__
        message = f"{what} failed: {reason}{f' ({e.filename})' if e.filename else ''}"
        code = "storage_error"
    else:
        code, reason, usual = known
        message = f"{what} failed: {reason}; {usual}{f', or {or_else}' if or_else else ''}"
    return StorageError(f"{message}{f'; {then}' if then else ''}", code=code)


class UnavailableError(StorageError):
    """A backing service (the object store, the database) did not answer; retry later."""

    code = "unavailable"
    http_status = 503


class DownloadError(EdzooError, ConnectionError):
    """The registry could not be reached or answered with an error."""

    code = "download_failed"
    http_status = 502
    exit_code = 8


class NotARegistryError(DownloadError):
    """The URL answered, but not as an edzoo registry: a captive portal's or a proxy's HTML
    page, a plain web server, or a path below the registry's base URL (``/api/v1``)."""

    code = "not_a_registry"


class OfflineError(EdzooError, FileNotFoundError):
    """Offline and the cache does not hold (a verified copy of) what was asked for."""

    code = "not_cached"
    http_status = 404
    exit_code = 9


class NoCompatibleVariantError(EdzooError):
    """No variant of a model version satisfies the device's hard constraints."""

    code = "no_compatible_variant"
    http_status = 422
    exit_code = 10


class WithdrawnError(EdzooError):
    """A version that its publisher (or the registry admin) withdrew by a signed change: asked
    for by an explicit pin, without ``allow_withdrawn``. Carries what a caller needs to move on."""

    code = "withdrawn"
    http_status = 410
    exit_code = 13

    def __init__(
        self,
        message: str,
        *,
        ref: str = "",
        version: str = "",
        reason: str = "",
        use: str | None = None,
        code: str | None = None,
    ) -> None:
        super().__init__(message, code=code)
        self.ref, self.version, self.reason, self.use = ref, version, reason, use

    def to_json(self) -> dict[str, str]:
        out = {**super().to_json(), "version": self.version, "reason": self.reason}
        if self.use:
            out["use"] = self.use
        return out


__all__ = [
    "AuthError",
    "ConflictError",
    "DownloadError",
    "EdzooError",
    "ExpiredMetadataError",
    "ManifestError",
    "NoCompatibleVariantError",
    "NotARegistryError",
    "NotFoundError",
    "OfflineError",
    "RoleNotInSnapshotError",
    "SignatureError",
    "StorageError",
    "UnavailableError",
    "UntrustedMetadataError",
    "UsageError",
    "WithdrawnError",
    "storage_error",
]
