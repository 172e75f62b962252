"""HTTP for the client: a TUF fetcher with progress and retries, and a small JSON API client."""

from __future__ import annotations

import functools
import json
import os
import socket
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit
from urllib.request import getproxies

import tuf
import urllib3
from tuf.api import exceptions as tuf_exceptions
from tuf.ngclient import Urllib3Fetcher
from tuf.ngclient._internal.proxy import ProxyEnvironment

from registry.core.errors import (
    AuthError,
    ConflictError,
    DownloadError,
    EdzooError,
    ManifestError,
    NoCompatibleVariantError,
    NotARegistryError,
    NotFoundError,
    OfflineError,
    SignatureError,
    StorageError,
    UnavailableError,
    UsageError,
    WithdrawnError,
)

__all__ = ["ApiClient", "ClientConfig", "NotMetadataError", "ProgressFetcher", "network_error", "not_a_registry"]

USER_AGENT = "edzoo/0.1"
Progress = Callable[[int], None]


@dataclass(frozen=True)
class ClientConfig:
    """Network limits of the client, with their defaults."""

    timeout_s: float = 30.0
    retries: int = 3  # extra attempts for a connection error or a 5xx, with backoff
    backoff_s: float = 0.5
    chunk_size: int = 1 << 20

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> ClientConfig:
        """The defaults, with ``EDZOO_TIMEOUT`` (seconds a silent registry is given) and
        ``EDZOO_RETRIES`` (extra attempts) when set; UsageError for a value that is not a
        number in range."""
        env = os.environ if env is None else env
        config = cls()
        try:
            if env.get("EDZOO_TIMEOUT"):
                config = replace(config, timeout_s=float(env["EDZOO_TIMEOUT"]))
            if env.get("EDZOO_RETRIES"):
                config = replace(config, retries=int(env["EDZOO_RETRIES"]))
        except ValueError as e:
            raise UsageError(f"EDZOO_TIMEOUT must be seconds and EDZOO_RETRIES a whole number: {e}") from e
        if not 0 < config.timeout_s <= 3600 or not 0 <= config.retries <= 10:
            raise UsageError("EDZOO_TIMEOUT must be in (0, 3600] seconds and EDZOO_RETRIES in 0..10")
        return config


class NotMetadataError(tuf_exceptions.DownloadError):
    """A metadata URL answered 200 with something that cannot be TUF metadata (which is a JSON
    object): an HTML page (``html``) or other bytes."""

    def __init__(self, url: str, *, html: bool) -> None:
        super().__init__(f"{url}: {'an HTML page' if html else 'not JSON'}, not TUF metadata")
        self.url, self.html = url, html


def _chain(e: BaseException) -> Iterator[BaseException]:
    """``e``, then what caused it: urllib3's ``reason``, ``__cause__``, ``__context__``."""
    seen: set[int] = set()
    todo: list[BaseException] = [e]
    while todo:
        c = todo.pop(0)
        if id(c) in seen:
            continue
        seen.add(id(c))
        yield c
        todo += [x for x in (getattr(c, "reason", None), c.__cause__, c.__context__) if isinstance(x, BaseException)]


#: An error answer up to this size is read to its end, so its connection serves the next request
#: (the updater's probe for the next root is a 404 on every pull); a larger one, or one of
#: unknown size, closes its connection instead.
DRAIN_ERROR_BYTES = 64 << 10


def _let_go(response: urllib3.BaseHTTPResponse) -> None:
    """Done with an error answer: back to the pool when its body is small, else closed."""
    size = response.headers.get("Content-Length", "")
    if size.isdigit() and int(size) <= DRAIN_ERROR_BYTES:
        response.drain_conn()
        response.release_conn()
    else:
        response.close()


def _fails_fast(e: BaseException) -> bool:
    """A name that does not resolve or a refused connection: retrying in a second changes nothing."""
    return any(isinstance(c, (urllib3.exceptions.NameResolutionError, ConnectionRefusedError)) for c in _chain(e))


class _Retry(urllib3.Retry):
    """urllib3's retries for the API client, except after a name that does not resolve or a
    refused connection (:func:`_fails_fast`): those fail at once instead of backing off."""

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[no-untyped-def]
        if error is not None and _fails_fast(error):
            raise urllib3.exceptions.MaxRetryError(_pool, url, error) from error  # type: ignore[arg-type]
        return super().increment(method, url, response, error, _pool, _stacktrace)


