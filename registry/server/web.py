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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from registry.core import names, profiles, select
from registry.core.errors import EdzooError, NoCompatibleVariantError, NotFoundError, StorageError, UsageError
from registry.core.units import format_bytes, format_mb

from . import registry_of

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
GRADE_ORDER = ["K", *(str(g) for g in range(1, 13))]

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
# Numbers and words for people (binary units, as manifests and profiles use: 1 MB = 2^20 bytes)


def human_us(x: float) -> str:
    if x < 100:
        return f"{x:.3g} µs"
    if x < 1000:
        return f"{x:,.0f} µs"
    if x < 1_000_000:
        return f"{x / 1000:.3g} ms"
    return f"{x / 1_000_000:.3g} s"


def _words(slug: str) -> str:
    """``image-classification`` -> ``Image classification``."""
    text = slug.replace("-", " ").replace("_", " ")
    return text[:1].upper() + text[1:]


def _grade_key(grade: str) -> int:
    return GRADE_ORDER.index(grade) if grade in GRADE_ORDER else len(GRADE_ORDER)


@dataclass(frozen=True)
class MetricFormat:
    """How one manifest's metric is shown: fractions as percentages."""

    name: str
    fraction: bool
    higher_is_better: bool

    @classmethod
    def of(cls, manifest: Mapping[str, Any]) -> MetricFormat:
        variants = manifest.get("variants", [])
        values = [float(v["metrics"]["value"]) for v in variants]
        first = variants[0]["metrics"] if variants else {}
        return cls(
            name=str(first.get("name", "accuracy")),
            fraction=bool(values) and all(0.0 <= x <= 1.0 for x in values),
            higher_is_better=bool(first.get("higher_is_better", True)),
        )

    def value(self, x: float) -> str:
        return f"{x * 100:.2f}%" if self.fraction else f"{x:.4g}"

    def tick(self, x: float, step: float) -> str:
        """A tick label with as many decimals as the tick step needs (0.25 -> 2)."""
        scale = 100.0 if self.fraction else 1.0
        decimals = _decimals(step * scale)
        return f"{x * scale:.{decimals}f}" + ("%" if self.fraction else "")

    @property
    def title(self) -> str:
        return _words(self.name) + ("" if self.higher_is_better else " (lower is better)")


def _decimals(step: float) -> int:
    """Decimals that show every multiple of ``step`` exactly (a 1-2-2.5-5 step)."""
    for decimals in range(0, 10):
        if abs(round(step, decimals) - step) <= abs(step) * 1e-6:
            return decimals
    return 10


def recipe_text(recipe: Mapping[str, Any]) -> str:
    quantization = str(recipe.get("quantization", "none"))
    parts = ["float32" if quantization == "none" else quantization]
    if recipe.get("qat"):
        parts.append("quantization-aware training")
    if "pruning" in recipe:
        parts.append(f"{float(recipe['pruning']['sparsity']):.0%} sparse")
    if "clustering" in recipe:
        parts.append(f"{recipe['clustering']['clusters']} weight clusters")
    if "distilled_from" in recipe:
        parts.append(f"distilled from {recipe['distilled_from']}")
    return ", ".join(parts)


def policy_text(policy: select.Policy) -> str:
    """What a policy asks for, in words."""
    if policy.objective == "best-accuracy":
        text = "the most accurate variant"
        if policy.latency_budget_us is not None:
            text += f" within an estimated {human_us(policy.latency_budget_us)} per inference"
    elif policy.objective == "smallest":
        text = "the smallest download (gzip size)" if policy.size_measure == "download" else "the smallest file"
    else:
        text = "the fastest variant"
    if policy.max_drop_points is not None:
        text += f" within {policy.max_drop_points:g} points of the best variant"
    elif policy.accuracy_floor is not None:
        text += f" that reaches {policy.accuracy_floor:g}"
    return text


def device_facts(profile: Mapping[str, Any]) -> list[tuple[str, str]]:
    """A profile as (label, value) rows."""
    cpu = profile["cpu"]
    speed = float(cpu["speed_factor"])
    if speed > 1:
        pace = f"{speed:g}× the reference machine's time per inference"
    elif speed < 1:
        pace = f"{speed:g}× the reference machine's time per inference (faster)"
    else:
        pace = "as fast as the reference machine"
    os_name = {"ios": "iOS", "ipados": "iPadOS", "chromeos": "ChromeOS", "macos": "macOS"}.get(
        profile["os"]["name"], _words(profile["os"]["name"])
    )
    runtime = profile["runtime"]
    rows = [
        ("Operating system", f"{os_name} {profile['os']['version']}"),
        ("ABI", str(profile["abi"])),
        ("RAM", format_mb(profile["ram_mb"])),
        ("Free storage", format_mb(profile["free_storage_mb"])),
        ("CPU", f"{cpu['cores']} cores; {pace}"),
        ("Accelerators", ", ".join(profile.get("accelerators", [])) or "none"),
        ("Runtime", f"LiteRT {runtime['version']}" + (" (a trimmed build)" if "ops" in runtime else "")),
        ("Power", _words(str(profile["power"]))),
        ("Network", _words(str(profile["network"]))),
    ]
    if "memory_share" in profile:
        rows.append(("Memory a model may use", f"{float(profile['memory_share']) * 100:g}% of RAM"))
    return rows


