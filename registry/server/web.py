"""The web catalog: server-rendered HTML pages that work offline on a school LAN.

Pages (blueprint ``web``, no URL prefix):

- ``GET /``: the catalog. ``q`` searches names, summaries and namespaces; ``subject``,
  ``grade``, ``task`` filter; ``device=<reference profile id>`` keeps the models with a variant
  that runs on that device and shows which one it would get; ``page`` pages the results.
- ``GET /models/<ns>/<name>``: a model version (the latest; ``?version=`` a version or an
  alias): its card, variants, plots of the metric against size and latency, its files and
  versions; ``?device=<id>`` adds what that device would get, with the reasons, as
  :func:`registry.core.select.select` decides under the device's default policy.
- ``GET /publishers`` and ``GET /publishers/<ns>``: publishers and their models.
- ``GET /devices`` and ``GET /devices/<id>``: the reference device profiles.

Everything is rendered on the server from the index (Jinja, autoescaped: publishers' text is
always shown as text); the plots are SVG drawn here, with a data table beside each for screen
readers. The pages load nothing from another origin and run no script; a Content Security
Policy says so to the browser. Errors on these pages are HTML pages with the same status the
JSON API gives; a browser that asks for a page that does not exist gets an HTML 404 (other
clients keep the JSON error).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from registry.core import names, profiles, select
from registry.core.card import NO_EDUCATION, education_facts
from registry.core.errors import EdzooError, NoCompatibleVariantError, NotFoundError, StorageError, UsageError
from registry.core.manifest import describe_recipe
from registry.core.model import DeviceProfile, Manifest
from registry.core.units import format_bytes, format_mb
from registry.storage.records import ModelRecord

from . import registry_of
from .pagetext import MetricFormat, device_facts, grade_key, human_us, policy_text, slug_words
from .plots import scatter
from .repository import Registry

bp = Blueprint(
    "web",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/assets",
)

PAGE_SIZE = 30
MAX_TEXT_ARG = 200  # characters of a search term or filter value
_ALL = 10**9  # "no limit" for Index.search, which filters lists in Python anyway

# Pages run no script and load nothing from elsewhere; SVG plots are inline.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "style-src 'self'",
        "img-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    ]
)


# ---------------------------------------------------------------------------------------------
# Request helpers


def _registry() -> Registry:
    return registry_of(current_app)


def _text_arg(name: str) -> str | None:
    value = request.args.get(name, "").strip()
    if len(value) > MAX_TEXT_ARG:
        raise UsageError(f"the {name!r} field takes at most {MAX_TEXT_ARG} characters")
    return value or None


def _page_arg() -> int:
    raw = request.args.get("page", "").strip()
    if not raw:
        return 1
    if not raw.isdigit() or not 1 <= int(raw) <= 10**6:
        raise UsageError(f"page must be a whole number from 1, got {raw[:40]!r}")
    return int(raw)


def _reference_profile(device_id: str) -> dict[str, Any]:
    """A reference profile by id. Only ids of ``manifests/devices/`` are accepted (never a path)."""
    known = profiles.reference_profiles()
    if device_id not in known:
        raise NotFoundError(f"no reference device {device_id[:60]!r}; the reference devices are {', '.join(known)}")
    return profiles.load_profile(device_id)


@functools.cache
def _device_options() -> tuple[tuple[str, str], ...]:
    """(id, name) of the reference profiles, which ship with edzoo: read once per process."""
    return tuple((pid, str(profiles.load_profile(pid)["name"])) for pid in profiles.reference_profiles())


@dataclass(frozen=True)
class DeviceChoice:
    """What one device would get of one model version."""

    device_id: str
    device_name: str
    policy_name: str
    policy_why: str
    policy_text: str
    choice: select.Choice | None
    problems: list[str]  # when no variant runs: one line per variant
    headline: str = ""

    def estimate(self, variant_id: str) -> select.Estimate | None:
        return self.choice.estimates.get(variant_id) if self.choice else None


def choose(manifest: Manifest | Mapping[str, Any], profile: DeviceProfile | Mapping[str, Any]) -> DeviceChoice:
    device = DeviceProfile.of(profile)
    policy_name, policy, why = select.policy_for_device(device)
    common = {
        "device_id": device.id,
        "device_name": device.name,
        "policy_name": policy_name,
        "policy_why": why,
        "policy_text": policy_text(policy),
    }
    try:
        choice = select.select(manifest, device, policy)
    except NoCompatibleVariantError as e:
        headline, *lines = e.message.splitlines()
        return DeviceChoice(choice=None, problems=[line.strip() for line in lines], headline=headline, **common)
    return DeviceChoice(choice=choice, problems=[], **common)


@dataclass(frozen=True)
class Listing:
    """A model as the catalog lists it, with what a device would get when one is picked."""

    model: ModelRecord
    on_device: DeviceChoice | None = None


def _listings(models: Iterable[ModelRecord], profile: Mapping[str, Any] | None) -> list[Listing]:
    """The models as listed; with a profile, only those with a variant that runs on it."""
    if profile is None:
        return [Listing(m) for m in models]
    index = _registry().index
    device = DeviceProfile.of(profile)
    out = []
    for m in models:
        if m.latest is None:  # search lists only models with a release
            continue
        manifest = index.manifest(m.namespace, m.name, m.latest)
        on_device = choose(manifest, device)
        if on_device.choice is not None:
            out.append(Listing(m, on_device))
    return out


@dataclass(frozen=True)
class Pager:
    page: int
    pages: int
    total: int
    first: int  # 1-based number of the first item shown
    last: int

    @classmethod
    def of(cls, total: int, page: int) -> Pager:
        pages = max(1, math.ceil(total / PAGE_SIZE))
        page = min(page, pages)
        first = (page - 1) * PAGE_SIZE
        return cls(page, pages, total, first + 1 if total else 0, min(first + PAGE_SIZE, total))

    def window(self, items: Sequence[Any]) -> list[Any]:
        return list(items[self.first - 1 : self.last]) if self.total else []


def _url_with(**changes: Any) -> str:
    """This page's URL with query parameters changed (None removes one)."""
    from urllib.parse import urlencode

    args = {k: v for k, v in request.args.items() if v}
    for key, value in changes.items():
        if value is None:
            args.pop(key, None)
        else:
            args[key] = str(value)
    query = urlencode(args)
    return request.path + (f"?{query}" if query else "")


