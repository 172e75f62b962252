"""What every part of the speech dataset shares: the labels, the sample rate, the profiles and
generation parameters, the errors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from registry.core.errors import EdzooError

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
