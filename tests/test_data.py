"""zoo.data: every adapter on small real files written here, the seeded group splits, the
evaluation reader, and a table of bad inputs that each end in one-line DataError with nothing
written. No TensorFlow."""

from __future__ import annotations

import wave
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from zoo.data import DataOptions, adapters, load_data, load_eval, register_adapter, split_groups
from zoo.data.splits import plan
from zoo.datasets.common import Dataset, Split, split_sha256
from zoo.datasets.shapes import write_folder
from zoo.errors import DataError

# --------------------------------------------------------------------------- writers


def _wav(path: Path, audio: np.ndarray, *, rate: int = 16000, channels: int = 1, width: int = 2) -> None:
    """A PCM .wav of ``audio`` (floats in [-1, 1]) repeated on every channel."""
    path.parent.mkdir(parents=True, exist_ok=True)
    a = np.repeat(np.asarray(audio, np.float64)[:, None], channels, axis=1)
    data = (a * 32767).round().astype("<i2") if width == 2 else (a * 127 + 128).round().astype(np.uint8)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(width)
        w.setframerate(rate)
        w.writeframes(data.tobytes())


def _tone(word: str, n: int = 16000, rate: int = 16000, level: float = 0.5) -> np.ndarray:
    freq = 440.0 if word == "yes" else 880.0
    return level * np.sin(2 * np.pi * freq * np.arange(n) / rate)


SPEAKERS = ("s0", "s1", "s2", "s3", "s4", "s5")


def _speech(root: Path, *, lists: bool = False) -> Path:
    """2 words x 6 speakers, 1 s at 16 kHz, except s1 (8 kHz stereo), s2 (8-bit, 0.5 s) and s3 (1.5 s)."""
    for word in ("no", "yes"):
        for s in SPEAKERS:
            path = root / word / f"{s}_nohash_0.wav"
            if s == "s1":
                _wav(path, _tone(word, 8000, 8000), rate=8000, channels=2)
            elif s == "s2":
                _wav(path, _tone(word, 8000), width=1)
            elif s == "s3":
                _wav(path, _tone(word, 24000))
            else:
                _wav(path, _tone(word))
    _wav(root / "_background_noise_" / "noise.wav", np.zeros(32000))
    if lists:
        (root / "validation_list.txt").write_text("no/s4_nohash_0.wav\nyes/s4_nohash_0.wav\n")
        (root / "testing_list.txt").write_text("no/s5_nohash_0.wav\nyes/s5_nohash_0.wav\n\n")
    return root


CONLL_TRAIN = """-DOCSTART- -X- O

The DT B-NP O
cat NN I-NP B-ANIMAL
sat VBD O O

the DT O
dog NN B-ANIMAL
"""
CONLL_DEV = "a O\ncat B-ANIMAL\n"
CONLL_TEST = "dogs O\nran I-ANIMAL\n"


def _conll(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "train.txt").write_text(CONLL_TRAIN)
    (root / "dev.txt").write_text(CONLL_DEV)
    (root / "test.txt").write_text(CONLL_TEST)
    (root / "README.txt").write_text("notes\n")
    return root


# Student 1: skills 10 20 20 30, answers 1 0 1 1; student 2 has one answer (skipped);
# student 3: 30 10 10 / 0 0 1; student 4: 20 10 / 1 1. Skills map 10->0, 20->1, 30->2 (S = 3).
DKT_TRAIN = "4\n10,20,20,30,\n1,0,1,1,\n1\n20\n1\n3\n30,10,10\n0,0,1\n2\n20,10\n1,1\n"
DKT_TEST = "2\n10,10\n0,1\n"


def _dkt(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "kt_train.txt").write_text(DKT_TRAIN)
    (root / "kt_test.txt").write_text(DKT_TEST)
    return root


