"""Speech: keyword spotting for early readers (yes no up down left right cat dog one two three
go, plus "unknown word" and "silence").

Input: 1 s of 16 kHz mono audio turned into a (98, 40) spectrogram of log-mel levels by the
front end that :data:`zoo.datasets.speech.FRONTEND` specifies exactly (the front end of the
Speech Commands spectrograms the model trains on); the version also ships that front
end as ``frontend.tflite`` (1 s of float audio in [-1, 1] → the model's input), so an app can
run it with the same LiteRT it runs the model with. Output: probabilities over 14 classes.
Model: a small depthwise-separable CNN (DS-CNN, Zhang et al., "Hello Edge", 2017).
Data: :mod:`zoo.datasets.speech`: real voices (Speech Commands speakers of its training and
validation sets, :func:`~zoo.datasets.speech.real_voices`) and espeak-ng voices for coverage
(speakers held out by voice and variant); the held-out source is Speech Commands' test set.
"""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from . import Profile, Task, register

# The bar (fp32, test split): unseen speakers, and apart its recorded ones. 1.0's bar was 90% on
# synthetic voices alone, which it met while reading 34% of real recordings; 2.0's test split
# holds recorded speakers too, and these are the harder part.
MIN_ACCURACY = 0.85
CONFUSIONS = 8  # confusion pairs reported


def _load(profile: str, seed: int, cache_dir: Path | None) -> Any:
    from dataclasses import asdict

    from zoo.datasets import sources, speech

    data = speech.load(profile, seed, cache_dir=cache_dir)
    params = speech.AugmentParams()
    real, lists = speech.real_voices(profile, seed, params)
    info = {
        **sources.info("speech-commands-train").to_dict(),
        "words": lists["words"],
        "speakers": len(lists["speakers"]),
        "profile": asdict(speech.REAL_PROFILES[profile]),
        "augment": asdict(params),
    }
    return speech.with_real_voices(data, real, info)


def _ds_cnn(keras: Any, data: Any, width: int, blocks: int, name: str, dropout: float) -> Any:
    """A 10x4 convolution straight on the log-mel input, strided 4 in time and 2 in frequency
    (98 frames of 10 ms in, 25 out), depthwise-separable blocks (3x3 depthwise, 1x1 pointwise,
    each with batch norm and ReLU), global average pooling and a dense layer. The first batch
    norm does the input scaling: the features need no standardization of their own."""
    layers = keras.layers
    inputs = keras.Input(shape=data.train.x.shape[1:], name="logmel")
    x = layers.Conv2D(width, (10, 4), strides=(4, 2), padding="same", use_bias=False, name="conv")(inputs)
    x = layers.BatchNormalization(name="conv_bn")(x)
    x = layers.ReLU(name="conv_relu")(x)
    for i in range(1, blocks + 1):
        x = layers.DepthwiseConv2D(3, padding="same", use_bias=False, name=f"dw{i}")(x)
        x = layers.BatchNormalization(name=f"dw{i}_bn")(x)
        x = layers.ReLU(name=f"dw{i}_relu")(x)
        x = layers.Conv2D(width, 1, use_bias=False, name=f"pw{i}")(x)
        x = layers.BatchNormalization(name=f"pw{i}_bn")(x)
        x = layers.ReLU(name=f"pw{i}_relu")(x)
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(len(data.labels), name="logits")(x)
    probs = layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs, name=name)


def _teacher(keras: Any, data: Any) -> Any:
    """64 channels, 5 blocks: ~28k parameters."""
    return _ds_cnn(keras, data, 64, 5, "speech_teacher", dropout=0.2)


STUDENT_WIDTH, STUDENT_BLOCKS = 36, 4


def _student(keras: Any, data: Any) -> Any:
    """Narrower, under a third of the teacher's parameters."""
    return _ds_cnn(keras, data, STUDENT_WIDTH, STUDENT_BLOCKS, "speech_student", dropout=0.0)


MAX_TAKEN = 0.05  # the share of other words an app may take for a keyword (the goal's operating point)


