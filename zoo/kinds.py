"""Task kinds: what a model's outputs mean, how they are scored, and the loss its fine-tunings
train with. ``edzoo optimize --task KIND`` picks one for a team's own model; the reference
models are built on the same kinds.

A kind is registered with :func:`register` (or from a package's ``edzoo.tasks`` entry point,
see :mod:`zoo.plugins`); the CLI lists :func:`names`. ``generic`` takes the metric the user
names from :data:`METRICS`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from registry.core.errors import NotFoundError, UsageError

from . import measure
from .datasets.common import Split

__all__ = ["METRICS", "Kind", "Metric", "get", "kinds", "metric", "names", "register"]

Scorer = Callable[[np.ndarray, Split, tuple[str, ...]], measure.Score]


@dataclass(frozen=True)
class Metric:
    """A quality measure of outputs against a split's targets: a fraction in [0, 1], higher is
    better; gates compare variants in points (hundredths)."""

    name: str
    summary: str
    score: Scorer


@dataclass(frozen=True)
class Kind:
    """One kind of task.

    ``output`` is ``softmax`` (one class per sample, or per token) or ``sigmoid`` (independent
    probabilities); ``loss`` (tf, y_true, y_pred, from_logits) -> per-sample loss replaces the
    sparse cross-entropy a softmax output trains with by default; ``targets`` (split) -> what
    that loss compares the outputs with. ``prune_layers`` and ``cluster_layers`` are the exact
    Keras layer classes the pruning and clustering recipes act on.
    """

    name: str
    summary: str
    manifest_task: str  # the manifest's `task`
    metric: str
    output: str = "softmax"
    loss: Callable[[Any, Any, Any, bool], Any] | None = None
    targets: Callable[[Split], np.ndarray] | None = None
    prune_layers: tuple[str, ...] = ("Conv2D", "Dense")
    cluster_layers: tuple[str, ...] | None = ("Conv2D", "Dense")
    preprocessing: Callable[[dict[str, Any], tuple[int, ...]], dict[str, Any]] | None = None
    layouts: tuple[str, ...] = ()  # data layouts (zoo.data adapters) it reads
    metrics: tuple[str, ...] = field(default_factory=tuple)  # others the user may name (generic)

    def scorer(self, metric_name: str | None = None) -> Scorer:
        return metric(metric_name or self.metric).score


# -- metrics ---------------------------------------------------------------------------------


def _valid(y: np.ndarray) -> np.ndarray:
    return np.asarray(y) >= 0  # -1 marks padding (tokens, answers) that nothing is scored on


def _accuracy(outputs: np.ndarray, split: Split, labels: tuple[str, ...]) -> measure.Score:
    """Top-1 accuracy over every labelled position (a sample, or a token of a sequence), with a
    95% Wilson interval and recall per class."""
    y = np.asarray(split.y)
    if outputs.ndim == y.ndim + 1:
        predictions = outputs.argmax(axis=-1)
    else:  # one sigmoid per sample: a binary classifier
        predictions = (outputs.reshape(y.shape) >= 0.5).astype(np.int64)
    ok = _valid(y)
    hits = (predictions == y) & ok
    n = int(ok.sum())
    correct = int(hits.sum())
    per_class = {}
    for c, label in enumerate(labels):
        mask = y == c
        if mask.any():
            per_class[label] = round(float(hits[mask].mean()), 6)
    return measure.Score(correct / max(n, 1), measure.wilson(correct, n), n, per_class, predictions)


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve (ties count half), by ranks; NaN with one class only."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    pos, neg = int(y.sum()), int((~y).sum())
    if not pos or not neg:
        return float("nan")
    ranks = rankdata(p)
    return float((ranks[y].sum() - pos * (pos + 1) / 2) / (pos * neg))


def auc_ci95(value: float, pos: int, neg: int) -> tuple[float, float]:
    """Hanley and McNeil's (1982) standard error of an AUC, as a normal 95% interval."""
    q1, q2 = value / (2 - value), 2 * value * value / (1 + value)
    var = (value * (1 - value) + (pos - 1) * (q1 - value * value) + (neg - 1) * (q2 - value * value)) / (pos * neg)
    half = 1.959964 * float(np.sqrt(max(var, 0.0)))
    return round(max(0.0, value - half), 6), round(min(1.0, value + half), 6)


def _binary_auc(outputs: np.ndarray, split: Split, labels: tuple[str, ...]) -> measure.Score:
    """AUC of a binary classifier: one sigmoid per sample, or the second of two softmax outputs."""
    y = np.asarray(split.y).reshape(-1)
    p = outputs.reshape(len(y), -1)
    if p.shape[1] > 2:
        raise UsageError(f"auc needs a binary classifier; the model has {p.shape[1]} outputs (use accuracy)")
    p = p[:, -1]
    return _auc_score(y, p, labels)


