"""Grammar: finding an error in a student's sentence (subject-verb agreement, articles, tense,
prepositions, plurals) and pointing at the word.

Input: int32 (1, 28) token ids from the tokenizer shipped as ``tokenizer.json`` (``[CLS]``,
then lowercased words and punctuation, right-padded with 0). Output: float32 (1, 28, 6), for
every token the probabilities of "ok" and of each error type at that token. A sentence has an
error when some token's P(ok) falls below 0.5; the most confident such token is where, and
its top class is which kind. Token-level training uses the position every generated error
records, so the app can underline the word rather than only flag the sentence.

Model: a small Transformer encoder (teacher), distilled into a much smaller one (student);
a 3-token convolution before attention gives the encoder word order. Data:
:mod:`zoo.datasets.grammar` (WordNet example sentences, errors made by seeded rules).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from . import Profile, Task, register

LEAD_POINTS = 10.0  # the teacher must beat the baseline by this many points
STUDENT_POINTS = 2.0  # the distilled student may trail the teacher by this many points
STUDENT_FRACTION = 1 / 5  # of the teacher's parameters


def _load(profile: str, seed: int, cache_dir: Path | None) -> Any:
    from zoo.datasets import grammar

    return grammar.load(profile, seed, cache_dir=cache_dir)


def _encoder(keras: Any, data: Any, width: int, layers_n: int, heads: int, ff: int, name: str, dropout: float) -> Any:
    layers = keras.layers
    vocab = int(data.info["vocab_size"])
    inputs = keras.Input(shape=data.train.x.shape[1:], dtype="int32", name="tokens")
    x = layers.Embedding(vocab, width, name="embedding")(inputs)
    local = layers.Conv1D(width, 3, padding="same", activation="relu", name="order")(x)
    x = layers.LayerNormalization(name="order_norm")(layers.Add(name="order_add")([x, local]))
    for i in range(1, layers_n + 1):
        attn = layers.MultiHeadAttention(heads, width // heads, dropout=dropout, name=f"attention{i}")(x, x)
        x = layers.LayerNormalization(name=f"attention{i}_norm")(layers.Add(name=f"attention{i}_add")([x, attn]))
        h = layers.Dense(ff, activation="relu", name=f"ff{i}_in")(x)
        h = layers.Dense(width, name=f"ff{i}_out")(h)
        if dropout:
            h = layers.Dropout(dropout, name=f"ff{i}_dropout")(h)
        x = layers.LayerNormalization(name=f"ff{i}_norm")(layers.Add(name=f"ff{i}_add")([x, h]))
    logits = layers.Dense(len(data.labels), name="logits")(x)
    probs = layers.Softmax(name="probs")(logits)
    return keras.Model(inputs, probs, name=name)


def _teacher(keras: Any, data: Any) -> Any:
    return _encoder(keras, data, 128, 2, 4, 256, "grammar_teacher", dropout=0.1)


def _student(keras: Any, data: Any) -> Any:
    return _encoder(keras, data, 32, 1, 2, 64, "grammar_student", dropout=0.0)


def _targets(split: Any) -> np.ndarray:
    """Per token: the error type at the recorded position, "ok" (0) everywhere else."""
    y = np.zeros(split.x.shape, dtype=np.int64)
    pos = split.meta["position"]
    rows = np.flatnonzero(pos >= 0)
    y[rows, pos[rows]] = split.y[rows]
    return y


def decide(outputs: np.ndarray, tokens: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Sentence decisions from token outputs (N, L, classes): the class id (0 = ok, else the
    error type of the most confident token) and that token's position (-1 for ok). Padding
    tokens (id 0) are ignored when ``tokens`` is given."""
    p_error = 1.0 - outputs[..., 0]
    if tokens is not None:
        p_error = np.where(tokens > 0, p_error, 0.0)
    where = p_error.argmax(axis=1)
    rows = np.arange(len(outputs))
    flagged = p_error[rows, where] >= 0.5
    kind = outputs[rows, where, 1:].argmax(axis=1) + 1
    return np.where(flagged, kind, 0), np.where(flagged, where, -1)