_HELPERS = {
    "format_bytes": format_bytes,
    "format_mb": format_mb,
    "human_us": human_us,
    "words": slug_words,
    "describe_recipe": describe_recipe,
    "education_facts": education_facts,
    "NO_EDUCATION": NO_EDUCATION,
    "url_with": _url_with,
}


def _render(template: str, status: int = 200, **context: Any) -> Response:
    html = render_template(f"web/{template}", **_HELPERS, **context)
    return Response(html, status=status, mimetype="text/html")


@bp.after_request
def _headers(response: Response) -> Response:
    _secure(response)
    return response


def _secure(response: Response) -> None:
    response.headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")


# ---------------------------------------------------------------------------------------------
# Pages


@bp.get("/")
def catalog() -> Response:
    q = _text_arg("q")
    subject, grade, task = _text_arg("subject"), _text_arg("grade"), _text_arg("task")
    device_id = _text_arg("device")
    page = _page_arg()
    profile = _reference_profile(device_id) if device_id else None
    index = _registry().index
    _, everything = index.search(limit=_ALL)
    facets = {
        "subject": sorted({s for m in everything for s in m.subjects} | ({subject} if subject else set())),
        "grade": sorted({g for m in everything for g in m.grades} | ({grade} if grade else set()), key=grade_key),
        "task": sorted({m.task for m in everything if m.task} | ({task} if task else set())),
    }
    filtered = any((q, subject, grade, task))
    found = index.search(q, subject=subject, grade=grade, task=task, limit=_ALL)[1] if filtered else everything
    listings = _listings(found, profile)
    pager = Pager.of(len(listings), page)
    return _render(
        "catalog.html",
        q=q or "",
        filters={"subject": subject, "grade": grade, "task": task, "device": device_id},
        filtered=any((q, subject, grade, task, device_id)),
        facets=facets,
        devices=_device_options(),
        device_name=profile["name"] if profile else None,
        listings=pager.window(listings),
        pager=pager,
        catalog_size=len(everything),
    )


