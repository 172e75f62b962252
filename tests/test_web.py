"""The web catalog: in a real browser (Debian's Chromium driven by Playwright) as a person uses
it, and over plain HTTP for what a browser hides (status codes, headers, escaping).

The browser tests load every page, search, use each filter, pick a device on a model page and
read the chosen variant and its reasons, tab through a page with the keyboard, check there is
no console error and no horizontal scrolling on a tablet, and keep full-page screenshots at
768x1024 (tablet) and 1280x800 in build/screenshots/ (CI keeps them as artifacts).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
import urllib3
from builders import make_build_dir, make_realistic_build_dir
from conftest import ServerThread

from registry.client import publish
from registry.core import keys, profiles, select
from registry.core.model import Manifest
from registry.server import ServerConfig, admin, create_app

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
SHOTS = REPO / "build" / "screenshots"
VIEWPORTS = {"phone": (390, 844), "tablet": (768, 1024), "desktop": (1280, 800)}
DEVICE = "android-go-1gb"
HOSTILE_SUMMARY = 'Marks grammar errors <script>alert("pwned")</script> & <b>not bold</b>'
HOSTILE_USE = 'Older pupils\' essays. <img src="https://evil.example/x.png" onerror="alert(1)">'


# -- a registry with three models ------------------------------------------------------------------


@dataclass
class Site:
    url: str
    app: Any
    builds: dict[str, Path] = field(default_factory=dict)  # "ns/name@version" -> build dir

    def manifest(self, ref: str) -> dict[str, Any]:
        return json.loads((self.builds[ref] / "manifest.json").read_text())


def _edit(build: Path, change: Any) -> Path:
    doc = json.loads((build / "manifest.json").read_text())
    change(doc)
    (build / "manifest.json").write_text(json.dumps(doc, indent=2))
    return build


def _phonics(doc: dict[str, Any]) -> None:
    doc.update(
        task="keyword-spotting",
        summary="Hears which of twelve spoken words a child said, for phonics practice.",
        subjects=["literacy"],
        grades=["1", "2", "3"],
    )
    doc["card"]["education"] = {"age_band": "6-9", "privacy_class": "student-input-on-device"}
    fp32, int8 = doc["variants"]
    fp32["metrics"]["value"], int8["metrics"]["value"] = 0.91, 0.90
    fp32["requirements"]["min_runtime_version"] = "2.17.0"  # too new for the Android Go tablets


def _essays(doc: dict[str, Any]) -> None:
    doc.update(task="grammar-error-detection", summary=HOSTILE_SUMMARY, subjects=["language"], grades=["7", "8"])
    doc["card"]["intended_use"] = HOSTILE_USE
    for v in doc["variants"]:
        v["requirements"]["min_ram_mb"] = 900  # more than a 1 GB tablet lets one model use
    doc["variants"][1]["requirements"]["min_ram_mb"] = 1536


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    tmp = tmp_path_factory.mktemp("web")
    data, keys_dir = tmp / "data", tmp / "offline-keys"
    admin.init(data, keys_dir)
    key, pub = tmp / "pk" / "acme.pem", tmp / "pk" / "acme.pub.json"
    keys.save_key_pair(keys.generate(), key, pub)
    token = admin.add_publisher(data, keys_dir, "acme", pub)
    app = create_app({"EDZOO": ServerConfig(data_dir=data), "TESTING": True})
    server = ServerThread(app)
    s = Site(server.url, app)
    builds = [
        ("acme/handwriting@1.0.0", make_realistic_build_dir(tmp / "hw1", "acme", "handwriting", "1.0.0"), ["stable"]),
        ("acme/handwriting@1.1.0", make_realistic_build_dir(tmp / "hw2", "acme", "handwriting", "1.1.0"), []),
        ("acme/phonics@1.0.0", _edit(make_build_dir(tmp / "ph", "acme", "phonics", "1.0.0"), _phonics), []),
        ("acme/essays@1.0.0", _edit(make_build_dir(tmp / "es", "acme", "essays", "1.0.0"), _essays), []),
    ]
    try:
        for ref, build, aliases in builds:
            publish(build, registry=server.url, key_path=key, token=token, aliases=aliases)
            s.builds[ref] = build
        yield s
    finally:
        server.stop()
        app.extensions["edzoo"].close()


def _expected_choice(site: Site, ref: str, device: str) -> select.Choice:
    """What the model page must show: select() on the published manifest, default policy."""
    profile = profiles.load_profile(device)
    _, policy, _ = select.policy_for_device(profile)
    return select.select(site.manifest(ref), profile, policy)


# -- plain HTTP --------------------------------------------------------------------------------------

http = urllib3.PoolManager(retries=False)
BROWSER_ACCEPT = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"


def _get(site: Site, path: str, accept: str = BROWSER_ACCEPT) -> urllib3.BaseHTTPResponse:
    return http.request("GET", site.url + path, headers={"Accept": accept})


class _Links(HTMLParser):
    """Every URL a page makes the browser load or follow, and its form controls and labels."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.controls: list[str] = []
        self.labels: set[str] = set()
        self.points: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        for name in ("href", "src", "action", "srcset", "poster", "data", "xlink:href", "formaction"):
            if name in a:
                self.urls.append(a[name])
        if tag in ("input", "select", "textarea") and a.get("type") not in ("hidden", "submit"):
            self.controls.append(a.get("id", ""))
        if tag == "label":
            self.labels.add(a.get("for", ""))
        if tag == "g" and "point" in a.get("class", "").split():
            self.points.append(a.get("data-variant", ""))