# ---------------------------------------------------------------------------------------------
# Plots: server-drawn SVG scatter plots


PLOT_WIDTH, PLOT_HEIGHT = 640, 360
_MARGIN_LEFT, _MARGIN_RIGHT, _MARGIN_TOP, _MARGIN_BOTTOM = 76, 28, 20, 58
_CHAR_W, _LABEL_H = 7.8, 15.0  # label box estimate at the plot's 13px font


@dataclass(frozen=True)
class Tick:
    pos: float
    label: str


@dataclass(frozen=True)
class PlotPoint:
    id: str
    cx: float
    cy: float
    label: str
    lx: float
    ly: float
    anchor: str
    leader: bool  # the label was moved away from its point: draw a line to it
    chosen: bool
    x_text: str
    y_text: str


@dataclass(frozen=True)
class Plot:
    id: str
    title: str
    desc: str
    x_title: str
    y_title: str
    x_ticks: list[Tick]
    y_ticks: list[Tick]
    points: list[PlotPoint]
    width: int = PLOT_WIDTH
    height: int = PLOT_HEIGHT
    left: int = _MARGIN_LEFT
    right: int = PLOT_WIDTH - _MARGIN_RIGHT
    top: int = _MARGIN_TOP
    bottom: int = PLOT_HEIGHT - _MARGIN_BOTTOM
    x_column: str = ""
    y_column: str = ""


@dataclass(frozen=True)
class _Scale:
    lo: float
    hi: float
    log: bool
    ticks: list[tuple[float, str]] = field(default_factory=list)

    def frac(self, x: float) -> float:
        if self.log:
            lo, hi, x = math.log(self.lo), math.log(self.hi), math.log(max(x, 1e-12))
        else:
            lo, hi = self.lo, self.hi
        return 0.5 if hi == lo else (x - lo) / (hi - lo)


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power + 1e-15:
            return m * power
    return 10 * power


def _linear_scale(values: Sequence[float], label: Callable[[float, float], str], *, floor0: bool = False) -> _Scale:
    lo, hi = min(values), max(values)
    if hi == lo:
        pad = abs(lo) * 0.05 or 1.0
        lo, hi = lo - pad, hi + pad
    step = _nice_step(hi - lo)
    lo = math.floor(lo / step + 1e-9) * step
    hi = math.ceil(hi / step - 1e-9) * step
    if floor0 and lo < 0 <= min(values):
        lo = 0.0
    count = round((hi - lo) / step)
    ticks = [(lo + i * step, label(lo + i * step, step)) for i in range(count + 1)]
    return _Scale(lo, hi, False, ticks)


def _log_scale(values: Sequence[float], label: Callable[[float], str], *, base2: bool) -> _Scale:
    """A log axis. Byte sizes get powers of 2 (16 kB, 32 kB, ...), other quantities 1-2-5 steps."""
    lo, hi = max(min(values), 1e-9), max(max(values), 1e-9)
    if base2:
        a, b = math.floor(math.log2(lo) + 1e-9), math.ceil(math.log2(hi) - 1e-9)
        if a == b:
            a, b = a - 1, b + 1
        exps = list(range(a, b + 1))
        stride = math.ceil(len(exps) / 7)
        marks = [2.0**e for e in exps[::stride]]
        return _Scale(2.0**a, 2.0**b, True, [(m, label(m)) for m in marks])
    candidates = [
        m * 10.0**e for e in range(math.floor(math.log10(lo)) - 1, math.ceil(math.log10(hi)) + 2) for m in (1, 2, 5)
    ]
    below = [c for c in candidates if c <= lo * (1 + 1e-9)]
    above = [c for c in candidates if c >= hi * (1 - 1e-9)]
    start, end = max(below), min(above)
    if start == end:
        start, end = start / 2, end * 2
    marks = [c for c in candidates if start * (1 - 1e-9) <= c <= end * (1 + 1e-9)]
    if len(marks) > 8:
        marks = [c for c in marks if math.isclose(math.log10(c), round(math.log10(c)), abs_tol=1e-9)]
    return _Scale(start, end, True, [(m, label(m)) for m in marks])


