"""The manifest contract: the schema, validation messages, parsing, canonical bytes and build
folders, checked against the committed example manifests/examples/hello (no TensorFlow)."""

from __future__ import annotations

import copy
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from registry.core import names
from registry.core.contracts import contracts_dir, load_schema
from registry.core.errors import ManifestError, NotFoundError, UsageError
from registry.core.manifest import (
    MAX_MANIFEST_BYTES,
    BuildDir,
    _fast_validator,
    _validator,
    canonical_bytes,
    load_manifest,
    parse_manifest,
    read_build_dir,
    validate_manifest,
    variant_by_id,
)

HELLO = contracts_dir() / "examples" / "hello"


@pytest.fixture(scope="module")
def hello_doc() -> dict[str, Any]:
    return json.loads((HELLO / "manifest.json").read_text(encoding="utf-8"))


@pytest.fixture
def doc(hello_doc: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(hello_doc)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A private copy of the hello build folder to damage."""
    root = tmp_path / "hello"
    shutil.copytree(HELLO, root)
    return root


# ---------------------------------------------------------------------------------------------
# The schema


def test_schema_is_valid_draft_2020_12() -> None:
    schema = load_schema("manifest")
    Draft202012Validator.check_schema(schema)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == "https://edzoo.dev/schema/manifest.schema.json"


def test_schema_patterns_are_those_of_the_names_module() -> None:
    defs = load_schema("manifest")["$defs"]
    # Python anchors with \Z (its $ also matches before a final newline); JSON Schema with $.
    assert defs["name"]["pattern"] == names.NAME_RE.pattern.replace("\\Z", "$")
    assert defs["semver"]["pattern"] == names.SEMVER_RE.pattern.replace("\\Z", "$")


def _properties(node: Any, at: str = "$") -> list[tuple[str, dict[str, Any]]]:
    found = []
    if isinstance(node, dict):
        for key, sub in node.get("properties", {}).items():
            found.append((f"{at}.{key}", sub))
        for key, sub in node.items():
            found += _properties(sub, f"{at}/{key}")
    elif isinstance(node, list):
        for i, sub in enumerate(node):
            found += _properties(sub, f"{at}[{i}]")
    return found


def test_schema_describes_every_field() -> None:
    schema = load_schema("manifest")

    def described(sub: dict[str, Any]) -> bool:
        if "description" in sub:
            return True
        ref = sub.get("$ref", "")
        return ref.startswith("#/$defs/") and "description" in schema["$defs"][ref[8:]]

    undescribed = [where for where, sub in _properties(schema) if not described(sub)]
    assert undescribed == []


@pytest.mark.parametrize(
    "path",
    ["card.md", "variants/int8.tflite", "golden/a/b.json", "a/b/c/d.txt", "../x", "./x", ".x"],
)
def test_schema_file_pattern_agrees_with_check_relative_file(path: str) -> None:
    schema = load_schema("manifest")
    by_schema = Draft202012Validator(schema["$defs"]["relative_file"]).is_valid(path)
    try:
        names.check_relative_file(path)
        by_code = True
    except UsageError:
        by_code = False
    assert by_schema == by_code


# ---------------------------------------------------------------------------------------------
# The committed example


def test_hello_example_validates() -> None:
    doc = load_manifest(HELLO / "manifest.json")
    assert (doc["namespace"], doc["name"], doc["version"]) == ("edzoo", "hello", "1.0.0")
    assert [v["id"] for v in doc["variants"]] == ["fp32", "int8"]


def test_read_build_dir_accepts_hello() -> None:
    build = read_build_dir(HELLO)
    assert isinstance(build, BuildDir)
    assert (build.namespace, build.name, build.version) == ("edzoo", "hello", "1.0.0")
    assert [f.path for f in build.files] == [
        "card.md",
        "golden/sample.json",
        "manifest.json",
        "variants/fp32.tflite",
        "variants/int8.tflite",
    ]
    for variant in build.manifest["variants"]:
        f = build.file(variant["file"])
        assert (f.sha256, f.size) == (variant["sha256"], variant["size"])
        assert f.local == HELLO / variant["file"]
    assert sum(f.size for f in build.files) < 60_000


def test_hello_int8_is_smaller_and_within_a_point(hello_doc: dict[str, Any]) -> None:
    fp32, int8 = (variant_by_id(hello_doc, v) for v in ("fp32", "int8"))
    assert int8.size < fp32.size
    assert int8.io["inputs"][0]["dtype"] == "int8"
    assert abs(int8.metrics.delta_vs_reference) <= 1.0


def test_hello_golden_samples_are_held_out_inputs(hello_doc: dict[str, Any]) -> None:
    golden = json.loads((HELLO / "golden" / "sample.json").read_text(encoding="utf-8"))
    (tensor,) = hello_doc["signature"]["inputs"]
    assert golden["input"] == tensor["name"]
    assert len(golden["samples"]) == 3
    for sample in golden["samples"]:
        assert len(sample["input"]) == tensor["shape"][-1]
        assert all(0.0 <= x <= 1.0 for x in sample["input"])
        assert set(sample["expected_class"]) == {"fp32", "int8"}


# ---------------------------------------------------------------------------------------------
# Invalid manifests: each is rejected, and the message points at the JSON path


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """A mutation setting the value at a dotted path ('variants.0.sha256')."""

    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        if isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value

    return mutate


def _delete(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        del node[last]

    return mutate


def _add_file(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        doc["files"].append({"path": path, "sha256": "0" * 64, "size": 1})

    return mutate


BAD_MANIFESTS = [
    pytest.param(
        _set("variants.0.sha256", "XYZ"),
        "$.variants[0].sha256: 'XYZ' does not match '^[0-9a-f]{64}$'",
        id="sha256-not-hex",
    ),
    pytest.param(
        _set("variants.0.sha256", "a" * 64 + "\n"),
        "$.variants[0].sha256: ",
        id="sha256-with-trailing-newline",
    ),
    pytest.param(
        _delete("variants"),
        "$.variants: required property is missing",
        id="variants-missing",
    ),
    pytest.param(_set("variants", []), "$.variants: [] should be non-empty", id="variants-empty"),
    pytest.param(
        _set("variants.1.id", "fp32"),
        "$.variants[1].id: duplicate variant id 'fp32' (first at $.variants[0].id)",
        id="duplicate-variant-id",
    ),
    pytest.param(_set("variant", []), "$.variant: unexpected property", id="typo"),
    pytest.param(
        _set("version", "1.0"), "$.version: '1.0' is not a semantic version like 1.2.0", id="version-not-semver"
    ),
    pytest.param(_set("version", "1.0.0+build.5"), "$.version: ", id="version-with-build-metadata"),
    pytest.param(_set("version", "\u0661.0.0"), "$.version: ", id="version-with-arabic-digit"),
    pytest.param(
        _set("variants.1.recipe.quantization", "int4"),
        "$.variants[1].recipe.quantization: 'int4' is not one of",
        id="unknown-quantization",
    ),
    pytest.param(
        _set("extra", True),
        "$.extra: unexpected property; expected one of: card, files,",
        id="extra-top-level-field",
    ),
    pytest.param(
        _set("variants.0.file", "../fp32.tflite"),
        "$.variants[0].file: '../fp32.tflite' is not a file path inside the version folder",
        id="file-path-with-dotdot",
    ),
    pytest.param(_set("variants.0.file", "/etc/fp32.tflite"), "$.variants[0].file: ", id="file-path-absolute"),
    pytest.param(
        _set("variants.0.file", "variants/fp32.onnx"),
        "$.variants[0].file: 'variants/fp32.onnx' does not match '\\\\.tflite$'",
        id="variant-file-not-tflite",
    ),
    pytest.param(
        _set("variants.1.file", "variants/fp32.tflite"),
        "$.variants[1].file: duplicate file 'variants/fp32.tflite' (first at $.variants[0].file)",
        id="two-variants-one-file",
    ),
    pytest.param(
        _add_file("card.md"),
        "$.files[2].path: duplicate file 'card.md' (first at $.files[0].path)",
        id="file-listed-twice",
    ),
    pytest.param(
        _add_file("manifest.json"),
        "$.files[2].path: manifest.json cannot describe itself",
        id="manifest-lists-itself",
    ),
    pytest.param(
        _set("variants.1.metrics.reference_variant", "fp16"),
        "$.variants[1].metrics.reference_variant: no variant 'fp16' in this manifest",
        id="reference-variant-missing",
    ),
    pytest.param(
        _set("variants.0.metrics.delta_vs_reference", 0.5),
        "$.variants[0].metrics.delta_vs_reference: expected 0 for the reference variant",
        id="reference-delta-not-zero",
    ),
    pytest.param(
        _set("variants.1.metrics.name", "f1"),
        "$.variants[1].metrics.name: 'f1' cannot be compared with reference variant 'fp32'",
        id="delta-between-different-metrics",
    ),
    pytest.param(
        _set("variants.1.recipe.distilled_from", "teacher"),
        "$.variants[1].recipe.distilled_from: expected a variant id of this manifest",
        id="distilled-from-unknown-variant",
    ),
    pytest.param(
        _set("variants.1.io.inputs.0.name", "x"),
        "$.variants[1].io.inputs: expected the signature's names and shapes",
        id="variant-io-differs-from-signature",
    ),
    pytest.param(
        _set("variants.0.benchmarks.latency_us_p90", 0.0),
        "$.variants[0].benchmarks.latency_us_p90: p90 (0.0) is below p50",
        id="p90-below-p50",
    ),
    pytest.param(
        _set("variants.0.requirements.delegates", ["tpu"]),
        "$.variants[0].requirements.delegates[0]: 'tpu' is not one of",
        id="unknown-delegate",
    ),
    pytest.param(
        _set("variants.0.signature", {}),
        "$.variants[0].signature: unexpected property",
        id="extra-variant-field",
    ),
    pytest.param(
        _set("namespace", "tuf"),
        "$.namespace: namespace 'tuf' is reserved",
        id="reserved-namespace",
    ),
    pytest.param(_set("namespace", "edzoo\n"), "$.namespace: ", id="namespace-with-newline"),
    pytest.param(_set("schema_version", 2), "$.schema_version: 1 was expected", id="schema-v2"),
    pytest.param(_set("grades", ["13"]), "$.grades[0]: '13' is not one of", id="unknown-grade"),
    pytest.param(
        _set("provenance.built_at", "yesterday"),
        "$.provenance.built_at: 'yesterday' is not a 'date-time'",
        id="built-at-not-a-date-time",
    ),
    pytest.param(
        _set("provenance.dataset_digests.digits-train", "abc"),
        "$.provenance.dataset_digests[\"digits-train\"]: 'abc' does not match",
        id="dataset-digest-not-sha256",
    ),
    pytest.param(
        _set("signature.labels_file", "labels.txt"),
        "$.signature: the properties 'labels', 'labels_file' exclude each other",
        id="labels-and-labels-file",
    ),
    pytest.param(
        _delete("signature.labels"),
        "$.signature: expected at least one of the properties 'labels', 'labels_file'",
        id="classifier-without-labels",
    ),
    pytest.param(
        _set("signature.preprocessing.image.range", [1, 0]),
        "$.signature.preprocessing.image.range: expected [min, max] with min < max",
        id="empty-range",
    ),
    pytest.param(
        _set("variants.0.size", 0),
        "$.variants[0].size: 0 is less than the minimum of 1",
        id="size-zero",
    ),
]


@pytest.mark.parametrize(("mutate", "expected"), BAD_MANIFESTS)
def test_bad_manifest_is_rejected_with_its_path(
    doc: dict[str, Any], mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    mutate(doc)
    with pytest.raises(ManifestError) as caught:
        validate_manifest(doc)
    assert expected in str(caught.value)
    assert caught.value.code == "invalid_manifest"


def test_labels_file_must_be_a_listed_file(doc: dict[str, Any]) -> None:
    del doc["signature"]["labels"]
    doc["signature"]["labels_file"] = "labels.txt"
    with pytest.raises(ManifestError, match=r"\$.signature.labels_file: 'labels.txt' must be"):
        validate_manifest(doc)
    doc["files"].append({"path": "labels.txt", "sha256": "0" * 64, "size": 20})
    validate_manifest(doc)


@pytest.mark.parametrize("teacher", ["fp32", "edzoo/big-digits@2.0.0"])
def test_distilled_from_a_variant_or_a_model(doc: dict[str, Any], teacher: str) -> None:
    doc["variants"][1]["recipe"]["distilled_from"] = teacher
    doc["provenance"]["built_at"] = "2025-01-31T08:00:00.5+01:00"
    validate_manifest(doc)


def test_hello_validates_with_a_stock_validator(hello_doc: dict[str, Any]) -> None:
    # Other languages read the schema with their own validators: it must not rely on ours.
    schema = load_schema("manifest")
    checker = Draft202012Validator.FORMAT_CHECKER
    Draft202012Validator(schema, format_checker=checker).validate(hello_doc)


def test_every_problem_is_reported_sorted_by_path(doc: dict[str, Any]) -> None:
    doc["variants"][1]["sha256"] = "nope"
    doc["namespace"] = "Edzoo"
    doc["card"]["limitations"] = []
    with pytest.raises(ManifestError) as caught:
        validate_manifest(doc)
    lines = str(caught.value).splitlines()
    assert lines[0] == "invalid manifest (3 problems):"
    assert [line.split(":")[0].strip() for line in lines[1:]] == [
        "$.card.limitations",
        "$.namespace",
        "$.variants[1].sha256",
    ]


def test_validate_rejects_a_non_object() -> None:
    with pytest.raises(ManifestError, match=r"\$: expected a JSON object, got an array"):
        validate_manifest([])  # type: ignore[arg-type]


# ---------------------------------------------------------------------------------------------
# Parsing bytes


BAD_BYTES = [
    pytest.param(
        b'{\n  "schema_version": 1,\n  "namespace": \n}',
        "not valid JSON: Expecting value at line 4, column 1",
        id="malformed-json-line-and-column",
    ),
    pytest.param(b"[1, 2]", "$: expected a JSON object, got an array", id="top-level-array"),
    pytest.param(b'"manifest"', "$: expected a JSON object, got a string", id="top-level-string"),
    pytest.param(b"", "not valid JSON: Expecting value at line 1, column 1", id="empty"),
    pytest.param(b'{"a": "\xff"}', "not UTF-8 (byte 7", id="not-utf8"),
    pytest.param(b'{"a": 1, "a": 2}', "duplicate key 'a'", id="duplicate-key"),
    pytest.param(b'{"a": NaN}', "NaN is not a JSON number", id="nan"),
    pytest.param(b" " * (MAX_MANIFEST_BYTES + 1), "more than the", id="too-large"),
]


@pytest.mark.parametrize(("data", "expected"), BAD_BYTES)
def test_parse_manifest_rejects(data: bytes, expected: str) -> None:
    with pytest.raises(ManifestError) as caught:
        parse_manifest(data)
    assert expected in str(caught.value)


def test_parse_manifest_names_the_source(doc: dict[str, Any]) -> None:
    del doc["task"]
    with pytest.raises(ManifestError, match=r"invalid x/manifest.json \(1 problem\):\n  \$.task"):
        parse_manifest(json.dumps(doc).encode(), source="x/manifest.json")


def test_parse_manifest_returns_the_document(hello_doc: dict[str, Any]) -> None:
    assert parse_manifest(canonical_bytes(hello_doc)) == hello_doc


def test_load_manifest_of_a_missing_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="cannot read manifest") as caught:
        load_manifest(tmp_path / "nope.json")
    assert not isinstance(caught.value, ManifestError)


# ---------------------------------------------------------------------------------------------
# Build folders


def _append_byte(root: Path) -> None:
    with (root / "variants" / "int8.tflite").open("ab") as f:
        f.write(b"\0")


def _flip_byte(root: Path) -> None:
    path = root / "variants" / "int8.tflite"
    data = bytearray(path.read_bytes())
    data[100] ^= 0xFF
    path.write_bytes(bytes(data))


def _symlink_variant(root: Path) -> None:
    variant = root / "variants" / "int8.tflite"
    elsewhere = root.parent / "int8.tflite"
    variant.rename(elsewhere)
    variant.symlink_to(elsewhere)


def _too_deep(root: Path) -> None:
    (root / "golden" / "a" / "b").mkdir(parents=True)
    (root / "golden" / "a" / "b" / "c.json").write_text("{}")


BAD_BUILDS = [
    pytest.param(
        lambda root: (root / "variants" / "int8.tflite").unlink(),
        "variants/int8.tflite: described at $.variants[1] but missing from the folder",
        id="variant-file-missing",
    ),
    pytest.param(
        _append_byte,
        "variants/int8.tflite: $.variants[1].size says 5568 bytes, found 5569",
        id="size-mismatch",
    ),
    pytest.param(_flip_byte, "variants/int8.tflite: $.variants[1].sha256 says ", id="hash-mismatch"),
    pytest.param(
        lambda root: (root / "card.md").write_text("# edited\n"),
        "card.md: $.files[0].size says",
        id="listed-file-changed",
    ),
    pytest.param(
        _symlink_variant,
        "variants/int8.tflite: symlinks are not published",
        id="variant-is-a-symlink",
    ),
    pytest.param(
        lambda root: (root / "golden" / "link.json").symlink_to(root / "card.md"),
        "golden/link.json: symlinks are not published",
        id="extra-symlink",
    ),
    pytest.param(
        lambda root: (root / ".DS_Store").write_bytes(b"x"),
        ".DS_Store: hidden files are not published",
        id="hidden-file",
    ),
    pytest.param(
        lambda root: os.mkfifo(root / "golden" / "pipe"),
        "golden/pipe: not a regular file",
        id="fifo",
    ),
    pytest.param(
        _too_deep,
        "golden/a/b/c.json: invalid file path",
        id="too-deep",
    ),
    pytest.param(
        lambda root: (root / "card draft.md").write_text("x"),
        "card draft.md: invalid file path",
        id="space-in-name",
    ),
    pytest.param(
        lambda root: (root / "manifest.json").unlink(),
        "has no manifest.json",
        id="manifest-missing",
    ),
    pytest.param(
        lambda root: (root / "manifest.json").write_text('{"schema_version": 1,}'),
        "not valid JSON: Expecting property name enclosed in double quotes at line 1, column 22",
        id="manifest-malformed",
    ),
]


@pytest.mark.parametrize(("damage", "expected"), BAD_BUILDS)
def test_bad_build_dir_is_rejected(build: Path, damage: Callable[[Path], object], expected: str) -> None:
    damage(build)
    with pytest.raises(ManifestError) as caught:
        read_build_dir(build)
    assert expected in str(caught.value)


def test_build_dir_problems_are_all_reported(build: Path) -> None:
    _flip_byte(build)
    (build / ".git").mkdir()
    (build / "variants" / "fp32.tflite").unlink()
    with pytest.raises(ManifestError) as caught:
        read_build_dir(build)
    message = str(caught.value)
    assert "(3 problems)" in message
    for expected in (".git: hidden", "variants/fp32.tflite: described", "int8.tflite: $.var"):
        assert expected in message


def test_unmentioned_files_are_included(build: Path) -> None:
    (build / "metrics.json").write_text("{}\n")
    result = read_build_dir(build)
    extra = result.file("metrics.json")
    assert (extra.size, extra.sha256) == (
        3,
        "ca3d163bab055381827226140568f3bef7eaac187cebd76878e0b63e9e442356",
    )


def test_build_dir_root_must_be_a_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist or is not a folder") as caught:
        read_build_dir(tmp_path / "missing")
    assert not isinstance(caught.value, ManifestError)


# ---------------------------------------------------------------------------------------------
# Lookup and canonical bytes


def test_variant_by_id(hello_doc: dict[str, Any]) -> None:
    assert variant_by_id(hello_doc, "int8").file == "variants/int8.tflite"
    with pytest.raises(
        NotFoundError,
        match=r"no variant 'fp16' in edzoo/hello@1.0.0; "
        r"available: fp32, int8",
    ):
        variant_by_id(hello_doc, "fp16")


def test_canonical_bytes_form() -> None:
    assert canonical_bytes({"b": [1, 2.5], "a": "é", "c": {"z": None, "y": True}}) == (
        '{"a":"é","b":[1,2.5],"c":{"y":true,"z":null}}'.encode()
    )


@pytest.mark.parametrize("value", [float("nan"), float("inf"), "\ud800", {1: "a", "b": 2}])
def test_canonical_bytes_refuses_what_json_cannot_carry(value: Any) -> None:
    with pytest.raises(ManifestError, match="no canonical JSON form"):
        canonical_bytes({"x": value})


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)


def _reordered(value: Any, rnd: Any) -> Any:
    if isinstance(value, dict):
        items = [(k, _reordered(v, rnd)) for k, v in value.items()]
        rnd.shuffle(items)
        return dict(items)
    if isinstance(value, list):
        return [_reordered(v, rnd) for v in value]
    return value


@settings(database=None, max_examples=200)
@given(st.dictionaries(st.text(max_size=8), JSON_VALUES, max_size=6), st.randoms())
def test_canonical_bytes_ignore_key_order(doc: dict[str, Any], rnd: Any) -> None:
    data = canonical_bytes(doc)
    assert canonical_bytes(_reordered(doc, rnd)) == data
    assert json.loads(data) == doc
    assert not data.endswith(b"\n")


def test_each_missing_property_is_named_once(doc: dict[str, Any]) -> None:
    """jsonschema reports one error per missing property, each listing them all: the message
    names each missing one exactly once, whatever jsonschema's wording."""
    for key in ("name", "version", "variants"):
        del doc[key]
    with pytest.raises(ManifestError) as caught:
        validate_manifest(doc)
    lines = str(caught.value).splitlines()
    assert lines[0].endswith("(3 problems):")
    assert sorted(line.strip() for line in lines[1:]) == [
        f"$.{key}: required property is missing" for key in ("name", "variants", "version")
    ]


# ---------------------------------------------------------------------------------------------
# The fast validator (jsonschema-rs) only ever accepts what the reference validator accepts


def _schema_refuses(doc: object) -> bool:
    return any(True for _ in _validator().iter_errors(doc))


@pytest.mark.parametrize(("mutate", "expected"), BAD_MANIFESTS)
def test_fast_validator_refuses_each_bad_manifest(
    doc: dict[str, Any], mutate: Callable[[dict[str, Any]], None], expected: str
) -> None:
    mutate(doc)
    if _schema_refuses(doc):
        assert not _fast_validator().is_valid(doc)


def _leaves(node: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(node, dict):
        children = node.items()
    elif isinstance(node, list):
        children = enumerate(node)
    else:
        return [path]
    return [path, *(p for key, child in children for p in _leaves(child, (*path, key)))]


@settings(database=None, max_examples=300, deadline=None)
@given(st.data())
def test_fast_validator_never_accepts_what_the_schema_refuses(hello_doc: dict[str, Any], data: Any) -> None:
    """Any value put anywhere in a valid manifest (a string where a number goes, a version in
    Arabic digits, a stray key): when the reference validator refuses it, so does the fast one."""
    doc = copy.deepcopy(hello_doc)
    paths = [p for p in _leaves(doc) if p]
    for _ in range(data.draw(st.integers(1, 3))):
        *parents, last = data.draw(st.sampled_from(paths))
        node: Any = doc
        try:
            for part in parents:
                node = node[part]
        except (IndexError, KeyError, TypeError):
            continue  # an earlier change replaced what this path went through
        if isinstance(node, dict) and data.draw(st.booleans()):
            last = data.draw(st.sampled_from(["extra", "id", "name", "sha256", "version", "size"]))
        value = data.draw(
            JSON_VALUES
            | st.sampled_from(["1.0.0\n", "\u0661.0.0", "a" * 64, "2026-12-07T10:00:00Z", "2026-13-07T10:00:00Z", 1.0])
        )
        try:
            node[last] = value
        except (IndexError, KeyError, TypeError):
            continue
    if _fast_validator().is_valid(doc):
        assert not _schema_refuses(doc), doc


def test_fast_validator_accepts_the_valid_manifests(hello_doc: dict[str, Any]) -> None:
    # otherwise every pull would pay for the slow validator again
    assert _fast_validator().is_valid(hello_doc)


def test_a_cards_learners_are_written_once_for_every_renderer(hello_doc: dict[str, Any]) -> None:
    """The build's card.md and the Hugging Face README say a card's learners and privacy in the
    same words (registry.core.card)."""
    from registry.core.card import education_lines
    from registry.server.hf.readme import render_readme
    from zoo.card import render_card

    education = {"age_band": "6-9", "privacy_class": "student-input-on-device", "runs_on": "tablets"}
    lines = education_lines(education)
    assert lines == [
        "- Age band: 6-9 years",
        "- Privacy class: student-input-on-device",
        "- Runs on: tablets",
    ]
    doc = copy.deepcopy(hello_doc)
    doc["card"]["education"] = education
    block = "\n".join(lines)
    metrics = {"reference": doc["variants"][0]["id"], "test_set": {"size": 3}}  # what a build's metrics.json holds
    assert block in render_readme(doc, {}, "0" * 64) and block in render_card(doc, metrics)


def test_the_card_and_the_hf_readme_share_one_head_and_tail(hello_doc: dict[str, Any]) -> None:
    """One renderer for what both say (registry.core.card): the title, facts, use, limitations,
    learners, data, ethics and provenance appear word for word in card.md and in the README,
    and a card without learners says so in both."""
    from registry.core.card import NO_EDUCATION, card_head, card_tail
    from registry.core.model import Manifest
    from registry.server.hf.readme import render_readme
    from zoo.card import render_card

    metrics = {"reference": hello_doc["variants"][0]["id"], "test_set": {"size": 3}}
    for education in ({"age_band": "6-9", "privacy_class": "student-input-on-device"}, None):
        doc = copy.deepcopy(hello_doc)
        doc["card"].pop("education", None)
        if education:
            doc["card"]["education"] = education
        m = Manifest.from_dict(doc)
        head, tail = "\n".join(card_head(m)), "\n".join(card_tail(m))
        readme, card = render_readme(doc, {}, "0" * 64), render_card(doc, metrics)
        for text in (readme, card):
            assert head in text and tail in text
            assert (NO_EDUCATION in text) is (education is None)
        assert f"Test split sha256 `{doc['card']['evaluation_data']['sha256']}`" in tail
        assert "- Tools: " in tail and "- Seeds: " in tail
