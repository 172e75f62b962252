"""`edzoo predict` on a real build: a tiny image classifier optimized here (fp32 and int8)
must reproduce its own golden samples from PNG files; --json shape and order, folder and `-`
inputs; the bad inputs a teacher will meet, each one line and an exit code; the grammar
tokenizer against the zoo's own; answer histories as tokens."""

from __future__ import annotations

import json
import shutil
import wave
from pathlib import Path

import numpy as np
import pytest

from zoo import _tf  # noqa: E402

try:  # TensorFlow through the zoo (it sets TF_USE_LEGACY_KERAS before TensorFlow loads)
    _tf.load()
except _tf.MissingZooDependencies:
    pytest.skip("needs the [zoo] extra", allow_module_level=True)

from click.testing import CliRunner  # noqa: E402

from registry.cli.main import cli  # noqa: E402
from registry.client import predict as pred  # noqa: E402
from registry.core import preprocess  # noqa: E402
from registry.core.errors import UsageError  # noqa: E402

pytestmark = [pytest.mark.tf]


@pytest.fixture(scope="module")
def build(tmp_path_factory):  # type: ignore[no-untyped-def]
    """A build directory of a tiny 8x8 classifier (fp32 and int8) and its golden inputs as PNGs."""
    from PIL import Image

    from zoo.optimize import optimize

    root = tmp_path_factory.mktemp("predict")
    keras = _tf.load().keras
    _tf.seed_everything(0)
    model = keras.Sequential(
        [
            keras.Input((8, 8, 1)),
            keras.layers.Flatten(),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(3),
            keras.layers.Softmax(),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    rng = np.random.default_rng(0)
    # pixel values on the 1/255 grid, so a PNG holds the golden input exactly
    x = (rng.integers(0, 256, (60, 8, 8, 1)) / 255).astype(np.float32)
    y = rng.integers(0, 3, 60)
    data = root / "data.npz"
    np.savez(data, x_train=x[:40], y_train=y[:40], x_test=x[40:], y_test=y[40:])
    result = optimize(
        model, data, task="image-classification", out=root / "out", recipes=["fp32", "int8"], log=lambda s: None
    )
    images = root / "images"
    images.mkdir()
    golden = json.loads((result.out_dir / "golden" / "samples.json").read_text())
    for i, s in enumerate(golden["samples"]):
        pixels = np.round(np.asarray(s["input"], np.float32)[..., 0] * 255).astype(np.uint8)
        Image.fromarray(pixels).save(images / f"s{i:02d}.png")
    return result.out_dir, images, golden


def _run(*args: str, stdin: str | None = None):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["predict", *args], input=stdin)


@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_golden_samples_from_png(build, variant):  # type: ignore[no-untyped-def]
    out_dir, images, golden = build
    model = pred.open_model(out_dir)
    predictor = pred.Predictor(model, pred.choose_variant(model, variant))
    for i, s in enumerate(golden["samples"]):
        expected = s["expected"][variant]
        png = images / f"s{i:02d}.png"
        np.testing.assert_allclose(predictor.image(png), np.asarray(s["input"], np.float32), atol=1e-6)
        (p,) = predictor.predict(png, top=3)
        assert p.top[0][0] == expected["top"]
        got = dict(p.top)
        for k, label in enumerate(golden["labels"]):
            assert abs(got[label] - expected["outputs"][k]) <= 0.02


def test_json_lines_in_input_order_folder_and_stdin(build):  # type: ignore[no-untyped-def]
    out_dir, images, golden = build
    pngs = sorted(images.glob("*.png"))
    r = _run(str(out_dir), str(pngs[2]), str(pngs[0]), "--json", "--top", "2", "--variant", "fp32")
    assert r.exit_code == 0, r.output
    lines = [json.loads(x) for x in r.stdout.splitlines()]
    assert [x["input"] for x in lines] == [str(pngs[2]), str(pngs[0])]
    assert all(set(x) == {"input", "top"} and len(x["top"]) == 2 for x in lines)
    assert all(set(t) == {"label", "probability"} for x in lines for t in x["top"])
    assert lines[1]["top"][0]["label"] == golden["samples"][0]["expected"]["fp32"]["top"]

    folder = _run(str(out_dir), str(images), "--json")
    assert folder.exit_code == 0
    assert [json.loads(x)["input"] for x in folder.stdout.splitlines()] == [str(p) for p in pngs]

    piped = _run(str(out_dir), "-", "--json", stdin=f"{pngs[1]}\n\n{pngs[0]}\n")
    assert piped.exit_code == 0
    assert [json.loads(x)["input"] for x in piped.stdout.splitlines()] == [str(pngs[1]), str(pngs[0])]

    table = _run(str(out_dir), str(pngs[0]), "--device", "android-go-1gb")
    assert table.exit_code == 0 and str(pngs[0]) in table.stdout


def _wav(path: Path, rate: int, seconds: float = 0.5) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.sin(np.arange(int(rate * seconds)) / 5) * 8000).astype("<i2").tobytes())
    return path


