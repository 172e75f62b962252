"""The vendored held-out sources: each reads back as its catalog says, a damaged file is a
DataError (never data), and pen strokes are laid out the way MNIST lays out a digit."""

from __future__ import annotations

import hashlib
import shutil

import numpy as np
import pytest

from zoo.datasets import sources
from zoo.errors import DataError


def test_mnist_t10k_has_both_writer_populations():
    x, y, origin = sources.mnist_t10k()
    assert x.shape == (10000, 28, 28) and x.dtype == np.uint8
    assert np.bincount(y).tolist()[:3] == [980, 1135, 1032]
    assert np.bincount(origin).tolist() == [5000, 5000]


def test_pendigits_keeps_its_writer_groups():
    points, y, writers = sources.pendigits()
    assert points.shape == (10992, 8, 2) and points.min() >= 0 and points.max() <= 100
    assert np.bincount(writers).tolist() == [7494, 3498]
    assert set(np.unique(y)) == set(range(10))


def test_fsdd_is_resampled_to_the_models_rate():
    clips, y, speaker, names = sources.fsdd(16000)
    assert len(clips) == 3000 and len(names) == 6
    assert np.bincount(speaker).tolist() == [500] * 6 and np.bincount(y).tolist() == [300] * 10
    # 8 kHz -> 16 kHz doubles the length; speech stays well inside [-1, 1].
    assert all(0.1 < len(c) / 16000 < 2.5 for c in clips[:50])
    assert max(float(np.abs(c).max()) for c in clips[:50]) <= 1.0


def test_blimp_pairs_name_the_error_type():
    pairs = sources.blimp()
    assert len(pairs) == 10000
    assert {p["error"] for p in pairs} == {"agreement", "plural", "tense"}
    assert all(p["good"] != p["bad"] for p in pairs)


def test_speech_commands_keeps_one_clip_per_speaker_and_word():
    rec = sources.speech_commands()
    assert len(rec.audio) == 648 and len(rec.speakers) == 209
    assert all(a.dtype == np.float32 and len(a) == 16000 for a in rec.audio)
    assert max(float(np.abs(a).max()) for a in rec.audio) <= 1.0
    counts = {w: int(n) for w, n in zip(rec.words, np.bincount(rec.y, minlength=len(rec.words)), strict=True)}
    assert all(counts[w] == 60 for w in ("yes", "no", "up", "down", "left", "right", "go"))
    assert [counts[w] for w in ("cat", "dog", "one", "two", "three")] == [10, 7, 25, 20, 26]
    assert all(counts[w] == 20 for w in ("on", "off", "stop"))
    assert len(rec.words) == 35 and set(list(counts.values())[15:]) == {4}
    for w in range(len(rec.words)):  # the words with a quota take each speaker once
        said = rec.speaker[rec.y == w]
        assert len(set(said.tolist())) == len(said) or rec.words[w] in ("cat", "dog", "one", "two", "three")


def test_every_source_states_licence_and_people():
    for key in ("mnist-t10k", "pendigits", "fsdd", "blimp", "speech-commands"):
        card = sources.info(key).to_dict()
        assert card["license"] and card["people"] and card["source"].startswith("https://github.com/")


def test_a_damaged_source_is_an_error_not_data(tmp_path, monkeypatch):
    copy = tmp_path / "sources"
    shutil.copytree(sources.ROOT, copy)
    raw = bytearray((copy / "pendigits.npz").read_bytes())
    raw[len(raw) // 2] ^= 0xFF
    (copy / "pendigits.npz").write_bytes(bytes(raw))
    monkeypatch.setattr(sources, "ROOT", copy)
    with pytest.raises(DataError, match="sha256.*git checkout"):
        sources.pendigits()
    (copy / "pendigits.npz").unlink()
    with pytest.raises(DataError, match="pendigits.npz.*git checkout"):
        sources.pendigits()
    with pytest.raises(DataError, match="no held-out source 'usps'"):
        sources.info("usps")


def test_pen_strokes_are_laid_out_like_mnist():
    points, _, _ = sources.pendigits()
    images = sources.render_pen(points[:20])
    assert images.shape == (20, 28, 28) and images.min() >= 0 and images.max() <= 1
    rows = np.arange(28)
    for img in images:
        total = img.sum()
        cy, cx = (img.sum(1) * rows).sum() / total, (img.sum(0) * rows).sum() / total
        assert abs(cy - 14) < 1 and abs(cx - 14) < 1  # centre of mass at the centre
        ink_rows, ink_cols = np.nonzero(img.sum(1) > 0.05)[0], np.nonzero(img.sum(0) > 0.05)[0]
        assert max(np.ptp(ink_rows), np.ptp(ink_cols)) <= 22  # the 20-pixel box, plus anti-aliasing
    # A stroke that is one point still renders ink and does not divide by zero.
    dot = sources.render_pen(np.zeros((1, 8, 2)))
    assert dot.sum() > 0


def _speech_commands_set(speaker: str) -> str:
    """Speech Commands' own rule (its README), written out here apart from the vendoring script."""
    percent = (int(hashlib.sha1(speaker.encode()).hexdigest(), 16) % 2**27) * (100.0 / (2**27 - 1))
    return "validation" if percent < 10 else "testing" if percent < 20 else "training"


def test_speech_commands_training_spectrograms_never_hold_a_test_speaker():
    s = sources.speech_commands_train()
    assert s.levels.shape == (len(s.y), 98, 40) and s.levels.dtype == np.uint8
    assert np.bincount(s.part).tolist() == [12899, 1444, 300]
    assert (s.y[s.part == 2] == s.NOISE).all() and (s.speaker[s.part == 2] == -1).all()
    assert s.words[:12] == ("yes", "no", "up", "down", "left", "right", "go", "cat", "dog", "one", "two", "three")
    held_out = set(sources.speech_commands().speakers)
    train = {s.speakers[i] for i in s.speaker[s.part == 0]}
    val = {s.speakers[i] for i in s.speaker[s.part == 1]}
    assert len(train) == 1984 and len(val) == 237
    assert not (train & val) and not ((train | val) & held_out)
    assert {_speech_commands_set(n) for n in train} == {"training"}
    assert {_speech_commands_set(n) for n in val} == {"validation"}
    assert {_speech_commands_set(n) for n in held_out} == {"testing"}
    assert 60 < s.levels[s.part < 2].mean() < 110  # levels of speech in 0..255, not blank images