def _auc_score(
    y: np.ndarray, p: np.ndarray, labels: tuple[str, ...], extra: dict[str, Any] | None = None
) -> measure.Score:
    value = auc(y, p)
    pos, neg = int((y == 1).sum()), int((y == 0).sum())
    predictions = (p >= 0.5).astype(np.int64)
    per_class = {labels[c]: round(float((predictions[y == c] == c).mean()), 6) for c in (0, 1) if (y == c).any()}
    ci = auc_ci95(value, pos, neg) if pos and neg else (0.0, 1.0)
    return measure.Score(value, ci, len(y), per_class, predictions, extra or {})


def _macro_f1(outputs: np.ndarray, split: Split, labels: tuple[str, ...]) -> measure.Score:
    """F1 averaged over the classes present in the split (every labelled position counts)."""
    acc = _accuracy(outputs, split, labels)
    y = np.asarray(split.y)
    ok = _valid(y)
    pred, truth = acc.predictions[ok], y[ok]
    f1 = {}
    for c, label in enumerate(labels):
        tp = int(((pred == c) & (truth == c)).sum())
        fp = int(((pred == c) & (truth != c)).sum())
        fn = int(((pred != c) & (truth == c)).sum())
        if tp + fn:
            f1[label] = round(2 * tp / max(1, 2 * tp + fp + fn), 6)
    value = float(np.mean(list(f1.values()))) if f1 else 0.0
    # No closed form for F1's interval: report the accuracy's as a guide, and say so.
    return measure.Score(value, acc.ci95, acc.n, f1, acc.predictions, {"ci95_is_accuracy_interval": True})


def _kt_targets(split: Split) -> np.ndarray:
    """Per step: (the next answer's skill, its correctness); -1 at padding."""
    return np.stack([split.meta["skill"], split.y], axis=-1).astype(np.float32)