def not_a_registry(registry: str, why: str) -> NotARegistryError:
    """The URL answered, but not as an edzoo registry: ``why``, then how to find the right URL."""
    parts = urlsplit(registry)
    base = f"{parts.scheme}://{parts.netloc}"
    hint = f" (without {parts.path}? try {base})" if parts.path.strip("/") else ""
    return NotARegistryError(
        f"{registry} is not an edzoo registry: {why}; give the registry's base URL, as `edzoo serve` prints it{hint}",
        code="not_a_registry",
    )


def network_error(e: BaseException, registry: str, timeout_s: float) -> DownloadError | None:
    """The failure in ``e``'s chain that a person can act on, as one line with its remedy: a
    host name that does not resolve, a refused connection, a timeout, a captive portal's HTML
    page. None when the chain holds none of these (decided on exception classes, never text)."""
    chain = list(_chain(e))
    host = urlsplit(registry).hostname or registry
    for c in chain:
        if isinstance(c, NotMetadataError):
            if c.html:
                return NotARegistryError(
                    f"{registry} answered with an HTML page, not signed metadata: a captive portal or a proxy's "
                    "sign-in page? Sign in to the network in a browser and retry, or check --registry",
                    code="captive_portal",
                )
            return not_a_registry(registry, f"{c.url} is not TUF metadata")
    for c in chain:
        if isinstance(c, urllib3.exceptions.NameResolutionError):
            return DownloadError(
                f"cannot reach {registry}: the host name {host} does not resolve; check the spelling of --registry "
                "and that this machine is online (pull --offline serves the cache)",
                code="host_not_found",
            )
    for c in chain:
        if isinstance(c, ConnectionRefusedError):
            return DownloadError(
                f"cannot reach {registry}: connection refused; is the registry running, on that port? "
                "(`edzoo serve` prints its URL)",
                code="connection_refused",
            )
    for c in chain:
        if isinstance(c, (urllib3.exceptions.TimeoutError, socket.timeout, tuf_exceptions.SlowRetrievalError)):
            if isinstance(c, urllib3.exceptions.NewConnectionError):
                continue  # a subclass of ConnectTimeoutError in urllib3 2: the cause is further down
            return DownloadError(
                f"{registry} did not answer within {timeout_s:g} s: a slow or broken network; retry later "
                "(pull --offline serves the cache)",
                code="timeout",
            )
    for c in chain:
        if isinstance(c, (urllib3.exceptions.NewConnectionError, urllib3.exceptions.ProtocolError, OSError)):
            reason = c.strerror if isinstance(c, OSError) and c.strerror else type(c).__name__
            return DownloadError(f"cannot reach {registry}: {reason}; check the network", code="unreachable")
    return None


@functools.cache
def _connections(user_agent: str, proxies: tuple[tuple[str, str], ...]) -> ProxyEnvironment:
    """The process's connection pools (per proxy settings, as they are in the environment), so
    each pull after the first reuses a kept-alive connection to its registry, as a
    huggingface_hub session does. urllib3 drops a pooled connection the server closed before
    reusing it. Its own three silent retries are off: :meth:`ProgressFetcher.open` owns retries
    (with backoff, none for a refused connection or an unknown host), or a silent registry
    costs 4 x timeout_s per attempt. Redirects still follow."""
    del proxies  # the key: ProxyEnvironment reads them from the environment itself
    return ProxyEnvironment(
        headers={"User-Agent": user_agent},
        retries=urllib3.Retry(total=None, connect=0, read=0, status=0, other=0, redirect=3),
    )