def _parse(body: str) -> _Links:
    p = _Links()
    p.feed(body)
    return p


PAGES = [
    "/",
    "/?q=hand&subject=math&grade=1&task=image-classification",
    f"/?device={DEVICE}",
    "/models/acme/handwriting",
    f"/models/acme/handwriting?device={DEVICE}",
    "/models/acme/handwriting?version=stable",
    "/models/acme/phonics?device=teacher-laptop",
    "/models/acme/essays",
    f"/models/acme/essays?device={DEVICE}",
    "/publishers",
    "/publishers/acme",
    "/devices",
    f"/devices/{DEVICE}",
]


def test_pages_load_nothing_from_elsewhere(site: Site) -> None:
    origin = urlsplit(site.url)
    for path in PAGES:
        r = _get(site, path)
        assert r.status == 200, path
        assert r.headers["Content-Type"].startswith("text/html"), path
        csp = r.headers["Content-Security-Policy"]
        assert "default-src 'none'" in csp and "script-src" not in csp, path  # no script may run at all
        page = _parse(r.data.decode())
        assert page.urls, path
        for url in page.urls:
            absolute = urlsplit(urljoin(site.url + path, url))
            assert (absolute.scheme, absolute.netloc) == (origin.scheme, origin.netloc), f"{path}: {url}"
        # Every form control has a label.
        assert set(page.controls) <= page.labels, path
        body = r.data.decode()
        assert '<html lang="en">' in body and 'name="viewport"' in body, path
    css = _get(site, "/assets/web.css", accept="text/css,*/*;q=0.1")
    assert css.status == 200
    text = css.data.decode()
    assert "@import" not in text and "http" not in re.sub(r"/\*.*?\*/", "", text, flags=re.S)


def test_publisher_text_is_shown_as_text(site: Site) -> None:
    for path in ("/models/acme/essays", "/", "/publishers/acme"):
        body = _get(site, path).data.decode()
        assert "<script>" not in body and "<b>not bold" not in body, path
        assert "&lt;script&gt;alert(" in body and "&amp; &lt;b&gt;not bold&lt;/b&gt;" in body, path
    body = _get(site, "/models/acme/essays").data.decode()
    assert "<img" not in body and "&lt;img src=" in body


def test_memory_is_written_in_one_rule(site: Site) -> None:
    """A requirement of 1,536 MB reads 1.5 GB, as the device boxes write 1,536 MB of RAM."""
    body = _get(site, "/models/acme/essays").data.decode()
    assert "1.5 GB RAM" in body and "900 MB RAM" in body and "1536 MB" not in body


