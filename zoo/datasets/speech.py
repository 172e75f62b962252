"""Spoken keywords for early readers' apps (keyword spotting): espeak-ng voices synthesized offline,
and recorded Speech Commands speakers (:func:`real_voices`).

14 classes, :data:`LABELS` (the class id is the index): the 12 keywords of :data:`KEYWORDS`
(``yes no up down left right cat dog one two three go``), then ``_unknown_`` (another word) and
``_silence_`` (no speech). Nothing is downloaded: the clips of :func:`load` are spoken by Debian's
``espeak-ng`` (``apt-get install espeak-ng``; 1.51 measured) and degraded by edzoo's seeded numpy
code, so they are **synthetic**: formant-synthesized voices, not children, not real microphones.
The recorded speakers of :func:`real_voices` are vendored spectrograms (see "Real voices").

Sources
-------
Speech
    ``espeak-ng -v <voice>+<variant> -s <speed> -p <pitch> -w <file.wav> <word>`` (``-w``: the
    WAV header of ``--stdout`` carries a fake length). 8 English voices, :data:`VOICES`, and
    every file of espeak-ng's ``voices/!v`` folder as variant (found through the "Data at:" line
    of ``espeak-ng --version``; 101 with 1.51: f1-f5, m1-m8, klatt-klatt6, croak, whisper,
    robosoft-robosoft8 and named ones). A *speaker* is a (voice, variant) pair.
Unknown words
    :data:`UNKNOWN_WORDS`: 30 everyday words, none a keyword or a homophone of one (no
    "know", "won", "to"), several near misses on purpose (tree/three, light/right, cup/up,
    dig/dog, cap/cat, goat/go, town/down, wet/yes, nose/no). They cycle in a fixed order, so
    each appears about equally often.
sox
    Not needed: numpy and scipy resample, trim, place and mix; only espeak-ng is run.

Splits
------
The test split is held out: nothing may be trained, calibrated or chosen on it.

Speakers are held out by voice *and* by variant. Voices are sorted; variant *families* (the
variant name without trailing digits, lower case, so klatt..klatt6 or robosoft..robosoft8 are one
family and never straddle splits) are sorted; in both lists position ``i % 5 == 2`` goes to
test, ``i % 5 == 4`` to validation, the rest to training. A speaker belongs to a split when its
voice and its variant both do; pairs that mix splits are not used. With espeak-ng 1.51:

* test: voices en-gb-scotland, en-us-nyc; 22 variants (Alicia, Annie, belinda, david,
  edward, edward2, grandpa, Jacky, linda, max, Mr serious, pedro, robosoft..robosoft8, travis,
  whisperf): 44 speakers;
* validation: voice en-gb-x-gbcwmd; 15 variants (Andy, antonio, boris, Denis, fast, Henrique,
  kaukovalta, marcelo, michel, norbert, RicishayMax..3, shelby, UniRobot): 15 speakers;
* training: voices en, en-029, en-gb-x-gbclan, en-gb-x-rp, en-us; the other 64 variants:
  320 speakers.

``info["splits"]`` lists them; the assignment does not depend on the seed. Within a split,
clips are dealt so that every (voice, variant family) pair gets the same number of clips and
the members of a family take turns (robosoft's 8 members share one family's share); which
speaker says which word is random.

Counts per split (:data:`PROFILES` gives the clips per keyword class *k*): *k* per keyword,
round(1.5 *k*) ``_unknown_``, *k* ``_silence_``. ``quick``: *k* = 170 / 28 / 48, i.e. 2,465
training, 406 validation and 696 test clips; ``full``: *k* = 830 / 70 / 140, i.e. 12,035 /
1,015 / 2,030. Measured on 2 cores, fresh, no cache: ``quick`` 23 s (24-30 s in other runs), ``full`` 168 s (one
espeak-ng process per clip, ~9 ms each, dominates); a cached load takes about a second
(``full``: 1.2 s). Cache files: ``quick`` 28 MB, ``full`` 97 MB.

Pipeline (numbers are :class:`GenerationParams` defaults)
----------------------------------------------------------
1. Each speaker draws a speed (uniform 110-200 wpm) and a pitch (uniform 20-80); each clip adds
   a jitter (±10 wpm, ±5 pitch), rounded to integers for espeak-ng.
2. espeak-ng writes 22,050 Hz 16-bit mono; :func:`resample` converts to 16 kHz with
   ``scipy.signal.resample_poly(x, 320, 441)`` (160/441 would double the speed).
3. Trim: 10 ms frames at either end more than 40 dB below the loudest frame are dropped
   (espeak-ng pads words with silence; untrimmed clips reach 1.6 s).
4. Peak-normalise the word to a level uniform in -20..-1 dBFS; place it at a uniformly random
   offset in a 1 s (16,000-sample) window of zeros. A word longer than 1 s after trimming is
   centre-cropped (``info["centre_cropped"]`` counts them: 3 of full's training clips with espeak-ng 1.51).
5. Noise: a mix of white, pink (power ∝ 1/f) and brown (∝ 1/f²) Gaussian noise with power
   weights ~ Dirichlet(1, 1, 1); pink and brown are white noise shaped in the frequency domain,
   flat below 20 Hz, without DC; each colour and the mix have unit power before scaling. The
   SNR is uniform in 5-30 dB, defined as the word's mean power over its own samples divided by
   the noise's mean power over the whole window. If speech + noise would exceed 0.99, both are
   scaled down together (the SNR is kept). The sum is rounded to int16 (x 32768).
6. ``_silence_`` clips are that noise alone at an RMS uniform in -70..-25 dBFS; their
   ``snr_db`` is NaN and their ``speaker`` and ``word`` are -1.

Seeding: every random draw comes from a :class:`numpy.random.Generator` of its own, keyed by
(seed, speaker index, word index, k) for a clip (k counts the speaker's earlier clips of that
word in the split), by (seed, tag, speaker) for a speaker's speed and pitch, by (seed, tag,
split, k) for silence and by (seed, tag, split) for the clip order (``info["generation"]``
spells them out). espeak-ng runs in a thread pool, but results are collected in job order, so
the same profile and seed give byte-identical arrays with the same espeak-ng, numpy and scipy
(``info`` records their versions and espeak-ng's variant list).

Model input
-----------
:func:`logmel`, specified exactly by :data:`FRONTEND` so that a TFLite graph can replicate it:
``tf.signal.stft(audio, frame_length=480, frame_step=160, fft_length=512)`` (periodic Hann
window, no padding), power ``|stft|²`` (257 bins) times ``tf.signal.linear_to_mel_weight_matrix
(40, 257, 16000, 0, 4000)`` (HTK mel, triangles peaking at 1, DC bin weight 0), then the level
``clip(9.788 · ln(mel + 1e-10) + 145.56, 0, 255)``: float32 ``(98, 40)`` per clip from float
audio ``int16 / 32768``. These are the numbers of the Speech Commands spectrograms the model
trains on (``scripts/speech_frontend_fit.py`` measures them against WAV files of the same
clips: a median of 3.6 levels off per pixel, JPEG coding included). The numpy version matches
TensorFlow to 0.01 of a level (tested).

Splits hold ``x`` float32 ``(N, 98, 40, 1)``, ``y`` int64, and ``meta``: ``snr_db`` (float32,
NaN for silence), ``speaker`` (int32, index into ``info["speakers"]``, -1 for silence),
``word`` (int32, index into ``info["words"]`` = keywords then unknown words, -1 for silence);
the test split also has ``audio``, the int16 clips ``(N, 16000)``, whose :func:`logmel` is
exactly its ``x`` (apps check their front end on them). Training and validation features are
rounded to float16 precision (at most 0.06 of a level off; it halves the cache, and is far
below what the noise moves them); the test split's are exact.

Real voices
-----------
:func:`real_voices` adds Speech Commands speakers (the vendored spectrograms of its training-
and validation-set speakers; :class:`RealProfile` says how many per profile) with seeded
augmented copies (:func:`augment`: time shift, gain, background noise added in power), and
:func:`with_real_voices` appends them to these splits, telling them apart by ``meta["source"]``.
The reference model trains on both; :func:`load` alone is the synthetic part.

Baseline
--------
:func:`baseline`: 13 MFCCs (orthonormal DCT-II of the log-mel), their mean and standard
deviation over time and the standard deviation of their frame differences (39 features,
standardised), logistic regression, trained on the training split. Test accuracy with seed 0:
``quick`` 0.50, ``full`` 0.52 (full, per SNR band: 5-10 dB 0.41, 10-20 dB 0.49, 20-30 dB 0.52, silence 1.0). Without the
delta features quick scored 0.45. Silence is always recognised; the hard speakers are
whisperf, travis, Alicia and linda (accuracy 0.1-0.35 on quick).

Limitations
-----------
* Synthetic speech: espeak-ng's formant voices are far more regular than children's speech;
  accuracy here says little about a classroom. Voices are accents of adult English.
* The test speakers are 2 voices × 22 variants; 8 of those variants are robosoft's (they share
  one family's share of clips, but the test leans robotic), and en-us-nyc is a variant of en-us,
  which trains. Variants of different names can still sound alike (whisper trains, whisperf
  tests; anika and anikaRobot).
* Noise is stationary and synthetic (coloured Gaussian); no reverberation, music or babble.
* ``_unknown_`` has only 30 words; a model may learn them rather than "not a keyword".
* The data depends on espeak-ng's version and voice files: other versions give other clips
  (the cache key and ``info`` record both).
* Licence: espeak-ng is GPL-3.0-or-later and so are its voice data files; the clips are its
  output, produced by edzoo's seeded code (``info["license"]``).
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import wave
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import scipy
import sklearn
from scipy import fft as sp_fft
from scipy import signal

from registry.core.errors import EdzooError
from zoo.datasets.common import Dataset, Split, cached, check_seed, split_sha256

__all__ = [
    "FRONTEND",
    "KEYWORDS",
    "LABELS",
    "PROFILES",
    "UNKNOWN_WORDS",
    "VOICES",
    "Dataset",
    "GenerationParams",
    "Profile",
    "SpeechToolsMissingError",
    "SynthesisError",
    "Split",
    "baseline",
    "load",
    "logmel",
    "snr_bands",
    "split_sha256",
]

KEYWORDS: tuple[str, ...] = ("yes", "no", "up", "down", "left", "right", "cat", "dog", "one", "two", "three", "go")
LABELS: tuple[str, ...] = (*KEYWORDS, "_unknown_", "_silence_")
UNKNOWN = LABELS.index("_unknown_")
SILENCE = LABELS.index("_silence_")

#: Everyday words spoken for ``_unknown_``: none is a keyword or sounds exactly like one, some
#: are near misses on purpose (tree~three, light~right, cup~up, dig~dog, cap~cat, goat~go, ...).
UNKNOWN_WORDS: tuple[str, ...] = (
    "bed", "bird", "house", "tree", "fish", "book", "sun", "red", "blue", "water",
    "happy", "mother", "ball", "cake", "milk", "apple", "chair", "hand", "girl", "boy",
    "seven", "zero", "light", "cup", "dig", "cap", "goat", "nose", "town", "wet",
)  # fmt: skip
WORDS: tuple[str, ...] = KEYWORDS + UNKNOWN_WORDS

#: The espeak-ng English voices used (``-v <voice>+<variant>``); mbrola voices are not installable here.
VOICES: tuple[str, ...] = (
    "en", "en-us", "en-gb-scotland", "en-gb-x-gbclan", "en-gb-x-rp", "en-gb-x-gbcwmd", "en-029", "en-us-nyc",
)  # fmt: skip

SAMPLE_RATE = 16_000
CLIP_SAMPLES = 16_000
ESPEAK_RATE = 22_050
_APT = "apt-get install espeak-ng"
_FORMAT = 2  # bump when the generator changes in a way GenerationParams does not capture
_SPLITS = ("train", "val", "test")
_BANDS = ((5.0, 10.0, "5-10 dB"), (10.0, 20.0, "10-20 dB"), (20.0, 30.0, "20-30 dB"))
# First entries of the SeedSequence keys that are not clip keys; clip keys start with a speaker
# index (< 10,000), so no key can repeat another (SeedSequence pads short keys with zeros).
_TAG_SPEAKER = 0x5BEA_0001
_TAG_ORDER = 0x5BEA_0002
_TAG_SILENCE = 0x5BEA_0003

#: The model's front end, exactly: what :func:`logmel` computes and a TFLite graph must replicate.
#: Its numbers are those of the Speech Commands spectrograms the model trains on (``sources.json``,
#: ``speech-commands-train``): measured against WAV files of the same clips, a level is
#: 9.788 ln(mel power) + 145.56, about 3.6 levels off per pixel (their JPEG coding included).
FRONTEND: dict[str, Any] = {
    "sample_rate": SAMPLE_RATE,
    "clip_samples": CLIP_SAMPLES,
    "input": "float32 mono audio in [-1, 1] (int16 / 32768), exactly 16000 samples",
    "frame_length": 480,
    "frame_step": 160,
    "fft_length": 512,
    "window": "hann periodic",
    "padding": "none",
    "power": 2,
    "mel_bins": 40,
    "lower_edge_hertz": 0.0,
    "upper_edge_hertz": 4000.0,
    "mel_scale": "htk",
    "log_offset": 1e-10,
    "level_scale": 9.788,
    "level_offset": 145.56,
    "level_range": [0.0, 255.0],
    "output_shape": [98, 40],
    "description": "tf.signal.stft(audio, frame_length=480, frame_step=160, fft_length=512) "
    "(periodic Hann window, no padding); power |stft|^2 (257 bins) @ "
    "tf.signal.linear_to_mel_weight_matrix(40, 257, 16000, 0.0, 4000.0) (HTK mel, triangles peaking at 1, "
    "DC bin weight 0); level = clip(9.788 * log(mel + 1e-10) + 145.56, 0, 255) -> (98, 40) float32",
}


class SpeechToolsMissingError(EdzooError, FileNotFoundError):
    """espeak-ng (or its voice data) is not installed."""

    code = "speech_tools_missing"
    exit_code = 11


class SynthesisError(EdzooError, RuntimeError):
    """espeak-ng ran but gave no usable audio."""

    code = "synthesis_failed"


@dataclass(frozen=True)
class GenerationParams:
    """How clips are spoken and degraded; the module docstring explains each step."""

    speed_wpm: tuple[float, float] = (110.0, 200.0)  # per speaker, uniform (espeak -s)
    pitch: tuple[float, float] = (20.0, 80.0)  # per speaker, uniform (espeak -p, 0..99)
    speed_jitter: float = 10.0  # per clip, uniform in ±speed_jitter wpm on top of the speaker's
    pitch_jitter: float = 5.0  # per clip, uniform in ±pitch_jitter on top of the speaker's
    trim_frame: int = 160  # 10 ms frames at 16 kHz for the silence trim
    trim_db: float = 40.0  # frames quieter than the loudest frame by more than this are trimmed from the ends
    peak_dbfs: tuple[float, float] = (-20.0, -1.0)  # speech peak level, uniform in dBFS
    snr_db: tuple[float, float] = (5.0, 30.0)  # uniform; speech power (over the word) / noise power
    silence_rms_dbfs: tuple[float, float] = (-70.0, -25.0)  # _silence_ clips: noise RMS, uniform in dBFS
    colour_floor_hz: float = 20.0  # pink and brown spectra are flat below this
    unknown_per_keyword: float = 1.5  # _unknown_ clips = this × clips of one keyword
    silence_per_keyword: float = 1.0  # _silence_ clips = this × clips of one keyword


@dataclass(frozen=True)
class Profile:
    """Clips of each keyword class per split (``_unknown_`` and ``_silence_`` follow from
    :class:`GenerationParams`)."""

    train: int
    val: int
    test: int


#: ``quick`` (~2.5k training clips, ~25 s on 2 cores) fits CI; ``full`` has ~4.9× the training clips (~170 s).
PROFILES: dict[str, Profile] = {
    "quick": Profile(train=170, val=28, test=48),
    "full": Profile(train=830, val=70, test=140),
}


@dataclass(frozen=True)
class _Espeak:
    binary: str
    version: str
    data_dir: Path
    variants: tuple[str, ...]


@dataclass(frozen=True)
class _Job:
    key: tuple[int, ...]  # the clip's SeedSequence entropy
    voice: str
    variant: str
    word: str
    speed: int
    pitch: int


# --------------------------------------------------------------------------- front end


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


# --------------------------------------------------------------------------- espeak-ng


def _find_espeak() -> _Espeak:
    """espeak-ng's binary, version, data folder and sorted variant names. Raises SpeechToolsMissingError."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechToolsMissingError(f"espeak-ng not found on PATH; install it with: {_APT}")
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SpeechToolsMissingError(f"espeak-ng at {binary} does not run ({e}); reinstall it with: {_APT}") from e
    version = re.search(r"text-to-speech:\s*(\S+)", out)
    data = re.search(r"Data at:\s*(.+)", out)
    data_dir = Path(data.group(1).strip()) if data else None
    variant_dir = data_dir / "voices" / "!v" if data_dir else None
    if variant_dir is None or not variant_dir.is_dir():
        raise SpeechToolsMissingError(f"espeak-ng's voice variants (voices/!v) not found; reinstall it with: {_APT}")
    variants = tuple(sorted(p.name for p in variant_dir.iterdir() if p.is_file()))
    if not variants:
        raise SpeechToolsMissingError(f"no voice variants in {variant_dir}; reinstall it with: {_APT}")
    return _Espeak(binary, version.group(1) if version else out.strip(), data_dir, variants)  # type: ignore[arg-type]


