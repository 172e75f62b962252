"""The real voices: the vendored Speech Commands spectrograms, taken per profile and mixed with
the synthetic set (:func:`real_voices`, :func:`with_real_voices`)."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import numpy as np

from zoo.datasets.common import Dataset, Split, check_seed, split_sha256

from ._base import _SPLITS, KEYWORDS, LABELS, SILENCE, UNKNOWN
from .frontend import level_of, power_of


@dataclass(frozen=True)
class RealProfile:
    """How many of the vendored Speech Commands spectrograms a profile takes (None: all): per
    keyword and per other word of its training set, and of its validation set (whose speakers
    are halved by a hash into validation and test); silence clips made from background noise
    per split; augmented copies of each training clip besides the clip itself."""

    keyword: int | None
    other_word: int | None
    val_keyword: int | None
    val_other_word: int | None
    silence: tuple[int, int, int]
    copies: int


REAL_PROFILES: dict[str, RealProfile] = {
    "quick": RealProfile(150, 15, val_keyword=30, val_other_word=4, silence=(150, 30, 30), copies=1),
    "full": RealProfile(None, None, val_keyword=None, val_other_word=None, silence=(900, 60, 60), copies=1),
}


@dataclass(frozen=True)
class AugmentParams:
    """Augmented copies of a training spectrogram, drawn per copy: a time shift (frames of 10 ms,
    uniform in ±shift_frames; the frames shifted in are the clip's quietest level per band), a
    gain (uniform, dB; a level moves by gain · 9.788 · ln(10) / 10) and, with probability
    noise_share, a background-noise spectrogram added in power at an SNR uniform in snr_db
    (speech power over the clip's loudest half of frames against the noise's mean power)."""

    shift_frames: int = 15
    gain_db: tuple[float, float] = (-10.0, 10.0)
    noise_share: float = 0.8
    snr_db: tuple[float, float] = (5.0, 25.0)
    silence_gain_db: tuple[float, float] = (-40.0, 5.0)


SOURCE_ESPEAK, SOURCE_COMMANDS = 0, 1

_TAG_REAL = 0x5BEA_0004


def _shift_frames(levels: np.ndarray, k: int) -> np.ndarray:
    if k == 0:
        return levels
    floor = np.broadcast_to(levels.min(axis=0, keepdims=True), (abs(k), levels.shape[1]))
    return np.concatenate([floor, levels[:-k]]) if k > 0 else np.concatenate([levels[-k:], floor])


def augment(levels: np.ndarray, noise: np.ndarray, rng: np.random.Generator, p: AugmentParams) -> np.ndarray:
    """One augmented copy of a (98, 40) spectrogram of levels (see :class:`AugmentParams`);
    ``noise`` holds background-noise spectrograms of the same shape."""
    out = _shift_frames(levels.astype(np.float32), int(rng.integers(-p.shift_frames, p.shift_frames + 1)))
    power = power_of(out) * 10.0 ** (rng.uniform(*p.gain_db) / 10.0)
    if len(noise) and rng.random() < p.noise_share:
        n = power_of(noise[int(rng.integers(len(noise)))])
        frame = power.sum(axis=1)
        speech = float(np.sort(frame)[len(frame) // 2 :].mean())
        power = power + n * (speech / float(n.sum(axis=1).mean())) * 10.0 ** (-rng.uniform(*p.snr_db) / 10.0)
    return level_of(power)


def _silence_from(noise: np.ndarray, n: int, rng: np.random.Generator, p: AugmentParams) -> np.ndarray:
    out = np.empty((n, *noise.shape[1:]), np.float32)
    for i in range(n):
        x = np.roll(noise[int(rng.integers(len(noise)))], int(rng.integers(noise.shape[1])), axis=0)
        out[i] = level_of(power_of(x) * 10.0 ** (rng.uniform(*p.silence_gain_db) / 10.0))
    return out


def real_voices(
    profile: str = "quick", seed: int = 0, p: AugmentParams = AugmentParams()
) -> tuple[dict[str, Split], dict[str, Any]]:
    """Speech Commands speakers for training, validation and test (the vendored spectrograms of
    its training- and validation-set speakers, ``zoo.datasets.sources.speech_commands_train``).

    Keywords keep their class, every other word is ``_unknown_``; ``_silence_`` clips are
    background-noise spectrograms at random gains and offsets. Training takes the training-set
    speakers' clips (each with :attr:`RealProfile.copies` augmented copies, :func:`augment`);
    the validation-set speakers are halved by the sha256 of their id into validation and test,
    so no speaker is in two splits and none is a Speech Commands test-set speaker (those are the
    held-out source). Noise spectrograms are dealt to the splits by position (i % 10: 8 to
    validation, 9 to test). Meta: ``source`` (1), ``speaker`` and ``word`` (indices into the
    source's lists, returned as ``words`` and ``speakers`` beside the splits; -1 for silence).
    Seeded; the same profile and seed give the same arrays.
    """
    from zoo.datasets import sources

    if profile not in REAL_PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(REAL_PROFILES))}")
    check_seed(seed)
    rp = REAL_PROFILES[profile]
    s = sources.speech_commands_train()
    label = np.array([LABELS.index(w) if w in KEYWORDS else UNKNOWN for w in s.words], np.int64)
    noise_idx = np.flatnonzero(s.part == 2)
    noise_part = np.arange(len(noise_idx)) % 10
    val_half = np.array([int(hashlib.sha256(n.encode()).hexdigest(), 16) % 2 for n in s.speakers], np.int64)
    out: dict[str, Split] = {}
    for si, name in enumerate(("train", "val", "test")):
        rng = np.random.default_rng([seed, _TAG_REAL, si])
        if name == "train":
            rows = s.part == 0
            caps = (rp.keyword, rp.other_word)
        else:
            rows = (s.part == 1) & (s.speaker >= 0) & (val_half[np.maximum(s.speaker, 0)] == si - 1)
            caps = (rp.val_keyword, rp.val_other_word)
        picked: list[int] = []
        for w in range(len(s.words)):
            idx = np.flatnonzero(rows & (s.y == w))  # stored spread over speakers: the first are the best spread
            cap = caps[0] if s.words[w] in KEYWORDS else caps[1]
            picked += idx[: len(idx) if cap is None else cap].tolist()
        base = s.levels[picked].astype(np.float32)
        noise = s.levels[noise_idx[noise_part < 8 if name == "train" else noise_part == 7 + si]]
        xs, ys, spk, wd = [base], [label[s.y[picked]]], [s.speaker[picked]], [s.y[picked]]
        if name == "train":
            for _ in range(rp.copies):
                xs.append(np.stack([augment(x, noise, rng, p) for x in base]))
                ys.append(ys[0])
                spk.append(spk[0])
                wd.append(wd[0])
        n_sil = rp.silence[si]
        xs.append(_silence_from(noise, n_sil, rng, p))
        ys.append(np.full(n_sil, SILENCE, np.int64))
        spk.append(np.full(n_sil, -1, np.int64))
        wd.append(np.full(n_sil, -1, np.int64))
        order = rng.permutation(sum(len(y) for y in ys)) if name == "train" else np.arange(sum(len(y) for y in ys))
        y = np.concatenate(ys)[order]
        out[name] = Split(
            np.concatenate(xs)[order][..., None],
            y,
            {
                "source": np.full(y.size, SOURCE_COMMANDS, np.int8),
                "speaker": np.concatenate(spk)[order].astype(np.int32),
                "word": np.concatenate(wd)[order].astype(np.int32),
            },
        )
    return out, {"words": list(s.words), "speakers": list(s.speakers)}


def with_real_voices(data: Dataset, real: dict[str, Split], info: dict[str, Any]) -> Dataset:
    """``data`` (espeak-ng voices) with the :func:`real_voices` splits appended to each split:
    meta ``source`` tells them apart (0 espeak-ng, 1 Speech Commands); ``snr_db`` is NaN and
    ``audio`` all zeros for the real clips (only their spectrograms were vendored); ``info`` is
    recorded as ``info["speech_commands"]`` and every split's sha256 is recomputed."""
    splits = {}
    for name in _SPLITS:
        a, b = getattr(data, name), real[name]
        n = b.y.size
        synthetic = np.full(a.y.size, SOURCE_ESPEAK, np.int8)
        meta: dict[str, np.ndarray] = {"source": np.concatenate([synthetic, b.meta["source"]])}
        for key, col in a.meta.items():
            fill = b.meta[key] if key in b.meta else np.zeros((n, *col.shape[1:]), col.dtype)
            if key == "snr_db":
                fill = np.full(n, np.nan, col.dtype)
            meta[key] = np.concatenate([col, fill.astype(col.dtype)])
        splits[name] = Split(np.concatenate([a.x, b.x.astype(a.x.dtype)]), np.concatenate([a.y, b.y]), meta)
    out = dict(data.info)
    out["speech_commands"] = {
        **info,
        "counts": {
            name: dict(zip(LABELS, map(int, np.bincount(real[name].y, minlength=len(LABELS))), strict=True))
            for name in _SPLITS
        },
    }
    out["sizes"] = {name: int(sp.y.size) for name, sp in splits.items()}
    out["sha256"] = {name: split_sha256(sp) for name, sp in splits.items()}
    return Dataset(splits["train"], splits["val"], splits["test"], data.labels, out)
