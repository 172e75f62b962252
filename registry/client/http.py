"""HTTP for the client: a TUF fetcher with progress and retries, and a small JSON API client."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import urllib3
from tuf.api import exceptions as tuf_exceptions
from tuf.ngclient import Urllib3Fetcher

from registry.core.errors import (
    AuthError,
    ConflictError,
    DownloadError,
    EdzooError,
    ManifestError,
    NoCompatibleVariantError,
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
    UnavailableError,
    UsageError,
    WithdrawnError,
)

__all__ = ["ApiClient", "ClientConfig", "ProgressFetcher"]

USER_AGENT = "edzoo/0.1"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ClientConfig:
    """Network limits of the client, with their defaults."""

    timeout_s: float = 30.0
    retries: int = 3  # extra attempts for a connection error or a 5xx, with backoff
    backoff_s: float = 0.5
    chunk_size: int = 1 << 20


class ProgressFetcher(Urllib3Fetcher):
    """python-tuf's urllib3 fetcher, retrying connection failures and reporting progress.

    Before a download, set ``on_progress`` to a callable that receives each chunk's size; the
    updater still checks every length and hash (retries never bypass verification).
    """

    def __init__(self, config: ClientConfig) -> None:
        super().__init__(socket_timeout=int(config.timeout_s), chunk_size=config.chunk_size, app_user_agent=USER_AGENT)
        self.config = config
        self.on_progress: Progress | None = None
        self.bytes_downloaded = 0
        self.urls: list[str] = []

    def _fetch(self, url: str) -> Iterator[bytes]:
        attempt = 0
        while True:
            try:
                chunks = super()._fetch(url)
                break
            except tuf_exceptions.DownloadHTTPError as e:
                if e.status_code < 500 or attempt >= self.config.retries:
                    raise
            except (urllib3.exceptions.HTTPError, tuf_exceptions.SlowRetrievalError):
                if attempt >= self.config.retries:
                    raise
            attempt += 1
            time.sleep(self.config.backoff_s * 2 ** (attempt - 1))
        self.urls.append(url)
        return self._counted(chunks)

    def _counted(self, chunks: Iterator[bytes]) -> Iterator[bytes]:
        for chunk in chunks:
            self.bytes_downloaded += len(chunk)
            if self.on_progress is not None:
                self.on_progress(len(chunk))
            yield chunk


# The API's error codes (the ErrorCode enum of registry/server/openapi.json) -> the exception a
# client raises. An error answer is mapped by its code first, then by its status (_ERRORS).
_CODE_ERRORS: dict[str, type[EdzooError]] = {
    # registry.core.errors, each class's own code
    "error": DownloadError,  # the root class: an unclassified failure of the registry
    "bad_request": UsageError,
    "invalid_manifest": ManifestError,
    "unauthorized": AuthError,
    "verification_failed": SignatureError,
    "conflict": ConflictError,
    "not_found": NotFoundError,
    "storage_error": StorageError,
    "unavailable": UnavailableError,
    "download_failed": DownloadError,
    "not_cached": OfflineError,
    "no_compatible_variant": NoCompatibleVariantError,
    "withdrawn": WithdrawnError,
    # codes the server sets on those classes
    "stale_role": ConflictError,  # another publish landed first: read the roles again and re-sign
    "blob_missing": UsageError,
    "length_required": UsageError,
    "length_mismatch": UsageError,
    "hash_mismatch": UsageError,
    "disk_full": StorageError,
    "blob_corrupt": StorageError,
    "retired_key": UnavailableError,  # the server holds a retired online key: it signs nothing
    # HTTP errors of the protocol layer
    "forbidden": AuthError,
    "method_not_allowed": UsageError,
    "not_acceptable": UsageError,
    "request_timeout": DownloadError,
    "precondition_failed": UsageError,
    "request_entity_too_large": UsageError,
    "request_uri_too_large": UsageError,
    "unsupported_media_type": UsageError,
    "requested_range_not_satisfiable": UsageError,
    "unprocessable_entity": UsageError,
    "too_many_requests": UnavailableError,
    "request_header_fields_too_large": UsageError,
    "not_implemented": DownloadError,
    "internal_error": DownloadError,
}

# For an answer without a known code (an older registry, a proxy's error page): by status.
_ERRORS: dict[int, type[EdzooError]] = {
    400: UsageError,
    401: AuthError,
    403: SignatureError,
    404: NotFoundError,
    405: UsageError,
    409: ConflictError,
    411: UsageError,
    413: UsageError,
    422: ManifestError,
    503: UnavailableError,
    507: StorageError,
}


class ApiClient:
    """The registry's JSON API (``/api/v1``), for publishing and browsing."""

    def __init__(self, base_url: str, *, token: str | None = None, config: ClientConfig = ClientConfig()) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.config = config
        self._http = urllib3.PoolManager(
            headers={"User-Agent": USER_AGENT},
            timeout=urllib3.Timeout(connect=config.timeout_s, read=config.timeout_s),
            retries=urllib3.Retry(
                total=config.retries,
                connect=config.retries,
                read=0,
                status=0,
                backoff_factor=config.backoff_s,
                allowed_methods=None,
            ),
        )

    def _headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = dict(extra or {})
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        return headers

    def request(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        headers: dict[str, str] | None = None,
        ok: tuple[int, ...] = (200, 201),
        api: bool = True,
    ) -> urllib3.BaseHTTPResponse:
        url = f"{self.base_url}{'/api/v1' if api else ''}{path}"
        try:
            response = self._http.request(method, url, body=body, headers=self._headers(headers), preload_content=True)
        except urllib3.exceptions.HTTPError as e:
            raise DownloadError(f"cannot reach the registry at {self.base_url}: {e}") from e
        if response.status not in ok:
            raise _error_from(response, f"{method} {path}")
        return response

    def get_json(self, path: str) -> Any:
        return self.request("GET", path).json()

    def post_json(self, path: str, doc: Any) -> Any:
        body = json.dumps(doc).encode()
        return self.request("POST", path, body=body, headers={"Content-Type": "application/json"}).json()

    def get_bytes(self, path: str) -> bytes | None:
        try:
            return self.request("GET", path).data
        except NotFoundError:
            return None

    def get_bytes_raw(self, path: str) -> bytes:
        """GET a path outside the API (``/tuf/...``)."""
        return self.request("GET", path, api=False).data

    def token_namespace(self) -> str:
        """The namespace this client's upload token may publish to; AuthError when it may not
        (unknown, revoked or expired)."""
        return str(self.get_json("/token")["namespace"])

    def check_token(self, namespace: str) -> None:
        """Fail before anything is signed or uploaded when the token cannot publish to
        ``namespace``: AuthError naming the namespace it is for."""
        granted = self.token_namespace()
        if granted != namespace:
            raise AuthError(
                f"this upload token publishes to namespace {granted!r}, not {namespace!r}; use the token "
                f"the registry admin issued for {namespace!r}"
            )

    def has_blob(self, sha256: str, size: int) -> bool:
        response = self.request("HEAD", f"/blobs/sha256/{sha256}", ok=(200, 404))
        return response.status == 200 and int(response.headers.get("Content-Length", -1)) == size

    def upload_blob(self, path: Path, sha256: str, size: int, on_progress: Progress | None = None) -> None:
        with open(path, "rb") as f:
            body = _ProgressReader(f, on_progress)
            self.request(
                "PUT",
                f"/blobs/sha256/{sha256}",
                body=body,
                headers={"Content-Length": str(size), "Content-Type": "application/octet-stream"},
            )


class _ProgressReader:
    def __init__(self, f: BinaryIO, on_progress: Progress | None) -> None:
        self._f = f
        self._on_progress = on_progress

    def read(self, n: int = -1) -> bytes:
        data = self._f.read(n)
        if data and self._on_progress:
            self._on_progress(len(data))
        return data


def _error_from(response: urllib3.BaseHTTPResponse, what: str) -> EdzooError:
    try:
        doc = json.loads(response.data)
        code, message = doc["error"], doc["message"]
    except (ValueError, KeyError, TypeError):
        code, message = "http_error", f"{what}: HTTP {response.status}"
    if not isinstance(code, str) or not isinstance(message, str):
        code, message = "http_error", f"{what}: HTTP {response.status}"
    cls = _CODE_ERRORS.get(code) or _ERRORS.get(response.status, DownloadError)
    return cls(f"registry refused ({response.status} {code}): {message}", code=code)
