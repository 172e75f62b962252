"""Offline bundles: `edzoo bundle` writes a plan's files and metadata to a folder, and
`edzoo install-bundle` verifies it with no network and installs atomically.

Every test publishes to the real registry of the ``env`` fixture and writes plan.json itself in
the shared format. Damaged and hostile bundles sit in a named table; each must be refused with a
message that says what to do, and leave the device's previous install working.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import ServerThread
from tuf.api.metadata import Metadata

from registry.client import publish
from registry.core import keys, names, trust
from registry.core.errors import EdzooError, NotFoundError, SignatureError, StorageError, UsageError
from registry.schools import bundle as bundles
from registry.server import ServerConfig, admin, create_app

EDZOO = Path(sys.executable).parent / "edzoo"
NS = "acme"


# -- helpers -----------------------------------------------------------------------------------
def variants(seed: int, sizes: dict[str, int]) -> dict[str, bytes]:
    rng = random.Random(seed)
    return {vid: rng.randbytes(n) for vid, n in sizes.items()}


def sha_size(path: Path) -> tuple[str, int]:
    data = path.read_bytes()
    return hashlib.sha256(data).hexdigest(), len(data)


def plan_doc(url: str, builds: dict[tuple[str, str], Path], groups: dict[str, tuple[str, list[tuple[str, str, str]]]]):  # type: ignore[no-untyped-def]
    """A plan.json in the shared format: ``groups`` maps a group id to (profile, [(model, version, variant)])."""
    models, targets = [], {}
    for (name, version), build in sorted(builds.items()):
        sha, size = sha_size(build / "manifest.json")
        target = names.target_path(NS, name, version, "manifest.json")
        models.append(
            {
                "model": f"{NS}/{name}",
                "version": version,
                "priority": 10,
                "required": False,
                "manifest_target": target,
                "manifest_sha256": sha,
                "manifest_size": size,
            }
        )
        targets[target] = {"target": target, "sha256": sha, "size": size}
    plan_groups = []
    for gid, (profile, items) in groups.items():
        install = []
        for name, version, variant in items:
            rel = f"variants/{variant}.tflite"
            sha, size = sha_size(builds[(name, version)] / rel)
            target = names.target_path(NS, name, version, rel)
            install.append(
                {
                    "model": f"{NS}/{name}",
                    "version": version,
                    "variant": variant,
                    "file": rel,
                    "target": target,
                    "sha256": sha,
                    "size": size,
                    "why": "chosen by the test",
                }
            )
            targets[target] = {"target": target, "sha256": sha, "size": size}
        total = sum(i["size"] for i in install)
        plan_groups.append(
            {
                "id": gid,
                "profile": profile,
                "count": 2,
                "labels": {},
                "policy": "smallest",
                "budget": {"storage_mb": 8.0, "memory_mb": None},
                "install": install,
                "not_installed": [],
                "problems": [],
                "bytes_per_device": total,
                "bytes_total": 2 * total,
                "value": float(len(install)),
            }
        )
    listed = sorted(targets.values(), key=lambda t: t["target"])
    return {
        "schema_version": 1,
        "kind": "edzoo-plan",
        "catalog": {"id": "test-catalog", "title": "test", "sha256": "0" * 64},
        "fleet": {"id": "test-fleet", "sha256": "0" * 64, "devices": 2 * len(groups), "groups": len(groups)},
        "registry": {"url": url, "snapshot_version": None},
        "models": models,
        "unavailable": [],
        "groups": plan_groups,
        "targets": listed,
        "totals": {
            "unique_bytes": sum(t["size"] for t in listed),
            "device_bytes": sum(g["bytes_total"] for g in plan_groups),
            "devices": 2 * len(groups),
        },
    }


def write_plan(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2, ensure_ascii=False))
    return path


@dataclass
class School:
    """Published models and their build folders, and helpers to plan and bundle them."""

    env: Any
    builds: dict[tuple[str, str], Path]

    def publish(self, name: str, version: str, sizes: dict[str, int], seed: int) -> Path:
        build = self.env.build(name, version, variants=variants(seed, sizes))
        self.env.publish(build)
        self.builds[(name, version)] = build
        return build

    def plan(self, filename: str, groups: dict[str, tuple[str, list[tuple[str, str, str]]]]) -> Path:
        used = {(n, v) for _, items in groups.values() for n, v, _ in items}
        builds = {k: b for k, b in self.builds.items() if k in used}
        return write_plan(self.env.tmp / filename, plan_doc(self.env.url, builds, groups))

    def bundle(self, plan: Path, out: str, **kw: Any) -> bundles.BundleResult:
        return bundles.write_bundle(
            plan, self.env.tmp / out, root=self.env.root, cache_dir=self.env.tmp / "cache", **kw
        )

    def blob(self, name: str, version: str, file: str) -> bytes:
        return (self.builds[(name, version)] / file).read_bytes()


@pytest.fixture
def school(env) -> School:  # type: ignore[no-untyped-def]
    s = School(env, {})
    s.publish("reader", "1.0.0", {"fp32": 300_000, "int8": 80_000}, seed=1)
    s.publish("speller", "1.0.0", {"fp32": 200_000, "int8": 50_000}, seed=2)
    return s


TABLETS = "android-go-1gb"
ROOMS = {
    "room-1-tablets": (TABLETS, [("reader", "1.0.0", "int8"), ("speller", "1.0.0", "int8")]),
    "teachers": ("teacher-laptop", [("reader", "1.0.0", "fp32"), ("speller", "1.0.0", "fp32")]),
}


def snapshot_app(app: Path) -> dict[str, Any]:
    """What an app sees: where `current` points, the bytes of every file in it, and the state."""
    current = (app / "current").resolve()
    files = {p.relative_to(current).as_posix(): p.read_bytes() for p in sorted(current.rglob("*")) if p.is_file()}
    return {"current": os.readlink(app / "current"), "files": files, "state": (app / "state.json").read_bytes()}


def assert_untouched(app: Path, before: dict[str, Any]) -> None:
    assert snapshot_app(app) == before, "the previous install changed"
    releases = app / "releases"
    assert not [p for p in releases.iterdir() if p.name.startswith(".")], "a partial release was left behind"
    assert not list((app / "blobs").rglob(".*.tmp")), "a partial blob was left behind"
    assert {p.name for p in releases.iterdir()} >= {Path(before["current"]).name}


def reseal(bundle_dir: Path) -> None:
    """Recompute bundle.json's metadata hashes and COMPLETE, as someone altering a bundle would."""
    doc = json.loads((bundle_dir / "bundle.json").read_text())
    for rel in doc["metadata"]:
        sha, size = sha_size(bundle_dir / "metadata" / rel)
        doc["metadata"][rel] = {"sha256": sha, "size": size}
    data = json.dumps(doc, indent=2).encode()
    (bundle_dir / "bundle.json").write_bytes(data)
    (bundle_dir / "COMPLETE").write_text(json.dumps({"bundle_sha256": hashlib.sha256(data).hexdigest()}))


