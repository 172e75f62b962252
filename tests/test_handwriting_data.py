"""The handwriting dataset (zoo/datasets/handwriting/): shapes, determinism, held-out fonts
and writers, no leakage between splits, provenance, cache, the held-out tablet source, and
that the letters can be learned at all.

Needs the Debian font packages of ``handwriting.FONT_PACKAGES`` (apt); generates the
``quick`` profile twice (a few seconds each).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sklearn.neighbors import KNeighborsClassifier

from zoo.datasets import handwriting as hw
from zoo.datasets.handwriting import dataset as hw_dataset
from zoo.datasets.handwriting import digits as hw_digits
from zoo.datasets.handwriting import fonts as hw_fonts

CHANCE = 1 / len(hw.LABELS)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("handwriting-cache")


@pytest.fixture(scope="module")
def data(cache_dir: Path) -> hw.Dataset:
    return hw.load("quick", seed=0, cache_dir=cache_dir)


def _splits(data: hw.Dataset) -> dict[str, hw.Split]:
    return {"train": data.train, "val": data.val, "test": data.test}


def test_shapes_dtypes_and_ranges(data: hw.Dataset) -> None:
    assert data.labels == hw.LABELS
    assert len(data.labels) == 39 and len(set(data.labels)) == 39
    for name, split in _splits(data).items():
        assert split.x.dtype == np.float32, name
        assert split.y.dtype == np.int64, name
        assert split.x.ndim == 4 and split.x.shape[1:] == (28, 28, 1), name
        assert split.y.shape == (split.x.shape[0],), name
        assert float(split.x.min()) >= 0.0 and float(split.x.max()) <= 1.0, name
        assert split.y.min() >= 0 and split.y.max() < len(hw.LABELS), name
    sizes = {name: len(split.y) for name, split in _splits(data).items()}
    assert 9000 <= sizes["train"] <= 12000, sizes


def test_same_profile_and_seed_give_identical_splits(data: hw.Dataset) -> None:
    again = hw.load("quick", seed=0)  # no cache: generated from scratch
    for name, split in _splits(data).items():
        assert hw.split_sha256(getattr(again, name)) == hw.split_sha256(split), name
    assert again.info == data.info


def test_split_sha256_covers_inputs_and_labels(data: hw.Dataset) -> None:
    x, y = data.val.x, data.val.y
    base = hw.split_sha256(hw.Split(x, y))
    x2 = x.copy()
    x2[0, 0, 0, 0] = 0.5 if x2[0, 0, 0, 0] != 0.5 else 0.25
    y2 = y.copy()
    y2[0] = (y2[0] + 1) % len(hw.LABELS)
    assert hw.split_sha256(hw.Split(x2, y)) != base
    assert hw.split_sha256(hw.Split(x, y2)) != base
    assert data.info["sha256"]["val"] == base


def test_test_fonts_are_disjoint_from_training_and_validation_fonts(data: hw.Dataset) -> None:
    fonts = data.info["sources"]["fonts"]
    by_split: dict[str, list[dict]] = {"train": [], "val": [], "test": []}
    for font in fonts:
        by_split[font["split"]].append(font)
    assert all(by_split.values()), {k: len(v) for k, v in by_split.items()}
    for key in ("family", "file", "sha256"):
        test = {f[key] for f in by_split["test"]}
        seen = {f[key] for f in by_split["train"] + by_split["val"]}
        assert not test & seen, (key, test & seen)
    val = {f["family"] for f in by_split["val"]}
    assert not val & {f["family"] for f in by_split["train"]}


def test_no_test_image_also_in_train_or_val(data: hw.Dataset) -> None:
    test = {row.tobytes() for row in data.test.x}
    for name in ("train", "val"):
        shared = sum(row.tobytes() in test for row in getattr(data, name).x)
        assert shared == 0, f"{shared} {name} images equal a test image"


def test_every_class_in_every_split(data: hw.Dataset) -> None:
    for name, split in _splits(data).items():
        counts = np.bincount(split.y, minlength=len(hw.LABELS))
        absent = [hw.LABELS[i] for i in np.flatnonzero(counts == 0)]
        assert not absent, f"{name} lacks {absent}"
        assert data.info["counts"][name] == {label: int(n) for label, n in zip(hw.LABELS, counts, strict=True)}


def test_test_digits_are_sd1_writers_and_training_digits_sd3_and_tablets(data: hw.Dataset) -> None:
    """SD-1 and SD-3 have disjoint writers: every test digit is an SD-1 image, none of them is
    in training; training holds SD-3 images and tablet renders, validation 10% of each class."""
    from zoo.datasets import sources

    mnist, _, origin = sources.mnist_t10k()
    sd1 = {hw.preprocess(im[None])[0].tobytes() for im in mnist[origin == 1]}
    sd3 = {hw.preprocess(im[None])[0].tobytes() for im in mnist[origin == 0]}
    test_digits = data.test.x[data.test.y < 10]
    assert len(test_digits) == 10 * hw.PROFILES["quick"].test_digits
    assert all(row.tobytes() in sd1 for row in test_digits)
    train_digits = [row.tobytes() for row in data.train.x[data.train.y < 10]]
    in_sd3 = sum(row in sd3 for row in train_digits)
    assert not any(row in sd1 for row in train_digits)
    quota = hw.PROFILES["quick"].digits
    assert in_sd3 == 10 * (quota - round(quota * 0.1)), in_sd3  # the rest are tablet renders and fonts
    n_val = int((data.val.y < 10).sum())
    assert n_val >= 2 * 10 * round(quota * 0.1), n_val  # both sources, plus font digits


def test_heldout_is_tablet_writers_never_seen(data: hw.Dataset) -> None:
    source, split = hw.heldout("quick", 0)
    assert "pendigits.tes" in source and "14 writers" in source
    assert split.x.shape == (10 * hw.PROFILES["quick"].heldout_digits, 28, 28, 1) and split.x.dtype == np.float32
    assert np.bincount(split.y, minlength=10).tolist() == [hw.PROFILES["quick"].heldout_digits] * 10
    train = {row.tobytes() for row in data.train.x}
    assert not any(row.tobytes() in train for row in split.x)
    again = hw.heldout("quick", 0)[1]
    np.testing.assert_array_equal(again.x, split.x)
    assert hw.heldout("quick", 1)[1].x.tobytes() != split.x.tobytes()


def test_images_are_laid_out_like_mnist(data: hw.Dataset) -> None:
    """Centre of mass within a pixel of (14, 14) and the ink inside the central 20x20 box,
    for real digits, tablet renders and synthetic letters alike."""
    rows = np.arange(28)  # MNIST's convention: row and column indices
    for name, split in _splits(data).items():
        x = split.x[:: max(1, len(split.y) // 200), ..., 0]
        mass = x.sum(axis=(1, 2))
        cy = (x.sum(axis=2) * rows).sum(axis=1) / mass
        cx = (x.sum(axis=1) * rows).sum(axis=1) / mass
        assert np.abs(cy - 14).max() < 1.5 and np.abs(cx - 14).max() < 1.5, name
        ink = x > 0.1
        heights = ink.any(axis=2).sum(axis=1)
        widths = ink.any(axis=1).sum(axis=1)
        assert np.maximum(heights, widths).max() <= 22 and np.median(np.maximum(heights, widths)) >= 18, name


def test_info_is_json_and_records_provenance(data: hw.Dataset) -> None:
    info = json.loads(json.dumps(data.info, allow_nan=False))
    assert info == data.info
    assert info["sha256"] == {name: hw.split_sha256(split) for name, split in _splits(data).items()}
    digits = info["sources"]["digits"]
    assert digits["mnist-t10k"]["license"].startswith("CC BY-SA 3.0") and digits["pendigits"]["license"].startswith(
        "CC BY 4.0"
    )
    assert all(len(d["sha256"]) == 64 and " at " in d["source"] for d in digits.values())
    for font in info["sources"]["fonts"]:
        assert font["package"] in hw.FONT_PACKAGES
        assert font["package_version"], font
        assert font["license"], font
        assert len(font["sha256"]) == 64
        assert font["split"] in ("train", "val", "test")
    assert info["generation"]["params"]["elastic_alpha"] == hw.GenerationParams().elastic_alpha
    assert "CC BY 4.0" in info["license"] and "CC BY-SA 3.0" in info["license"]


def test_synthetic_letters_are_learnable_on_held_out_fonts(data: hw.Dataset) -> None:
    """1-nearest-neighbour on the raw inputs of the quick profile; measured 0.77 on the SD-1
    test digits (writers never seen). A floor of 0.5 for letters is 19× chance (1/39) and
    cannot be met by chance or by predicting digits for every letter."""
    knn = KNeighborsClassifier(n_neighbors=1).fit(data.train.x.reshape(len(data.train.y), -1), data.train.y)
    predicted = knn.predict(data.test.x.reshape(len(data.test.y), -1))
    letters = data.test.y >= 10
    letter_accuracy = float((predicted[letters] == data.test.y[letters]).mean())
    digit_accuracy = float((predicted[~letters] == data.test.y[~letters]).mean())
    assert letter_accuracy > 0.5, letter_accuracy
    assert digit_accuracy > 0.7, digit_accuracy
    assert letter_accuracy > 10 * CHANCE


def test_preprocess_divides_by_255() -> None:
    images = np.random.default_rng(7).integers(0, 256, size=(5, 28, 28)).astype(np.uint8)
    x = hw.preprocess(images)
    assert x.shape == (5, 28, 28, 1) and x.dtype == np.float32
    np.testing.assert_allclose(x[..., 0], images / 255.0, atol=1e-7)
    with pytest.raises(ValueError):
        hw.preprocess(np.zeros((2, 16, 16)))


def test_font_without_glyph_is_skipped() -> None:
    from PIL import ImageFont

    path = next(p for p in sorted((hw.FONT_ROOT / hw.FONT_PACKAGES["fonts-comic-neue"]).glob("*.otf")))
    font = ImageFont.truetype(str(path), 160, layout_engine=ImageFont.Layout.BASIC)
    params = hw.GenerationParams()
    assert hw_fonts._glyph(font, "\u4e00", params) is None  # a CJK ideograph Comic Neue does not have
    glyph = hw_fonts._glyph(font, "A", params)
    assert glyph is not None and glyph.max() > 0.5


def test_cache_is_reused_and_a_tampered_file_is_regenerated(
    cache_dir: Path, data: hw.Dataset, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cached,) = cache_dir.glob("handwriting-quick-seed0-*.npz")
    assert hw.load("quick", seed=0, cache_dir=cache_dir).info == data.info

    monkeypatch.setitem(
        hw.PROFILES, "tiny", hw.Profile(train=1, val=1, test=1, digits=10, test_digits=2, heldout_digits=1)
    )
    tiny = hw.load("tiny", seed=3, cache_dir=cache_dir)
    (path,) = cache_dir.glob("handwriting-tiny-seed3-*.npz")
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    original = arrays["images_test"].copy()
    arrays["images_test"][0, 14, 14] ^= 1
    np.savez_compressed(path, **arrays)

    again = hw.load("tiny", seed=3, cache_dir=cache_dir)
    assert again.info["sha256"] == tiny.info["sha256"]
    with np.load(path) as npz:  # rewritten with the regenerated data
        np.testing.assert_array_equal(npz["images_test"], original)
    assert cached.exists()


def test_missing_fonts_name_the_apt_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hw_dataset, "FONT_ROOT", tmp_path)  # where load() reads it
    with pytest.raises(hw.FontsMissingError, match="apt-get install -y fonts-") as caught:
        hw.load("quick")
    assert isinstance(caught.value, FileNotFoundError)
    for package in hw.FONT_PACKAGES:
        assert package in str(caught.value)


def test_unknown_profile_or_negative_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="quick"):
        hw.load("huge")
    with pytest.raises(ValueError, match="seed"):
        hw.load("quick", seed=-1)


def test_jittered_copies_are_new_images_of_the_same_digit() -> None:
    """A copy of a tablet digit and of a paper digit differs from the original and from the
    other copy, yet stays close to it (correlation above 0.5: the same digit, bent a little)."""
    from zoo.datasets import sources

    p = hw.GenerationParams()
    points, _, _ = sources.pendigits()
    mnist, _, _ = sources.mnist_t10k()
    plain_pen = np.round(sources.render_pen(points[:1], p.size, p.box, p.pen_width)[0] * 255)
    for original, copy in (
        (plain_pen, lambda rng: hw_digits._pen_copy(points[0], rng, p)),
        (mnist[0].astype(float), lambda rng: hw_digits._image_copy(mnist[0], rng, p)),
    ):
        a, b = copy(np.random.default_rng(1)), copy(np.random.default_rng(2))
        assert a.dtype == np.uint8 and a.shape == (28, 28)
        assert not np.array_equal(a, b) and not np.array_equal(a, original)
        for c in (a, b):
            assert np.corrcoef(c.ravel().astype(float), original.ravel())[0, 1] > 0.5
        np.testing.assert_array_equal(copy(np.random.default_rng(1)), a)