def _keywords_at_false_alarms(
    outputs: np.ndarray, y: np.ndarray, unknown: int, n_keywords: int, max_taken: float
) -> dict[str, Any] | None:
    """Keywords heard when an app accepts the most likely keyword only if its probability is at
    least a threshold, at the lowest threshold that takes at most ``max_taken`` of the other
    words (``_unknown_`` clips) for a keyword; silence clips count in neither. A keyword clip is
    heard when its most likely keyword is the one said and passes the threshold. None when the
    split has no keyword or no other word. The threshold is chosen on the clips it is reported
    on, as an app would calibrate on its own recordings: an optimistic figure, reported beside
    the plain argmax ones."""
    from zoo import measure

    keyword, other = y < n_keywords, y == unknown
    if not keyword.any() or not other.any():
        return None
    probs = np.asarray(outputs, np.float64)[:, :n_keywords]
    best, score = probs.argmax(axis=1), probs.max(axis=1)
    others = np.sort(score[other])[::-1]
    allowed = int(np.floor(max_taken * others.size))  # other words that may pass
    # accept score >= t: the smallest t with at most `allowed` other words at or above it
    t = float(np.nextafter(others[allowed], np.inf)) if allowed < others.size else 0.0
    taken = int((score[other] >= t).sum())
    heard = int(((best == y) & (score >= t))[keyword].sum())
    n = int(keyword.sum())
    return {
        "accuracy": round(heard / n, 6),
        "ci95": [round(v, 6) for v in measure.wilson(heard, n)],
        "n": n,
        "threshold": round(t, 6),
        "other_words_taken": round(taken / int(other.sum()), 6),
    }


def _score(outputs: np.ndarray, split: Any, labels: Any) -> Any:
    """Accuracy over the 14 classes; apart, the keywords (said a keyword, heard that keyword)
    and the other words (said a word that is not a keyword, heard no keyword); per SNR band
    where the clips were mixed at a known SNR; the most frequent confusions; and the operating
    point an app gets by thresholding the keyword score (see :func:`_keywords_at_false_alarms`)."""
    from zoo import measure
    from zoo.datasets import speech

    base = measure.accuracy_score(outputs, split.y, labels)
    pred, y = base.predictions, split.y
    extra: dict[str, Any] = {}

    def part(name: str, mask: np.ndarray, right: np.ndarray) -> None:
        n = int(mask.sum())
        if n:
            k = int(right[mask].sum())
            extra[name] = {"accuracy": round(k / n, 6), "ci95": [round(v, 6) for v in measure.wilson(k, n)], "n": n}

    keyword = y < len(speech.KEYWORDS)
    part("keywords", keyword, pred == y)
    part("other_words_not_taken_for_a_keyword", y == labels.index("_unknown_"), pred >= len(speech.KEYWORDS))
    point = _keywords_at_false_alarms(outputs, y, labels.index("_unknown_"), len(speech.KEYWORDS), MAX_TAKEN)
    if point is not None:
        extra["keywords_at_5pct_other_words_taken"] = point
    source = split.meta.get("source")
    if source is not None:
        part("recorded_speakers", source == speech.SOURCE_COMMANDS, pred == y)
        part("synthesized_speakers", source == speech.SOURCE_ESPEAK, pred == y)
    if "snr_db" in split.meta:
        synthetic = source == speech.SOURCE_ESPEAK if source is not None else np.ones(y.size, bool)
        bands = np.where(synthetic, speech.snr_bands(np.where(synthetic, split.meta["snr_db"], np.nan)), "")
        per_band = {}
        for band in sorted(
            set(bands.tolist()) - {""}, key=lambda b: (b == "silence", float(b.split("-")[0]) if b[0].isdigit() else 0)
        ):
            mask = bands == band
            per_band[band] = round(float((pred[mask] == y[mask]).mean()), 4)
        extra["accuracy_per_snr_band"] = per_band
    pairs = Counter((labels[int(t)], labels[int(p)]) for t, p in zip(y, pred, strict=True) if t != p)
    extra["confusions"] = [
        {"said": said, "heard": heard, "count": n, "share_of_said": round(n / int((y == labels.index(said)).sum()), 4)}
        for (said, heard), n in pairs.most_common(CONFUSIONS)
    ]
    return measure.Score(base.value, base.ci95, base.n, base.per_class, pred, extra=extra)