def _score(outputs: np.ndarray, split: Any, labels: Any) -> Any:
    """Binary accuracy (error or not), recall per error type, false alarms, and how often a
    flagged error is put at the right token and called the right type."""
    from zoo import measure

    pred, where = decide(outputs, split.x)
    y = split.y
    truth, flagged = y != 0, pred != 0
    correct = int((truth == flagged).sum())
    per_class = {}
    for c, label in enumerate(labels):
        mask = y == c
        if mask.any():
            per_class[label] = round(float((flagged[mask] != (c == 0)).mean()), 6)
    hits = truth & flagged
    pos = split.meta["position"]
    located = hits & (pos >= 0)
    return measure.Score(
        value=correct / len(y),
        ci95=measure.wilson(correct, len(y)),
        n=len(y),
        per_class=per_class,
        predictions=pred,
        extra={
            "recall_per_error_type": {k: v for k, v in per_class.items() if k != "ok"},
            "false_alarm_rate": round(float(flagged[~truth].mean()), 4),
            "right_token_when_flagged": round(float((where[located] == pos[located]).mean()), 4)
            if located.any()
            else 0,
            "right_type_when_flagged": round(float((pred[hits] == y[hits]).mean()), 4) if hits.any() else 0,
        },
    )


def _baseline(data: Any, seed: int) -> dict[str, Any]:
    from zoo.datasets import grammar

    b = grammar.baseline(data)
    return {
        "name": "character 2-5-gram TF-IDF + logistic regression",
        "value": round(b["accuracy_test"], 6),
        "recall_per_error_type": {k: round(v, 4) for k, v in b["recall_test"].items() if k != "ok"},
        **{k: v for k, v in b.items() if k != "recall_test"},
    }


def _bar(inp: Any) -> list[tuple[str, bool, str]]:
    teacher = inp.scores["fp32"].value
    checks = []
    if inp.baseline:
        b = inp.baseline["value"]
        checks.append(
            (
                f"teacher at least {LEAD_POINTS:g} points above the baseline",
                (teacher - b) * 100 >= LEAD_POINTS,
                f"fp32 {teacher:.4f} vs baseline {b:.4f}: {(teacher - b) * 100:+.2f} points",
            )
        )
    if "distilled_int8" in inp.scores:
        student = inp.scores["distilled_int8"].value
        fraction = inp.parameters["distilled_int8"] / inp.teacher_parameters
        checks.append(
            (
                f"distilled student within {STUDENT_POINTS:g} points of the teacher",
                (teacher - student) * 100 <= STUDENT_POINTS,
                f"{student:.4f} vs {teacher:.4f}: {(student - teacher) * 100:+.2f} points",
            )
        )
        checks.append(
            (
                f"student at most 1/{round(1 / STUDENT_FRACTION)} of the teacher",
                fraction <= STUDENT_FRACTION,
                f"{inp.parameters['distilled_int8']:,} of {inp.teacher_parameters:,} parameters ({fraction:.1%}); "
                f"{inp.sizes['distilled_int8']:,} B vs {inp.sizes['fp32']:,} B",
            )
        )
    return checks


def _files(data: Any, root: Path) -> list[tuple[str, str]]:
    (root / "tokenizer.json").write_text(json.dumps(data.info["tokenizer"], indent=1, ensure_ascii=False) + "\n")
    return [
        (
            "tokenizer.json",
            "the tokenizer every variant expects: lowercase rule, token pattern, special and unknown-word "
            "tokens with their rules, vocabulary in id order, max length and padding",
        )
    ]


def _golden_extra(data: Any, i: int) -> dict[str, Any]:
    return {"text": str(data.test.meta["text"][i]), "error_position": int(data.test.meta["position"][i])}