def _variant_family(name: str) -> str:
    return re.sub(r"\d+$", "", name).lower()


def _split_of(i: int) -> str:
    return "test" if i % 5 == 2 else "val" if i % 5 == 4 else "train"


def _assign(espeak: _Espeak) -> tuple[dict[str, str], dict[str, str]]:
    """Voice -> split and variant -> split (seed-independent): sorted voices, and variant families
    (name without trailing digits, lower case) sorted, position i % 5 == 2 test, == 4 val, else train."""
    voices = {v: _split_of(i) for i, v in enumerate(sorted(VOICES))}
    families = sorted({_variant_family(v) for v in espeak.variants})
    family_split = {f: _split_of(i) for i, f in enumerate(families)}
    return voices, {v: family_split[_variant_family(v)] for v in espeak.variants}


def _speakers(espeak: _Espeak, seed: int, p: GenerationParams) -> list[dict[str, Any]]:
    """Every usable (voice, variant) pair, sorted, with its split and its speed and pitch."""
    voice_split, variant_split = _assign(espeak)
    out: list[dict[str, Any]] = []
    for voice in sorted(VOICES):
        for variant in espeak.variants:
            if voice_split[voice] != variant_split[variant]:
                continue  # mixes the voices and variants of two splits: not used
            rng = np.random.default_rng([seed, _TAG_SPEAKER, len(out)])
            out.append(
                {
                    "voice": voice,
                    "variant": variant,
                    "family": _variant_family(variant),
                    "split": voice_split[voice],
                    "speed": float(rng.uniform(*p.speed_wpm)),
                    "pitch": float(rng.uniform(*p.pitch)),
                }
            )
    return out


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (ESPEAK_RATE, 1, 2):
            raise SynthesisError(
                f"expected 22050 Hz 16-bit mono from espeak-ng, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit"
            )
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