def _place_labels(points: list[tuple[str, float, float, bool]], right: float) -> list[tuple[float, float, str, bool]]:
    """Put each label beside its point where it overlaps no label placed before (greedy)."""
    placed: list[tuple[float, float, float, float]] = []
    out: list[tuple[float, float, str, bool]] = []
    for vid, cx, cy, chosen in points:
        text = vid + (" (chosen)" if chosen else "")
        width = len(text) * _CHAR_W
        anchor = "start" if cx + 10 + width <= right else "end"
        x0 = cx + 10 if anchor == "start" else cx - 10 - width
        lx = cx + 10 if anchor == "start" else cx - 10
        best = None
        for step in range(0, 24):
            dy = (step + 1) // 2 * _LABEL_H * (1 if step % 2 else -1) if step else 0.0
            top = cy - _LABEL_H / 2 + dy
            if top < 2 or top + _LABEL_H > PLOT_HEIGHT - _MARGIN_BOTTOM + 4:
                continue  # it would leave the plot area
            box = (x0, top, x0 + width, top + _LABEL_H)
            if all(box[2] <= b[0] or box[0] >= b[2] or box[3] <= b[1] or box[1] >= b[3] for b in placed):
                best = (box, dy)
                break
        if best is None:
            best = ((x0, cy - _LABEL_H / 2, x0 + width, cy + _LABEL_H / 2), 0.0)
        placed.append(best[0])
        out.append((lx, cy + best[1] + 4, anchor, abs(best[1]) > 0))
    return out


def scatter(
    plot_id: str,
    variants: Sequence[Mapping[str, Any]],
    *,
    x_of: Callable[[Mapping[str, Any]], float],
    x_kind: str,
    metric: MetricFormat,
    chosen: str | None,
    subject: str,
) -> Plot:
    """A scatter plot of the metric (y) against ``x_kind`` (``size`` in bytes on a log scale, or
    ``latency`` in µs: log scale when the values span more than 10×)."""
    xs = [float(x_of(v)) for v in variants]
    ys = [float(v["metrics"]["value"]) for v in variants]
    x_text: Callable[[float], str]
    if x_kind == "size":
        xscale = _log_scale(xs, format_bytes, base2=True)
        x_title, x_column, x_text = "File size (bytes, log scale)", "File size", format_bytes
    else:
        if min(xs) > 0 and max(xs) / min(xs) > 10:
            xscale = _log_scale(xs, human_us, base2=False)
            x_title = "Median latency on the reference machine (µs, log scale)"
        else:
            xscale = _linear_scale(xs, lambda x, step: human_us(x), floor0=True)
            x_title = "Median latency on the reference machine (µs)"
        x_column, x_text = "Median latency", human_us
    yscale = _linear_scale(ys, metric.tick)
    left, right = _MARGIN_LEFT, PLOT_WIDTH - _MARGIN_RIGHT
    top, bottom = _MARGIN_TOP, PLOT_HEIGHT - _MARGIN_BOTTOM

    def px(x: float) -> float:
        return round(left + xscale.frac(x) * (right - left), 1)

    def py(y: float) -> float:
        return round(bottom - yscale.frac(y) * (bottom - top), 1)

    raw = [(str(v["id"]), px(x), py(y), v["id"] == chosen) for v, x, y in zip(variants, xs, ys, strict=True)]
    order = sorted(range(len(raw)), key=lambda i: (raw[i][2], raw[i][1]))
    labels = _place_labels([raw[i] for i in order], right)
    placed = {order[k]: labels[k] for k in range(len(order))}
    points = []
    for i, (vid, cx, cy, is_chosen) in enumerate(raw):
        lx, ly, anchor, leader = placed[i]
        points.append(
            PlotPoint(
                id=vid,
                cx=cx,
                cy=cy,
                label=vid + (" (chosen)" if is_chosen else ""),
                lx=lx,
                ly=round(ly, 1),
                anchor=anchor,
                leader=leader,
                chosen=is_chosen,
                x_text=x_text(xs[i]),
                y_text=metric.value(ys[i]),
            )
        )
    what = "file size" if x_kind == "size" else "median latency"
    desc = (
        f"{len(points)} variant{'s' if len(points) != 1 else ''} of {subject}: {metric.name} from "
        f"{metric.value(min(ys))} to {metric.value(max(ys))}, {what} from {x_text(min(xs))} to {x_text(max(xs))}."
        + (f" The variant chosen for the device is {chosen}." if chosen else "")
    )
    return Plot(
        id=plot_id,
        title=f"{metric.title} against {what}",
        desc=desc,
        x_title=x_title,
        y_title=metric.title,
        x_ticks=[Tick(px(v), text) for v, text in xscale.ticks],
        y_ticks=[Tick(py(v), text) for v, text in yscale.ticks],
        points=points,
        x_column=x_column,
        y_column=metric.title,
    )


