"""Held-out sources: real data of another origin than the training data, vendored with its
provenance and licence (``sources/sources.json``, rebuilt by ``scripts/vendor_sources.py``).

Each reader checks the file's sha256 against ``sources.json`` before it parses a byte, so a
truncated or altered file is a :class:`zoo.errors.DataError` and never a wrong measurement.
What the people behind each source were (adults, children, how many) is in its ``people``
field, for the model cards.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from zoo.errors import DataError

__all__ = [
    "SourceInfo",
    "SpokenWords",
    "blimp",
    "fsdd",
    "info",
    "mnist_t10k",
    "pendigits",
    "render_pen",
    "speech_commands",
]

ROOT = Path(__file__).resolve().parent / "sources"


@dataclass(frozen=True)
class SourceInfo:
    """One vendored source as ``sources.json`` records it."""

    key: str
    repo: str
    commit: str
    origin: str
    license: str
    people: str
    file: str
    sha256: str
    bytes: int

    @classmethod
    def from_dict(cls, key: str, d: dict[str, Any]) -> SourceInfo:
        return cls(key=key, **{f: d[f] for f in cls.__dataclass_fields__ if f != "key"})

    def to_dict(self) -> dict[str, Any]:
        """For a card's data section: where it came from, under which licence, who is in it."""
        return {
            "source": f"https://github.com/{self.repo} at {self.commit}",
            "origin": self.origin,
            "license": self.license,
            "people": self.people,
            "sha256": self.sha256,
        }


@cache
def _catalog() -> dict[str, SourceInfo]:
    path = ROOT / "sources.json"
    try:
        doc = json.loads(path.read_text())
        return {k: SourceInfo.from_dict(k, v) for k, v in doc.items()}
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise DataError(
            f"{path}: cannot read the held-out sources' catalog ({e}); restore it with git checkout", source=str(path)
        ) from None


def info(key: str) -> SourceInfo:
    """The provenance of source ``key`` (mnist-t10k, pendigits, fsdd, blimp, speech-commands,
    speech-commands-train)."""
    try:
        return _catalog()[key]
    except KeyError:
        raise DataError(f"no held-out source {key!r}; known: {', '.join(_catalog())}") from None


def _verified(key: str) -> bytes:
    """The source's bytes, after checking them against the catalog's sha256."""
    src = info(key)
    path = ROOT / src.file
    try:
        data = path.read_bytes()
    except OSError as e:
        raise DataError(f"{path}: {e.strerror}; restore it with git checkout", source=str(path)) from None
    if hashlib.sha256(data).hexdigest() != src.sha256:
        raise DataError(
            f"{path}: its sha256 is not the one sources.json records; restore it with git checkout "
            "(or rebuild every source with scripts/vendor_sources.py)",
            source=str(path),
        )
    return data