def test_missing_things_are_friendly_html_pages(site: Site) -> None:
    cases = {
        "/models/acme/nothing": (404, "no model acme/nothing"),
        "/models/acme/handwriting?version=9.9.9": (404, "no version 9.9.9 of acme/handwriting"),
        "/models/acme/handwriting?version=not!a!version": (400, "invalid version"),
        "/models/Bad_Name/x": (400, "invalid namespace"),
        "/publishers/nobody": (404, "no publisher"),
        "/devices/no-such-device": (404, "no reference device"),
        "/devices/profile.json": (404, "no reference device"),  # an id, never a file path
        "/?device=no-such-device": (404, "no reference device"),
        "/?page=0": (400, "page must be"),
        "/?q=" + "x" * 300: (400, "at most 200 characters"),
        "/no/such/page": (404, "there is no page at /no/such/page"),
    }
    for path, (status, words) in cases.items():
        r = _get(site, path)
        body = r.data.decode()
        assert r.status == status, (path, r.status, body[:300])
        assert r.headers["Content-Type"].startswith("text/html"), path
        assert words in body, (path, body)
        assert "Traceback" not in body
        links = _parse(body).urls
        assert "/" in links, path  # a way back to the catalog
        assert "<h1>" in body and "Sorry:" in body, path
    # API clients keep the JSON error of every other route.
    for accept in ("*/*", "application/json"):
        r = _get(site, "/no/such/page", accept=accept)
        assert r.status == 404 and r.json()["error"] == "not_found"
    r = _get(site, "/api/v1/models/acme/nothing")
    assert r.status == 404 and r.json()["error"] == "not_found"


def test_plots_draw_one_point_per_variant(site: Site) -> None:
    manifest = site.manifest("acme/handwriting@1.1.0")
    expected = _expected_choice(site, "acme/handwriting@1.1.0", DEVICE).variant_id
    body = _get(site, f"/models/acme/handwriting?device={DEVICE}").data.decode()
    ids = [v["id"] for v in manifest["variants"]]
    points = _parse(body).points
    size_plot, latency_plot = points[: len(ids)], points[len(ids) :]
    assert sorted(size_plot) == sorted(latency_plot) == sorted(ids)  # one point per variant in each plot
    assert size_plot[-1] == latency_plot[-1] == expected  # the chosen point is drawn last, on top
    assert body.count('role="img"') == 2
    assert "File size (bytes, log scale)" in body and "Median latency on the reference machine" in body
    assert body.count('class="point point-chosen"') == 2 and f'data-variant="{expected}"' in body
    # Each plot has its data as a table for screen readers.
    assert body.count("<caption>Data of the plot") == 2


