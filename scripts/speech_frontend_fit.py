#!/usr/bin/env python3
"""Measure how the vendored Speech Commands spectrograms relate to the speech front end.

The training spectrograms (``speech-commands-train`` in zoo/datasets/sources/sources.json) are
8-bit JPEGs whose front end their repository does not document. The same repository carries,
at a later commit, the WAV files of Speech Commands' test set, and its spectrogram commit holds
those test clips too: this script pairs them, computes the front end of
:data:`zoo.datasets.speech.FRONTEND` on each WAV without its level scaling (``ln(mel + 1e-10)``),
fits ``level = a · ln(mel) + b`` by least squares over every pixel that is not clipped, and
prints a, b and how far each spectrogram is from ``clip(a · ln(mel) + b, 0, 255)``. No network:

    scripts/speech_frontend_fit.py DIR [--clips 300]

where DIR is a checkout (or bare repository) of thegtagamer/PICO-tinyML-benchmark holding both
commits. None of these test clips trains anything; they are Speech Commands' test speakers.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import subprocess
import sys
import wave
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

WAV_COMMIT = "c66f6b0d78fe9218f6de9d07189691cfae077bee"
JPEG_COMMIT = "0ad315ab89b4ddf4e90a9d44b9fdfa5830d848c2"
ROOT = "MLTK_keyworkSpotting/dataset"


def _git(repo: Path, *args: str) -> bytes:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True).stdout


def _pairs(repo: Path) -> list[tuple[str, str]]:
    """(wav path, jpeg path) of the test clips present at both commits, in sha256 order."""
    jpegs = set(_git(repo, "ls-tree", "-r", "--name-only", JPEG_COMMIT, "--", ROOT).decode().split())
    out = []
    for path in _git(repo, "ls-tree", "-r", "--name-only", WAV_COMMIT, "--", ROOT).decode().split():
        folder, name = path.split("/")[-2:]
        if not name.endswith(".wav") or folder == "_silence_":
            continue
        if folder == "_unknown_":  # _unknown_/<word>_<speaker>_nohash_<take>.wav.wav
            word, rest = name.split("_", 1)
            jpeg = f"{ROOT}/unknown/{rest.removesuffix('.wav.wav')}.{word}.jpg"
        else:
            jpeg = f"{ROOT}/{folder}/{name.removesuffix('.wav')}.{folder}.jpg"
        if jpeg in jpegs:
            out.append((path, jpeg))
    return sorted(out, key=lambda p: hashlib.sha256(p[0].encode()).hexdigest())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("repo", type=Path, help="checkout of thegtagamer/PICO-tinyML-benchmark")
    ap.add_argument("--clips", type=int, default=300, help="test clips to pair (default 300)")
    args = ap.parse_args()

    from PIL import Image

    from zoo.datasets import speech

    f = speech.FRONTEND
    logs, levels = [], []
    for wav_path, jpeg_path in _pairs(args.repo)[: args.clips]:
        with wave.open(io.BytesIO(_git(args.repo, "show", f"{WAV_COMMIT}:{wav_path}"))) as w:
            pcm = np.frombuffer(w.readframes(w.getnframes()), "<i2") / 32768.0
        clip = np.zeros(speech.CLIP_SAMPLES)
        clip[: min(len(pcm), speech.CLIP_SAMPLES)] = pcm[: speech.CLIP_SAMPLES]
        # ln(mel + 1e-10): undo the front end's level scaling (clipping aside)
        logs.append((speech.logmel(clip[None])[0].astype(np.float64) - f["level_offset"]) / f["level_scale"])
        with Image.open(io.BytesIO(_git(args.repo, "show", f"{JPEG_COMMIT}:{jpeg_path}"))) as im:
            levels.append(np.asarray(im.convert("L"), np.float64))
    x, y = np.stack(logs), np.stack(levels)
    inside = (y > 5) & (y < 250) & (x > (0 - f["level_offset"]) / f["level_scale"])
    a, b = np.polyfit(x[inside], y[inside], 1)
    err = np.abs(np.clip(a * x + b, 0, 255) - y).mean(axis=(1, 2))
    ours = np.abs(np.clip(f["level_scale"] * x + f["level_offset"], 0, 255) - y).mean(axis=(1, 2))
    print(f"{len(x)} test clips paired (WAV at {WAV_COMMIT[:8]}, spectrogram at {JPEG_COMMIT[:8]})")
    print(f"fit: level = {a:.3f} ln(mel) + {b:.2f}   (FRONTEND: {f['level_scale']} and {f['level_offset']})")
    for name, e in (("fit", err), ("FRONTEND", ours)):
        p = np.percentile(e, [50, 90, 98, 100])
        print(
            f"{name:9s} mean |level error| per clip: median {p[0]:.2f}, 90% {p[1]:.2f}, 98% {p[2]:.2f}, max {p[3]:.2f}"
        )


if __name__ == "__main__":
    main()