def flip(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 1])


def blob_of(bundle_dir: Path, sha: str) -> Path:
    return bundle_dir / "blobs" / "sha256" / sha[:2] / sha


def target_sha(bundle_dir: Path, target: str) -> str:
    doc = json.loads((bundle_dir / "bundle.json").read_text())
    return next(t["sha256"] for t in doc["targets"] if t["target"] == target)


# -- bundle, install, CLI ------------------------------------------------------------------------
def test_bundle_then_install_gives_the_device_its_files(school: School) -> None:
    env = school.env
    plan = school.plan("plan.json", ROOMS)
    result = school.bundle(plan, "usb/bundle")
    out = env.tmp / "usb" / "bundle"
    doc = json.loads((out / "bundle.json").read_text())
    assert json.loads((out / "COMPLETE").read_text()) == {
        "bundle_sha256": hashlib.sha256((out / "bundle.json").read_bytes()).hexdigest()
    }
    assert (out / "plan.json").read_bytes() == plan.read_bytes()
    assert doc["id"] == result.id and doc["base"] is None and doc["policy"] == {"max_staleness_days": 30}
    plan_targets = json.loads(plan.read_text())["targets"]
    assert [(t["target"], t["sha256"]) for t in doc["targets"]] == [(t["target"], t["sha256"]) for t in plan_targets]
    assert all(t["in_bundle"] for t in doc["targets"])
    assert (result.files, result.written, result.present) == (6, 6, 0)
    assert result.written_bytes == sum(t["size"] for t in plan_targets)
    for t in doc["targets"]:
        assert sha_size(blob_of(out, t["sha256"])) == (t["sha256"], t["size"])
    assert "timestamp.json" in doc["metadata"] and "root_history/1.root.json" in doc["metadata"]
    assert any(rel.startswith(f"{NS}.bin-") for rel in doc["metadata"])

    app = env.tmp / "tablet"
    installed = bundles.install_bundle(out, app, device=TABLETS, root=env.root)
    assert installed.group == "room-1-tablets" and installed.copied == 4 and not installed.unchanged
    assert [(f.model, f.variant, f.size) for f in installed.models] == [
        (f"{NS}/reader", "int8", 80_000),
        (f"{NS}/speller", "int8", 50_000),
    ]
    current = app / "current"
    assert (current / "acme/reader/1.0.0/variants/int8.tflite").read_bytes() == school.blob(
        "reader", "1.0.0", "variants/int8.tflite"
    )
    assert (current / "acme/speller/1.0.0/manifest.json").read_bytes() == school.blob(
        "speller", "1.0.0", "manifest.json"
    )
    assert not (current / "acme/reader/1.0.0/variants/fp32.tflite").exists()
    assert os.readlink(current) == f"releases/{result.id}"
    assert (app / "trust" / "root.json").read_bytes() == env.root.read_bytes()
    state = json.loads((app / "state.json").read_text())
    assert state["bundle"] == result.id and state["timestamp_version"] == result.timestamp_version
    assert state["registry"] == env.url and len(state["installed"]) == 4
    assert installed.freshness.describe().startswith("metadata valid for ")

    again = bundles.install_bundle(out, app, device=TABLETS)
    assert again.unchanged and again.copied == 0 and os.readlink(current) == f"releases/{result.id}"
    # The laptop group from the same bundle, by profile file and by group id.
    laptop = bundles.install_bundle(
        out, env.tmp / "laptop", device=str(Path("manifests/devices/teacher-laptop.json").resolve()), root=env.root
    )
    assert [f.variant for f in laptop.models] == ["fp32", "fp32"]
    with pytest.raises(NotFoundError, match="no group for device profile raspberry-pi-4"):
        bundles.install_bundle(out, env.tmp / "pi", device="raspberry-pi-4", root=env.root)