def test_errors_are_one_line_with_an_exit_code(build, tmp_path):  # type: ignore[no-untyped-def]
    out_dir, images, _ = build
    png = next(images.glob("*.png"))
    (tmp_path / "notes.png").write_text("not an image")
    audio_build = tmp_path / "audio"
    shutil.copytree(out_dir, audio_build)
    doc = json.loads((audio_build / "manifest.json").read_text())
    doc["signature"]["preprocessing"] = {"audio": {"sample_rate_hz": 16000, "clip_ms": 1000, "features": "waveform"}}
    (audio_build / "manifest.json").write_text(json.dumps(doc))
    cases = [
        ((str(out_dir), str(tmp_path / "missing.png")), 6, "no such input file"),
        ((str(out_dir), str(tmp_path / "notes.png")), 2, "not an image"),
        ((str(out_dir), str(png), "--variant", "int4"), 6, "no variant 'int4'"),
        ((str(tmp_path / "nowhere"), str(png)), 6, "no such build directory"),
        ((str(audio_build), str(_wav(tmp_path / "a.wav", 44100))), 2, "sox in.wav -r 16000 out.wav"),
        ((str(audio_build), str(tmp_path / "notes.png")), 2, "not a WAV file"),
    ]
    for args, code, text in cases:
        r = _run(*args)
        assert r.exit_code == code, (args, r.output)
        lines = r.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], (args, r.stderr)


def test_tokenizer_matches_the_grammar_dataset():  # type: ignore[no-untyped-def]
    from zoo.datasets.grammar import Tokenizer

    texts = [
        "The cat sits on the mat.",
        "She don't like apples, does she?",
        "My 3 brothers are running quickly to the old oak-tree!",
        "An UNUSUAL zebra jumped over walls and glasses",
        "é and ß stay as they are; Ünïcode",
        " ".join(["word"] * 40),
    ]
    theirs = Tokenizer.build(texts[:3] * 2, vocab_size=40, min_count=2, max_len=12)
    ours = preprocess.WordTokenizer.from_json(json.loads(json.dumps(theirs.to_json())))
    want = theirs.encode_batch(texts)
    for text, row in zip(texts, want, strict=True):
        assert ours.encode(text) == theirs.encode(text)
        np.testing.assert_array_equal(ours.encode_padded(text), row)
    with pytest.raises(UsageError):
        preprocess.WordTokenizer.from_json({"type": "wordpiece"})


def test_history_tokens_and_normalizers():  # type: ignore[no-untyped-def]
    history = [{"item": 3, "correct": True}, {"item": 0, "correct": False}]
    np.testing.assert_array_equal(preprocess.history_tokens(history, 4), [0, 0, 8, 1])
    np.testing.assert_array_equal(preprocess.history_tokens(history, 1), [1])
    np.testing.assert_array_equal(preprocess.history_tokens(history, 4, n_skills=5), [9, 1, 0, 0])
    with pytest.raises(UsageError, match="entry 0"):
        preprocess.history_tokens([{"item": "x", "correct": 1}], 4)
    with pytest.raises(UsageError, match="normalizer 'sharpen'"):
        preprocess.normalizer("sharpen")
    q = preprocess.quantize(np.array([0.0, 0.5, 2.0]), 1 / 256, -128, np.int8)
    np.testing.assert_array_equal(q, [-128, 0, 127])
    np.testing.assert_allclose(preprocess.dequantize(q, 1 / 256, -128), [0.0, 0.5, 255 / 256])


def test_mnist_character_turns_a_photo_of_a_digit_into_its_mnist_image():  # type: ignore[no-untyped-def]
    """An MNIST digit printed dark on light paper, three times larger and off-centre on a
    bigger page with paper noise, comes back as the MNIST image (what the handwriting model
    reads); light-on-dark input and a blank page work too."""
    from zoo.datasets import sources

    images, _, _ = sources.mnist_t10k()
    rng = np.random.default_rng(3)
    for digit in images[[0, 5001, 7777]].astype(np.float32):
        big = np.kron(digit, np.ones((3, 3), np.float32))
        page = np.full((150, 130), 235.0, np.float32) + rng.normal(0, 3, (150, 130))
        page[10:94, 40:124] -= big * (200 / 255)
        got = preprocess.mnist_character(np.clip(page, 0, 255))
        assert got.shape == (28, 28) and got.max() == pytest.approx(255, abs=1)
        assert np.corrcoef(got.ravel(), digit.ravel())[0, 1] > 0.9
        dark = preprocess.mnist_character(255 - np.clip(page, 0, 255))
        np.testing.assert_allclose(dark, got, atol=1e-3)
    assert not preprocess.mnist_character(np.full((40, 40), 200.0) + rng.normal(0, 2, (40, 40))).any()
    assert preprocess.normalizer("mnist") is preprocess.mnist_character
    with pytest.raises(UsageError, match="2-D"):
        preprocess.mnist_character(np.zeros((3, 4, 4)))