@bp.get("/models/<namespace>/<name>")
def model_page(namespace: str, name: str) -> Response:
    names.check_namespace(namespace)
    names.check_name(name, "model name")
    index = _registry().index
    model = index.model(namespace, name)
    requested = _text_arg("version")
    version: str | None
    if requested:
        version = model.aliases.get(requested, requested)
        names.check_version(version)
    else:
        version = model.latest
        if not version and model.versions and set(model.withdrawn) == set(model.versions):
            version = names.latest_of(list(model.versions))  # every version is withdrawn: the newest, marked so
    if not version:
        raise NotFoundError(f"{namespace}/{name} has no published version")
    row = index.version(namespace, name, version)
    manifest = Manifest.from_dict(row.manifest)
    device_id = _text_arg("device")
    on_device = choose(manifest, _reference_profile(device_id)) if device_id else None
    chosen = on_device.choice.variant_id if on_device and on_device.choice else None
    metric = MetricFormat.of(manifest)
    variants = manifest.variants
    ref = f"{namespace}/{name}@{version}"
    plots = [
        scatter("plot-size", variants, x_of=lambda v: v.size, x_kind="size", metric=metric, chosen=chosen, subject=ref),
        scatter(
            "plot-latency",
            variants,
            x_of=lambda v: v.benchmarks.latency_us_p50,
            x_kind="latency",
            metric=metric,
            chosen=chosen,
            subject=ref,
        ),
    ]
    aliases_here = sorted(a for a, v in model.aliases.items() if v == version)
    return _render(
        "model.html",
        model=model,
        m=manifest,
        row=row,
        version=version,
        requested=requested,
        is_latest=version == model.latest,
        aliases_here=aliases_here,
        withdrawal=row.withdrawn,
        withdrawn=model.withdrawn,
        versions=sorted(model.versions, key=names.version_key, reverse=True),
        metric=metric,
        plots=plots,
        devices=_device_options(),
        device_id=device_id,
        on_device=on_device,
        chosen=chosen,
        machine=variants[0].benchmarks.machine if variants else None,
        registry_url=request.url_root.rstrip("/"),  # as the visitor reached it: what a device pulls from
    )


@bp.get("/publishers")
def publishers_page() -> Response:
    index = _registry().index
    _, everything = index.search(limit=_ALL)
    counts: dict[str, int] = {}
    for m in everything:
        counts[m.namespace] = counts.get(m.namespace, 0) + 1
    return _render("publishers.html", publishers=index.publishers(), counts=counts)


@bp.get("/publishers/<namespace>")
def publisher_page(namespace: str) -> Response:
    names.check_namespace(namespace)
    index = _registry().index
    info = next((p for p in index.publishers() if p.namespace == namespace), None)
    _, models = index.search(namespace=namespace, limit=_ALL)
    if info is None and not models:
        raise NotFoundError(f"no publisher {namespace!r} on this registry")
    page = _page_arg()
    pager = Pager.of(len(models), page)
    return _render(
        "publisher.html",
        namespace=namespace,
        info=info,
        listings=[Listing(m) for m in pager.window(models)],
        pager=pager,
    )


@bp.get("/devices")
def devices_page() -> Response:
    rows = []
    for pid in profiles.reference_profiles():
        profile = profiles.load_profile(pid)
        policy_name, _, why = select.policy_for_device(profile)
        rows.append({"profile": profile, "policy": policy_name, "why": why})
    return _render("devices.html", rows=rows)


@bp.get("/devices/<device_id>")
def device_page(device_id: str) -> Response:
    profile = _reference_profile(device_id)
    policy_name, policy, why = select.policy_for_device(profile)
    _, everything = _registry().index.search(limit=_ALL)
    listings = _listings(everything, profile)
    return _render(
        "device.html",
        profile=profile,
        facts=device_facts(profile),
        policy_name=policy_name,
        policy_why=why,
        policy_text=policy_text(policy),
        listings=listings,
        catalog_size=len(everything),
    )


# ---------------------------------------------------------------------------------------------
# Errors: HTML pages with the status the JSON API would give


_TITLES = {400: "That request is not valid", 404: "Not found", 422: "That cannot be shown", 503: "Try again soon"}


def _error_page(status: int, message: str) -> Response:
    title = _TITLES.get(status, "Something went wrong" if status >= 500 else "That did not work")
    response = _render("error.html", status=status, title=title, message=message, code=status)
    _secure(response)
    return response


@bp.errorhandler(EdzooError)
def _edzoo_error(e: EdzooError) -> Response:
    return _error_page(e.http_status, e.message)


@bp.errorhandler(HTTPException)
def _http_error(e: HTTPException) -> Response:
    return _error_page(e.code or 500, e.description or e.name)


@bp.errorhandler(OSError)
def _os_error(e: OSError) -> Response:
    current_app.logger.exception("storage failure")
    return _error_page(StorageError.http_status, f"the registry's storage failed: {e.strerror or 'I/O error'}")


def _wants_html() -> bool:
    if request.path.startswith(("/api/", "/tuf/")):
        return False
    return request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html"


@bp.app_errorhandler(404)
def _no_such_page(e: HTTPException) -> Any:
    """A URL no route serves: an HTML page for a browser (which asks for text/html first); the
    app's JSON error otherwise, as every API client expects."""
    if _wants_html():
        return _error_page(404, f"there is no page at {request.path[:200]}")
    return jsonify({"error": "not_found", "message": e.description or e.name}), 404