def _arrays(key: str) -> dict[str, np.ndarray]:
    import io

    with np.load(io.BytesIO(_verified(key)), allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def mnist_t10k() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The MNIST test set: images uint8 [10000, 28, 28] (ink high), labels 0..9, and the origin of
    each digit (0: NIST SD-3, Census Bureau employees; 1: SD-1, high-school students; their
    writers are disjoint)."""
    a = _arrays("mnist-t10k")
    return a["x"], a["y"].astype(np.int64), a["origin"]


def pendigits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """UCI pendigits: pen points int16 [10992, 8, 2] (x right, y up, 0..100, in writing order),
    labels 0..9, and the writer group (0: the 30 writers of pendigits.tra, 1: the 14 of .tes)."""
    a = _arrays("pendigits")
    return a["points"], a["y"].astype(np.int64), a["writers"]


def fsdd(sample_rate: int = 16000) -> tuple[list[np.ndarray], np.ndarray, np.ndarray, tuple[str, ...]]:
    """The Free Spoken Digit Dataset: float32 waveforms in [-1, 1] resampled from 8 kHz to
    ``sample_rate`` (polyphase, so nothing above 4 kHz: the recordings never had it), the digit
    spoken (0..9), the speaker index, and the speakers' names."""
    from scipy.signal import resample_poly

    a = _arrays("fsdd")
    pcm = a["audio"].astype(np.float32) / 32768.0
    cuts = a["offsets"]
    g = np.gcd(sample_rate, 8000)
    clips = [
        resample_poly(pcm[cuts[i] : cuts[i + 1]], sample_rate // g, 8000 // g).astype(np.float32)
        for i in range(len(cuts) - 1)
    ]
    return clips, a["y"].astype(np.int64), a["speaker"].astype(np.int64), tuple(str(s) for s in a["speakers"])


@dataclass(frozen=True)
class SpokenWords:
    """Recorded words: ``audio[i]`` is clip i as float32 in [-1, 1] at 16 kHz (as recorded, not
    padded), ``words[y[i]]`` the word said, ``speaker[i]`` an index into ``speakers``."""

    audio: tuple[np.ndarray, ...]
    y: np.ndarray
    words: tuple[str, ...]
    speaker: np.ndarray
    speakers: tuple[str, ...]


def speech_commands() -> SpokenWords:
    """The vendored subset of the Speech Commands v0.02 test set (see ``sources.json``): 16 kHz
    clips of about 1 s by crowdsourced speakers, each word with its speaker's hashed id."""
    a = _arrays("speech-commands")
    pcm = a["audio"].astype(np.float32) / 32768.0
    cuts = a["offsets"]
    return SpokenWords(
        audio=tuple(pcm[cuts[i] : cuts[i + 1]] for i in range(len(cuts) - 1)),
        y=a["y"].astype(np.int64),
        words=tuple(str(w) for w in a["words"]),
        speaker=a["speaker"].astype(np.int64),
        speakers=tuple(str(s) for s in a["speakers"]),
    )


@dataclass(frozen=True)
class Spectrograms:
    """Words as 8-bit log-mel spectrograms: ``levels[i]`` uint8 (98, 40), frames of 10 ms by 40 mel
    bands of 0-4000 Hz, in the levels of :data:`zoo.datasets.speech.FRONTEND`; ``words[y[i]]`` the
    word said (``y`` is 255 for background noise); ``part[i]`` 0 for Speech Commands' training
    set, 1 for its validation set, 2 for noise; ``speaker[i]`` an index into ``speakers`` (-1
    for noise)."""

    levels: np.ndarray
    y: np.ndarray
    words: tuple[str, ...]
    part: np.ndarray
    speaker: np.ndarray
    speakers: tuple[str, ...]

    NOISE = 255


def speech_commands_train() -> Spectrograms:
    """The vendored Speech Commands spectrograms of training- and validation-set speakers (see
    ``sources.json``), decoded from their JPEG bytes with Pillow."""
    import io

    from PIL import Image

    a = _arrays("speech-commands-train")
    jpeg, cuts = a["jpeg"].tobytes(), a["offsets"]
    levels = np.empty((len(cuts) - 1, 98, 40), np.uint8)
    for i in range(len(cuts) - 1):
        with Image.open(io.BytesIO(jpeg[cuts[i] : cuts[i + 1]])) as im:
            levels[i] = np.asarray(im.convert("L"))
    return Spectrograms(
        levels=levels,
        y=a["y"].astype(np.int64),
        words=tuple(str(w) for w in a["words"]),
        part=a["part"].astype(np.int64),
        speaker=a["speaker"].astype(np.int64),
        speakers=tuple(str(s) for s in a["speakers"]),
    )


def blimp() -> list[dict[str, str]]:
    """BLiMP minimal pairs: ``good`` and ``bad`` sentences, the grammar model's ``error`` type
    they test (agreement, plural, tense) and the BLiMP ``paradigm``."""
    text = gzip.decompress(_verified("blimp")).decode()
    return [json.loads(line) for line in text.splitlines() if line]


def render_pen(points: np.ndarray, size: int = 28, box: int = 20, width: float = 2.2) -> np.ndarray:
    """Pen points [N, K, 2] (x right, y up, any scale) drawn as one stroke each, as a tablet's
    canvas would (``width`` pixels wide at the final scale), then laid out MNIST-style by
    :func:`registry.core.preprocess.mnist_layout`. Returns float32 [N, size, size] in 0..1, ink high."""
    from PIL import Image, ImageDraw

    from registry.core.preprocess import mnist_layout

    scale = 4  # draw large, then let the layout's anti-aliased reduction make the edges
    out = np.zeros((len(points), size, size), dtype=np.float32)
    for n, pts in enumerate(np.asarray(points, dtype=np.float64)):
        pts = pts.copy()
        pts[:, 1] = -pts[:, 1]  # y up -> image rows down
        lo, hi = pts.min(0), pts.max(0)
        extent = max(float((hi - lo).max()), 1e-6)
        fit = (box - width) * scale / extent
        xy = (pts - lo) * fit + width * scale
        w, h = (
            int(np.ceil((hi - lo)[0] * fit + 2 * width * scale)) + 1,
            int(np.ceil((hi - lo)[1] * fit + 2 * width * scale)) + 1,
        )
        img = Image.new("L", (w, h), 0)
        ImageDraw.Draw(img).line([tuple(p) for p in xy], fill=255, width=int(round(width * scale)), joint="curve")
        out[n] = np.clip(mnist_layout(np.asarray(img, np.float32) / 255.0, size, box), 0, 1)
    return out