class ProgressFetcher(Urllib3Fetcher):
    """python-tuf's urllib3 fetcher, retrying connection failures and counting bytes.

    The updater still checks every metadata file's length and signatures (retries never bypass
    verification); targets are streamed by :mod:`registry.client.transfer` through :meth:`open`.
    A host that does not resolve or refuses the connection is not retried; a metadata URL that
    answers with anything but a JSON object (a captive portal's page) raises
    :class:`NotMetadataError` at its first bytes.
    """

    def __init__(self, config: ClientConfig) -> None:
        super().__init__(chunk_size=config.chunk_size, app_user_agent=USER_AGENT)
        self.socket_timeout = config.timeout_s  # type: ignore[assignment]  # urllib3.Timeout takes a float
        self._user_agent = f"{USER_AGENT} python-tuf/{tuf.__version__}"
        self._proxy_env = _connections(self._user_agent, tuple(sorted(getproxies().items())))
        self.config = config
        self.bytes_downloaded = 0
        self.urls: list[str] = []

    def open(self, url: str, *, offset: int = 0) -> urllib3.BaseHTTPResponse:
        """GET ``url`` (from byte ``offset``: a ``Range`` request; the answer may still be a
        200 with the whole file) as an unread response, retrying as :meth:`_fetch` does.
        Raises DownloadHTTPError for an HTTP error, SlowRetrievalError for a timeout, urllib3's
        errors for the rest."""
        headers = {"User-Agent": self._user_agent}
        if offset:
            headers["Range"] = f"bytes={offset}-"
        attempt = 0
        while True:
            try:
                try:
                    response = self._proxy_env.request(
                        "GET", url, headers=headers, preload_content=False, timeout=urllib3.Timeout(self.socket_timeout)
                    )
                except urllib3.exceptions.MaxRetryError as e:
                    if isinstance(e.reason, urllib3.exceptions.TimeoutError) and not _fails_fast(e):
                        raise tuf_exceptions.SlowRetrievalError from e
                    raise
                if response.status >= 400:
                    _let_go(response)
                    raise tuf_exceptions.DownloadHTTPError(f"HTTP error {response.status}", response.status)
                break
            except tuf_exceptions.DownloadHTTPError as e:
                if e.status_code < 500 or attempt >= self.config.retries:
                    raise
            except (urllib3.exceptions.HTTPError, tuf_exceptions.SlowRetrievalError) as e:
                if attempt >= self.config.retries or _fails_fast(e):
                    raise
            attempt += 1
            time.sleep(self.config.backoff_s * 2 ** (attempt - 1))
        self.urls.append(url)
        return response

    def count(self, n: int) -> None:
        """Add ``n`` bytes received outside :meth:`download_bytes` (a target streamed by the cache)."""
        self.bytes_downloaded += n

    def download_bytes(self, url: str, max_length: int) -> bytes:
        """A metadata file, received in memory (python-tuf's default spools each one through a
        temporary file first: a file created, written and read back per role). Raises as
        python-tuf's does, DownloadLengthMismatchError past ``max_length`` (the updater's cap
        for that role, at most a few MB)."""
        received = bytearray()
        for chunk in self.fetch(url):
            received += chunk
            self.bytes_downloaded += len(chunk)
            if len(received) > max_length:
                raise tuf_exceptions.DownloadLengthMismatchError(
                    f"Downloaded {len(received)} bytes exceeding the maximum allowed length of {max_length}"
                )
        return bytes(received)

    def _fetch(self, url: str) -> Iterator[bytes]:
        return _sniffed(self._chunks(self.open(url)), url)


def _sniffed(chunks: Iterator[bytes], url: str) -> Iterator[bytes]:
    """``chunks``, after checking that a metadata answer starts as a JSON object does."""
    sniff = "/tuf/metadata/" in url
    for chunk in chunks:
        if sniff and chunk.strip():
            first = chunk.lstrip()[:1]
            if first != b"{":
                raise NotMetadataError(url, html=first == b"<")
            sniff = False
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
    "not_a_registry": NotARegistryError,
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
    "read_only": StorageError,
    "permission_denied": StorageError,
    "blob_corrupt": StorageError,
    "retired_key": UnavailableError,  # the server holds a retired online key: it signs nothing
    # codes a client sets on DownloadError for what it could not reach
    "connection_refused": DownloadError,
    "host_not_found": DownloadError,
    "timeout": DownloadError,
    "unreachable": DownloadError,
    "captive_portal": NotARegistryError,
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
            retries=_Retry(
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
            raise network_error(e, self.base_url, self.config.timeout_s) or DownloadError(
                f"cannot reach the registry at {self.base_url}: {type(e).__name__}", code="unreachable"
            ) from e
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