def _kt_loss(tf: Any, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
    """Binary cross-entropy of the output for the next answer's skill, padding masked out."""
    skill = tf.cast(y_true[..., 0], tf.int32)
    correct = y_true[..., 1]
    mask = tf.cast(correct >= 0, y_pred.dtype)
    picked = tf.gather(y_pred, tf.maximum(skill, 0), axis=-1, batch_dims=len(y_pred.shape) - 1)
    target = tf.maximum(correct, 0.0)
    if from_logits:
        loss = tf.nn.sigmoid_cross_entropy_with_logits(labels=target, logits=picked)
    else:
        picked = tf.clip_by_value(picked, 1e-7, 1 - 1e-7)
        loss = -(target * tf.math.log(picked) + (1 - target) * tf.math.log(1 - picked))
    return loss * mask


def _kt_auc(outputs: np.ndarray, split: Split, labels: tuple[str, ...]) -> measure.Score:
    """AUC of the predicted probability that the next answer is right, over every answered step."""
    skill = np.asarray(split.meta["skill"])
    y = np.asarray(split.y)
    ok = (y >= 0) & (skill >= 0)
    p = np.take_along_axis(outputs, np.maximum(skill, 0)[..., None], axis=-1)[..., 0]
    score = _auc_score(
        y[ok], p[ok], labels, {"answers": int(ok.sum()), "mean_predicted": round(float(p[ok].mean()), 4)}
    )
    # Decisions per step (padding as 0) so that the kernels' agreement is checked on all of them.
    return measure.Score(score.value, score.ci95, score.n, score.per_class, (p >= 0.5).astype(np.int64), score.extra)


def _token_loss(tf: Any, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
    """Sparse cross-entropy per token, padding (label -1) masked out."""
    import tf_keras as keras

    labels = tf.cast(y_true, tf.int32)
    mask = tf.cast(labels >= 0, y_pred.dtype)
    loss = keras.losses.sparse_categorical_crossentropy(tf.maximum(labels, 0), y_pred, from_logits=from_logits)
    return loss * mask


def _token_targets(split: Split) -> np.ndarray:
    return np.asarray(split.y, np.int64)


# -- preprocessing sections ---------------------------------------------------------------------


def _image_pre(info: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    if len(shape) != 3:
        return {"notes": f"input tensor of shape {list(shape)}"}
    h, w, c = shape
    return {
        "image": {
            "height": int(h),
            "width": int(w),
            "channels": int(c) if c in (1, 3, 4) else 3,
            "layout": "nhwc",
            "resize": "bilinear",
            "pixel_range": [0, 255],
            "range": [0, 1],
        },
        "notes": f"read from {info.get('format', 'the data')}: pixels divided by 255",
    }


def _audio_pre(info: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    audio = info.get("audio") or {}
    rate = int(audio.get("sample_rate", 16000))
    clip = int(audio.get("clip_samples", 16000))
    frontend = audio.get("frontend")
    return {
        "audio": {
            "sample_rate_hz": rate,
            "clip_ms": int(round(clip * 1000 / rate)),
            "features": "log-mel" if frontend else "waveform",
        },
        "notes": (
            f"log-mel front end: {frontend}" if frontend else "raw waveform in [-1, 1], zero-padded or cut to the clip"
        ),
    }


def _text_pre(info: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    return {
        "notes": f"token ids, right-padded with 0 to {shape[0] if shape else '?'}; 1 is an unknown token; the "
        "vocabulary is the build's vocab.json, tokens lowercased"
    }


def _kt_pre(info: dict[str, Any], shape: tuple[int, ...]) -> dict[str, Any]:
    n = info.get("n_skills", "S")
    return {
        "notes": f"one id per past answer: 1 + skill + {n} * correct (0 = padding), oldest first; output per step: "
        "the probability that the next answer on each skill is right"
    }


# -- registries ---------------------------------------------------------------------------------

_KINDS: dict[str, Kind] = {}
METRICS: dict[str, Metric] = {}


def register(kind: Kind) -> Kind:
    """Add a kind (a second one with the same name is a mistake, not an override)."""
    if kind.name in _KINDS and _KINDS[kind.name] is not kind:
        raise UsageError(f"task kind {kind.name!r} is registered twice")
    _KINDS[kind.name] = kind
    return kind


def register_metric(m: Metric) -> Metric:
    if m.name in METRICS and METRICS[m.name] is not m:
        raise UsageError(f"metric {m.name!r} is registered twice")
    METRICS[m.name] = m
    return m


def get(name: str) -> Kind:
    from . import plugins

    plugins.load()
    try:
        return _KINDS[name]
    except KeyError:
        raise NotFoundError(f"no task kind {name!r}; known: {', '.join(sorted(_KINDS))}") from None


def metric(name: str) -> Metric:
    from . import plugins

    plugins.load()
    try:
        return METRICS[name]
    except KeyError:
        raise UsageError(f"unknown metric {name!r}; known: {', '.join(sorted(METRICS))}") from None


def kinds() -> list[Kind]:
    from . import plugins

    plugins.load()
    return [_KINDS[k] for k in sorted(_KINDS)]


def names() -> list[str]:
    return [k.name for k in kinds()]


register_metric(Metric("accuracy", "top-1 accuracy over labelled samples or tokens", _accuracy))
register_metric(Metric("auc", "area under the ROC curve of a binary classifier", _binary_auc))
register_metric(Metric("macro_f1", "F1 averaged over classes", _macro_f1))
register_metric(Metric("kt_auc", "AUC of the next answer being right, over answered steps", _kt_auc))

register(
    Kind(
        "image-classification",
        "one class per image (NHWC float input)",
        "image-classification",
        "accuracy",
        preprocessing=_image_pre,
        layouts=("image-folder", "npz"),
    )
)
register(
    Kind(
        "audio-classification",
        "one class per clip, from a waveform or a declared front end (log-mel)",
        "audio-classification",
        "accuracy",
        preprocessing=_audio_pre,
        layouts=("speech-commands", "npz"),
    )
)
register(
    Kind(
        "token-classification",
        "one label per token of a sentence (int token ids; label -1 marks padding)",
        "token-classification",
        "accuracy",
        loss=_token_loss,
        targets=_token_targets,
        prune_layers=("Dense", "Embedding", "Conv1D"),
        cluster_layers=("Dense", "Embedding", "Conv1D"),
        preprocessing=_text_pre,
        layouts=("conll", "npz"),
    )
)
register(
    Kind(
        "knowledge-tracing",
        "per past answer, the probability of answering each skill right next (sigmoid per skill)",
        "knowledge-tracing",
        "kt_auc",
        output="sigmoid",
        loss=_kt_loss,
        targets=_kt_targets,
        prune_layers=("Dense", "Embedding", "Conv1D"),
        cluster_layers=("Dense", "Embedding", "Conv1D"),
        preprocessing=_kt_pre,
        layouts=("dkt", "npz"),
    )
)
register(
    Kind(
        "generic",
        "any classifier; name the metric with --metric (accuracy, auc, macro_f1)",
        "other",
        "accuracy",
        layouts=("csv", "npz"),
        metrics=("accuracy", "auc", "macro_f1"),
    )
)
