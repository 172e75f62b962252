"""Withdrawn (yanked) versions through the schools commands: `edzoo plan` skips or drops them,
`edzoo bundle` leaves them out of a plan made before the withdrawal, `edzoo install-bundle` removes
one a device installed earlier (a full bundle and a `--since` delta), and `edzoo mirror` stops
syncing and serving it. Every withdrawal is a real publisher-signed yank on the `env` registry."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import urllib3
from conftest import Env, ServerThread

from registry.client.download import Puller
from registry.client.recall import yank
from registry.core import names
from registry.core.errors import WithdrawnError
from registry.schools import bundle as bundles
from registry.schools.catalog import load_catalog, load_fleet
from registry.schools.mirror import create_mirror_app, read_status, sync
from registry.schools.plan import make_plan, render_plan, resolve_catalog, write_plan

EDZOO = Path(sys.executable).parent / "edzoo"
TABLETS = "android-go-1gb"


def _publish(env: Env, name: str, version: str) -> Path:
    build = env.build(name, version)
    env.publish(build)
    return build


def _yank(env: Env, ref: str, reason: str, use: str | None = None) -> None:
    yank(ref, reason=reason, use=use, registry=env.url, key_path=env.key, token=env.token)


def _catalog(env: Env, *models: dict[str, Any]) -> Path:
    path = env.tmp / "catalog.json"
    doc = {"schema_version": 1, "id": "recall-school", "title": "Recall school", "models": list(models)}
    path.write_text(json.dumps(doc))
    return path


def _fleet(env: Env) -> Path:
    path = env.tmp / "fleet.json"
    group = {"id": "tablets", "profile": TABLETS, "count": 30, "free_storage_mb": 10}
    path.write_text(json.dumps({"schema_version": 1, "id": "school", "groups": [group]}))
    return path


def _plan(env: Env, catalog: Path, out: str = "plan.json") -> tuple[Path, dict[str, Any]]:
    puller = Puller(env.url, root=env.root, cache_dir=env.tmp / "cache")
    cat = load_catalog(catalog)
    models, unavailable = resolve_catalog(cat, puller)
    plan = make_plan(
        cat, load_fleet(_fleet(env)), models, registry=env.url, snapshot_version=None, unavailable=unavailable
    )
    write_plan(plan, env.tmp / out)
    return env.tmp / out, plan.to_dict()


def _edzoo(*args: str | Path) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EDZOO_")}
    return subprocess.run([str(EDZOO), *map(str, args)], capture_output=True, text=True, env=environ, timeout=120)


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_plan_skips_withdrawn_versions_and_drops_a_pinned_one(env: Env) -> None:
    for name, version in (("reader", "1.0.0"), ("reader", "1.1.0"), ("speller", "1.0.0"), ("speller", "1.0.1")):
        _publish(env, name, version)
    _yank(env, "acme/reader@1.1.0", "mislabels the letter Q")
    _yank(env, "acme/speller@1.0.0", "reads words aloud wrongly", use="1.0.1")
    catalog = _catalog(
        env, {"model": "acme/reader", "priority": 50}, {"model": "acme/speller", "version": "1.0.0", "priority": 40}
    )
    _, plan = _plan(env, catalog)

    assert [(m["model"], m["version"]) for m in plan["models"]] == [("acme/reader", "1.0.0")]  # latest, not 1.1.0
    (dropped,) = plan["withdrawn"]
    assert (dropped["model"], dropped["version"], dropped["use"]) == ("acme/speller", "1.0.0", "1.0.1")
    (line,) = plan["warnings"]
    for part in ("acme/speller@1.0.0", "reads words aloud wrongly", "use acme/speller@1.0.1 instead"):
        assert part in line
    assert "\n" not in line
    assert all(not t["target"].startswith(("acme/speller/", "acme/reader/1.1.0/")) for t in plan["targets"])
    assert f"withdrawn:\n  ! {line[:60]}" in render_plan(plan)

    # The command prints it above the tables; --strict makes it an error (exit 13), after writing the plan.
    run = _edzoo(
        "plan", catalog, _fleet(env), "--registry", env.url, "--root", env.root, "--cache", env.tmp / "cli-cache",
        "-o", env.tmp / "cli-plan.json", "--strict",
    )  # fmt: skip
    assert run.returncode == WithdrawnError.exit_code, run.stderr
    assert "withdrawn:\n  ! acme/speller@1.0.0 was withdrawn by its publisher" in run.stdout
    assert "error: the catalog pins 1 withdrawn version (acme/speller@1.0.0)" in run.stderr
    assert json.loads((env.tmp / "cli-plan.json").read_text())["withdrawn"][0]["version"] == "1.0.0"


def test_bundle_drops_a_withdrawn_version_and_install_removes_it(env: Env) -> None:
    reader = _publish(env, "reader", "1.0.0")
    speller = _publish(env, "speller", "1.0.0")
    catalog = _catalog(env, {"model": "acme/reader", "priority": 50}, {"model": "acme/speller", "priority": 40})
    plan, _ = _plan(env, catalog)  # made before the withdrawal: it names reader 1.0.0
    cache = env.tmp / "cache"
    first = bundles.write_bundle(plan, env.tmp / "b1", root=env.root, cache_dir=cache)
    a, b = env.tmp / "tablet-a", env.tmp / "tablet-b"
    for app in (a, b):
        bundles.install_bundle(env.tmp / "b1", app, device=TABLETS, root=env.root)
        assert (app / "current/acme/reader/1.0.0/manifest.json").exists()
    reader_blobs = {_sha(p) for p in (reader / "variants").iterdir()}

    _publish(env, "reader", "1.0.1")
    _yank(env, "acme/reader@1.0.0", "mislabels the letter Q", use="1.0.1")

    # The same plan, bundled after the withdrawal: reader 1.0.0 is left out, and said so.
    run = _edzoo("bundle", plan, "--out", env.tmp / "b2", "--root", env.root, "--cache", cache, "--quiet")
    assert run.returncode == 0, run.stderr
    (dropped,) = [line for line in run.stdout.splitlines() if "dropped" in line]
    assert dropped.startswith("  dropped   acme/reader@1.0.0 was withdrawn by its publisher")
    assert "mislabels the letter Q; use acme/reader@1.0.1 instead" in dropped
    doc = json.loads((env.tmp / "b2" / "bundle.json").read_text())
    assert not [t for t in doc["targets"] if t["target"].startswith("acme/reader/")]
    assert [i["target"] for i in doc["indexes"]] == ["acme/reader/versions.json", "acme/speller/versions.json"]
    assert not [p for p in (env.tmp / "b2" / "blobs").rglob("*") if p.is_file() and p.name in reader_blobs]
    inner = json.loads((env.tmp / "b2" / "plan.json").read_text())
    assert [m["model"] for m in inner["models"]] == ["acme/speller"] and inner["withdrawn"][0]["version"] == "1.0.0"
    assert bundles.verify_bundle(env.tmp / "b2", trusted_root=env.root.read_bytes()).withdrawal("acme/reader", "1.0.0")

    # Installing it takes reader 1.0.0 off the device (the previous release too); speller stays.
    run = _edzoo("install-bundle", env.tmp / "b2", "--device", TABLETS, "--into", a, "--quiet")
    assert run.returncode == 0, run.stderr
    assert "  removed: acme/reader@1.0.0 was withdrawn by its publisher" in run.stdout
    assert "acme/speller@1.0.0  int8" in run.stdout
    assert not list(a.glob("releases/*/acme/reader"))
    assert (a / "current/acme/speller/1.0.0/manifest.json").read_bytes() == (speller / "manifest.json").read_bytes()
    assert not [p for p in (a / "blobs").rglob("*") if p.name in reader_blobs]
    assert {i["model"] for i in json.loads((a / "state.json").read_text())["installed"]} == {"acme/speller"}

    # A delta on the first bundle, made after the withdrawal, removes it too.
    delta = bundles.write_bundle(plan, env.tmp / "b3", root=env.root, cache_dir=cache, since=env.tmp / "b1")
    assert delta.base == first.id and [d.version for d in delta.dropped] == ["1.0.0"] and delta.written == 0
    result = bundles.install_bundle(env.tmp / "b3", b, device=TABLETS)
    assert [(d.model, d.version) for d in result.removed] == [("acme/reader", "1.0.0")]
    assert (result.copied, result.reused) == (0, 2)
    assert [f.model for f in result.models] == ["acme/speller"]
    assert not (b / "current/acme/reader").exists() and not list(b.glob("releases/*/acme/reader"))


def test_mirror_stops_syncing_and_serving_withdrawn_versions(env: Env) -> None:
    reader = _publish(env, "reader", "1.0.0")
    _publish(env, "speller", "1.0.0")
    catalog = _catalog(
        env, {"model": "acme/reader", "priority": 50}, {"model": "acme/speller", "version": "1.0.0", "priority": 40}
    )
    data = env.tmp / "mirror"
    assert [(m.model, m.version) for m in sync(env.url, catalog, data, root=env.root).models] == [
        ("acme/reader", "1.0.0"),
        ("acme/speller", "1.0.0"),
    ]
    server = ServerThread(create_mirror_app(data))
    try:
        manifest_url = f"{server.url}/tuf/targets/acme/reader/1.0.0/{_sha(reader / 'manifest.json')}.manifest.json"
        assert urllib3.request("GET", manifest_url, retries=False).status == 200

        _publish(env, "reader", "1.0.1")
        _yank(env, "acme/reader@1.0.0", "mislabels the letter Q", use="1.0.1")
        _yank(env, "acme/speller@1.0.0", "reads words aloud wrongly")
        result = sync(env.url, catalog, data, root=env.root)
        assert [(m.model, m.version) for m in result.models] == [("acme/reader", "1.0.1")]
        (unavailable,) = result.unavailable
        assert unavailable.model == "acme/speller" and "acme/speller@1.0.0 was withdrawn" in unavailable.reason
        assert [(w.model, w.version) for w in result.withdrawn] == [("acme/reader", "1.0.0"), ("acme/speller", "1.0.0")]
        assert result.removed_files == 6  # two manifests and four variants, synced before the withdrawal
        assert not (data / "www/tuf/targets/acme/reader/1.0.0").exists()

        gone = urllib3.request("GET", manifest_url, retries=False)
        assert gone.status == 404
        assert "acme/reader@1.0.0 was withdrawn by its publisher" in json.loads(gone.data)["message"]
        # The signed metadata and indexes are still served: devices learn the withdrawal from the mirror.
        assert env.pull("acme/reader", cache="device", url=server.url).version == "1.0.1"
        with pytest.raises(WithdrawnError, match="reads words aloud wrongly"):
            env.pull("acme/speller@1.0.0", cache="device", url=server.url)

        status = read_status(data)
        assert status is not None and [w["version"] for w in status["withdrawn"]] == ["1.0.0", "1.0.0"]
        run = _edzoo("mirror-status", "--data", data)
        assert "  withdrawn, not served: acme/reader@1.0.0 was withdrawn by its publisher" in run.stdout
        assert "  not mirrored: acme/speller: acme/speller@1.0.0 was withdrawn" in run.stdout
    finally:
        server.stop()


def test_a_bundle_whose_models_are_all_withdrawn_only_removes(env: Env) -> None:
    _publish(env, "reader", "1.0.0")
    plan, _ = _plan(env, _catalog(env, {"model": "acme/reader", "priority": 50}))
    bundles.write_bundle(plan, env.tmp / "b1", root=env.root, cache_dir=env.tmp / "cache")
    app = env.tmp / "tablet"
    bundles.install_bundle(env.tmp / "b1", app, device=TABLETS, root=env.root)
    _yank(env, "acme/reader@1.0.0", "mislabels the letter Q")

    made = bundles.write_bundle(plan, env.tmp / "b2", root=env.root, cache_dir=env.tmp / "cache")
    assert made.files == 0 and "no replacement was named" in made.dropped[0].message
    result = bundles.install_bundle(env.tmp / "b2", app, device=TABLETS)
    assert [d.version for d in result.removed] == ["1.0.0"] and result.models == []
    assert not list((app / "current").iterdir())
    assert names.index_path("acme", "reader") in {
        i["target"] for i in json.loads((env.tmp / "b2/bundle.json").read_text())["indexes"]
    }


def test_the_registry_admins_withdrawal_reaches_plans_bundles_and_mirrors(env: Env) -> None:
    from registry.server import recall_admin

    _publish(env, "reader", "1.0.0")
    env.publish(env.build("reader", "1.0.1"), aliases=["stable"])
    recall_admin.withdraw(env.data, env.keys_dir, "acme/reader@1.0.1", reason="harmful output", use="1.0.0")
    catalog = _catalog(env, {"model": "acme/reader", "version": "stable", "priority": 50})

    # The publisher's alias still names 1.0.1: the plan takes the version the withdrawal names.
    plan, doc = _plan(env, catalog)
    assert [(m["model"], m["version"]) for m in doc["models"]] == [("acme/reader", "1.0.0")]
    assert doc["withdrawn"] == [] and "withdrawn by the registry admin" in doc["warnings"][0]
    assert "alias 'stable' points to it, so acme/reader@1.0.0 is planned instead" in doc["warnings"][0]
    made = bundles.write_bundle(plan, env.tmp / "b", root=env.root, cache_dir=env.tmp / "cache")
    assert made.indexes == 2 and made.dropped == ()
    opened = bundles.verify_bundle(env.tmp / "b", trusted_root=env.root.read_bytes())
    assert opened.withdrawal("acme/reader", "1.0.1").by == "registry"  # type: ignore[union-attr]

    data = env.tmp / "mirror"
    result = sync(env.url, catalog, data, root=env.root)
    assert [(m.model, m.version) for m in result.models] == [("acme/reader", "1.0.0")]
    assert [(w.model, w.version, w.withdrawal.by) for w in result.withdrawn] == [("acme/reader", "1.0.1", "registry")]
    server = ServerThread(create_mirror_app(data))
    try:  # the mirror serves the admin's signed list, so devices behind it see the withdrawal
        with pytest.raises(WithdrawnError, match="harmful output"):
            env.pull("acme/reader@1.0.1", cache="device", url=server.url)
    finally:
        server.stop()
