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

The package, one job per module: :mod:`._base` (labels, rates, profiles, errors),
:mod:`.frontend` (the shipped front end), :mod:`.espeak`, :mod:`.audio` (signal processing),
:mod:`.dataset` (:func:`load`), :mod:`.real_voices` and :mod:`.baseline`.
"""

from zoo.datasets.common import Dataset, Split, split_sha256

from ._base import (
    CLIP_SAMPLES,
    ESPEAK_RATE,
    FRONTEND,
    KEYWORDS,
    LABELS,
    PROFILES,
    SAMPLE_RATE,
    SILENCE,
    UNKNOWN,
    UNKNOWN_WORDS,
    VOICES,
    WORDS,
    GenerationParams,
    Profile,
    SpeechToolsMissingError,
    SynthesisError,
)
from .audio import resample
from .baseline import baseline
from .dataset import load
from .frontend import level_of, logmel, power_of, snr_bands
from .real_voices import (
    REAL_PROFILES,
    SOURCE_COMMANDS,
    SOURCE_ESPEAK,
    AugmentParams,
    RealProfile,
    augment,
    real_voices,
    with_real_voices,
)

__all__ = [
    "AugmentParams",
    "CLIP_SAMPLES",
    "Dataset",
    "ESPEAK_RATE",
    "FRONTEND",
    "GenerationParams",
    "KEYWORDS",
    "LABELS",
    "PROFILES",
    "Profile",
    "REAL_PROFILES",
    "RealProfile",
    "SAMPLE_RATE",
    "SILENCE",
    "SOURCE_COMMANDS",
    "SOURCE_ESPEAK",
    "SpeechToolsMissingError",
    "Split",
    "SynthesisError",
    "UNKNOWN",
    "UNKNOWN_WORDS",
    "VOICES",
    "WORDS",
    "augment",
    "baseline",
    "level_of",
    "load",
    "logmel",
    "power_of",
    "real_voices",
    "resample",
    "snr_bands",
    "split_sha256",
    "with_real_voices",
]