# -- in a browser --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing: CI installs Debian's chromium (scripts/_env.sh)")
        pytest.skip(f"the browser tests need Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        if os.environ.get("CI"):
            raise
        pytest.skip("the browser tests need Playwright for Python (the [dev] extra)")

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            yield b
        finally:
            b.close()


class Tab:
    """A browser page that records console errors, page errors, dialogs and failed requests."""

    def __init__(self, browser: Any, site: Site, viewport: str = "tablet") -> None:
        width, height = VIEWPORTS[viewport]
        self.context = browser.new_context(viewport={"width": width, "height": height})
        self.page = self.context.new_page()
        self.site = site
        self.problems: list[str] = []
        self.requests: list[str] = []
        self.page.on("console", lambda m: m.type == "error" and self.problems.append(f"console: {m.text}"))
        self.page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        self.page.on("dialog", lambda d: (self.problems.append(f"dialog: {d.message}"), d.dismiss()))
        # A load cut short by the next navigation (a favicon, say) is aborted, not failed.
        self.page.on(
            "requestfailed",
            lambda r: r.failure != "net::ERR_ABORTED" and self.problems.append(f"request failed: {r.url} {r.failure}"),
        )
        self.page.on("response", lambda r: r.status >= 400 and self.problems.append(f"HTTP {r.status}: {r.url}"))
        self.page.on("request", lambda r: self.requests.append(r.url))

    def open(self, path: str) -> Any:
        response = self.page.goto(self.site.url + path)
        assert response is not None and response.status == 200, path
        return self.page

    def shot(self, name: str) -> None:
        SHOTS.mkdir(parents=True, exist_ok=True)
        width, height = self.page.viewport_size["width"], self.page.viewport_size["height"]
        self.page.screenshot(path=str(SHOTS / f"{name}-{width}x{height}.png"), full_page=True)

    def close(self) -> None:
        self.context.close()
        origin = urlsplit(self.site.url).netloc
        elsewhere = [u for u in self.requests if urlsplit(u).netloc != origin]
        assert not elsewhere, f"requests to other origins: {elsewhere}"
        assert not self.problems, self.problems


@pytest.fixture
def tab(browser: Any, site: Site) -> Iterator[Tab]:
    t = Tab(browser, site)
    yield t
    t.close()


def _results(page: Any) -> list[str]:
    return page.locator(".card-list .model-title").all_inner_texts()


def test_catalog_search_and_filters(tab: Tab) -> None:
    from playwright.sync_api import expect

    page = tab.open("/")
    expect(page).to_have_title(re.compile("Models"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Models")
    expect(page.get_by_role("heading", level=2, name="3 models")).to_be_visible()
    assert _results(page) == ["acme/essays", "acme/handwriting", "acme/phonics"]
    tab.shot("catalog")
    page.set_viewport_size({"width": 1280, "height": 800})
    tab.shot("catalog")
    page.set_viewport_size({"width": 768, "height": 1024})

    # Search: type, press Enter.
    search = page.get_by_role("searchbox", name="Search models")
    search.fill("phonics")
    search.press("Enter")
    page.wait_for_url(re.compile(r"\?q=phonics"))
    expect(page.get_by_role("heading", level=2, name="1 model")).to_be_visible()
    assert _results(page) == ["acme/phonics"]
    expect(page.get_by_text("Hears which of twelve spoken words")).to_be_visible()

    # Each filter alone, from a clean catalog.
    for label, value, expected in [
        ("Subject", "math", ["acme/handwriting"]),
        ("Grade", "7", ["acme/essays"]),
        ("Task", "keyword-spotting", ["acme/phonics"]),
    ]:
        page.get_by_role("link", name="Clear search and filters").click()
        page.wait_for_url(tab.site.url + "/")
        page.get_by_label(label, exact=True).select_option(value)
        page.get_by_role("button", name="Search").click()
        page.wait_for_url(re.compile(rf"{label.lower()}={value}"))
        assert _results(page) == expected, label
        expect(page.get_by_label(label, exact=True)).to_have_value(value)  # the filter stays set
    tab.shot("catalog-filtered")

    # A device: only models with a variant that runs there, each with the variant it would get.
    page.get_by_role("link", name="Clear search and filters").click()
    page.get_by_label("Runs on device").select_option(DEVICE)
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(rf"device={DEVICE}"))
    name = profiles.load_profile(DEVICE)["name"]
    expect(page.get_by_role("heading", level=2)).to_have_text(f"2 models that run on {name}")
    assert _results(page) == ["acme/handwriting", "acme/phonics"]  # essays needs 900 MB of RAM
    for ref in ("acme/handwriting@1.1.0", "acme/phonics@1.0.0"):
        chosen = _expected_choice(tab.site, ref, DEVICE).variant_id
        card = page.locator(".model-card", has_text=ref.split("@")[0])
        expect(card.locator(".on-device")).to_contain_text(f"On {name}: {chosen}")
    tab.shot("catalog-device")

    # Nothing found: says so, offers the way back.
    tab.open("/?q=zebra")
    expect(page.get_by_role("heading", level=2)).to_have_text("No models found")
    page.get_by_role("link", name="Show all 3 models").click()
    assert len(_results(page)) == 3


def test_model_page_what_would_my_device_get(tab: Tab) -> None:
    from playwright.sync_api import expect

    site = tab.site
    page = tab.open("/models/acme/handwriting")
    expect(page.get_by_role("heading", level=1)).to_have_text("acme/handwriting 1.1.0")
    expect(page.get_by_text("Install on a device: edzoo pull acme/handwriting@1.1.0")).to_be_visible()
    command = page.locator("code.command").first
    expect(command).to_have_text(f"edzoo pull acme/handwriting@1.1.0 --registry {site.url}")  # copy, paste, works
    manifest = site.manifest("acme/handwriting@1.1.0")
    variants = page.get_by_role("table", name="6 variants of acme/handwriting 1.1.0")
    expect(variants.get_by_role("row")).to_have_count(1 + len(manifest["variants"]))
    tab.shot("model")

    # Pick a device as a person would: the select, then the button.
    page.get_by_label("Device", exact=True).select_option(DEVICE)
    page.get_by_role("button", name="Show the variant").click()
    page.wait_for_url(re.compile(rf"device={DEVICE}"))
    choice = _expected_choice(site, "acme/handwriting@1.1.0", DEVICE)
    profile = profiles.load_profile(DEVICE)
    result = page.locator("#device-result")
    expect(result.get_by_role("heading", level=3)).to_have_text(f"{profile['name']} would get {choice.variant_id}")
    expect(result).to_contain_text("Policy smallest-download")
    expect(result).to_contain_text("default for a device with offline network")
    for reason in choice.reasons:
        expect(result.get_by_role("listitem").filter(has_text=reason)).to_be_visible()
    # The rejected variant says why, in words.
    rejected = {vid: r.reason for vid, r in choice.others.items() if r.kind == "rejected"}
    assert rejected == {"dynamic": "needs LiteRT 2.17.0, the device has 2.10"}
    row = result.get_by_role("row").filter(has=page.get_by_role("rowheader", name="dynamic", exact=True))
    expect(row).to_contain_text("Cannot run here")
    expect(row).to_contain_text("needs LiteRT 2.17.0, the device has 2.10")
    for vid, rejection in choice.others.items():
        if rejection.kind == "lost":
            lost = result.get_by_role("row").filter(has=page.get_by_role("rowheader", name=vid, exact=True))
            expect(lost).to_contain_text("Runs, not chosen")
            expect(lost).to_contain_text(rejection.reason)
    # The plots: one point per variant each, the chosen one marked in shape and words.
    for plot in page.locator("svg.plot-svg").all():
        expect(plot.locator("g.point")).to_have_count(len(manifest["variants"]))
        expect(plot.locator("g.point-chosen")).to_have_attribute("data-variant", choice.variant_id)
        expect(plot.locator("g.point-chosen text")).to_have_text(f"{choice.variant_id} (chosen)")
    expect(page.get_by_role("img", name=re.compile("against file size"))).to_be_visible()
    expect(page.get_by_role("img", name=re.compile("against median latency"))).to_be_visible()
    tab.shot("model-device")
    page.set_viewport_size({"width": 1280, "height": 800})
    tab.shot("model-device")
    page.set_viewport_size({"width": 768, "height": 1024})

    # Another version, through the version picker; the device stays picked.
    page.get_by_label("Version", exact=True).select_option("1.0.0")
    page.get_by_role("button", name="Show version").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("acme/handwriting 1.0.0")
    expect(page.get_by_text("stable", exact=True).first).to_be_visible()
    expect(page.locator("#device-result h3")).to_contain_text(" would get ")

    # A device on which no variant runs says so, with each variant's reason.
    page = tab.open(f"/models/acme/essays?device={DEVICE}")
    expect(page.locator("#device-result h3")).to_have_text(f"No variant runs on {profile['name']}")
    expect(page.locator("#device-result")).to_contain_text("fp32: needs 900 MB of RAM at run time")
    expect(page.get_by_text(HOSTILE_SUMMARY)).to_be_visible()  # shown as text, never run
    expect(page.get_by_text(HOSTILE_USE)).to_be_visible()
    tab.shot("model-no-variant")


def test_keyboard_reaches_search_and_links(tab: Tab) -> None:
    page = tab.open("/")

    def focused() -> dict[str, str]:
        return page.evaluate(
            "() => { const e = document.activeElement; const s = getComputedStyle(e);"
            " return {tag: e.tagName.toLowerCase(), id: e.id, text: e.textContent.trim(),"
            " outline: s.outlineStyle, width: s.outlineWidth}; }"
        )

    page.keyboard.press("Tab")
    first = focused()
    assert first["text"] == "Skip to main content" and first["outline"] == "solid", first
    page.keyboard.press("Enter")  # the skip link moves focus to the main content
    page.keyboard.press("Tab")
    search = focused()
    assert search["id"] == "q", search
    assert search["outline"] == "solid" and search["width"] == "3px", search  # a visible focus ring
    page.keyboard.type("handwriting")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"\?q=handwriting"))
    seen = []
    for _ in range(40):
        page.keyboard.press("Tab")
        f = focused()
        seen.append((f["tag"], f["text"]))
        if f["text"] == "acme/handwriting":
            break
    assert ("a", "acme/handwriting") in seen, seen
    assert focused()["outline"] == "solid"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile("/models/acme/handwriting$"))
    # On the model page, the device form works from the keyboard alone.
    page.get_by_label("Device", exact=True).focus()
    page.keyboard.press("ArrowDown")  # "Choose a device" -> the first reference device
    page.keyboard.press("Tab")
    assert focused()["text"] == "Show the variant"
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"device="))
    assert (
        page.locator("#device-result h3")
        .inner_text()
        .endswith(_expected_choice(tab.site, "acme/handwriting@1.1.0", profiles.reference_profiles()[0]).variant_id)
    )


