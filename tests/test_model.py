"""The typed manifest model: read from validated JSON, written back byte for byte."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from builders import REALISTIC, manifest_for

from registry.core import manifest as manifests
from registry.core.model import Manifest, Variant

HELLO = Path(__file__).resolve().parents[1] / "manifests" / "examples" / "hello" / "manifest.json"


def _same_bytes(doc: dict) -> None:
    assert json.dumps(Manifest.from_dict(doc).to_dict(), indent=2) == json.dumps(doc, indent=2)


def test_the_example_and_built_manifests_round_trip_byte_for_byte() -> None:
    _same_bytes(json.loads(HELLO.read_text()))
    doc = manifest_for("acme", "reader", "1.0.0", {vid: b"x" * size for vid, (size, *_rest) in REALISTIC.items()})
    manifests.validate_manifest(doc)
    _same_bytes(doc)


def test_attributes_are_typed_and_optional_fields_absent_stay_absent() -> None:
    doc = json.loads(HELLO.read_text())
    m = Manifest.from_dict(doc)
    assert m.id == f"{doc['namespace']}/{doc['name']}" and m.ids == tuple(v["id"] for v in doc["variants"])
    v = m.variant(m.ids[0])
    assert isinstance(v, Variant) and v.metrics.value == doc["variants"][0]["metrics"]["value"]
    assert v.benchmarks.latency_us_p50 == doc["variants"][0]["benchmarks"]["latency_us_p50"]
    assert v.download_size == doc["variants"][0].get("gzip_size", doc["variants"][0]["size"])
    first = dict(doc["variants"][0])
    first.pop("gzip_size", None)
    first.pop("parameters", None)
    bare = Variant.from_dict(first)
    assert bare.gzip_size is None and "gzip_size" not in bare.to_dict() and bare.download_size == bare.size
    with pytest.raises(KeyError, match="has no variant 'gpu'"):
        m.variant("gpu")


def test_unknown_fields_are_kept_where_they_were() -> None:
    doc = json.loads(HELLO.read_text())
    newer = {"from_the_future": {"x": 1}, **doc}
    newer["variants"] = [{**doc["variants"][0], "npu_ops": ["A"]}, *doc["variants"][1:]]
    m = Manifest.from_dict(newer)
    assert m.unrecognized == {"from_the_future": {"x": 1}} and m.variants[0].unrecognized == {"npu_ops": ["A"]}
    assert list(m.to_dict()) == list(newer) and m.to_dict() == newer
    _same_bytes(newer)


def test_a_changed_object_writes_its_change() -> None:
    from dataclasses import replace

    m = Manifest.from_dict(json.loads(HELLO.read_text()))
    renamed = replace(m, summary="Says hello, typed")
    assert renamed.to_dict()["summary"] == "Says hello, typed"
    assert list(renamed.to_dict()) == list(m.to_dict())  # the key order survives a replace


def test_every_reference_profile_round_trips_and_reads_as_attributes() -> None:
    from registry.core.model import Cpu, DeviceProfile, Runtime
    from registry.core.profiles import load_profile, reference_profiles

    for pid in reference_profiles():
        doc = load_profile(pid)
        p = DeviceProfile.from_dict(doc)
        assert json.dumps(p.to_dict(), indent=2) == json.dumps(doc, indent=2), pid
        assert isinstance(p.cpu, Cpu) and isinstance(p.runtime, Runtime)
        assert (p.id, p.ram_mb, p.cpu.speed_factor, p.runtime.version) == (
            doc["id"],
            doc["ram_mb"],
            doc["cpu"]["speed_factor"],
            doc["runtime"]["version"],
        )
        assert p.memory_share == doc.get("memory_share") and p.runtime.ops == doc["runtime"].get("ops")
        assert DeviceProfile.of(p) is p and DeviceProfile.of(doc) == p


def test_selection_gives_the_same_answer_for_an_object_and_its_document() -> None:
    from registry.core.errors import NoCompatibleVariantError
    from registry.core.model import DeviceProfile
    from registry.core.profiles import load_profile, reference_profiles
    from registry.core.select import policy_for_device, select

    doc = json.loads(HELLO.read_text())
    for pid in reference_profiles():
        profile = load_profile(pid)
        _, policy, _ = policy_for_device(profile)
        assert policy_for_device(DeviceProfile.from_dict(profile)) == policy_for_device(profile)
        try:
            plain = select(doc, profile, policy)
        except NoCompatibleVariantError:
            with pytest.raises(NoCompatibleVariantError):
                select(Manifest.from_dict(doc), DeviceProfile.from_dict(profile), policy)
            continue
        typed = select(Manifest.from_dict(doc), DeviceProfile.from_dict(profile), policy)
        assert typed == plain and isinstance(typed.variant, Variant)


def test_predict_chooses_a_typed_variant_and_names_an_incomplete_manifest(tmp_path: Path) -> None:
    from registry.client.predict import Model, choose_variant
    from registry.core.errors import NotFoundError, UsageError

    model = Model(HELLO.parent, json.loads(HELLO.read_text()))
    chosen = choose_variant(model, "int8")
    assert isinstance(chosen, Variant) and chosen.file == "variants/int8.tflite"
    assert choose_variant(model).id == model.manifest["variants"][0]["id"]
    with pytest.raises(NotFoundError, match="no variant 'int4'; it has fp32, int8"):
        choose_variant(model, "int4")
    broken = Model(tmp_path, {"signature": {}, "variants": [{"id": "fp32"}]})
    with pytest.raises(UsageError, match="not a complete edzoo manifest") as e:
        choose_variant(broken)
    assert "\n" not in e.value.message and "edzoo zoo build" in e.value.message
