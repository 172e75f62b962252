"""The ``speech-commands`` layout: one folder of ``.wav`` clips per word, speakers from the file
names, optional validation and testing lists."""

from __future__ import annotations

import io
import math
import struct
import wave
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from zoo.data._base import (
    SPLITS,
    Parts,
    Request,
    Source,
    fail,
    group_of,
    group_pattern,
    label_index,
    like_info,
    register_adapter,
    take,
)
from zoo.datasets.common import Split

from ._common import _folder_has, _for_request, _groups, _plan

_LISTS = (("val", "validation_list.txt"), ("test", "testing_list.txt"))


def _audio_settings(request: Request) -> tuple[int, int, bool]:
    """(sample rate, clip samples, log-mel?): the training data's when reading ``like`` it. Raises
    DataError when the log-mel front end is asked for other than 1 s at 16 kHz."""
    o, root = request.options, request.source.path
    rate, clip, logmel = o.sample_rate, o.clip_samples, o.frontend == "logmel"
    if request.like is not None:
        audio = like_info(request.like, "audio", root, "audio settings")
        rate, clip, logmel = int(audio["sample_rate"]), int(audio["clip_samples"]), bool(audio["frontend"])
    if logmel:
        from zoo.datasets.speech import CLIP_SAMPLES, SAMPLE_RATE

        if (rate, clip) != (SAMPLE_RATE, CLIP_SAMPLES):
            raise fail(
                root,
                f"the logmel front end reads {CLIP_SAMPLES} samples at {SAMPLE_RATE} Hz, not {clip} at {rate} Hz",
                f"set sample_rate and clip_samples to {SAMPLE_RATE}, or use no front end",
            )
    return rate, clip, logmel