# ---------------------------------------------------------------------------------------------
# Request helpers


def _registry():  # type: ignore[no-untyped-def]
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

    @property
    def variant(self) -> dict[str, Any] | None:
        return self.choice.variant if self.choice else None

    def estimate(self, variant_id: str) -> select.Estimate | None:
        return self.choice.estimates.get(variant_id) if self.choice else None


def choose(manifest: Mapping[str, Any], profile: Mapping[str, Any]) -> DeviceChoice:
    policy_name, policy, why = select.policy_for_device(profile)
    common = {
        "device_id": str(profile["id"]),
        "device_name": str(profile["name"]),
        "policy_name": policy_name,
        "policy_why": why,
        "policy_text": policy_text(policy),
    }
    try:
        choice = select.select(manifest, profile, policy)
    except NoCompatibleVariantError as e:
        headline, *lines = e.message.splitlines()
        return DeviceChoice(choice=None, problems=[line.strip() for line in lines], headline=headline, **common)
    return DeviceChoice(choice=choice, problems=[], **common)


@dataclass(frozen=True)
class Listing:
    """A model as the catalog lists it, with what a device would get when one is picked."""

    model: dict[str, Any]
    on_device: DeviceChoice | None = None


def _listings(models: Iterable[dict[str, Any]], profile: Mapping[str, Any] | None) -> list[Listing]:
    """The models as listed; with a profile, only those with a variant that runs on it."""
    if profile is None:
        return [Listing(m) for m in models]
    index = _registry().index
    out = []
    for m in models:
        manifest = index.manifest(m["namespace"], m["name"], m["latest"])
        on_device = choose(manifest, profile)
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
    "words": _words,
    "recipe_text": recipe_text,
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
        "subject": sorted({s for m in everything for s in m["subjects"]} | ({subject} if subject else set())),
        "grade": sorted({g for m in everything for g in m["grades"]} | ({grade} if grade else set()), key=_grade_key),
        "task": sorted({m["task"] for m in everything if m["task"]} | ({task} if task else set())),
    }
    _, found = index.search(q, subject=subject, grade=grade, task=task, limit=_ALL)
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
    if requested:
        version = model["aliases"].get(requested, requested)
        names.check_version(version)
    else:
        version = model["latest"]
        if not version and model["versions"] and set(model["withdrawn"]) == set(model["versions"]):
            version = names.latest_of(model["versions"])  # every version is withdrawn: the newest, marked so
        if not version:
            raise NotFoundError(f"{namespace}/{name} has no published version")
    row = index.version(namespace, name, version)
    manifest: dict[str, Any] = row["manifest_document"]
    device_id = _text_arg("device")
    on_device = choose(manifest, _reference_profile(device_id)) if device_id else None
    chosen = on_device.choice.variant_id if on_device and on_device.choice else None
    metric = MetricFormat.of(manifest)
    variants = manifest["variants"]
    ref = f"{namespace}/{name}@{version}"
    plots = [
        scatter(
            "plot-size", variants, x_of=lambda v: v["size"], x_kind="size", metric=metric, chosen=chosen, subject=ref
        ),
        scatter(
            "plot-latency",
            variants,
            x_of=lambda v: v["benchmarks"]["latency_us_p50"],
            x_kind="latency",
            metric=metric,
            chosen=chosen,
            subject=ref,
        ),
    ]
    aliases_here = sorted(a for a, v in model["aliases"].items() if v == version)
    return _render(
        "model.html",
        model=model,
        m=manifest,
        row=row,
        version=version,
        requested=requested,
        is_latest=version == model["latest"],
        aliases_here=aliases_here,
        withdrawal=row["withdrawn"],
        withdrawn=model["withdrawn"],
        versions=sorted(model["versions"], key=names.version_key, reverse=True),
        metric=metric,
        plots=plots,
        devices=_device_options(),
        device_id=device_id,
        on_device=on_device,
        chosen=chosen,
        machine=variants[0]["benchmarks"]["machine"] if variants else None,
    )


@bp.get("/publishers")
def publishers_page() -> Response:
    index = _registry().index
    _, everything = index.search(limit=_ALL)
    counts: dict[str, int] = {}
    for m in everything:
        counts[m["namespace"]] = counts.get(m["namespace"], 0) + 1
    return _render("publishers.html", publishers=index.publishers(), counts=counts)


@bp.get("/publishers/<namespace>")
def publisher_page(namespace: str) -> Response:
    names.check_namespace(namespace)
    index = _registry().index
    info = next((p for p in index.publishers() if p["namespace"] == namespace), None)
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