HEADINGS_AND_LAYOUT = """() => {
  const levels = [...document.querySelectorAll('h1,h2,h3,h4,h5,h6')].map(h => Number(h.tagName[1]));
  const unlabeled = [...document.querySelectorAll('input:not([type=hidden]),select,textarea')]
    .filter(e => !(e.labels && e.labels.length)).map(e => e.outerHTML);
  const urls = [...document.querySelectorAll('[href],[src],[action]')]
    .map(e => e.href || e.src || e.action).filter(u => typeof u === 'string');
  return {levels, unlabeled, urls, lang: document.documentElement.lang,
          overflow: document.documentElement.scrollWidth - window.innerWidth,
          main: document.querySelectorAll('main').length, nav: document.querySelectorAll('nav').length,
          skip: document.querySelector('a.skip-link') && document.querySelector('a.skip-link').getAttribute('href')};
}"""


WIDE_TABLE = """() => {
  const wrap = document.querySelector('.table-wrap:has(table.variants)');
  const hint = wrap.previousElementSibling;
  const first = () => wrap.querySelector('tbody tr > :first-child').getBoundingClientRect().left;
  const before = first();
  wrap.scrollLeft = wrap.scrollWidth;
  const after = first();
  const left = wrap.getBoundingClientRect().left;
  const cue = getComputedStyle(wrap).backgroundImage;
  return {scrolls: wrap.scrollWidth > wrap.clientWidth,
          hint: hint.classList.contains('scroll-hint') && getComputedStyle(hint).display !== 'none',
          sticky: Math.abs(after - left) <= 2 && Math.abs(before - left) <= 2,
          cue: (cue.match(/gradient/g) || []).length,
          page: document.documentElement.scrollWidth - window.innerWidth};
}"""


