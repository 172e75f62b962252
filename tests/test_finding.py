"""Finding models: `edzoo search`, "did you mean" on a mistyped model, the versions and aliases
on a missed version, and the catalog describing the latest release, not the newest upload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import urllib3
from conftest import Env

from registry.client.catalog import search
from registry.core.errors import NotFoundError, OfflineError


def _build(env: Env, name: str, version: str, summary: str, **fields: object) -> Path:
    build = env.build(name=name, version=version)
    doc = json.loads((build / "manifest.json").read_text())
    doc.update(summary=summary, **fields)
    (build / "manifest.json").write_text(json.dumps(doc))
    return build


@pytest.fixture
def shelf(env: Env) -> Env:
    env.publish(_build(env, "reader", "1.0.0", "Reads handwritten digits", subjects=["math"]))
    env.publish(_build(env, "speaker", "1.0.0", "Hears yes and no", subjects=["language"]))
    return env


def _cli(env: Env, *args: str) -> subprocess.CompletedProcess[str]:
    run_env = {**os.environ, "EDZOO_CACHE": str(env.tmp / "cli-cache"), "EDZOO_RETRIES": "0"}
    return subprocess.run(
        [sys.executable, "-m", "registry.cli", *args], env=run_env, capture_output=True, text=True, timeout=60
    )


def test_search_by_words_and_subject(shelf):  # type: ignore[no-untyped-def]
    total, hits = search(shelf.url, "digits")
    assert total == 1 and [h.id for h in hits] == ["acme/reader"]
    total, hits = search(shelf.url, subject="language")
    assert [h.id for h in hits] == ["acme/speaker"]
    assert search(shelf.url, "nothing like it") == (0, [])


def test_search_for_a_device_names_the_variant(shelf):  # type: ignore[no-untyped-def]
    p = _cli(shelf, "search", "--device", "android-go-1gb", "--registry", shelf.url, "--json")
    assert p.returncode == 0, p.stderr
    doc = json.loads(p.stdout)
    assert doc["total"] == 2 and all(m["variant"] in ("fp32", "int8") for m in doc["models"])
    p = _cli(shelf, "search", "digits", "--registry", shelf.url)
    assert p.returncode == 0 and p.stdout.startswith("acme/reader") and "Reads handwritten digits" in p.stdout
    assert p.stderr.strip() == "1 model"


def test_a_mistyped_model_gets_a_suggestion(shelf):  # type: ignore[no-untyped-def]
    with pytest.raises(NotFoundError, match=r"no model acme/redaer in .*; did you mean acme/reader\?$"):
        shelf.pull("acme/redaer")
    with pytest.raises(NotFoundError, match=r"did you mean acme/reader\?"):
        shelf.pull("acmee/reader")
    with pytest.raises(NotFoundError, match="`edzoo search` lists what it holds"):
        shelf.pull("acme/zzzzzz")
    shelf.pull("acme/reader")
    with pytest.raises(OfflineError, match=r"never pulled .*; the cache holds acme/reader$"):
        shelf.pull("acme/raeder", offline=True)


def test_a_missed_version_lists_versions_and_aliases(shelf):  # type: ignore[no-untyped-def]
    shelf.publish(_build(shelf, "reader", "1.1.0", "Reads handwritten digits"), aliases=["stable"])
    with pytest.raises(
        NotFoundError, match=r"has no version 9\.9\.9; published: 1\.0\.0, 1\.1\.0; aliases: stable -> 1\.1\.0"
    ):
        shelf.pull("acme/reader@9.9.9")


def test_the_catalog_describes_the_latest_release_not_a_pre_release(shelf):  # type: ignore[no-untyped-def]
    shelf.publish(_build(shelf, "reader", "2.0.0-rc.1", "EXPERIMENTAL letters too"))
    doc = json.loads(urllib3.request("GET", f"{shelf.url}/api/v1/models/acme/reader").data)
    assert doc["latest"] == "1.0.0" and doc["summary"] == "Reads handwritten digits"
    assert search(shelf.url, "experimental") == (0, [])
    shelf.publish(_build(shelf, "reader", "2.0.0", "Reads digits and letters"))
    doc = json.loads(urllib3.request("GET", f"{shelf.url}/api/v1/models/acme/reader").data)
    assert doc["latest"] == "2.0.0" and doc["summary"] == "Reads digits and letters"