def _shift(profile: str, seed: int, cache_dir: Path | None, data: Any) -> tuple[str, Any]:
    """Real recordings never trained on: the vendored Speech Commands test clips (crowdsourced
    speakers, their own microphones), each cut or zero-padded to 16,000 samples as the manifest
    tells apps to, through the shipped front end. Words that are not keywords are _unknown_.
    The same clips in every profile (648; a seed does not change them)."""
    from zoo.datasets import sources, speech
    from zoo.datasets.common import Split

    rec = sources.speech_commands()
    clips = np.zeros((len(rec.audio), speech.CLIP_SAMPLES), np.float32)
    for i, a in enumerate(rec.audio):
        clips[i, : min(len(a), speech.CLIP_SAMPLES)] = a[: speech.CLIP_SAMPLES]
    unknown = speech.LABELS.index("_unknown_")
    y = np.array([speech.LABELS.index(w) if w in speech.KEYWORDS else unknown for w in rec.words], np.int64)[rec.y]
    meta = {"speaker": rec.speaker.astype(np.int32), "word": rec.y.astype(np.int32)}
    info = sources.info("speech-commands")
    keywords = int((y < len(speech.KEYWORDS)).sum())
    source = (
        f"Speech Commands v0.02 test clips ({len(y):,} recordings, {keywords:,} of keywords, by "
        f"{len(set(rec.speaker.tolist())):,} crowdsourced speakers on their own microphones; adults as far as "
        f"documented; no children documented); {info.license}"
    )
    return source, Split(speech.logmel(clips)[..., None], y, meta)


def _baseline(data: Any, seed: int) -> dict[str, Any]:
    from zoo.datasets import speech

    b = speech.baseline(data, seed)
    return {**b, "value": round(float(b["accuracy"]), 6)}


def _bar(inp: Any) -> list[tuple[str, bool, str]]:
    fp32 = inp.scores["fp32"]
    checks = [
        (
            f"accuracy >= {MIN_ACCURACY:.0%} on unseen speakers",
            fp32.value >= MIN_ACCURACY,
            f"fp32 {fp32.value:.4f}",
        )
    ]
    recorded = fp32.extra.get("recorded_speakers")
    if recorded:
        checks.append(
            (
                f"accuracy >= {MIN_ACCURACY:.0%} on unseen recorded speakers",
                recorded["accuracy"] >= MIN_ACCURACY,
                f"fp32 {recorded['accuracy']:.4f} (n={recorded['n']})",
            )
        )
    if inp.baseline:
        b = inp.baseline["value"]
        checks.append(
            ("above the MFCC + logistic regression baseline", fp32.value > b, f"fp32 {fp32.value:.4f} vs {b:.4f}")
        )
    return checks


def frontend_tflite() -> bytes:
    """The log-mel front end as a float32 LiteRT model: ``audio`` float32 (1, 16000) in [-1, 1]
    → ``logmel`` float32 (1, 98, 40, 1) levels, built from the same :data:`FRONTEND` numbers."""
    from zoo import _tf
    from zoo.datasets.speech import FRONTEND

    tf = _tf.load().tf
    f = FRONTEND
    mel = tf.signal.linear_to_mel_weight_matrix(
        num_mel_bins=f["mel_bins"],
        num_spectrogram_bins=f["fft_length"] // 2 + 1,
        sample_rate=f["sample_rate"],
        lower_edge_hertz=f["lower_edge_hertz"],
        upper_edge_hertz=f["upper_edge_hertz"],
    )

    @tf.function(input_signature=[tf.TensorSpec([1, f["clip_samples"]], tf.float32, name="audio")])
    def frontend(audio: Any) -> Any:
        stft = tf.signal.stft(
            audio, frame_length=f["frame_length"], frame_step=f["frame_step"], fft_length=f["fft_length"]
        )
        power = tf.math.real(stft) ** 2 + tf.math.imag(stft) ** 2
        logmel = tf.math.log(tf.tensordot(power, mel, 1) + f["log_offset"])
        lo, hi = f["level_range"]
        level = tf.clip_by_value(f["level_scale"] * logmel + f["level_offset"], lo, hi)
        return {"logmel": level[..., None]}

    converter = tf.lite.TFLiteConverter.from_concrete_functions([frontend.get_concrete_function()], frontend)
    with contextlib.redirect_stdout(io.StringIO()), _tf.quiet_native_stderr():
        return converter.convert()  # type: ignore[no-any-return]


def _files(data: Any, root: Path) -> list[tuple[str, str]]:
    (root / "frontend.tflite").write_bytes(frontend_tflite())
    return [
        (
            "frontend.tflite",
            "the log-mel front end as a float32 LiteRT model: input audio float32 [1, 16000] (16 kHz, "
            "int16 / 32768) -> logmel float32 [1, 98, 40, 1] (levels 0..255), the input of every variant",
        )
    ]


def _golden_extra(data: Any, i: int) -> dict[str, Any]:
    """The raw clip of the first two samples (espeak-ng clips: the test split puts them first; the
    Speech Commands clips have only spectrograms), so an app can check its own front end."""
    from zoo.datasets import speech

    source = data.test.meta.get("source")
    synthetic = source is None or int(source[i]) == speech.SOURCE_ESPEAK
    return {"audio_int16": data.test.meta["audio"][i].astype(int).tolist()} if i < 2 and synthetic else {}