@pytest.mark.parametrize("viewport", ["phone", "tablet"])
def test_a_wide_table_on_a_tablet_or_phone_says_it_scrolls(browser: Any, site: Site, viewport: str) -> None:
    tab = Tab(browser, site, viewport)
    try:
        facts = tab.open("/models/acme/handwriting").evaluate(WIDE_TABLE)
        assert facts["scrolls"] and facts["hint"], facts  # wider than the screen, and it says so
        assert facts["cue"] == 4 and facts["sticky"], facts  # edge shadows; the variant's name stays in view
        assert facts["page"] <= 0, facts  # the table scrolls in its box, never the page
        tab.shot(f"model-{viewport}-scrolled")
    finally:
        tab.close()


@pytest.mark.parametrize("viewport", ["tablet", "desktop"])
def test_every_page_reads_well(browser: Any, site: Site, viewport: str) -> None:
    tab = Tab(browser, site, viewport)
    origin = urlsplit(site.url).netloc
    try:
        for path in PAGES:
            page = tab.open(path)
            facts = page.evaluate(HEADINGS_AND_LAYOUT)
            assert facts["lang"] == "en" and facts["main"] == 1 and facts["nav"] >= 1, path
            assert facts["skip"] == "#main", path
            levels = facts["levels"]
            assert levels[0] == 1 and levels.count(1) == 1, (path, levels)
            assert all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False)), (path, levels)  # no skipped level
            assert not facts["unlabeled"], (path, facts["unlabeled"])
            assert all(urlsplit(u).netloc == origin for u in facts["urls"]), (path, facts["urls"])
            assert facts["overflow"] <= 0, f"{path}: {facts['overflow']}px of horizontal scrolling at {viewport}"
        for name, path in [
            ("publishers", "/publishers"),
            ("publisher", "/publishers/acme"),
            ("devices", "/devices"),
            ("device", f"/devices/{DEVICE}"),
        ]:
            tab.open(path)
            tab.shot(name)
        page = tab.open(f"/devices/{DEVICE}")
        name = profiles.load_profile(DEVICE)["name"]
        assert page.get_by_role("heading", level=1).inner_text() == name
        policy = page.locator("dt", has_text="Default policy").locator("xpath=following-sibling::dd")
        assert policy.inner_text().startswith("smallest-download: the smallest download (gzip size)")
        assert page.locator(".card-list .model-title").all_inner_texts() == ["acme/handwriting", "acme/phonics"]
        page = tab.open("/devices")
        page.get_by_role("link", name=name).click()
        page.wait_for_url(re.compile(f"/devices/{DEVICE}$"))
        # A missing page is a page too (its 404 is logged by the browser, which is expected).
        response = page.goto(site.url + "/models/acme/nothing")
        assert response is not None and response.status == 404
        assert page.get_by_role("heading", level=1).inner_text() == "Not found"
        tab.problems = [p for p in tab.problems if "status of 404" not in p and not p.startswith("HTTP 404")]
        tab.shot("not-found")
    finally:
        tab.close()