def test_cli_bundle_and_install_bundle(school: School) -> None:
    env = school.env
    plan = school.plan("plan.json", ROOMS)
    cache, out, app = env.tmp / "cli-cache", env.tmp / "cli-bundle", env.tmp / "cli-app"
    run = subprocess.run(
        [str(EDZOO), "bundle", str(plan), "--out", str(out), "--root", str(env.root), "--cache", str(cache)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    assert "complete in" in run.stdout and "written   6 files" in run.stdout and "timestamp v" in run.stdout
    run = subprocess.run(
        [str(EDZOO), "install-bundle", str(out), "--device", TABLETS, "--into", str(app), "--root", str(env.root)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr
    # 80,000 bytes, in the binary units every size is printed in
    assert f"{NS}/reader@1.0.0  int8  78.1 kB" in run.stdout and "metadata valid for" in run.stdout
    run = subprocess.run(
        [str(EDZOO), "install-bundle", str(out), "--device", TABLETS, "--into", str(app), "--max-staleness", "400d"],
        capture_output=True,
        text=True,
    )
    assert run.returncode == UsageError.exit_code and "never unlimited" in run.stderr
    (out / "COMPLETE").unlink()
    run = subprocess.run(
        [str(EDZOO), "install-bundle", str(out), "--device", TABLETS, "--into", str(app)],
        capture_output=True,
        text=True,
    )
    assert run.returncode == UsageError.exit_code
    assert "incomplete bundle" in run.stderr and "re-run `edzoo bundle` to finish it" in run.stderr


def test_an_interrupted_bundle_resumes_writing_only_what_is_missing(school: School) -> None:
    env = school.env
    plan = school.plan("plan.json", ROOMS)
    first = school.bundle(plan, "bundle")
    out = env.tmp / "bundle"
    doc = json.loads((out / "bundle.json").read_text())
    # What a power cut or a pulled stick leaves: no COMPLETE, a blob not yet renamed into place
    # (its temp file half written), and a blob the stick damaged.
    (out / "COMPLETE").unlink()
    gone, damaged = doc["targets"][0], doc["targets"][1]
    blob = blob_of(out, gone["sha256"])
    (blob.parent / f".{gone['sha256']}.x1y2.tmp").write_bytes(blob.read_bytes()[:100])
    blob.unlink()
    bad = blob_of(out, damaged["sha256"])
    bad.write_bytes(bad.read_bytes()[:-1])
    # Damage of the same size, in the bundle and in the client's cache, is found when the copy is
    # read back, and repaired from a verified source (the cache blob is downloaded again).
    flipped, from_cache = doc["targets"][2], doc["targets"][3]
    blob_of(out, flipped["sha256"]).write_bytes(flip(blob_of(out, flipped["sha256"]).read_bytes()))
    cached = env.tmp / "cache" / "blobs" / "sha256" / from_cache["sha256"][:2] / from_cache["sha256"]
    os.chmod(cached, 0o644)
    cached.write_bytes(flip(cached.read_bytes()))
    blob_of(out, from_cache["sha256"]).unlink()
    with pytest.raises(UsageError, match="re-run `edzoo bundle` to finish it"):
        bundles.install_bundle(out, env.tmp / "app", device=TABLETS, root=env.root)

    resumed = school.bundle(plan, "bundle")
    assert resumed.id == first.id
    assert (resumed.written, resumed.present) == (4, 2)
    assert resumed.written_bytes == sum(t["size"] for t in (gone, damaged, flipped, from_cache))
    assert sha_size(cached)[0] == from_cache["sha256"]
    assert not list(out.rglob(".*.tmp"))
    bundles.verify_bundle(out, trusted_root=env.root.read_bytes())
    assert bundles.install_bundle(out, env.tmp / "app", device=TABLETS, root=env.root).copied == 4


def test_bundle_refuses_a_folder_that_holds_something_else(school: School) -> None:
    env = school.env
    plan = school.plan("plan.json", ROOMS)
    (env.tmp / "photos").mkdir()
    (env.tmp / "photos" / "holiday.jpg").write_bytes(b"jpeg")
    with pytest.raises(UsageError, match=r"holds other files \(holiday.jpg\)"):
        school.bundle(plan, "photos")
    assert (env.tmp / "photos" / "holiday.jpg").read_bytes() == b"jpeg"

    school.bundle(plan, "b1")
    small = school.plan("small.json", {"room-1-tablets": (TABLETS, [("reader", "1.0.0", "int8")])})
    with pytest.raises(UsageError, match="already holds the complete bundle .*--force"):
        school.bundle(small, "b1")
    assert school.bundle(small, "b1", force=True).replaced is not None
    assert len(list((env.tmp / "b1" / "blobs").rglob("*/*/*"))) == 2  # the other plan's files are gone
    bundles.verify_bundle(env.tmp / "b1", trusted_root=env.root.read_bytes())

    # A plan whose file the registry signs with other bytes was made elsewhere (or edited).
    doc = json.loads(plan.read_text())
    doc["targets"][0]["sha256"] = "ab" * 32
    for g in doc["groups"]:
        for item in g["install"]:
            if item["target"] == doc["targets"][0]["target"]:
                item["sha256"] = "ab" * 32
    with pytest.raises(SignatureError, match="re-run `edzoo plan` against this registry"):
        school.bundle(write_plan(env.tmp / "edited.json", doc), "b2")
    with pytest.raises(EdzooError, match="not an edzoo plan"):
        school.bundle(write_plan(env.tmp / "junk.json", {"hello": 1}), "b3")
    # A plan whose group lost a field the typed plan needs: one line naming where and what.
    del doc["groups"][0]["count"]
    with pytest.raises(EdzooError, match=r"\$\.groups\[0\]: PlanGroup lacks the required count: the plan was edited"):
        school.bundle(write_plan(env.tmp / "no-count.json", doc), "b4")


def test_since_writes_only_the_delta(school: School) -> None:
    env = school.env
    first_plan = school.plan("plan-1.json", {"room-1-tablets": ROOMS["room-1-tablets"]})
    first = school.bundle(first_plan, "sept")
    school.publish("reader", "1.1.0", {"fp32": 310_000, "int8": 81_000}, seed=3)
    second_plan = school.plan(
        "plan-2.json", {"room-1-tablets": (TABLETS, [("reader", "1.1.0", "int8"), ("speller", "1.0.0", "int8")])}
    )
    delta = school.bundle(second_plan, "oct", since=env.tmp / "sept")
    new = {
        names.target_path(NS, "reader", "1.1.0", "manifest.json"),
        names.target_path(NS, "reader", "1.1.0", "variants/int8.tflite"),
    }
    doc = json.loads((env.tmp / "oct" / "bundle.json").read_text())
    assert doc["base"] == {"id": first.id}
    assert {t["target"] for t in doc["targets"] if t["in_bundle"]} == new
    assert (delta.written, delta.in_base) == (2, 2)
    assert delta.written_bytes == sum(t["size"] for t in doc["targets"] if t["in_bundle"])
    assert len(list((env.tmp / "oct" / "blobs").rglob("*/*/*"))) == 2

    app = env.tmp / "tablet"
    bundles.install_bundle(env.tmp / "sept", app, device=TABLETS, root=env.root)
    result = bundles.install_bundle(env.tmp / "oct", app, device=TABLETS)
    assert (result.copied, result.reused) == (2, 2) and result.previous == first.id
    assert (app / "current/acme/reader/1.1.0/variants/int8.tflite").read_bytes() == school.blob(
        "reader", "1.1.0", "variants/int8.tflite"
    )
    assert (app / "current/acme/speller/1.0.0/variants/int8.tflite").exists()
    assert not (app / "current/acme/reader/1.0.0").exists()

    fresh = env.tmp / "new-tablet"
    with pytest.raises(NotFoundError, match=f"delta on top of bundle {first.id[:12]}.*install that bundle first"):
        bundles.install_bundle(env.tmp / "oct", fresh, device=TABLETS, root=env.root)
    assert not fresh.exists(), "a failed first install left a device folder behind"
    ok = bundles.install_bundle(env.tmp / "oct", fresh, device=TABLETS, root=env.root, base_dir=env.tmp / "sept")
    assert ok.copied == 4


def test_groups_sharing_a_profile_are_picked_with_group(school: School) -> None:
    env = school.env
    plan = school.plan(
        "plan.json",
        {
            "room-1": (TABLETS, [("reader", "1.0.0", "int8")]),
            "room-2": (TABLETS, [("reader", "1.0.0", "int8"), ("speller", "1.0.0", "int8")]),
        },
    )
    made = school.bundle(plan, "bundle")
    app = env.tmp / "tablet"
    with pytest.raises(UsageError, match=r"several groups .*\(room-1, room-2\): pick one with --group"):
        bundles.install_bundle(env.tmp / "bundle", app, device=TABLETS, root=env.root)
    with pytest.raises(UsageError, match="group room-1 is planned for device profile android-go-1gb, not teacher"):
        bundles.install_bundle(env.tmp / "bundle", app, device="teacher-laptop", group="room-1", root=env.root)
    one = bundles.install_bundle(env.tmp / "bundle", app, device=TABLETS, group="room-1", root=env.root)
    assert len(one.models) == 1 and one.release.name == made.id
    # The same bundle for the other group: a release of its own; `current` never changes in place.
    two = bundles.install_bundle(env.tmp / "bundle", app, device=TABLETS, group="room-2")
    assert len(two.models) == 2 and two.release.name != made.id and two.release.name.startswith(made.id)
    assert os.readlink(app / "current") == f"releases/{two.release.name}"
    assert (app / "current/acme/speller/1.0.0/variants/int8.tflite").exists()
    assert (one.release / "acme/reader/1.0.0/variants/int8.tflite").exists(), "the previous release is kept"


# -- refused bundles ------------------------------------------------------------------------------
def other_registry_bundle(tmp: Path) -> Path:
    """A bundle of the same model from a second registry, with its own root."""
    data, keys_dir = tmp / "other-data", tmp / "other-keys"
    admin.init(data, keys_dir)
    signer = keys.generate()
    key, pub = tmp / "other-pk" / "bob.pem", tmp / "other-pk" / "bob.pub.json"
    keys.save_key_pair(signer, key, pub)
    token = admin.add_publisher(data, keys_dir, NS, pub)
    app = create_app({"EDZOO": ServerConfig(data_dir=data), "TESTING": True})
    server = ServerThread(app)
    try:
        build = tmp / "builds" / "acme-reader-1.0.0"
        publish(build, registry=server.url, key_path=key, token=token)
        plan = write_plan(
            tmp / "other-plan.json",
            plan_doc(
                server.url, {("reader", "1.0.0"): build}, {"room-1-tablets": (TABLETS, [("reader", "1.0.0", "int8")])}
            ),
        )
        root = data / "objects" / "tuf" / "root.json"
        bundles.write_bundle(plan, tmp / "other-bundle", root=root, cache_dir=tmp / "other-cache")
    finally:
        server.stop()
        app.extensions["edzoo"].close()
    return tmp / "other-bundle"


@dataclass
class Case:
    name: str
    tamper: Callable[[Path, dict[str, Any]], dict[str, Any]]  # (bundle copy, context) -> install kwargs
    error: type[EdzooError]
    message: str


def _new_blob(b: Path, ctx: dict[str, Any]) -> Path:
    return blob_of(b, target_sha(b, names.target_path(NS, "reader", "1.1.0", "variants/int8.tflite")))


def truncated_file(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    blob = _new_blob(b, ctx)
    blob.write_bytes(blob.read_bytes()[:1000])
    return {}


def missing_file(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    _new_blob(b, ctx).unlink()
    return {}


def swapped_file(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    one = _new_blob(b, ctx)
    two = blob_of(b, target_sha(b, names.target_path(NS, "reader", "1.1.0", "manifest.json")))
    a, c = one.read_bytes(), two.read_bytes()
    one.write_bytes(c)
    two.write_bytes(a)
    return {}


def extra_file(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    extra = blob_of(b, "0" * 64)
    extra.parent.mkdir(parents=True, exist_ok=True)
    extra.write_bytes(b"not from the registry")
    return {}


def incomplete_bundle(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    (b / "COMPLETE").unlink()
    return {}


def stale_beyond_grace(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"now": trust.now() + timedelta(days=40)}


def stale_beyond_a_shorter_grace(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"now": trust.now() + timedelta(days=3), "max_staleness": bundles.parse_staleness("12h")}


def resigned_with_untrusted_key(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    md = Metadata.from_bytes((b / "metadata" / "timestamp.json").read_bytes())
    md.signed.version += 1
    md.signatures.clear()
    md.sign(keys.generate())  # a CryptoSigner this device never trusted
    (b / "metadata" / "timestamp.json").write_bytes(trust.to_bytes(md))
    reseal(b)
    return {}


def made_for_another_registry(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    shutil.rmtree(b)
    shutil.copytree(ctx["other"], b)
    return {}


def rollback(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    shutil.rmtree(b)
    shutil.copytree(ctx["older"], b)
    return {}


def root_not_the_pinned_one(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    return {"root": ctx["other"] / "metadata" / "root_history" / "1.root.json"}


def disk_full(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    calls = {"n": 0}
    real = bundles.files._copy_file

    def copy(src: Path, dst: Path, update: Any = None) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            with open(dst, "wb") as f:
                f.write(b"x" * 100)
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        real(src, dst, update)

    ctx["monkeypatch"].setattr(bundles.files, "_copy_file", copy)
    return {}


def stick_pulled(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    calls = {"n": 0}
    real = bundles.files._copy_file

    def copy(src: Path, dst: Path, update: Any = None) -> None:
        calls["n"] += 1
        if calls["n"] == 2:
            shutil.rmtree(b / "blobs")  # the stick is gone: the next read fails
        real(src, dst, update)

    ctx["monkeypatch"].setattr(bundles.files, "_copy_file", copy)
    return {}


def unlimited_staleness(b: Path, ctx: dict[str, Any]) -> dict[str, Any]:
    doc = json.loads((b / "bundle.json").read_text())
    doc["policy"]["max_staleness_days"] = 100_000
    (b / "bundle.json").write_text(json.dumps(doc))
    reseal(b)
    return {}


CASES = [
    Case(
        "truncated file", truncated_file, SignatureError, "truncated, swapped or altered file): copy the bundle again"
    ),
    Case("missing file", missing_file, SignatureError, "is missing from the bundle: the bundle was altered or damaged"),
    Case("swapped file", swapped_file, SignatureError, "truncated, swapped or altered file): copy the bundle again"),
    Case("extra file", extra_file, SignatureError, "is not listed in bundle.json (an extra file)"),
    Case("incomplete bundle", incomplete_bundle, UsageError, "re-run `edzoo bundle` to finish it"),
    Case("stale beyond the grace", stale_beyond_grace, SignatureError, "too old: timestamp metadata expired"),
    Case(
        "stale beyond a 12h grace",
        stale_beyond_a_shorter_grace,
        SignatureError,
        "ago, beyond the 12-hour grace. Make a fresh bundle",
    ),
    Case("re-signed with an untrusted key", resigned_with_untrusted_key, SignatureError, "signed by keys this device"),
    Case("made for another registry", made_for_another_registry, SignatureError, "made for another registry"),
    Case("rollback", rollback, SignatureError, "older than what this device already has (timestamp v"),
    Case("a root that is not the pinned one", root_not_the_pinned_one, SignatureError, "differs from the root this"),
    Case("disk full", disk_full, StorageError, "the disk is full"),
    Case("USB stick pulled", stick_pulled, StorageError, "was the USB stick removed?"),
    Case("unlimited staleness policy", unlimited_staleness, UsageError, "never unlimited"),
]


def test_damaged_or_hostile_bundles_are_refused_and_the_previous_install_keeps_working(
    school: School, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = school.env
    older = school.bundle(
        school.plan("plan-0.json", {"room-1-tablets": (TABLETS, [("reader", "1.0.0", "int8")])}), "b0"
    )
    school.publish("grammar", "1.0.0", {"fp32": 20_000, "int8": 9_000}, seed=4)
    installed_plan = school.plan("plan-1.json", ROOMS)
    installed = school.bundle(installed_plan, "b1")
    school.publish("reader", "1.1.0", {"fp32": 310_000, "int8": 81_000}, seed=3)
    newer_plan = school.plan(
        "plan-2.json", {"room-1-tablets": (TABLETS, [("reader", "1.1.0", "int8"), ("speller", "1.0.0", "int8")])}
    )
    school.bundle(newer_plan, "b2")
    assert older.timestamp_version < installed.timestamp_version

    app = env.tmp / "tablet"
    bundles.install_bundle(env.tmp / "b1", app, device=TABLETS, root=env.root)
    before = snapshot_app(app)
    blobs_before = sorted(p.name for p in (app / "blobs").rglob("*") if p.is_file())
    ctx = {"other": other_registry_bundle(env.tmp), "older": env.tmp / "b0", "monkeypatch": monkeypatch}

    for case in CASES:
        copy = env.tmp / "cases" / case.name.replace(" ", "-")
        shutil.copytree(env.tmp / "b2", copy)
        kw = case.tamper(copy, ctx)
        with pytest.raises(case.error) as info:
            bundles.install_bundle(copy, app, device=TABLETS, **kw)
        assert case.message in info.value.message, f"{case.name}: {info.value.message}"
        assert_untouched(app, before)
        assert sorted(p.name for p in (app / "blobs").rglob("*") if p.is_file()) == blobs_before, case.name
        monkeypatch.undo()

    # The pristine newer bundle installs; metadata expired within the grace is accepted, and said so.
    result = bundles.install_bundle(env.tmp / "b2", app, device=TABLETS, now=trust.now() + timedelta(days=10))
    assert result.freshness.expired
    assert result.freshness.describe().startswith("metadata expired 9 days ago; accepted within the 30-day grace")
    assert os.readlink(app / "current") == f"releases/{result.bundle}"


def test_max_staleness_parsing() -> None:
    assert bundles.parse_staleness("30d") == timedelta(days=30)
    assert bundles.parse_staleness("12h") == timedelta(hours=12)
    assert bundles.parse_staleness("0") == timedelta(0)
    assert bundles.parse_staleness("365d") == bundles.MAX_STALENESS
    for bad in ("366d", "9000h"):
        with pytest.raises(UsageError, match="never unlimited"):
            bundles.parse_staleness(bad)
    for bad in ("", "30", "-1d", "1w", "forever", "30 days"):
        with pytest.raises(UsageError, match="expected a duration like 30d, 12h or 0"):
            bundles.parse_staleness(bad)


# -- the device's trusted root follows rotations (registry.core.truststore) ------------------------
def test_a_device_verifies_from_the_newest_root_its_installs_reached(school: School) -> None:
    """After a bundle carries a rotated root (new timestamp keys), the device keeps that root and
    verifies later bundles from it: one whose metadata no longer carries the rotation installs,
    and the root the device was set up with is still accepted as --root."""
    from registry.server import keyadmin

    env = school.env
    first = school.plan("p1.json", {"tablets": (TABLETS, [("reader", "1.0.0", "int8")])})
    school.bundle(first, "usb/b1")
    app = env.tmp / "tablet"
    bundles.install_bundle(env.tmp / "usb" / "b1", app, device=TABLETS, root=env.root)
    assert not (app / "trust" / "root_history").exists()  # no rotation yet

    keyadmin.rotate_keys(env.data, env.keys_dir, "timestamp")
    school.publish("reader", "1.1.0", {"fp32": 300_000, "int8": 80_000}, seed=3)
    second = school.plan("p2.json", {"tablets": (TABLETS, [("reader", "1.1.0", "int8")])})
    school.bundle(second, "usb/b2")
    bundles.install_bundle(env.tmp / "usb" / "b2", app, device=TABLETS)
    v2 = (env.data / "objects" / "tuf" / "2.root.json").read_bytes()
    assert (app / "trust" / "root_history" / "2.root.json").read_bytes() == v2
    assert (app / "trust" / "root.json").read_bytes() == env.root.read_bytes()  # the pin stays

    school.publish("reader", "1.2.0", {"fp32": 300_000, "int8": 80_000}, seed=4)
    third = school.plan("p3.json", {"tablets": (TABLETS, [("reader", "1.2.0", "int8")])})
    school.bundle(third, "usb/b3")
    b3 = env.tmp / "usb" / "b3"
    (b3 / "metadata" / "root_history" / "2.root.json").unlink()  # the rotation is not in this bundle
    doc = json.loads((b3 / "bundle.json").read_text())
    del doc["metadata"]["root_history/2.root.json"]
    (b3 / "bundle.json").write_text(json.dumps(doc, indent=2))
    reseal(b3)
    # from root 1 the new timestamp key is unknown: only the device's root 2 verifies this bundle
    with pytest.raises(SignatureError):
        bundles.open_bundle(b3, trusted_root=env.root.read_bytes())
    installed = bundles.install_bundle(b3, app, device=TABLETS, root=env.root)
    assert [(f.model, f.version) for f in installed.models] == [(f"{NS}/reader", "1.2.0")]
    with pytest.raises(SignatureError, match="differs from the root this device already trusts"):
        bundles.install_bundle(b3, app, device=TABLETS, root=flip(env.root.read_bytes()))