def _card(data: Any) -> dict[str, Any]:
    from zoo.datasets import sources
    from zoo.datasets.speech import KEYWORDS, SOURCE_COMMANDS

    info = data.info
    sc, sc_info = sources.speech_commands(), sources.info("speech-commands")
    tr_info = sources.info("speech-commands-train")
    splits = info["splits"]
    rc = info["speech_commands"]
    rc_profile = rc["profile"]
    real = data.train.meta["source"] == SOURCE_COMMANDS
    rc_n = int(real.sum())
    rc_train = int((real & (data.train.meta["speaker"] >= 0)).sum()) // (1 + rc_profile["copies"])
    rc_speakers = len(set(data.train.meta["speaker"][real & (data.train.meta["speaker"] >= 0)].tolist()))
    return {
        "intended_use": (
            "Recognizing one of 12 spoken words (yes no up down left right cat dog one two three go) in "
            "reading and numeracy apps for early readers (ages 5-8): answering a yes/no question, moving "
            "in a game, naming a picture or a number. It also says when a word is not one of them "
            "(_unknown_) or nobody spoke (_silence_)."
        ),
        "limitations": [
            "Trained on recorded adults (Speech Commands' crowdsourced volunteers, on their own phones and "
            "laptops) and on espeak-ng voices; no child's voice was in training or in any test. Children's "
            "higher voices, reverberation and classroom babble were not measured; test with recordings of "
            "your pupils before relying on it.",
            "The Speech Commands training clips were vendored as 8-bit spectrograms: their levels match the "
            "shipped front end to about 3.6 levels (1.6 dB) per pixel, not exactly.",
            f"The other words that train _unknown_ are {len(rc['words']) - len(KEYWORDS)} recorded words and "
            "30 synthesized ones; other words may be heard as a keyword (see the confusion pairs).",
            "One word per 1 s window; a word that does not fit in 1 s, or two words, are not handled.",
            "Only frequencies up to 4 kHz are used (the front end of the training spectrograms).",
            "Accuracy falls with noise: see the accuracy per SNR band (synthetic clips).",
        ],
        "training_data": {
            "description": (
                f"{info['sizes']['train']:,} one-second clips: {rc_train:,} of Speech Commands v0.02 speakers "
                f"of its training set ({rc_speakers:,} speakers; each clip with {rc_profile['copies']} augmented "
                "copy: time shift, gain, background noise) and background-noise silence, and "
                f"{info['sizes']['train'] - rc_n:,} synthesized by espeak-ng "
                f"{info.get('espeak_ng', {}).get('version', '')} with {len(splits['voices']['train'])} voices "
                "and their variants, random speed, pitch, level, position and coloured noise at 5-30 dB SNR."
            ),
            "provenance": f"Speech Commands spectrograms from {tr_info.repo} at {tr_info.commit[:10]}, vendored "
            "in zoo/datasets/sources with their sha256 (zoo.datasets.speech.real_voices); espeak-ng clips "
            "generated by zoo/datasets/speech/ with a fixed seed; nothing is downloaded.",
            "license": f"Speech Commands: {tr_info.license}; espeak-ng clips are the output of espeak-ng "
            "(GPL-3.0-or-later, with its voice data) run by edzoo's seeded code",
            "people": f"Speech Commands: {tr_info.people}",
        },
        "evaluation_data": {
            "description": "Test split: Speech Commands speakers of its validation set never trained on "
            "(half of them; the other half validates) and held-out synthetic speakers, voices "
            f"{', '.join(splits['voices']['test'])} with variants never used for training or validation. "
            f"Held-out source: {len(sc.y):,} real recordings from the Speech Commands v0.02 test set "
            f"({len(sc.speakers):,} speakers), never used for training, calibration or choosing.",
            "provenance": "zoo/datasets/speech/ test split (the synthetic clips' raw audio is kept beside "
            f"the features); Speech Commands test clips from {sc_info.repo} at {sc_info.commit[:10]}, vendored "
            "in zoo/datasets/sources with their sha256.",
            "license": f"Speech Commands: {sc_info.license}",
            "people": f"Speech Commands: {sc_info.people}",
            "sha256": info["sha256"]["test"],
            "size": int(len(data.test.y)),
        },
        "ethical_considerations": (
            "The app hears the child's voice: process audio on the device, never record or upload it. "
            "A missed word must never count against a child; offer a tap alternative. Accents, children's "
            "voices and speech differences not covered by the training speakers will be recognised less well."
        ),
    }