def test_plots_of_awkward_data() -> None:
    """One variant, a zero latency, a thousandfold spread, a lower-is-better metric: every point
    lands inside the plot and the axes get readable ticks."""
    from builders import manifest_for

    from registry.server import web

    def variants(*rows: tuple[int, float, float]) -> dict[str, Any]:
        doc = manifest_for("acme", "x", "1.0.0", {f"v{i}": b"x" * size for i, (size, _, _) in enumerate(rows)})
        for v, (_, p50, value) in zip(doc["variants"], rows, strict=True):
            v["benchmarks"]["latency_us_p50"], v["metrics"]["value"] = p50, value
        return doc

    cases = [
        variants((1000, 12.0, 0.8)),
        variants((10, 0.0, 0.5), (20, 0.0, 0.5)),
        variants((100, 1.0, 0.1), (100_000, 1000.0, 0.9), (3_000_000, 250_000.0, 0.95)),
        variants((50, 5.0, 3.2), (60, 6.0, 1.7)),
        variants((50, 5.0, 0.9806), (60, 6.0, 0.9991), (70, 7.0, 1.0)),  # accuracy near 100%
        variants((50, 5.0, 0.99)),  # one variant: the axis is padded, but not past 100%
    ]
    for doc in cases:
        metric, vs = web.MetricFormat.of(doc), Manifest.from_dict(doc).variants
        for kind, x_of in (("size", lambda v: v.size), ("latency", lambda v: v.benchmarks.latency_us_p50)):
            plot = web.scatter("p", vs, x_of=x_of, x_kind=kind, metric=metric, chosen=vs[0].id, subject="acme/x")
            assert len(plot.points) == len(vs)
            for pt in plot.points:
                assert plot.left <= pt.cx <= plot.right and plot.top <= pt.cy <= plot.bottom, (kind, pt)
            assert 2 <= len(plot.x_ticks) <= 9 and 2 <= len(plot.y_ticks) <= 9, (kind, plot.x_ticks, plot.y_ticks)
            assert len({t.label for t in plot.y_ticks}) == len(plot.y_ticks)  # no two ticks read the same
            assert [p.chosen for p in plot.points].count(True) == 1
            if metric.fraction:  # an axis stays inside what the metric can be: never above 100%
                assert all(0.0 <= float(t.label.rstrip("%")) <= 100.0 for t in plot.y_ticks), plot.y_ticks
    # one byte rule for the page, the CLI and plans (registry.core.units): binary, one decimal
    assert web.format_bytes(16384) == "16.0 kB" and web.format_bytes(235_000) == "229.5 kB"
    assert web.human_us(3.4) == "3.4 µs" and web.human_us(52_000) == "52 ms"