def _card(data: Any) -> dict[str, Any]:
    info = data.info
    return {
        "intended_use": (
            "Pointing a young writer (ages 8-12) at a likely grammar slip in one sentence they typed: "
            "subject-verb agreement, a/an and missing or doubled articles, verb tense, prepositions, and "
            "singular/plural after numbers and determiners. The app underlines the word and invites the "
            "student to look again."
        ),
        "limitations": [
            "Trained on WordNet's dictionary example sentences and verb-frame sentences with errors made by "
            "rules, not on children's writing: real student errors (spelling, run-ons, word order, several "
            "errors at once) are not covered and were not measured.",
            "Only five error types, one error per sentence; other mistakes go unnoticed, and some flagged "
            "'errors' may be acceptable English (rules sometimes produce grammatical variants).",
            "Sentences of up to 27 words and punctuation; longer ones are cut.",
            "Words outside the 4,000-word vocabulary become shape tokens (ends in -s, -ed, -ing, starts with "
            "a vowel...), so errors on rare words are harder to see.",
            "English only.",
        ],
        "training_data": {
            "description": (
                f"{len(data.train.y):,} sentences ({info['counts']['train']['ok']:,} clean) from WordNet 3.0 "
                "(Debian wordnet-base) example sentences and verb frames, filtered by a children's content "
                "blocklist, with one generated error in about half of them."
            ),
            "provenance": "Generated by zoo/datasets/grammar.py with a fixed seed; nothing is downloaded. "
            "Split by source sentence (a hash of the clean text): a sentence and its corrupted copy stay together.",
            "license": "WordNet 3.0 license (Princeton University; permissive, keep the copyright notice)",
        },
        "evaluation_data": {
            "description": "Held-out source sentences (hash of the clean text % 10 == 0), with their generated errors.",
            "provenance": "zoo/datasets/grammar.py test split.",
            "sha256": info["sha256"]["test"],
            "size": int(len(data.test.y)),
        },
        "ethical_considerations": (
            "Feedback on a child's writing must encourage: show a hint, never a score, and let the student "
            "ignore it. The text stays on the device. The content filter is a word list: review flagged "
            "sentences before showing training examples to children."
        ),
    }


def _preprocessing() -> dict[str, Any]:
    return {
        "text": {
            "tokenizer": "word",
            "vocab_file": "tokenizer.json",
            "max_length": 28,
            "lowercase": True,
            "pad_id": 0,
        },
        "notes": "Tokenize as tokenizer.json says: lowercase A-Z, split with its regex, map each token to its "
        "id or, when unknown, to the first matching unknown-shape token; prepend [CLS] (1); cut to 28; pad "
        "right with 0. Output [1, 28, 6]: per token P(ok) and P(each error type); flag the sentence when the "
        "lowest P(ok) over real tokens is below 0.5.",
    }


TASK = register(
    Task(
        kind="token-classification",
        name="grammar",
        version="1.0.0",
        task_type="grammar-error-detection",
        summary="Finds a grammar error in a short English sentence (agreement, article, tense, preposition, "
        "plural) and points at the word, for writing-support apps.",
        subjects=("literacy", "english-language-arts"),
        grades=("3", "4", "5", "6"),
        languages=("en",),
        license="Apache-2.0",
        load_data=_load,
        teacher=_teacher,
        student=_student,
        card=_card,
        score=_score,
        targets=_targets,
        prune_layers=("Dense", "Embedding"),
        cluster_layers=("Dense", "Embedding"),
        student_max_fraction=STUDENT_FRACTION,
        # Per-token outputs are mostly "ok": a low temperature keeps the teacher's few error tokens sharp.
        distill_temperature=2.0,
        distill_alpha=0.5,
        baseline=_baseline,
        bar=_bar,
        files=_files,
        golden_extra=_golden_extra,
        preprocessing=_preprocessing(),
        education={
            "age_band": "8-12",
            "privacy_class": "student-input-on-device",
            "student_data": "One sentence the student wrote, per call; nothing is kept.",
            "runs_on": "The student's device, offline; the text never leaves it.",
        },
        profiles={
            "quick": Profile(
                "quick",
                epochs=12,
                finetune_epochs=2,
                batch_size=64,
                learning_rate=1e-3,
                bench_runs=200,
                bench_warmup=20,
                prune_sparsity=0.6,
                pcqat_sparsity=0.6,
                version_suffix="-quick",
                cosine=True,
                student_epochs=20,
            ),
            "full": Profile(
                "full",
                epochs=20,
                finetune_epochs=3,
                batch_size=64,
                learning_rate=1e-3,
                bench_runs=1000,
                bench_warmup=100,
                cosine=True,
                student_epochs=40,
            ),
        },
    )
)
