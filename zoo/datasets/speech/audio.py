"""Signal processing: resampling, trimming, levels, noise, and mixing a word into a clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import signal

from ._base import CLIP_SAMPLES, SAMPLE_RATE, GenerationParams, SynthesisError, _Job
from .espeak import _speak


def resample(x: np.ndarray) -> np.ndarray:
    """22,050 Hz -> 16,000 Hz (polyphase, 320/441; scipy's default Kaiser anti-aliasing filter)."""
    return signal.resample_poly(x, 320, 441)


def _trim(x: np.ndarray, p: GenerationParams) -> np.ndarray:
    """Drop leading and trailing 10 ms frames more than ``trim_db`` below the loudest frame."""
    n = x.size // p.trim_frame
    if n == 0:
        return x[:0]
    rms = np.sqrt(np.mean(x[: n * p.trim_frame].reshape(n, p.trim_frame) ** 2, axis=1))
    if rms.max() <= 0:
        return x[:0]
    loud = np.flatnonzero(rms >= rms.max() * 10 ** (-p.trim_db / 20))
    return x[loud[0] * p.trim_frame : (loud[-1] + 1) * p.trim_frame]


def _noise(rng: np.random.Generator, n: int, p: GenerationParams) -> np.ndarray:
    """A random mix of white, pink (power ∝ 1/f) and brown (∝ 1/f²) noise, unit mean power.

    Colour weights (of power) ~ Dirichlet(1, 1, 1); pink and brown are white Gaussian noise
    shaped in the frequency domain, flat below ``colour_floor_hz``, DC removed."""
    weights = rng.dirichlet((1.0, 1.0, 1.0))
    white = rng.standard_normal((3, n))
    f = np.fft.rfftfreq(n, 1.0 / SAMPLE_RATE)
    f = np.maximum(f, p.colour_floor_hz)
    spectra = np.fft.rfft(white, axis=-1)
    spectra[1] /= np.sqrt(f)
    spectra[2] /= f
    spectra[:, 0] = 0.0
    parts = np.fft.irfft(spectra, n=n, axis=-1)
    parts /= np.sqrt(np.mean(parts**2, axis=-1, keepdims=True))
    mix = np.sqrt(weights) @ parts
    return mix / np.sqrt(np.mean(mix**2))


def _to_int16(x: np.ndarray) -> np.ndarray:
    return np.clip(np.round(x * 32768.0), -32768, 32767).astype(np.int16)


def _place_and_mix(
    speech: np.ndarray, rng: np.random.Generator, p: GenerationParams
) -> tuple[np.ndarray, np.ndarray, float, bool]:
    """Trimmed 16 kHz ``speech`` -> (speech in the 1 s window, noise, SNR dB, centre-cropped?).

    The speech is peak-normalised to a random level and placed at a random offset (or centre-
    cropped when longer than 1 s); the noise's mean power over the window is the speech's mean
    power over its own samples divided by 10^(SNR/10). If the sum would clip, both are scaled
    down together (the SNR is kept). The clip is ``speech + noise``."""
    peak = 10 ** (rng.uniform(*p.peak_dbfs) / 20)
    snr = float(rng.uniform(*p.snr_db))
    where = rng.uniform()
    noise = _noise(rng, CLIP_SAMPLES, p)
    cropped = speech.size > CLIP_SAMPLES
    if cropped:
        start = (speech.size - CLIP_SAMPLES) // 2
        speech = speech[start : start + CLIP_SAMPLES]
    speech = speech * (peak / np.max(np.abs(speech)))
    power = float(np.mean(speech**2))
    offset = int(where * (CLIP_SAMPLES - speech.size + 1))
    placed = np.zeros(CLIP_SAMPLES)
    placed[offset : offset + speech.size] = speech
    noise = noise * np.sqrt(power / 10 ** (snr / 10))
    top = float(np.max(np.abs(placed + noise)))
    if top > 0.99:
        placed, noise = placed * (0.99 / top), noise * (0.99 / top)
    return placed, noise, snr, cropped


def _clip(binary: str, job: _Job, tmp: str, p: GenerationParams) -> tuple[np.ndarray, float, bool]:
    """One spoken clip: int16 (16000,), its SNR and whether it was centre-cropped."""
    rng = np.random.default_rng(list(job.key))
    speech = _trim(resample(_speak(binary, job, Path(tmp))), p)
    if speech.size == 0 or not np.any(speech):
        raise SynthesisError(f"espeak-ng gave silence for {job.voice}+{job.variant} {job.word!r}")
    placed, noise, snr, cropped = _place_and_mix(speech, rng, p)
    return _to_int16(placed + noise), snr, cropped


def _silence(key: list[int], p: GenerationParams) -> np.ndarray:
    rng = np.random.default_rng(key)
    rms = 10 ** (rng.uniform(*p.silence_rms_dbfs) / 20)
    return _to_int16(np.clip(_noise(rng, CLIP_SAMPLES, p) * rms, -0.99, 0.99))