def _speak(binary: str, job: _Job, tmp: Path) -> np.ndarray:
    """espeak-ng's audio for ``job`` at 22,050 Hz, float64 in [-1, 1]."""
    path = tmp / f"{'-'.join(map(str, job.key))}.wav"
    args = [binary, "-v", f"{job.voice}+{job.variant}", "-s", str(job.speed), "-p", str(job.pitch)]
    try:
        subprocess.run([*args, "-w", str(path), job.word], capture_output=True, check=True)
        return _read_wav(path)
    except (OSError, subprocess.CalledProcessError, wave.Error, EOFError) as e:
        raise SynthesisError(f"espeak-ng failed for {job.voice}+{job.variant} {job.word!r}: {e}") from e
    finally:
        path.unlink(missing_ok=True)


# --------------------------------------------------------------------------- signal processing


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


# --------------------------------------------------------------------------- assembly


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


# --------------------------------------------------------------------------- real voices


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


# --------------------------------------------------------------------------- baseline


def _mfcc_features(x: np.ndarray) -> np.ndarray:
    """(N, 98, 40, 1) log-mel levels -> (N, 39): mean and std over time of 13 MFCCs, std of their deltas."""
    mfcc = sp_fft.dct(x[..., 0].astype(np.float64), type=2, norm="ortho", axis=-1)[..., :13]
    delta = np.diff(mfcc, axis=1)
    return np.concatenate([mfcc.mean(axis=1), mfcc.std(axis=1), delta.std(axis=1)], axis=1)


def baseline(data: Dataset, seed: int = 0) -> dict[str, Any]:
    """MFCC + logistic regression, trained on the training split only, scored on the test split.

    Returns the name, the test accuracy, the accuracy per SNR band (:func:`snr_bands`) and a
    description of the features."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    check_seed(seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=5000, random_state=seed))
    model.fit(_mfcc_features(data.train.x), data.train.y)
    predicted = model.predict(_mfcc_features(data.test.x))
    right = predicted == data.test.y
    bands = snr_bands(data.test.meta["snr_db"])
    return {
        "name": "MFCC + logistic regression",
        "accuracy": float(right.mean()),
        "per_snr_band": {str(b): float(right[bands == b].mean()) for b in sorted(set(bands.tolist()))},
        "features": "13 MFCCs (type-II orthonormal DCT of the 40 log-mel bins of logmel()), mean and std over "
        "the 98 frames, plus the std of their frame-to-frame differences: 39 features, standardised on train",
        "sklearn_version": sklearn.__version__,
    }