def _read_wav(source: Source, p: Path, rate: int, clip: int, counts: Counter[str]) -> np.ndarray:
    """One clip as float32 (clip,) in [-1, 1]: channels averaged, resampled, zero-padded at the
    end or cut around the centre. Raises DataError for a file ``wave`` cannot read."""
    from scipy.signal import resample_poly

    blob = source.read_bytes(p)
    try:
        with wave.open(io.BytesIO(blob), "rb") as w:
            channels, width, framerate = w.getnchannels(), w.getsampwidth(), w.getframerate()
            frames = w.readframes(w.getnframes())
    except (wave.Error, EOFError, struct.error, ValueError, OSError) as e:
        raise fail(
            p,
            f"is not a readable PCM .wav file ({e or type(e).__name__})",
            "convert it to 16-bit PCM, e.g. with: sox in.wav -b 16 out.wav",
        ) from e
    if width not in (1, 2, 3, 4) or channels < 1 or framerate < 1:
        raise fail(p, f"has {8 * width}-bit samples at {framerate} Hz", "convert it to 16-bit PCM")
    usable = len(frames) // (width * channels) * (width * channels)
    raw = np.frombuffer(frames[:usable], dtype=np.uint8)
    if width == 1:
        s = (raw.astype(np.float64) - 128.0) / 128.0
    elif width == 2:
        s = raw.view("<i2") / 32768.0
    elif width == 3:
        b = raw.reshape(-1, 3).astype(np.int32)
        v = b[:, 0] | (b[:, 1] << 8) | (b[:, 2] << 16)
        s = np.where(v >= 1 << 23, v - (1 << 24), v) / float(1 << 23)
    else:
        s = raw.view("<i4") / float(1 << 31)
    s = s.reshape(-1, channels).mean(axis=1)
    if s.size == 0:
        raise fail(p, "holds no samples", "record it again, or remove it")
    counts["converted"] += width != 2 or channels != 1
    if framerate != rate:
        g = math.gcd(rate, framerate)
        s = resample_poly(s, rate // g, framerate // g)
        counts["resampled"] += 1
    s = np.clip(s, -1.0, 1.0)
    if s.size < clip:
        counts["padded"] += 1
        s = np.pad(s, (0, clip - s.size))
    elif s.size > clip:
        counts["cut"] += 1
        start = (s.size - clip) // 2
        s = s[start : start + clip]
    return s.astype(np.float32)


def _logmel(audio: np.ndarray) -> np.ndarray:
    from zoo.datasets.speech import logmel

    return logmel(audio)


def _logmel_shape(clip: int, use_logmel: bool) -> tuple[int, ...]:
    if not use_logmel:
        return (clip,)
    from zoo.datasets.speech import FRONTEND

    return tuple(FRONTEND["output_shape"])


def _speaker(p: Path, rel: str) -> str:
    return p.name.split("_nohash_")[0] if "_nohash_" in p.name else rel.rsplit(".", 1)[0]


def _is_speech(p: Path) -> bool:
    if not p.is_dir():
        return False
    if any((p / name).is_file() for _, name in _LISTS):
        return True
    return _folder_has(p, (".wav",), 1)


@register_adapter(
    "speech-commands",
    kind="audio-classification",
    summary="root/<word>/<speaker>_nohash_<n>.wav [validation_list.txt, testing_list.txt]",
    detect=_is_speech,
)
def read_speech_commands(request: Request) -> Parts:
    """The Speech Commands layout: one folder of .wav clips per word (folders starting with ``_``
    skipped), optional validation and testing lists; grouped by speaker. Raises DataError as the
    module says."""
    src, o, like, root = request.source, request.options, request.like, request.source.path
    if not root.is_dir():
        raise fail(root, "is not a folder", "give the folder that holds one folder of .wav clips per word")
    rate, clip, use_logmel = _audio_settings(request)
    rx = group_pattern(root, o.group) if o.group else None
    words: list[Path] = []
    skipped: list[Path] = []
    for e in src.entries(root):
        if e.is_dir():
            (skipped if e.name.startswith("_") else words).append(e)
    if not words:
        raise fail(root, "holds no word folders of .wav clips", "put each word's clips in <root>/<word>/")
    clips: dict[str, Path] = {}
    for d in words:
        if like is not None and d.name not in like.labels:
            raise fail(d, "is a word the training data does not have", f"use its words: {', '.join(like.labels)}")
        wavs = [f for f in src.entries(d) if f.is_file() and f.suffix.lower() == ".wav"]
        if not wavs:
            raise fail(d, "is a word folder without .wav clips", "add clips or remove the folder")
        clips.update((src.rel(f), f) for f in wavs)
    listed: dict[str, str] = {}
    declared_lists = []
    for split, name in _LISTS:
        if not (root / name).is_file():
            continue
        declared_lists.append(split)
        lines = src.read_text(root / name).splitlines()
        if not any(line.strip() for line in lines):
            raise fail(root / name, "lists no clips", "list one clip per line (word/file.wav), or delete the file")
        for i, line in enumerate(lines, 1):
            rel = line.strip().replace("\\", "/")
            if not rel:
                continue
            if rel not in clips:
                raise fail(root / name, f"names {rel!r}, not a clip of a word folder", "remove the line", line=i)
            if rel in listed:
                raise fail(root / name, f"lists {rel!r}, already in the {listed[rel]} list", "list it once", line=i)
            listed[rel] = split
    if declared_lists:
        pools = {split: [f for rel, f in clips.items() if listed.get(rel, "train") == split] for split in SPLITS}
        pools = {split: files for split, files in pools.items() if split == "train" or split in declared_lists}
    else:
        pools = {"all": list(clips.values())}
    layout = tuple(pools)
    pools = _for_request(request, pools)
    keys = {
        pool: [group_of(rx, src, f) if rx else _speaker(f, src.rel(f)) for f in files] for pool, files in pools.items()
    }
    p = _plan(request, {pool: _groups(k, len(k)) for pool, k in keys.items()}, o.group or "speaker", layout)
    labels = like.labels if like is not None else tuple(sorted(d.name for d in words))
    index = label_index(labels)
    counts: Counter[str] = Counter()
    splits = {}
    for name, pieces in p.pieces.items():
        files = take(pools, pieces)
        x = np.empty((len(files), *_logmel_shape(clip, use_logmel)), np.float32)
        # Chunks of clips, so that with the front end no split's raw audio is ever held whole.
        for start in range(0, len(files), 256):
            chunk = np.stack([_read_wav(src, f, rate, clip, counts) for f in files[start : start + 256]])
            x[start : start + len(chunk)] = _logmel(chunk) if use_logmel else chunk
        y = np.array([index[f.parent.name] for f in files], np.int64)
        splits[name] = Split(x, y, {"group": np.asarray(take(keys, pieces), dtype=str)})
    frontend: dict[str, Any] | None = None
    if use_logmel:
        from zoo.datasets.speech import FRONTEND

        frontend = FRONTEND
    info = {
        "audio": {"sample_rate": rate, "clip_samples": clip, "frontend": frontend},
        "clips": {k: int(counts[k]) for k in ("converted", "resampled", "padded", "cut")},
        "skipped_folders": [d.name for d in skipped],
    }
    return Parts(splits, labels, p.declared, p.made, info)