def _csv(path: Path, *, rows: int = 20, schools: int = 5, split: bool = False, extra: str = "") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["f1,f2,label,school" + (",split" if split else "")]
    for i in range(rows):
        which = ",test" if split and i % 5 == 0 else ",val" if split and i % 5 == 1 else ",train" if split else ""
        lines.append(f"{i * 0.5},{-i},{'hi' if i % 2 else 'lo'},sch{i % schools}{which}")
    path.write_text("\n".join(lines) + "\n" + extra)
    return path


def _png(path: Path, size: tuple[int, int], colour: tuple[int, int, int] = (200, 30, 30)) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (size[1], size[0]), colour).save(path)


def _tree(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _groups_apart(data: Dataset) -> None:
    """No group key in two splits."""
    g = {name: set(getattr(data, name).meta["group"].tolist()) for name in ("train", "val", "test")}
    assert not (g["train"] & g["val"]) and not (g["train"] & g["test"]) and not (g["val"] & g["test"])


# --------------------------------------------------------------------------- registry and splits


def test_adapters_are_registered_in_order_and_a_new_one_is_picked_by_detect(tmp_path: Path) -> None:
    assert [a.name for a in adapters()] == ["npz", "image-folder", "speech-commands", "conll", "dkt", "csv"]
    assert {a.kind for a in adapters()} == {
        "generic",
        "image-classification",
        "audio-classification",
        "token-classification",
        "knowledge-tracing",
    }

    def read(request):  # type: ignore[no-untyped-def]
        from zoo.data import Parts

        n = int(request.source.read_text(request.source.path))
        x = np.arange(n, dtype=np.float32)[:, None]
        splits = {s: Split(x, np.zeros(n, np.int64)) for s in ("train", "val", "test")}
        return Parts(splits, ("only",), ("train", "val", "test"), None, {"n": n})

    register_adapter("test-count", kind="generic", summary="a number", detect=lambda p: p.suffix == ".count")(read)
    (tmp_path / "five.count").write_text("5")
    data = load_data(tmp_path / "five.count")
    assert data.info["format"] == "test-count" and data.info["n"] == 5 and data.train.x.shape == (5, 1)
    with pytest.raises(ValueError, match="registered twice"):
        register_adapter("test-count", kind="generic", summary="", detect=lambda p: False)(lambda r: r)
    with pytest.raises(ValueError, match="kind"):
        register_adapter("test-kind", kind="video", summary="", detect=lambda p: False)


def test_split_groups_keeps_groups_whole_and_is_seeded() -> None:
    groups = np.repeat(np.array([f"g{i}" for i in range(10)]), 3)
    fractions = {"train": 0.7, "val": 0.1, "test": 0.2}
    a = split_groups(groups, seed=3, fractions=fractions)
    b = split_groups(groups, seed=3, fractions=fractions)
    c = split_groups(groups, seed=4, fractions=fractions)
    assert all(np.array_equal(a[k], b[k]) for k in fractions)
    assert any(not np.array_equal(a[k], c[k]) for k in fractions)
    assert sorted(np.concatenate(list(a.values())).tolist()) == list(range(30))
    sets = {k: set(groups[v].tolist()) for k, v in a.items()}
    assert [len(sets[k]) for k in fractions] == [7, 1, 2]
    assert not (sets["train"] & sets["val"] or sets["train"] & sets["test"] or sets["val"] & sets["test"])
    # Three groups still fill three splits; two cannot, and the message says how many are needed.
    small = split_groups(np.array(["a", "b", "c"]), seed=0, fractions=fractions)
    assert all(v.size == 1 for v in small.values())
    with pytest.raises(DataError, match="need at least 3") as e:
        split_groups(np.array(["a", "a", "b"]), seed=0, fractions=fractions, source="pupils.csv")
    assert "pupils.csv" in e.value.message
    with pytest.raises(ValueError):
        split_groups(np.arange(5), seed=0, fractions={"train": 0.5, "val": 0.2})


def test_plan_keeps_declared_splits_and_carves_only_the_missing_one() -> None:
    pools = {"train": np.arange(20), "test": np.arange(5)}
    p = plan(pools, seed=0, val_fraction=0.1, test_fraction=0.2, group="sample", source="d")
    assert p.declared == ("train", "test")
    assert p.made == {"seed": 0, "from": "train", "fractions": {"train": 0.9, "val": 0.1}, "group": "sample"}
    assert p.pieces["test"][0][0] == "test" and p.pieces["test"][0][1].tolist() == list(range(5))
    assert len(p.pieces["val"][0][1]) == 2 and len(p.pieces["train"][0][1]) == 18
    with pytest.raises(DataError, match="no training split"):
        plan({"test": np.arange(3)}, seed=0, val_fraction=0.1, test_fraction=0.2, group="sample", source="d")


# --------------------------------------------------------------------------- image folder


def test_image_folder_made_splits(tmp_path: Path) -> None:
    write_folder(tmp_path / "img", 10)
    data = load_data(tmp_path / "img")
    assert data.labels == ("circle", "square", "triangle")
    assert data.train.x.dtype == np.float32 and data.train.x.shape[1:] == (16, 16, 1)
    assert data.train.y.dtype == np.int64
    assert data.train.x.min() >= 0.0 and data.train.x.max() <= 1.0
    assert data.info["sizes"] == {"train": 21, "val": 3, "test": 6}
    assert data.info["kind"] == "image-classification" and data.info["format"] == "image-folder"
    assert data.info["splits"]["declared"] == [] and data.info["splits"]["made"]["from"] == "all"
    assert data.info["image"] == {"height": 16, "width": 16, "channels": 1, "resized": 0, "colour_images": 0}
    assert "group" not in data.train.meta
    for name in ("train", "val", "test"):
        assert data.info["sha256"][name] == split_sha256(getattr(data, name))
    # The pixels are the file's: the first training image is one of the PNGs, divided by 255.
    pngs = sorted((tmp_path / "img").rglob("*.png"))
    stored = {np.asarray(Image.open(p), np.float32).tobytes() for p in pngs}
    assert (data.train.x[0, ..., 0] * 255).round().astype(np.float32).tobytes() in stored


def test_same_seed_same_digests_other_seed_other_split(tmp_path: Path) -> None:
    write_folder(tmp_path / "img", 10)
    a = load_data(tmp_path / "img", DataOptions(seed=7))
    b = load_data(tmp_path / "img", DataOptions(seed=7))
    c = load_data(tmp_path / "img", DataOptions(seed=8))
    assert a.info["sha256"] == b.info["sha256"] and a.info["source_sha256"] == c.info["source_sha256"]
    assert a.info["sha256"] != c.info["sha256"]


def test_image_folder_declared_splits(tmp_path: Path) -> None:
    root = tmp_path / "img"
    write_folder(root / "train", 4, seed=1)
    write_folder(root / "validation", 2, seed=2)
    write_folder(root / "test", 2, seed=3)
    data = load_data(root)
    assert data.info["splits"]["declared"] == ["train", "val", "test"] and data.info["splits"]["made"] is None
    assert data.info["sizes"] == {"train": 12, "val": 6, "test": 6}
    assert sorted(set(data.test.y.tolist())) == [0, 1, 2]


def test_image_regex_groups_never_straddle_splits(tmp_path: Path) -> None:
    write_folder(tmp_path / "img", 12)  # writers w0..w3
    data = load_data(tmp_path / "img", DataOptions(group=r"^[^/]+/(w\d)_", val_fraction=0.25, test_fraction=0.25))
    _groups_apart(data)
    assert data.info["splits"]["groups"] == {"train": 2, "val": 1, "test": 1}
    assert data.info["splits"]["made"]["group"] == r"^[^/]+/(w\d)_"


def test_images_resized_and_colour_kept_or_made_grey(tmp_path: Path) -> None:
    root = tmp_path / "img"
    for i in range(3):
        _png(root / "red" / f"r{i}.png", (10 + i, 12), (200, 30, 30))
        _png(root / "blue" / f"b{i}.jpg", (8, 8), (20, 40, 220))
    data = load_data(root, DataOptions(image_size=(8, 6)))
    assert data.train.x.shape[1:] == (8, 6, 3) and data.labels == ("blue", "red")
    assert data.info["image"]["colour_images"] == 6 and data.info["image"]["resized"] == 6
    grey = load_data(root, DataOptions(image_size=(8, 6), channels=1))
    assert grey.train.x.shape[1:] == (8, 6, 1)
    red = np.float32(0.299 * 200 / 255 + 0.587 * 30 / 255 + 0.114 * 30 / 255)
    values = np.concatenate([s.x.reshape(-1) for s in (grey.train, grey.val, grey.test)])
    assert np.isclose(values, red, atol=1e-5).any()


def test_image_eval_reads_the_declared_test_folder_at_the_training_size(tmp_path: Path) -> None:
    train = load_data(_images(tmp_path, "")[0])
    shift = tmp_path / "shift"
    write_folder(shift / "train", 1, size=20)
    write_folder(shift / "test", 2, size=20, classes=2)
    split, info = load_eval(shift, like=train)
    assert split.x.shape == (4, 16, 16, 1) and info["split"] == "test" and info["image"]["resized"] == 4
    assert set(split.y.tolist()) == {0, 1} and info["splits"]["declared"] == ["train", "test"]
    _png(shift / "test" / "hexagon" / "h.png", (20, 20))
    with pytest.raises(DataError, match="hexagon: is a class the training data does not have"):
        load_eval(shift, like=train)


# --------------------------------------------------------------------------- speech commands


def test_speech_commands_declared_lists(tmp_path: Path) -> None:
    data = load_data(_speech(tmp_path / "sc", lists=True))
    assert data.labels == ("no", "yes")
    assert data.info["kind"] == "audio-classification"
    assert data.info["splits"]["declared"] == ["train", "val", "test"] and data.info["splits"]["made"] is None
    assert data.info["sizes"] == {"train": 8, "val": 2, "test": 2}
    assert set(data.test.meta["group"].tolist()) == {"s5"} and set(data.val.meta["group"].tolist()) == {"s4"}
    assert data.train.x.shape == (8, 16000) and data.train.x.dtype == np.float32
    assert np.abs(data.train.x).max() <= 1.0
    assert data.info["audio"] == {"sample_rate": 16000, "clip_samples": 16000, "frontend": None}
    assert data.info["skipped_folders"] == ["_background_noise_"]
    # s1 was 8 kHz stereo, s2 8-bit and half a second (zero-padded at the end), s3 1.5 s (cut).
    assert data.info["clips"] == {"converted": 4, "resampled": 2, "padded": 2, "cut": 2}
    s2 = data.train.x[(data.train.meta["group"] == "s2") & (data.train.y == 1)][0]
    assert np.abs(s2[:8000]).max() > 0.4 and not s2[8000:].any()
    s3 = data.train.x[(data.train.meta["group"] == "s3") & (data.train.y == 1)][0]
    assert np.allclose(s3, _tone("yes", 24000)[4000:20000], atol=1e-4)


def test_speech_commands_speakers_never_straddle_splits_and_logmel(tmp_path: Path) -> None:
    root = _speech(tmp_path / "sc")
    data = load_data(root, DataOptions(val_fraction=0.2, test_fraction=0.2, frontend="logmel"))
    _groups_apart(data)
    assert data.info["splits"]["made"]["group"] == "speaker"
    assert data.info["splits"]["groups"] == {"train": 4, "val": 1, "test": 1}
    assert data.train.x.shape == (8, 98, 40) and data.train.x.dtype == np.float32
    from zoo.datasets.speech import FRONTEND

    assert data.info["audio"]["frontend"] == FRONTEND
    raw = load_data(root, DataOptions(val_fraction=0.2, test_fraction=0.2))
    from zoo.datasets.speech import logmel

    assert np.allclose(logmel(raw.test.x), data.test.x)


def test_speech_eval_reads_the_declared_test_clips_with_the_training_settings(tmp_path: Path) -> None:
    train = load_data(_speech(tmp_path / "a", lists=True), DataOptions(frontend="logmel"))
    shift = _speech(tmp_path / "b", lists=True)
    split, info = load_eval(shift, like=train)
    assert split.x.shape == (2, 98, 40) and info["split"] == "test" and info["sizes"] == {"test": 2}
    assert info["sha256"] == split_sha256(split) and info["format"] == "speech-commands"


# --------------------------------------------------------------------------- CoNLL


def test_conll_vocabulary_padding_and_declared_files(tmp_path: Path) -> None:
    data = load_data(_conll(tmp_path / "ner"))
    assert data.info["kind"] == "token-classification"
    assert data.info["splits"]["declared"] == ["train", "val", "test"]
    assert data.info["vocab"] == ["[PAD]", "[UNK]", "the", "cat", "dog", "sat"]
    assert data.labels == ("O", "B-ANIMAL", "I-ANIMAL")
    assert data.info["max_len"] == 3 and data.info["truncated"] == {"train": 0, "val": 0, "test": 0}
    assert data.train.x.dtype == np.int32 and data.train.y.dtype == np.int64
    assert data.train.x.tolist() == [[2, 3, 5], [2, 4, 0]]
    assert data.train.y.tolist() == [[0, 1, 0], [0, 1, -1]]
    assert data.val.x.tolist() == [[1, 3, 0]] and data.val.y.tolist() == [[0, 1, -1]]
    assert data.test.x.tolist() == [[1, 1, 0]] and data.test.y.tolist() == [[0, 2, -1]]
    short = load_data(tmp_path / "ner", DataOptions(max_len=2))
    assert short.train.x.tolist() == [[2, 3], [2, 4]] and short.info["truncated"]["train"] == 1


def test_conll_single_file_is_split_by_sentence(tmp_path: Path) -> None:
    text = "".join(f"w{i} O\nx{i} B-X\n\n" for i in range(10))
    (tmp_path / "all.conll").write_text(text)
    data = load_data(tmp_path / "all.conll")
    assert data.info["sizes"] == {"train": 7, "val": 1, "test": 2}
    assert data.info["splits"]["made"]["group"] == "sentence"


def test_conll_eval_reuses_the_training_vocabulary(tmp_path: Path) -> None:
    train = load_data(_conll(tmp_path / "ner"))
    (tmp_path / "shift.txt").write_text("The O\nbird B-ANIMAL\nsat O\nthe O\ncat B-ANIMAL\n")
    split, info = load_eval(tmp_path / "shift.txt", like=train)
    assert split.x.tolist() == [[2, 1, 5]] and split.y.tolist() == [[0, 1, 0]]
    assert info["split"] == "all" and info["vocab"] == train.info["vocab"] and info["truncated"] == {"test": 1}
    (tmp_path / "odd.txt").write_text("the B-PLANT\n")
    with pytest.raises(DataError, match=r"odd\.txt:1: .*'B-PLANT'"):
        load_eval(tmp_path / "odd.txt", like=train)


# --------------------------------------------------------------------------- DKT


def test_dkt_windows_and_encoding(tmp_path: Path) -> None:
    data = load_data(_dkt(tmp_path / "kt"), DataOptions(max_len=2, val_fraction=0.3))
    assert data.labels == ("wrong", "right") and data.info["kind"] == "knowledge-tracing"
    assert data.info["skills"] == [10, 20, 30] and data.info["n_skills"] == 3
    assert data.info["skipped_students"] == 1 and data.info["splits"]["declared"] == ["train", "test"]
    assert data.info["splits"]["made"]["group"] == "student"
    _groups_apart(data)
    rows: dict[str, list[tuple[list[int], list[int], list[int]]]] = {}
    for s in (data.train, data.val, data.test):
        assert s.x.dtype == np.int32 and s.y.dtype == np.int64 and s.meta["skill"].dtype == np.int64
        for x, y, k, g in zip(s.x.tolist(), s.y.tolist(), s.meta["skill"].tolist(), s.meta["group"], strict=True):
            rows.setdefault(str(g), []).append((x, y, k))
    assert rows == {
        "kt_train.txt:1": [([4, 2], [0, 1], [1, 1]), ([5, 0], [1, -1], [2, -1])],
        "kt_train.txt:3": [([3, 1], [0, 1], [0, 0])],
        "kt_train.txt:4": [([5, 0], [1, -1], [0, -1])],
        "kt_test.txt:1": [([1, 0], [1, -1], [0, -1])],
    }
    assert data.test.meta["group"].tolist() == ["kt_test.txt:1"]


def test_dkt_default_max_len_and_eval_skill_mapping(tmp_path: Path) -> None:
    (tmp_path / "one.txt").write_text("".join(f"3\n10,20,{10 * (i % 3 + 1)}\n1,0,1\n" for i in range(6)))
    data = load_data(tmp_path / "one.txt")
    assert data.info["max_len"] == 2 and data.info["sizes"] == {"train": 4, "val": 1, "test": 1}
    shift = tmp_path / "shift.csv"
    shift.write_text("2\n30,10\n1,1\n")
    split, info = load_eval(shift, like=data)
    assert split.x.tolist() == [[1 + 2 + 3 * 1, 0]] and info["format"] == "dkt"
    shift.write_text("2\n30,40\n1,1\n")
    with pytest.raises(DataError, match=r"shift\.csv:2: has skill 40"):
        load_eval(shift, like=data)


# --------------------------------------------------------------------------- CSV


def test_csv_group_column_never_straddles_splits(tmp_path: Path) -> None:
    data = load_data(_csv(tmp_path / "t.csv"), DataOptions(group="school"))
    assert data.info["features"] == ["f1", "f2"] and data.labels == ("hi", "lo")
    assert data.train.x.dtype == np.float32 and data.train.x.shape[1] == 2
    _groups_apart(data)
    assert data.info["splits"]["groups"] == {"train": 3, "val": 1, "test": 1}
    assert data.info["sizes"] == {"train": 12, "val": 4, "test": 4}


def test_csv_split_column_is_declared(tmp_path: Path) -> None:
    data = load_data(_csv(tmp_path / "t.csv", split=True), DataOptions(group="school"))
    assert data.info["splits"]["declared"] == ["train", "val", "test"] and data.info["splits"]["made"] is None
    assert data.info["sizes"] == {"train": 12, "val": 4, "test": 4}
    assert data.test.x[:, 0].tolist() == [0.0, 2.5, 5.0, 7.5]
    assert data.info["features"] == ["f1", "f2"] and data.info["group_column"] == "school"


def test_csv_eval_rejects_a_label_the_training_data_lacks(tmp_path: Path) -> None:
    train = load_data(_csv(tmp_path / "t.csv"), DataOptions(group="school"))
    split, info = load_eval(_csv(tmp_path / "s.csv", rows=4), DataOptions(group="school"), like=train)
    assert split.x.shape == (4, 2) and split.y.tolist() == [1, 0, 1, 0] and info["split"] == "all"
    bad = _csv(tmp_path / "new.csv", rows=2, extra="1,2,zebra,sch0\n")
    with pytest.raises(DataError, match=r"new\.csv:4: has the label 'zebra'") as e:
        load_eval(bad, DataOptions(group="school"), like=train)
    assert e.value.code == "invalid_data"


# --------------------------------------------------------------------------- npz


def test_npz_types_labels_and_carved_validation(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    np.savez(
        tmp_path / "d.npz",
        x_train=rng.normal(size=(20, 3)),
        y_train=np.arange(20) % 3,
        g_train=np.repeat(np.arange(5), 4),
        x_test=rng.normal(size=(4, 3)),
        y_test=np.array([0, 1, 2, 2]),
    )
    data = load_data(tmp_path / "d.npz")
    assert data.train.x.dtype == np.float32 and data.train.y.dtype == np.int64
    assert data.labels == ("0", "1", "2") and data.info["kind"] == "generic"
    assert data.info["splits"]["declared"] == ["train", "test"] and data.info["splits"]["made"]["group"] == "g_train"
    assert data.info["sizes"] == {"train": 16, "val": 4, "test": 4}
    assert set(data.val.meta["group"].tolist()).isdisjoint(data.train.meta["group"].tolist())


def test_npz_sequences_with_padding_integer_inputs_and_named_labels(tmp_path: Path) -> None:
    y = np.array([[0, 1, -1], [1, 1, 1], [0, -1, -1]])
    np.savez(
        tmp_path / "seq.npz",
        x_train=np.ones((3, 3), np.int64),
        y_train=y,
        x_val=np.ones((1, 3), np.int16),
        y_val=y[:1],
        x_test=np.ones((1, 3), np.int64),
        y_test=y[1:2],
        labels=np.array(["O", "ERR"]),
    )
    data = load_data(tmp_path / "seq.npz")
    assert data.train.x.dtype == np.int32 and data.train.y.tolist() == y.tolist()
    assert data.labels == ("O", "ERR") and data.info["splits"]["made"] is None
    # Shift data that names its labels the other way round is mapped onto the training ids.
    np.savez(tmp_path / "s.npz", x_test=np.ones((1, 3), np.int32), y_test=np.array([[0, 1, -1]]), labels=["ERR", "O"])
    split, _ = load_eval(tmp_path / "s.npz", like=data)
    assert split.y.tolist() == [[1, 0, -1]]
    np.savez(tmp_path / "u.npz", x_test=np.ones((1, 3), np.int32), y_test=np.array([[0, 1, -1]]), labels=["O", "X"])
    with pytest.raises(DataError, match="'X'"):
        load_eval(tmp_path / "u.npz", like=data)


# --------------------------------------------------------------------------- bad inputs


def _bad_png(root: Path) -> tuple[Path, DataOptions, str]:
    write_folder(root / "img", 2)
    (root / "img" / "circle" / "w0_0.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    return root / "img", DataOptions(), "w0_0.png"


def _sizes(root: Path) -> tuple[Path, DataOptions, str]:
    _png(root / "img" / "a" / "one.png", (8, 8))
    _png(root / "img" / "a" / "two.png", (9, 8))
    return root / "img", DataOptions(), "two.png"


def _empty_class(root: Path) -> tuple[Path, DataOptions, str]:
    write_folder(root / "img", 2)
    (root / "img" / "hexagon").mkdir()
    return root / "img", DataOptions(), "hexagon"


def _bad_wav(root: Path) -> tuple[Path, DataOptions, str]:
    _speech(root / "sc")
    (root / "sc" / "yes" / "s9_nohash_0.wav").write_bytes(b"RIFF\x10\x00\x00\x00WAVEjunk")
    return root / "sc", DataOptions(), "s9_nohash_0.wav"


def _mixed_folders(root: Path) -> tuple[Path, DataOptions, str]:
    write_folder(root / "img" / "train", 1)
    _png(root / "img" / "dog" / "a.png", (4, 4))
    return root / "img", DataOptions(), "img"


def _images(root: Path, group: str) -> tuple[Path, DataOptions, str]:
    write_folder(root / "img", 2)
    return root / "img", DataOptions(group=group), "img"


def _npz(root: Path, **arrays: np.ndarray) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    np.savez(root / "d.npz", **arrays)
    return root / "d.npz"


def _text(root: Path, name: str, text: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / name).write_text(text)
    return root / name


BAD: list[tuple[str, Callable[[Path], tuple[Path, DataOptions, str]]]] = [
    ("missing-path", lambda r: (r / "nope", DataOptions(), "nope")),
    ("unknown-layout", lambda r: (_text(r / "misc", "notes.md", "# hi\n").parent, DataOptions(), "misc")),
    ("unknown-format", lambda r: (_csv(r / "t.csv"), DataOptions(format="parquet"), "t.csv")),
    ("empty-class-folder", _empty_class),
    ("image-sizes-differ", _sizes),
    ("corrupt-png", _bad_png),
    ("corrupt-wav", _bad_wav),
    (
        "csv-non-numeric-feature",
        lambda r: (_csv(r / "t.csv", extra="abc,1,lo,sch0\n"), DataOptions(group="school"), "t.csv:22"),
    ),
    ("csv-missing-label-column", lambda r: (_csv(r / "t.csv"), DataOptions(label_column="grade"), "t.csv")),
    ("csv-unknown-split", lambda r: (_text(r, "s.csv", "a,label,split\n1,x,training\n"), DataOptions(), "s.csv:2")),
    (
        "npz-length-mismatch",
        lambda r: (
            _npz(r, x_train=np.ones((4, 2)), y_train=np.zeros(3, int), x_test=np.ones((1, 2)), y_test=[0]),
            DataOptions(),
            "d.npz",
        ),
    ),
    (
        "npz-label-minus-2",
        lambda r: (
            _npz(r, x_train=np.ones((3, 2)), y_train=[0, -2, 1], x_test=np.ones((1, 2)), y_test=[0]),
            DataOptions(),
            "d.npz",
        ),
    ),
    ("npz-not-an-archive", lambda r: (_text(r, "d.npz", "hello"), DataOptions(), "d.npz")),
    ("dkt-lines-not-multiple-of-3", lambda r: (_text(r, "kt.txt", "2\n1,2\n1,0\n3\n1,2,3\n"), DataOptions(), "kt.txt")),
    ("dkt-count-mismatch", lambda r: (_text(r, "kt.txt", "3\n1,2\n1,0\n"), DataOptions(), "kt.txt:2")),
    ("dkt-answer-not-0-1", lambda r: (_text(r, "kt.txt", "2\n1,2\n1,2\n"), DataOptions(format="dkt"), "kt.txt:3")),
    ("conll-line-without-label", lambda r: (_text(r, "a.conll", "the O\ncat\n"), DataOptions(), "a.conll:2")),
    ("too-few-groups", lambda r: (_csv(r / "t.csv", schools=2), DataOptions(group="school"), "t.csv")),
    (
        "speech-list-names-a-missing-clip",
        lambda r: (
            _text(_speech(r / "sc"), "testing_list.txt", "yes/zz.wav\n").parent,
            DataOptions(),
            "testing_list.txt:1",
        ),
    ),
    ("split-folders-beside-class-folders", _mixed_folders),
    (
        "fractions-leave-no-training",
        lambda r: (_csv(r / "t.csv"), DataOptions(val_fraction=0.5, test_fraction=0.5), "t.csv"),
    ),
    ("logmel-needs-16k", lambda r: (_speech(r / "sc"), DataOptions(frontend="logmel", sample_rate=8000), "sc")),
    ("bad-group-regex", lambda r: _images(r, "(unclosed")),
    ("group-regex-no-match", lambda r: (*_images(r, r"^x/(\d)")[:2], "circle/w")),
    (
        "speech-empty-list",
        lambda r: (_text(_speech(r / "sc"), "testing_list.txt", "\n").parent, DataOptions(), "testing_list.txt"),
    ),
    (
        "empty-declared-split",
        lambda r: (
            _npz(r, x_train=np.ones((3, 2)), y_train=[0, 1, 1], x_val=np.ones((0, 2)), y_val=np.zeros(0, int)),
            DataOptions(),
            "d.npz",
        ),
    ),
]


@pytest.mark.parametrize("make", [m for _, m in BAD], ids=[name for name, _ in BAD])
def test_bad_input_is_one_line_data_error_and_writes_nothing(tmp_path: Path, make) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "data"
    root.mkdir()
    path, options, named = make(root)
    before = _tree(root)
    with pytest.raises(DataError) as e:
        load_data(path, options)
    err = e.value
    assert err.code == "invalid_data" and err.exit_code == 14
    assert "\n" not in err.message and named in err.message, err.message
    assert err.source and "; " in err.message  # what is wrong, then the remedy
    assert _tree(root) == before
