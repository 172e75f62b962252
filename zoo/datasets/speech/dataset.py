"""The synthetic dataset: planning the clips of each split, synthesis, augmentation, the cache
(:func:`load`)."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import scipy

from zoo.datasets.common import Dataset, Split, cached, check_seed, split_sha256

from ._base import (
    _FORMAT,
    _SPLITS,
    _TAG_ORDER,
    _TAG_SILENCE,
    CLIP_SAMPLES,
    FRONTEND,
    KEYWORDS,
    LABELS,
    PROFILES,
    SILENCE,
    UNKNOWN,
    UNKNOWN_WORDS,
    VOICES,
    WORDS,
    GenerationParams,
    _Espeak,
    _Job,
)
from .audio import _clip, _silence
from .espeak import _assign, _find_espeak, _speakers
from .frontend import logmel, snr_bands


def _plan(
    split_index: int, n_keyword: int, speakers: list[dict[str, Any]], seed: int, p: GenerationParams
) -> list[tuple[int, int]]:
    """The split's clips as (word index or -1 for silence, speaker index or -1), in a seeded order.

    Speakers are dealt so that every (voice, variant family) pair of the split gets the same
    number of clips and members of a family take turns; the pairing with words is random."""
    name = _SPLITS[split_index]
    n_unknown = round(p.unknown_per_keyword * n_keyword)
    words = [w for w in range(len(KEYWORDS)) for _ in range(n_keyword)]
    words += [len(KEYWORDS) + u % len(UNKNOWN_WORDS) for u in range(n_unknown)]
    words += [-1] * round(p.silence_per_keyword * n_keyword)
    order = np.random.default_rng([seed, _TAG_ORDER, split_index]).permutation(len(words))
    words = [words[i] for i in order]

    mine = [i for i, s in enumerate(speakers) if s["split"] == name]
    voices = sorted({speakers[i]["voice"] for i in mine})
    families = sorted({speakers[i]["family"] for i in mine})
    members = {
        (v, f): [i for i in mine if speakers[i]["voice"] == v and speakers[i]["family"] == f]
        for v in voices
        for f in families
    }
    plan, k = [], 0
    for w in words:
        if w < 0:
            plan.append((w, -1))
            continue
        group = members[(voices[k % len(voices)], families[(k // len(voices)) % len(families)])]
        plan.append((w, group[(k // (len(voices) * len(families))) % len(group)]))
        k += 1
    return plan


def _versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
    }


def _generate(
    profile: str, seed: int, p: GenerationParams, espeak: _Espeak, workers: int
) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    speakers = _speakers(espeak, seed, p)
    arrays: dict[str, np.ndarray] = {}
    cropped: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="edzoo-speech-") as tmp, ThreadPoolExecutor(workers) as pool:
        for si, name in enumerate(_SPLITS):
            plan = _plan(si, getattr(PROFILES[profile], name), speakers, seed, p)
            seen: dict[tuple[int, int], int] = {}
            jobs: list[_Job] = []
            for w, s in plan:
                if w < 0:
                    continue
                k = seen.get((s, w), 0)
                seen[(s, w)] = k + 1
                jitter = np.random.default_rng([seed, s, w, k, 0x717])  # the clip's speed and pitch
                jobs.append(
                    _Job(
                        key=(seed, s, w, k),
                        voice=speakers[s]["voice"],
                        variant=speakers[s]["variant"],
                        word=WORDS[w],
                        speed=round(speakers[s]["speed"] + jitter.uniform(-p.speed_jitter, p.speed_jitter)),
                        pitch=int(np.clip(round(speakers[s]["pitch"] + jitter.uniform(-1, 1) * p.pitch_jitter), 0, 99)),
                    )
                )
            spoken = iter(pool.map(lambda j: _clip(espeak.binary, j, tmp, p), jobs))
            audio = np.empty((len(plan), CLIP_SAMPLES), dtype=np.int16)
            snr = np.full(len(plan), np.nan, dtype=np.float32)
            n_cropped, n_silence = 0, 0
            for i, (w, _) in enumerate(plan):
                if w < 0:
                    audio[i] = _silence([seed, _TAG_SILENCE, si, n_silence], p)
                    n_silence += 1
                else:
                    audio[i], snr[i], was_cropped = next(spoken)
                    n_cropped += was_cropped
            cropped[name] = n_cropped
            words = np.array([w for w, _ in plan], dtype=np.int32)
            arrays[f"audio_{name}"] = audio
            arrays[f"y_{name}"] = np.where(words < 0, SILENCE, np.where(words >= len(KEYWORDS), UNKNOWN, words)).astype(
                np.int64
            )
            arrays[f"snr_{name}"] = snr
            arrays[f"speaker_{name}"] = np.array([s for _, s in plan], dtype=np.int32)
            arrays[f"word_{name}"] = words
    # The cache keeps train and val as features rounded to float16 (half the bytes of float32; at
    # most 0.004 off, far below what the noise moves them) and the test split as int16 audio.
    for name in ("train", "val"):
        arrays[f"x_{name}"] = logmel(arrays.pop(f"audio_{name}") / 32768.0).astype(np.float16)

    voice_split, variant_split = _assign(espeak)
    info: dict[str, Any] = {
        "dataset": "edzoo speech",
        "profile": profile,
        "seed": seed,
        "labels": list(LABELS),
        "words": list(WORDS),
        "unknown_words": list(UNKNOWN_WORDS),
        "speakers": speakers,
        "splits": {
            "voices": {n: sorted(v for v in VOICES if voice_split[v] == n) for n in _SPLITS},
            "variants": {n: [v for v in espeak.variants if variant_split[v] == n] for n in _SPLITS},
            "speakers": {n: sum(s["split"] == n for s in speakers) for n in _SPLITS},
            "rule": "voices sorted, and variant families (variant name without trailing digits, lower case) "
            "sorted: position i % 5 == 2 test, i % 5 == 4 val, else train; a speaker (voice+variant) belongs "
            "to a split when its voice and its variant both do; other pairs are not used; seed-independent",
        },
        "espeak_ng": {
            "version": espeak.version,
            "data_dir": str(espeak.data_dir),
            "variants": list(espeak.variants),
            "command": "espeak-ng -v <voice>+<variant> -s <speed> -p <pitch> -w <file.wav> <word>",
        },
        "generation": {
            "params": asdict(p),
            "keyword_clips_per_class": asdict(PROFILES[profile]),
            "seeding": "speaker speed/pitch: default_rng([seed, 0x5BEA0001, speaker]); clip speed/pitch jitter: "
            "default_rng([seed, speaker, word, k, 0x717]); clip level, offset, SNR and noise: "
            "default_rng([seed, speaker, word, k]) (k counts the speaker's earlier clips of the word in the split); "
            "silence: default_rng([seed, 0x5BEA0003, split, k]); clip order: default_rng([seed, 0x5BEA0002, split])",
            "format": _FORMAT,
        },
        "centre_cropped": cropped,
        "frontend": FRONTEND,
        "versions": _versions(),
        "license": "audio synthesized by espeak-ng (GPL-3.0-or-later program); the voice data files ship with it "
        "under the same licence; the clips are program output, generated by edzoo's seeded code",
    }
    return arrays, info


def _snr_summary(snr: np.ndarray) -> dict[str, Any]:
    speech = snr[~np.isnan(snr)].astype(np.float64)
    bands, counts = np.unique(snr_bands(snr), return_counts=True)
    summary: dict[str, Any] = {"bands": {str(b): int(c) for b, c in zip(bands, counts, strict=True)}}
    if speech.size:
        summary |= {
            "min": round(float(speech.min()), 3),
            "mean": round(float(speech.mean()), 3),
            "max": round(float(speech.max()), 3),
        }
    return summary


def _finish(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Dataset:
    splits = {}
    for name in _SPLITS:
        y = arrays[f"y_{name}"].astype(np.int64)
        meta = {
            "snr_db": arrays[f"snr_{name}"].astype(np.float32),
            "speaker": arrays[f"speaker_{name}"].astype(np.int32),
            "word": arrays[f"word_{name}"].astype(np.int32),
        }
        if name == "test":
            meta["audio"] = arrays["audio_test"].astype(np.int16)
            x = logmel(meta["audio"] / 32768.0)
        else:
            x = arrays[f"x_{name}"].astype(np.float16).astype(np.float32)
        if x.shape != (y.size, *FRONTEND["output_shape"]) or any(m.shape[0] != y.size for m in meta.values()):
            raise ValueError(f"{name}: inconsistent array shapes")
        splits[name] = Split(x[..., None], y, meta)
    info = dict(info)
    info["counts"] = {
        name: dict(zip(LABELS, map(int, np.bincount(s.y, minlength=len(LABELS))), strict=True))
        for name, s in splits.items()
    }
    info["sizes"] = {name: int(s.y.size) for name, s in splits.items()}
    info["snr_db"] = {name: _snr_summary(s.meta["snr_db"]) for name, s in splits.items()}
    info["sha256"] = {name: split_sha256(s) for name, s in splits.items()}
    return Dataset(splits["train"], splits["val"], splits["test"], LABELS, info)


def _cache_key(profile: str, seed: int, p: GenerationParams, espeak: _Espeak) -> str:
    material = {
        "format": _FORMAT,
        "profile": profile,
        "counts": asdict(PROFILES[profile]),
        "seed": seed,
        "params": asdict(p),
        "espeak": [espeak.version, list(espeak.variants)],
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def load(profile: str = "quick", seed: int = 0, cache_dir: Path | None = None) -> Dataset:
    """The keyword-spotting dataset for ``profile`` (a key of :data:`PROFILES`) and ``seed``.

    With ``cache_dir``, the generated data is stored there as ``.npz`` (features of train and
    val, int16 audio of test), keyed by profile, seed, the generation parameters, espeak-ng's
    version and variant list and the library versions; a cached file whose splits do not hash
    to the sha256 recorded in it is regenerated. Raises ValueError for an unknown profile or a
    bad seed, SpeechToolsMissingError when espeak-ng is not installed (the message names the
    apt command) and SynthesisError when it produces no audio.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILES))}")
    check_seed(seed)
    params = GenerationParams()
    espeak = _find_espeak()
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"speech-{profile}-seed{seed}-{_cache_key(profile, seed, params, espeak)}.npz"
    workers = (os.cpu_count() or 1) + 1  # the threads mostly wait for espeak-ng processes
    return cached(path, lambda: _generate(profile, seed, params, espeak, workers), _finish)
