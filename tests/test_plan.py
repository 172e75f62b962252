"""`edzoo plan`: catalogs x fleets -> installation plans, against a real registry on loopback.

Three acme models are published with a large fp32 variant (300 kB, more accurate) and a small
int8 one (80 kB); a fleet's groups have budgets that make the choice bite: everything fits,
the fp32 of the most valued model fits, only one int8 fits, nothing fits, memory is short.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

from registry.client.download import Puller
from registry.core import select
from registry.core.errors import ManifestError, UsageError
from registry.schools import plan as planning
from registry.schools.catalog import Catalog, Fleet, load_catalog, load_fleet, parse_fleet
from registry.schools.plan import (
    OBJECTIVE,
    make_plan,
    plan_bytes,
    render_plan,
    resolve_catalog,
    snapshot_version,
    write_plan,
)

REPO = Path(__file__).resolve().parents[1]
EDZOO = str(REPO / ".venv" / "bin" / "edzoo")
KB = 1024
MB = 1024 * 1024
VARIANTS = {"fp32": (300 * KB, 0.95), "int8": (80 * KB, 0.94)}  # (file size, accuracy)

CATALOG = {
    "schema_version": 1,
    "id": "test-catalog",
    "title": "Three acme models and one that is not published",
    "models": [
        {"model": "acme/reader", "priority": 40, "required": True},
        {"model": "acme/counter", "priority": 30},
        {"model": "acme/speaker", "priority": 20},
        {"model": "acme/ghost", "priority": 10},
    ],
}

GROUPS: list[dict[str, Any]] = [
    # 10 MB: every fp32 fits.
    {"id": "teachers", "profile": "teacher-laptop", "count": 6, "free_storage_mb": 10},
    # 512 kB: the fp32 of the most valued model and two int8 (460 kB); not two fp32 (680 kB).
    {"id": "room-1", "profile": "android-go-1gb", "count": 28, "free_storage_mb": 0.5, "labels": {"room": "1"}},
    # 100 kB: one int8 only, and the reader has the highest priority.
    {"id": "one-slot", "profile": "android-go-2gb", "count": 30, "free_storage_mb": 0.1},
    # 50 kB: nothing fits, and the reader is required.
    {"id": "full", "profile": "android-go-1gb", "count": 2, "free_storage_mb": 0.05},
    # Room to store all, memory for two models of 64 MB.
    {"id": "cart", "profile": "chromebook-4gb", "count": 24, "free_storage_mb": 10, "memory_mb": 150},
]


def _publish(env, name: str) -> None:  # type: ignore[no-untyped-def]
    build = env.build(
        name, variants={vid: bytes([i + 1]) * size for i, (vid, (size, _)) in enumerate(VARIANTS.items())}
    )
    doc = json.loads((build / "manifest.json").read_text())
    for v in doc["variants"]:
        v["metrics"]["value"] = VARIANTS[v["id"]][1]
        v["metrics"]["reference_variant"] = "fp32"
        v["metrics"]["delta_vs_reference"] = round(VARIANTS[v["id"]][1] - VARIANTS["fp32"][1], 6)
    (build / "manifest.json").write_text(json.dumps(doc, indent=2))
    env.publish(build)


def _write_json(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(json.dumps(doc, indent=2))
    return path


def _write_csv(path: Path, groups: list[dict[str, Any]]) -> Path:
    lines = ["id,profile,count,free_storage_mb,memory_mb,labels"]
    for g in groups:
        labels = ";".join(f"{k}={v}" for k, v in g.get("labels", {}).items())
        lines.append(
            f"{g['id']},{g['profile']},{g['count']},{g.get('free_storage_mb', '')},{g.get('memory_mb', '')},{labels}"
        )
    path.write_text("\n".join(lines) + "\n")
    return path


class World:
    """The published registry, the input files and the resolved catalog."""

    def __init__(self, env) -> None:  # type: ignore[no-untyped-def]
        self.env = env
        for name in ("reader", "counter", "speaker"):
            _publish(env, name)
        self.cache = env.tmp / "cache"
        self.catalog_path = _write_json(env.tmp / "catalog.json", CATALOG)
        self.fleet_path = _write_json(env.tmp / "school.json", {"schema_version": 1, "id": "school", "groups": GROUPS})
        self.csv_path = _write_csv(env.tmp / "school.csv", GROUPS)
        self.catalog: Catalog = load_catalog(self.catalog_path)
        self.fleet: Fleet = load_fleet(self.fleet_path)
        self.puller = Puller(env.url, root=env.root, cache_dir=self.cache)
        self.models, self.unavailable = resolve_catalog(self.catalog, self.puller)
        self.snapshot = snapshot_version(self.puller.reg.metadata_dir)

    def plan(self, fleet: Fleet | None = None, catalog: Catalog | None = None) -> dict[str, Any]:
        """The plan.json document (what the tests read, as IT staff's scripts do)."""
        return make_plan(
            catalog or self.catalog,
            fleet or self.fleet,
            self.models,
            registry=self.puller.reg.url,
            snapshot_version=self.snapshot,
            unavailable=self.unavailable,
        ).to_dict()

    def edzoo(self, *args: str | Path, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
        return _edzoo(*args, "--registry", self.env.url, "--cache", self.cache, cwd=cwd or self.env.tmp)


def _edzoo(*args: str | Path, cwd: Path, extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("EDZOO_")} | (extra_env or {})
    return subprocess.run(
        [EDZOO, "plan", *map(str, args)], cwd=cwd, env=environ, capture_output=True, text=True, timeout=120
    )


@pytest.fixture
def world(env) -> World:  # type: ignore[no-untyped-def]
    return World(env)


def _group(plan: dict[str, Any], group_id: str) -> dict[str, Any]:
    return next(g for g in plan["groups"] if g["id"] == group_id)


def _installed(group: dict[str, Any]) -> dict[str, str]:
    return {i["model"]: i["variant"] for i in group["install"]}


# -- the plan ------------------------------------------------------------------------------------
def test_every_group_fits_its_budget(world: World) -> None:
    plan = world.plan()
    manifests = {m: r.manifest for m, r in world.models.items()}
    for fleet_group, g in zip(world.fleet.groups, plan["groups"], strict=True):
        assert g["id"] == fleet_group.id
        assert sum(i["size"] for i in g["install"]) == g["bytes_per_device"] <= fleet_group.free_storage_mb * MB
        assert g["bytes_total"] == g["bytes_per_device"] * fleet_group.count
        for item in g["install"]:
            variant = next(v for v in manifests[item["model"]]["variants"] if v["id"] == item["variant"])
            assert (item["sha256"], item["size"], item["file"]) == (variant["sha256"], variant["size"], variant["file"])
            assert item["target"] == f"{item['model']}/1.0.0/{variant['file']}"
        if fleet_group.memory_mb is not None:
            memory = sum(
                v["requirements"]["min_ram_mb"]
                for i in g["install"]
                for v in manifests[i["model"]]["variants"]
                if v["id"] == i["variant"]
            )
            assert memory <= fleet_group.memory_mb
        installed = {i["model"] for i in g["install"]}
        assert installed | {n["model"] for n in g["not_installed"]} == set(world.models)
        assert not installed & {n["model"] for n in g["not_installed"]}

    assert _installed(_group(plan, "teachers")) == {m: "fp32" for m in ("acme/reader", "acme/counter", "acme/speaker")}
    # 512 kB: the reader, worth the most, gets its fp32; the others their int8.
    room = _group(plan, "room-1")
    assert _installed(room) == {"acme/reader": "fp32", "acme/counter": "int8", "acme/speaker": "int8"}
    assert room["bytes_per_device"] == 460 * KB
    assert "not fp32" in next(i["why"] for i in room["install"] if i["model"] == "acme/counter")
    assert room["labels"] == {"room": "1"} and room["policy"] == "smallest-download"
    assert room["budget"] == {"storage_mb": 0.5, "memory_mb": None}
    # 150 MB of memory holds two models of 64 MB: the two most valued.
    cart = _group(plan, "cart")
    assert set(_installed(cart)) == {"acme/reader", "acme/counter"}
    speaker = next(n for n in cart["not_installed"] if n["model"] == "acme/speaker")
    assert "memory" in speaker["reason"]

    # Header, models, targets, totals.
    assert plan["schema_version"] == 1 and plan["kind"] == "edzoo-plan"
    assert plan["catalog"] == {"id": "test-catalog", "title": CATALOG["title"], "sha256": world.catalog.sha256}
    assert plan["fleet"] == {"id": "school", "sha256": world.fleet.sha256, "devices": 90, "groups": 5}
    assert plan["registry"] == {"url": world.env.url, "snapshot_version": world.snapshot}
    assert isinstance(world.snapshot, int) and world.snapshot >= 1
    assert [m["model"] for m in plan["models"]] == ["acme/reader", "acme/counter", "acme/speaker"]
    reader = plan["models"][0]
    assert reader["priority"] == 40 and reader["required"] is True and reader["version"] == "1.0.0"
    assert reader["manifest_target"] == "acme/reader/1.0.0/manifest.json"
    blob, info, _ = world.puller.fetch(reader["manifest_target"])
    assert reader["manifest_sha256"] == info.hashes["sha256"] and reader["manifest_size"] == blob.stat().st_size
    targets = [t["target"] for t in plan["targets"]]
    assert targets == sorted(set(targets))
    expected = {i["target"] for g in plan["groups"] for i in g["install"]} | {
        m["manifest_target"] for m in plan["models"]
    }
    assert set(targets) == expected
    assert plan["totals"] == {
        "unique_bytes": sum(t["size"] for t in plan["targets"]),
        "device_bytes": sum(g["bytes_total"] for g in plan["groups"]),
        "devices": 90,
    }


def test_a_plan_says_where_it_differs_from_a_pull_by_the_policy(world: World) -> None:
    from registry.core import select

    plan = world.plan()
    room = _group(plan, "room-1")
    assert room["objective"] == OBJECTIVE and "the policy only limits which variants compete" in room["objective"]
    profile = next(g.profile for g in world.fleet.groups if g.id == "room-1")
    _, policy, _ = select.policy_for_device(profile)
    for item in room["install"]:  # what `edzoo pull --device` would take, computed as a pull does
        manifest = world.models[item["model"]].manifest
        assert item["pull_would_take"] == select.select(manifest, profile, policy).variant_id
    differ = [i for i in room["install"] if i["pull_would_take"] != i["variant"]]
    text = " ".join(render_plan(plan).split())
    assert differ, "room-1's budget makes the plan take a larger variant than a pull would"
    assert "so it differs from a pull by policy smallest-download" in text
    assert f"{differ[0]['model']} gets {differ[0]['variant']}, a pull would take {differ[0]['pull_would_take']}" in text


def test_higher_priority_model_wins_when_only_one_fits(world: World) -> None:
    g = _group(world.plan(), "one-slot")
    assert _installed(g) == {"acme/reader": "int8"}
    assert g["bytes_per_device"] == 80 * KB
    reasons = {n["model"]: n["reason"] for n in g["not_installed"]}
    assert set(reasons) == {"acme/counter", "acme/speaker"}
    assert all("the budget holds more value with the other models" in r for r in reasons.values())
    assert g["problems"] == []  # the required model is in


def test_group_with_too_little_storage_reports_required_model(world: World) -> None:
    g = _group(world.plan(), "full")
    assert g["install"] == [] and g["bytes_per_device"] == 0 and g["value"] == 0
    reasons = {n["model"]: n["reason"] for n in g["not_installed"]}
    assert set(reasons) == {"acme/reader", "acme/counter", "acme/speaker"}
    assert "no variant fits" in reasons["acme/counter"] and "storage budget" in reasons["acme/counter"]
    assert len(g["problems"]) == 1
    assert g["problems"][0].startswith("required model acme/reader does not fit: no variant fits")


def test_unavailable_models_are_reported(world: World, tmp_path: Path) -> None:
    plan = world.plan()
    assert [u["model"] for u in plan["unavailable"]] == ["acme/ghost"]
    assert "acme/ghost" in plan["unavailable"][0]["reason"]
    assert all(n["model"] != "acme/ghost" for g in plan["groups"] for n in g["not_installed"])

    # An unknown alias, a version never published, and a required model that is missing.
    other = dict(
        CATALOG,
        models=[
            {"model": "acme/reader", "version": "9.9.9", "priority": 40, "required": True},
            {"model": "acme/counter", "version": "beta", "priority": 30},
            {"model": "acme/speaker", "version": "1.0.0", "priority": 20},
        ],
    )
    catalog = load_catalog(_write_json(tmp_path / "other.json", other))
    models, unavailable = resolve_catalog(catalog, world.puller)
    assert list(models) == ["acme/speaker"]
    reasons = {u["model"]: u["reason"] for u in unavailable}
    assert "9.9.9" in reasons["acme/reader"]
    assert "'beta'" in reasons["acme/counter"] and "published: 1.0.0" in reasons["acme/counter"]
    plan = make_plan(
        catalog, world.fleet, models, registry=world.env.url, snapshot_version=1, unavailable=unavailable
    ).to_dict()
    for g in plan["groups"]:
        assert g["problems"][-1] == f"required model acme/reader is unavailable: {reasons['acme/reader']}"
    assert "unavailable:" in render_plan(plan) and "9.9.9" in render_plan(plan)


def test_plan_is_deterministic_and_pure(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first = plan_bytes(world.plan())

    def no_io(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"make_plan did I/O: {args!r}")

    with monkeypatch.context() as m:  # planning must not touch the network or a file
        m.setattr(socket.socket, "connect", no_io)
        m.setattr("builtins.open", no_io)
        m.setattr("io.open", no_io)
        again = [plan_bytes(world.plan()) for _ in range(2)]
    assert again == [first, first]

    # Resolving again (a new puller on the same cache) gives the same inputs, hence the same bytes.
    models, unavailable = resolve_catalog(world.catalog, Puller(world.env.url, cache_dir=world.cache))
    assert models == world.models and unavailable == world.unavailable

    write_plan(world.plan(), tmp_path / "a" / "plan.json")
    assert (tmp_path / "a" / "plan.json").read_bytes() == first
    assert json.loads(first) == world.plan()
    assert not [p for p in (tmp_path / "a").iterdir() if p.name != "plan.json"]  # no temp file left


def test_the_typed_plan_reads_back_byte_for_byte_and_keeps_what_an_older_plan_lacked(world: World) -> None:
    from registry.core.model import InstallItem, Plan, RecordError

    built = make_plan(
        world.catalog,
        world.fleet,
        world.models,
        registry=world.puller.reg.url,
        snapshot_version=world.snapshot,
        unavailable=world.unavailable,
    )
    doc = json.loads(plan_bytes(built))
    read = Plan.from_dict(doc)
    assert read == built and plan_bytes(read) == plan_bytes(built)
    item = read.groups[0].install[0]
    assert isinstance(item, InstallItem) and read.model(item.model) is not None and read.group(read.groups[0].id)

    # A plan made before `objective` and `pull_would_take` existed stays what it was.
    for g in doc["groups"]:
        del g["objective"]
        for i in g["install"]:
            del i["pull_would_take"]
    older = Plan.from_dict(doc)
    assert older.groups[0].objective is None and older.groups[0].install[0].pull_would_take is None
    assert plan_bytes(older) == plan_bytes(doc) and render_plan(older) == render_plan(doc)

    del doc["groups"][1]["install"][0]["sha256"]
    with pytest.raises(RecordError) as e:
        Plan.from_dict(doc)
    assert e.value.path == ("groups", 1, "install", 0) and "sha256" in e.value.problem


def test_csv_fleet_plans_like_json(world: World) -> None:
    from_csv = world.plan(load_fleet(world.csv_path))
    from_json = world.plan()
    assert from_csv["fleet"]["id"] == "school" and from_csv["fleet"]["sha256"] != from_json["fleet"]["sha256"]
    assert from_csv["groups"] == from_json["groups"]
    assert from_csv["targets"] == from_json["targets"]


def test_identical_groups_are_planned_once(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    groups = [
        {
            "id": f"tablet-{i:05d}",
            "profile": "android-go-1gb",
            "count": 30,
            "free_storage_mb": 0.5,
            "labels": {"n": str(i)},
        }
        for i in range(5000)
    ] + [{"id": "laptops", "profile": "teacher-laptop", "count": 3, "free_storage_mb": 10}]
    fleet = parse_fleet(json.dumps({"schema_version": 1, "id": "district", "groups": groups}).encode())
    calls: list[str] = []
    real = select.select_many

    def counting(*args: Any, **kwargs: Any) -> select.Plan:
        calls.append(args[1].id)
        return real(*args, **kwargs)

    monkeypatch.setattr(select, "select_many", counting)
    started = time.perf_counter()
    plan = world.plan(fleet)
    elapsed = time.perf_counter() - started
    assert sorted(calls) == ["android-go-1gb", "teacher-laptop"]
    assert elapsed < 2.0, f"5,001 groups took {elapsed:.2f} s"
    assert len(plan["groups"]) == 5001 and plan["totals"]["devices"] == 5000 * 30 + 3
    assert plan["groups"][4999]["labels"] == {"n": "4999"}
    assert plan["totals"]["device_bytes"] == 5000 * 30 * 460 * KB + 3 * 900 * KB
    started = time.perf_counter()
    text = render_plan(plan)
    assert time.perf_counter() - started < 2.0
    assert "tablet-04999: 30 × android-go-1gb, same plan as tablet-00000" in text


def test_render_plan(world: World) -> None:
    text = render_plan(world.plan())
    for line in (
        "plan: catalog test-catalog (Three acme models and one that is not published) on fleet school: "
        "90 devices in 5 groups",
        "room-1: 28 × android-go-1gb, budget 512.0 kB storage, no memory budget, policy smallest-download",
        "  labels: room=1",
        "  460.0 kB (471,040 bytes) per device × 28 = 12.6 MB (13,189,120 bytes) for the group",
        "one-slot: 30 × android-go-2gb, budget 102.4 kB storage, no memory budget, policy smallest-download",
        "cart: 24 × chromebook-4gb, budget 10.0 MB storage, 150 MB memory, policy smallest",
    ):
        assert line in text.splitlines(), line
    assert "  problems:\n    ! required model acme/reader does not fit" in text
    assert "  installs nothing" in text
    assert "  - acme/ghost: " in text
    assert "fleet school:\n  bundle:  " in text
    assert "  problems: 1 group lacks a required model" in text
    row = next(line for line in text.splitlines() if line.startswith("  acme/reader") and "fp32" in line)
    assert "300.0 kB" in row
    assert max(len(line) for line in text.splitlines() if not line.startswith(("plan:", "registry"))) <= 110


# -- the command ---------------------------------------------------------------------------------
def test_cli_end_to_end(world: World) -> None:
    tmp = world.env.tmp
    fresh = tmp / "fresh-cache"  # a first use: the root is pinned from --root
    done = _edzoo(
        world.catalog_path, world.fleet_path, "--registry", world.env.url, "--root", world.env.root,
        "--cache", fresh, cwd=tmp,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "room-1: 28 × android-go-1gb" in done.stdout and "not installed:" in done.stdout
    assert "wrote plan.json" in done.stderr
    written = (tmp / "plan.json").read_bytes()
    assert written == plan_bytes(world.plan())

    # --json prints the same bytes it writes; -o puts the file elsewhere.
    done = world.edzoo(world.catalog_path, world.csv_path, "--json", "-o", tmp / "out" / "csv-plan.json")
    assert done.returncode == 0, done.stderr
    assert done.stdout.encode() == (tmp / "out" / "csv-plan.json").read_bytes()
    assert json.loads(done.stdout)["groups"] == json.loads(written)["groups"]

    # Offline, from the verified cache: the same plan.
    done = world.edzoo(world.catalog_path, world.fleet_path, "--offline", "-o", tmp / "offline.json")
    assert done.returncode == 0, done.stderr
    assert (tmp / "offline.json").read_bytes() == written

    # The registry and the cache from the environment, as for `edzoo pull`.
    done = _edzoo(
        world.catalog_path, world.fleet_path, "--offline", "-o", tmp / "from-env.json",
        cwd=tmp, extra_env={"EDZOO_REGISTRY": world.env.url, "EDZOO_CACHE": str(world.cache)},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert (tmp / "from-env.json").read_bytes() == written

    # --strict: a group lacks the required reader -> exit 2 after writing the plan.
    done = world.edzoo(world.catalog_path, world.fleet_path, "--strict", "-o", tmp / "strict.json")
    assert done.returncode == UsageError.exit_code, done.stderr
    assert "error: 1 group lacks a required model (full)" in done.stderr
    assert (tmp / "strict.json").read_bytes() == written

    # Without --strict and without a missing required model: exit 0 either way.
    ok_fleet = _write_json(tmp / "ok.json", {"schema_version": 1, "id": "ok", "groups": GROUPS[:3]})
    done = world.edzoo(world.catalog_path, ok_fleet, "--strict", "-o", tmp / "ok-plan.json")
    assert done.returncode == 0, done.stderr


BAD_INPUTS = {
    "malformed-catalog-json": (
        "catalog.json",
        '{"schema_version": 1, "id": "x",\n  "models": [}',
        ManifestError,
        "catalog.json: not valid JSON: Expecting value at line 2, column 14",
    ),
    "unknown-profile-id": (
        "fleet.json",
        json.dumps({"schema_version": 1, "id": "f", "groups": [GROUPS[0], dict(GROUPS[1], profile="android-go-9gb")]}),
        ManifestError,
        "fleet.json: $.groups[1].profile: no reference device profile 'android-go-9gb'",
    ),
    "csv-bad-count": (
        "fleet.csv",
        "id,profile,count\nroom-1,android-go-1gb,28\nroom-2,android-go-2gb,thirty\n",
        ManifestError,
        "fleet.csv, line 3: count must be a number, got 'thirty'",
    ),
    "catalog-priority-zero": (
        "catalog.json",
        json.dumps(dict(CATALOG, models=[{"model": "acme/reader", "priority": 0}])),
        ManifestError,
        "$.models[0].priority: 0 is less than or equal to the minimum of 0",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input(case: str, tmp_path: Path) -> None:
    name, content, error, message = BAD_INPUTS[case]
    bad = tmp_path / name
    bad.write_text(content)
    catalog = bad if name.startswith("catalog") else _write_json(tmp_path / "good-catalog.json", CATALOG)
    fleet = bad if name.startswith("fleet") else _write_json(tmp_path / "good-fleet.json", {**GROUPS_DOC})
    # Port 9 (discard) on loopback: inputs are checked before any connection is made.
    done = _edzoo(catalog, fleet, "--registry", "http://127.0.0.1:9", "--cache", tmp_path / "cache", cwd=tmp_path)
    assert done.returncode == error.exit_code, done.stderr
    assert done.stderr.startswith("error: ") and message in done.stderr and str(bad) in done.stderr
    assert not (tmp_path / "plan.json").exists()
    assert not (tmp_path / "cache").exists()


GROUPS_DOC = {"schema_version": 1, "id": "good", "groups": GROUPS}


def test_make_plan_rejects_models_outside_the_catalog(world: World) -> None:
    catalog = load_catalog(
        _write_json(world.env.tmp / "small.json", dict(CATALOG, models=[{"model": "acme/reader", "priority": 1}]))
    )
    with pytest.raises(UsageError, match="not in catalog test-catalog: acme/counter, acme/speaker"):
        make_plan(catalog, world.fleet, world.models, registry=world.env.url, snapshot_version=None)
    assert planning.PLAN_KIND == "edzoo-plan"