def _preprocessing() -> dict[str, Any]:
    from zoo.datasets.speech import FRONTEND

    f = FRONTEND
    return {
        "audio": {
            "sample_rate_hz": f["sample_rate"],
            "clip_ms": 1000,
            "features": "log-mel",
            "window_ms": f["frame_length"] * 1000 / f["sample_rate"],
            "hop_ms": f["frame_step"] * 1000 / f["sample_rate"],
            "fft_size": f["fft_length"],
            "num_mel_bins": f["mel_bins"],
            "lower_hz": f["lower_edge_hertz"],
            "upper_hz": f["upper_edge_hertz"],
            "log_offset": f["log_offset"],
            "level_scale": f["level_scale"],
            "level_offset": f["level_offset"],
            "level_range": list(f["level_range"]),
        },
        "notes": "Mono 16 kHz audio as float (int16 / 32768), exactly 16,000 samples (pad with zeros or cut). "
        "STFT: 480-sample frames (periodic Hann), step 160, FFT 512, no padding -> 98 frames; power |X|^2; "
        "40 HTK-mel triangles 0-4000 Hz as tf.signal.linear_to_mel_weight_matrix; level = "
        "clip(9.788 * ln(mel + 1e-10) + 145.56, 0, 255); shape [98, 40, 1]. frontend.tflite does exactly this.",
    }


TASK = register(
    Task(
        kind="audio-classification",
        name="speech",
        version="2.0.0",
        task_type="keyword-spotting",
        summary="Recognizes 12 spoken words for early readers (yes, no, up, down, left, right, cat, dog, one, two, "
        "three, go) plus unknown word and silence, from 1 s of 16 kHz audio.",
        subjects=("literacy", "math"),
        grades=("K", "1", "2"),
        languages=("en",),
        license="Apache-2.0",
        load_data=_load,
        teacher=_teacher,
        student=_student,
        card=_card,
        score=_score,
        prune_layers=("Conv2D", "Dense"),  # the strided and pointwise convolutions, not the depthwise ones
        cluster_layers=("Conv2D", "Dense"),
        clusters=32,  # 16 shared values cost 4-5 points on these small kernels
        # The label-only student is the control that shows what distillation adds. On unseen
        # speakers it lost 4.58 points in the full profile (distilled: 1.62): its gate is wider than
        # the recipe's 3, and selection never prefers it (same size as the distilled student, less
        # accurate).
        max_drop={"student_int8": 5.0},
        baseline=_baseline,
        bar=_bar,
        shift=_shift,
        files=_files,
        golden_extra=_golden_extra,
        preprocessing=_preprocessing(),
        education={
            "age_band": "5-8",
            "privacy_class": "student-input-on-device",
            "student_data": "One second of the child's voice per call, as log-mel levels; nothing is kept.",
            "runs_on": "The student's device, offline; audio never leaves it.",
        },
        profiles={
            "quick": Profile(
                "quick",
                epochs=30,
                finetune_epochs=3,
                bench_runs=200,
                bench_warmup=20,
                prune_sparsity=0.6,
                pcqat_sparsity=0.6,
                version_suffix="-quick",
                cosine=True,
                student_epochs=30,
                # 6,905 training clips are too few for 90% on unseen speakers: quick reports the bar,
                # and its 1,139 test clips have a 95% interval of about +-2 points.
                enforce_bar=False,
                gate_slack=3.0,
                # and a drop is judged by the lower end of its 95% paired interval, on the test
                # split and on the 648 real recordings alike
                paired_gate=True,
            ),
            "full": Profile(
                "full",
                # 38,700 training clips (3.2x those of 1.0): 30 epochs are 1.6x the steps of 1.0's 60
                epochs=30,
                finetune_epochs=5,
                bench_runs=1000,
                bench_warmup=100,
                cosine=True,
                # 30 student epochs left the distilled student 3.27 points under the teacher (2.0
                # allowed; 87.35% vs 89.20% on the held-out clips); 1.0's student passed with 60
                student_epochs=60,
                # At 75% the pruned DS-CNN lost 2.76 points on unseen speakers (allowed: 1.5), and PCQAT
                # at 85% lost 5.3: its pointwise convolutions have few weights to spare.
                prune_sparsity=0.6,
                pcqat_sparsity=0.6,
            ),
        },
    )
)
