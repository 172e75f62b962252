"""The speech dataset (zoo/datasets/speech/): determinism, speakers held out by voice and
variant, shapes, the resampler, the SNR, the cache, errors, and the log-mel front end against
TensorFlow.

Needs Debian ``espeak-ng`` (apt); generates a tiny profile (~75 clips, about a second) a few times.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from zoo.datasets import speech as sp
from zoo.datasets.speech import _base as sp_base
from zoo.datasets.speech import audio as sp_audio
from zoo.datasets.speech import espeak as sp_espeak
from zoo.datasets.speech import frontend as sp_frontend

TINY = sp.Profile(train=2, val=1, test=2)


@pytest.fixture(scope="module", autouse=True)
def tiny_profile() -> Iterator[None]:
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sp.PROFILES, "tiny", TINY)
        yield


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-cache")


@pytest.fixture(scope="module")
def data(cache_dir: Path) -> sp.Dataset:
    return sp.load("tiny", seed=0, cache_dir=cache_dir)


def _splits(data: sp.Dataset) -> dict[str, sp.Split]:
    return {"train": data.train, "val": data.val, "test": data.test}


def test_shapes_dtypes_and_labels(data: sp.Dataset) -> None:
    assert data.labels == sp.LABELS and len(sp.LABELS) == 14
    assert sp.LABELS[-2:] == ("_unknown_", "_silence_")
    for name, split in _splits(data).items():
        n = split.y.size
        assert split.x.shape == (n, 98, 40, 1) and split.x.dtype == np.float32, name
        assert split.y.dtype == np.int64 and np.isfinite(split.x).all(), name
        assert split.meta["snr_db"].dtype == np.float32 and split.meta["snr_db"].shape == (n,)
        assert split.meta["speaker"].dtype == np.int32 and split.meta["word"].dtype == np.int32
        words = split.meta["word"]
        expected = np.where(words < 0, sp.SILENCE, np.where(words >= len(sp.KEYWORDS), sp.UNKNOWN, words))
        np.testing.assert_array_equal(split.y, expected)
        silent = split.y == sp.SILENCE
        assert np.isnan(split.meta["snr_db"][silent]).all() and (split.meta["speaker"][silent] == -1).all()
        assert not np.isnan(split.meta["snr_db"][~silent]).any()
        counts = np.bincount(split.y, minlength=14)
        keyword_n = getattr(TINY, name)
        assert (counts[:12] == keyword_n).all(), (name, counts)
        assert counts[sp.UNKNOWN] == round(1.5 * keyword_n) and counts[sp.SILENCE] == keyword_n
        assert ("audio" in split.meta) == (name == "test")
    audio = data.test.meta["audio"]
    assert audio.dtype == np.int16 and audio.shape == (data.test.y.size, 16000)
    np.testing.assert_array_equal(data.test.x[..., 0], sp.logmel(audio / 32768.0))


def test_two_generations_are_byte_identical(data: sp.Dataset) -> None:
    again = sp.load("tiny", seed=0)  # no cache: generated from scratch
    for name, split in _splits(data).items():
        other = getattr(again, name)
        assert sp.split_sha256(other) == sp.split_sha256(split), name
        assert other.meta.keys() == split.meta.keys()
        for key in split.meta:
            assert other.meta[key].tobytes() == split.meta[key].tobytes(), (name, key)
    assert again.info == data.info
    assert sp.load("tiny", seed=1).info["sha256"]["train"] != data.info["sha256"]["train"]


def test_speakers_are_disjoint_by_voice_and_by_variant(data: sp.Dataset) -> None:
    speakers = data.info["speakers"]
    used: dict[str, set[tuple[str, str]]] = {}
    for name, split in _splits(data).items():
        ids = split.meta["speaker"][split.meta["speaker"] >= 0]
        assert all(speakers[i]["split"] == name for i in ids)
        used[name] = {(speakers[i]["voice"], speakers[i]["variant"]) for i in ids}
    for a, b in (("test", "train"), ("test", "val"), ("val", "train")):
        assert not {v for v, _ in used[a]} & {v for v, _ in used[b]}, (a, b)
        assert not {m for _, m in used[a]} & {m for _, m in used[b]}, (a, b)
    listed = data.info["splits"]
    for a, b in (("test", "train"), ("test", "val"), ("val", "train")):
        assert not set(listed["voices"][a]) & set(listed["voices"][b])
        assert not set(listed["variants"][a]) & set(listed["variants"][b])
        families = {sp_espeak._variant_family(v) for v in listed["variants"][a]}
        assert not families & {sp_espeak._variant_family(v) for v in listed["variants"][b]}
    assert sorted(sum(listed["voices"].values(), [])) == sorted(sp.VOICES)
    assert len(data.info["espeak_ng"]["variants"]) == sum(len(v) for v in listed["variants"].values())


def test_split_assignment_does_not_depend_on_the_seed(data: sp.Dataset) -> None:
    espeak = sp_espeak._find_espeak()
    params = sp.GenerationParams()
    a = [(s["voice"], s["variant"], s["split"]) for s in sp_espeak._speakers(espeak, 0, params)]
    b = [(s["voice"], s["variant"], s["split"]) for s in sp_espeak._speakers(espeak, 7, params)]
    assert a == b


def test_resampling_keeps_a_1_khz_tone_at_1_khz() -> None:
    t = np.arange(sp.ESPEAK_RATE) / sp.ESPEAK_RATE
    out = sp.resample(np.sin(2 * np.pi * 1000.0 * t))
    assert out.size == sp.SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(out * np.hanning(out.size)))
    peak_hz = np.fft.rfftfreq(out.size, 1 / sp.SAMPLE_RATE)[np.argmax(spectrum)]
    assert peak_hz == pytest.approx(1000.0, abs=1.0)


def test_noise_is_mixed_at_the_requested_snr() -> None:
    espeak = sp_espeak._find_espeak()
    params = sp.GenerationParams()
    job = sp_base._Job((0, 0, 0, 0), "en-us", "m3", "three", 150, 50)
    with tempfile.TemporaryDirectory() as tmp:
        speech = sp_audio._trim(sp.resample(sp_espeak._speak(espeak.binary, job, Path(tmp))), params)
    assert 0 < speech.size < 16000
    low = sp.GenerationParams(snr_db=(5.0, 5.0), peak_dbfs=(-1.0, -1.0))  # forces the anti-clip rescale
    for p in (params, low):
        for i in range(5):
            placed, noise, snr, cropped = sp_audio._place_and_mix(speech, np.random.default_rng(i), p)
            assert p.snr_db[0] <= snr <= p.snr_db[1] and not cropped
            mixed = sp_audio._to_int16(placed + noise) / 32768.0
            speech_power = np.sum(placed**2) / speech.size  # over the word's own samples
            achieved = 10 * np.log10(speech_power / np.mean((mixed - placed) ** 2))
            assert achieved == pytest.approx(snr, abs=0.5)
            assert np.max(np.abs(placed + noise)) <= 0.99 + 1e-9


def test_snr_bands() -> None:
    got = sp.snr_bands(np.array([5.0, 9.99, 10.0, 19.9, 20.0, 30.0, np.nan], dtype=np.float32))
    assert got.tolist() == ["5-10 dB", "5-10 dB", "10-20 dB", "10-20 dB", "20-30 dB", "20-30 dB", "silence"]
    with pytest.raises(ValueError):
        sp.snr_bands(np.array([31.0]))


def test_info_is_json_and_records_provenance(data: sp.Dataset) -> None:
    info = json.loads(json.dumps(data.info, allow_nan=False))
    assert info == data.info
    assert info["sha256"] == {name: sp.split_sha256(s) for name, s in _splits(data).items()}
    assert info["espeak_ng"]["version"].startswith("1.")
    assert "GPL-3.0-or-later" in info["license"]
    assert info["frontend"] == sp.FRONTEND
    assert info["words"][:12] == list(sp.KEYWORDS)
    assert not set(sp.UNKNOWN_WORDS) & set(sp.KEYWORDS)


def test_cache_is_reused_and_a_tampered_file_is_regenerated(cache_dir: Path, data: sp.Dataset) -> None:
    (path,) = cache_dir.glob("speech-tiny-seed0-*.npz")
    assert sp.load("tiny", seed=0, cache_dir=cache_dir).info == data.info
    with np.load(path) as npz:
        arrays = {k: npz[k] for k in npz.files}
    original = arrays["audio_test"].copy()
    arrays["audio_test"][0, 100] ^= 1
    np.savez_compressed(path, **arrays)
    again = sp.load("tiny", seed=0, cache_dir=cache_dir)
    assert again.info["sha256"] == data.info["sha256"]
    with np.load(path) as npz:  # rewritten with the regenerated data
        np.testing.assert_array_equal(npz["audio_test"], original)

    path.write_bytes(path.read_bytes()[:1000])  # truncated: unreadable
    assert sp.load("tiny", seed=0, cache_dir=cache_dir).info["sha256"] == data.info["sha256"]


def test_missing_espeak_names_the_apt_command(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(sp.SpeechToolsMissingError, match="apt-get install espeak-ng") as caught:
        sp.load("tiny")
    assert isinstance(caught.value, FileNotFoundError) and caught.value.exit_code == 11


def test_unknown_profile_or_bad_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="quick"):
        sp.load("huge")
    for seed in (-1, 1.5, True):
        with pytest.raises(ValueError, match="seed"):
            sp.load("tiny", seed=seed)  # type: ignore[arg-type]


def test_logmel_checks_its_input() -> None:
    assert sp.logmel(np.zeros((2, 3, 16000), np.float32)).shape == (2, 3, 98, 40)
    assert sp.logmel(np.zeros(16000)).shape == (98, 40)
    with pytest.raises(ValueError):
        sp.logmel(np.zeros((2, 8000)))


def test_baseline_reports_accuracy_per_snr_band(data: sp.Dataset) -> None:
    result = sp.baseline(data)
    assert result["name"] == "MFCC + logistic regression"
    assert 0.0 <= result["accuracy"] <= 1.0
    assert set(result["per_snr_band"]) <= {"5-10 dB", "10-20 dB", "20-30 dB", "silence"}


@pytest.mark.tf
def test_logmel_matches_tensorflow(data: sp.Dataset) -> None:
    tf = pytest.importorskip("tensorflow")
    audio = (data.test.meta["audio"][:8] / 32768.0).astype(np.float32)
    audio = np.concatenate([audio, np.random.default_rng(3).uniform(-1, 1, (2, 16000)).astype(np.float32)])
    stft = tf.signal.stft(audio, frame_length=480, frame_step=160, fft_length=512)
    matrix = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=40, num_spectrogram_bins=257, sample_rate=16000, lower_edge_hertz=0.0, upper_edge_hertz=4000.0
    )
    np.testing.assert_allclose(sp_frontend._MEL, matrix.numpy(), atol=1e-5)
    log = tf.math.log(tf.matmul(tf.abs(stft) ** 2, matrix) + 1e-10)
    expected = tf.clip_by_value(9.788 * log + 145.56, 0.0, 255.0).numpy()
    got = sp.logmel(audio)
    assert got.shape == expected.shape == (10, 98, 40)
    assert float(np.max(np.abs(got - expected))) < 1e-2  # levels: 0.01 of a level is 0.004 dB


@pytest.fixture(scope="module")
def real() -> tuple[dict[str, sp.Split], dict[str, object]]:
    return sp.real_voices("quick", seed=0)


def test_real_voices_keep_speakers_apart_and_label_every_word(real, data: sp.Dataset) -> None:  # type: ignore[no-untyped-def]
    splits, lists = real
    words = lists["words"]
    speakers = {}
    for name, split in splits.items():
        assert split.x.shape == (split.y.size, 98, 40, 1) and split.x.dtype == np.float32
        assert split.x.min() >= 0.0 and split.x.max() <= 255.0
        assert (split.meta["source"] == sp.SOURCE_COMMANDS).all()
        said = split.meta["word"]
        label = [sp.LABELS.index(words[w]) if words[w] in sp.KEYWORDS else sp.UNKNOWN for w in said]
        expect = np.where(said < 0, sp.SILENCE, label)
        assert (split.y == expect).all(), name
        speakers[name] = set(split.meta["speaker"][said >= 0].tolist())
        assert set(np.unique(split.y)) == set(range(len(sp.LABELS))), name
    assert not (speakers["train"] & speakers["val"]) and not (speakers["train"] & speakers["test"])
    assert not (speakers["val"] & speakers["test"])
    # quick: 150 training clips per keyword and one augmented copy each
    assert np.bincount(splits["train"].y)[: len(sp.KEYWORDS)].tolist() == [300] * len(sp.KEYWORDS)
    again, _ = sp.real_voices("quick", seed=0)
    assert sp.split_sha256(again["train"]) == sp.split_sha256(splits["train"])
    assert sp.split_sha256(sp.real_voices("quick", seed=1)[0]["train"]) != sp.split_sha256(splits["train"])
    both = sp.with_real_voices(data, splits, {"words": words})
    assert both.test.y.size == data.test.y.size + splits["test"].y.size
    assert (both.test.meta["source"][: data.test.y.size] == sp.SOURCE_ESPEAK).all()
    assert np.isnan(both.test.meta["snr_db"][data.test.y.size :]).all()
    assert both.info["sha256"]["test"] == sp.split_sha256(both.test)


def test_augmented_copies_stay_levels_of_the_same_word() -> None:
    rng = np.random.default_rng(0)
    word = np.full((98, 40), 20.0, np.float32)
    word[40:60] = 200.0
    noise = np.full((3, 98, 40), 60.0, np.float32)
    p = sp.AugmentParams(gain_db=(0.0, 0.0), noise_share=1.0, snr_db=(20.0, 20.0), shift_frames=0)
    out = sp.augment(word, noise, rng, p)
    assert out.shape == (98, 40) and out.dtype == np.float32
    assert np.allclose(out[40:60], 200.0, atol=0.1)  # 20 dB under the word: the word barely moves
    assert (out[:40] > 20.0).all()  # the quiet frames take the noise floor
    shifted = sp.augment(word, noise[:0], rng, sp.AugmentParams(gain_db=(0.0, 0.0), shift_frames=15))
    assert np.isclose(shifted, 200.0, atol=1e-3).sum(axis=0)[0] == 20  # shifted, not stretched
    assert np.allclose(sp.level_of(sp.power_of(word)), word, atol=1e-3)


def test_keywords_at_false_alarms_takes_at_most_the_allowed_other_words() -> None:
    from zoo.tasks.speech import _keywords_at_false_alarms

    n_kw, unknown = 3, 3  # classes: 3 keywords, _unknown_, _silence_
    rng = np.random.default_rng(0)
    y = np.array([0, 1, 2] * 10 + [unknown] * 40 + [4] * 5)
    out = rng.dirichlet(np.ones(5), y.size)
    out[:30] = 0.0
    out[np.arange(30), y[:30]] = np.linspace(0.3, 0.99, 30)  # keywords: right, with rising confidence
    out[:30, unknown] = 1.0 - out[np.arange(30), y[:30]]
    point = _keywords_at_false_alarms(out, y, unknown, n_kw, 0.05)
    assert point is not None
    scores = out[y == unknown, :n_kw].max(axis=1)
    assert (scores >= point["threshold"]).sum() <= 2 == int(0.05 * 40)
    assert point["other_words_taken"] <= 0.05
    expect = (out[np.arange(30), y[:30]] >= point["threshold"]).mean()
    assert point["accuracy"] == pytest.approx(expect, abs=1e-6) and point["n"] == 30
    assert point["ci95"][0] <= point["accuracy"] <= point["ci95"][1]
    # a wrong keyword above the threshold is not heard
    out[0, :n_kw] = [0.0, 1.0, 0.0]
    assert _keywords_at_false_alarms(out, y, unknown, n_kw, 0.05)["accuracy"] < point["accuracy"] + 1e-9  # type: ignore[index]
    assert _keywords_at_false_alarms(out[y == unknown], y[y == unknown], unknown, n_kw, 0.05) is None
