"""The front end shipped with the model: 1 s of 16 kHz audio to log-mel levels (:func:`logmel`)."""

from __future__ import annotations

import numpy as np

from ._base import _BANDS, CLIP_SAMPLES, FRONTEND, SAMPLE_RATE


def _hann_periodic(n: int) -> np.ndarray:
    return 0.5 - 0.5 * np.cos(2.0 * np.pi * np.arange(n) / n)


def _mel_matrix(
    num_mel_bins: int, num_spectrogram_bins: int, sample_rate: float, lower_hz: float, upper_hz: float
) -> np.ndarray:
    """``tf.signal.linear_to_mel_weight_matrix`` in numpy (float64): HTK mel, DC row zero."""

    def hz_to_mel(f: np.ndarray | float) -> np.ndarray:
        return 1127.0 * np.log(1.0 + np.asarray(f, dtype=np.float64) / 700.0)

    linear = np.linspace(0.0, sample_rate / 2.0, num_spectrogram_bins)[1:]
    bins_mel = hz_to_mel(linear)[:, None]
    edges = np.linspace(hz_to_mel(lower_hz), hz_to_mel(upper_hz), num_mel_bins + 2)
    lower, centre, upper = edges[:-2][None, :], edges[1:-1][None, :], edges[2:][None, :]
    lower_slopes = (bins_mel - lower) / (centre - lower)
    upper_slopes = (upper - bins_mel) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(lower_slopes, upper_slopes))
    return np.pad(weights, [[1, 0], [0, 0]])


_WINDOW = _hann_periodic(FRONTEND["frame_length"])

_MEL = _mel_matrix(
    FRONTEND["mel_bins"],
    FRONTEND["fft_length"] // 2 + 1,
    SAMPLE_RATE,
    FRONTEND["lower_edge_hertz"],
    FRONTEND["upper_edge_hertz"],
)


def logmel(audio: np.ndarray) -> np.ndarray:
    """Log-mel levels of 1 s clips: float audio in [-1, 1], shape (..., 16000) -> float32 (..., 98, 40).

    The front end of :data:`FRONTEND`, identical (to float32 rounding) to TensorFlow's
    ``tf.signal.stft`` + ``linear_to_mel_weight_matrix`` + ``log(mel + 1e-10)``, scaled to the
    0..255 levels of the Speech Commands spectrograms and clipped there. Computed in float64, in
    chunks of 256 clips. Raises ValueError when the last axis is not 16000 long.
    """
    a = np.asarray(audio)
    if a.ndim == 0 or a.shape[-1] != CLIP_SAMPLES:
        raise ValueError(f"expected audio of shape (..., {CLIP_SAMPLES}), got {a.shape}")
    lead = a.shape[:-1]
    flat = a.reshape(-1, CLIP_SAMPLES)
    n_frames = 1 + (CLIP_SAMPLES - FRONTEND["frame_length"]) // FRONTEND["frame_step"]
    lo, hi = FRONTEND["level_range"]
    out = np.empty((flat.shape[0], n_frames, FRONTEND["mel_bins"]), dtype=np.float32)
    for start in range(0, flat.shape[0], 256):
        chunk = flat[start : start + 256].astype(np.float64)
        frames = np.lib.stride_tricks.sliding_window_view(chunk, FRONTEND["frame_length"], axis=-1)
        frames = frames[:, :: FRONTEND["frame_step"]] * _WINDOW
        spec = np.fft.rfft(frames, n=FRONTEND["fft_length"], axis=-1)
        power = spec.real**2 + spec.imag**2
        level = FRONTEND["level_scale"] * np.log(power @ _MEL + FRONTEND["log_offset"]) + FRONTEND["level_offset"]
        out[start : start + 256] = np.clip(level, lo, hi)
    return out.reshape(*lead, n_frames, FRONTEND["mel_bins"])


def power_of(levels: np.ndarray) -> np.ndarray:
    """Mel power (float64) back from :func:`logmel` levels; where a level was clipped at 0 this
    is the power of level 0, an upper bound."""
    return np.exp((np.asarray(levels, np.float64) - FRONTEND["level_offset"]) / FRONTEND["level_scale"])


def level_of(power: np.ndarray) -> np.ndarray:
    """:func:`logmel` levels (float32, clipped to 0..255) of mel power."""
    lo, hi = FRONTEND["level_range"]
    level = FRONTEND["level_scale"] * np.log(np.asarray(power, np.float64) + FRONTEND["log_offset"])
    return np.clip(level + FRONTEND["level_offset"], lo, hi).astype(np.float32)


def snr_bands(snr_db: np.ndarray) -> np.ndarray:
    """Band label per clip: ``"5-10 dB"``, ``"10-20 dB"``, ``"20-30 dB"`` (lower edge included,
    30 dB in the top band), ``"silence"`` for NaN. Raises ValueError for an SNR outside 5..30 dB."""
    s = np.asarray(snr_db, dtype=np.float64)
    out = np.full(s.shape, "silence", dtype=object)
    speech = ~np.isnan(s)
    if np.any(speech & ((s < _BANDS[0][0]) | (s > _BANDS[-1][1]))):
        raise ValueError(f"SNR outside {_BANDS[0][0]:g}..{_BANDS[-1][1]:g} dB: {s[speech].min()}..{s[speech].max()}")
    for lo, hi, name in _BANDS:
        out[speech & (s >= lo) & ((s < hi) | (hi == _BANDS[-1][1]))] = name
    return out.astype(str)
