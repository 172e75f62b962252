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
:mod:`zoo.datasets.grammar` (WordNet example sentences and generated simple sentences in the
register children write, errors made by seeded rules).

Held-out source (``Task.shift``, measured and gated for every variant): BLiMP's minimal pairs
(Warstadt et al. 2020, CC BY 4.0; :func:`zoo.datasets.sources.blimp`), both sentences of each
pair, never trained on: sentences from linguists' templates, no learners. Besides the binary
accuracy at the app's 0.5 rule, the score reports the sentence-level operating point an app
can choose: recall on the ungrammatical sentences at the threshold where at most 5% of the
grammatical ones are flagged (:func:`recall_at_false_alarms`), overall and per error type
(``sentence_recall_at_5pct_false_alarms`` in metrics.json, for the test split too).

Measured (``scripts/grammar_heldout.py --profile full --litert``, seed 0, one core, teacher
only: the full profile's 20 epochs; data format 4, unknown-word rules 2): on all 10,000 BLiMP
pairs, fp32 flags 44.4 % of the ungrammatical sentences at 5.0 % false alarms (agreement 43.4 %,
tense 61.3 %, plural 41.5 %), int8 44.6 % (its softmax runs in float,
:func:`zoo.recipes.float_output_activation`). With rules 1 and 60 irregular nouns it was 33.6 %;
before the simple sentences (WordNet only, quick profile) 6 %; the goal is 60 %. On the test
split the same operating point gives 94.4 % (int8 94.1 %).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from . import Profile, Task, register

#: Minimal pairs of the held-out source (BLiMP) per profile: quick keeps a seeded subset of this
#: many per error type, so CI stays fast; None: all 10,000.
SHIFT_PAIRS_PER_TYPE: dict[str, int | None] = {"quick": 100, "full": None}
#: The sentence-level operating point: at most this share of grammatical sentences flagged.
FALSE_ALARM_CAP = 0.05
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


def sentence_scores(outputs: np.ndarray, tokens: np.ndarray) -> np.ndarray:
    """How sure the model is that a sentence has an error: the highest P(error) = 1 - P(ok)
    over its real tokens (padding, id 0, ignored). The app's rule flags at 0.5."""
    p_error = np.where(tokens > 0, 1.0 - np.asarray(outputs, np.float64)[..., 0], 0.0)
    return p_error.max(axis=1)


def recall_at_false_alarms(bad: np.ndarray, good: np.ndarray, cap: float = FALSE_ALARM_CAP) -> dict[str, float]:
    """Recall on ungrammatical sentences at the threshold where at most ``cap`` of the
    grammatical ones are flagged: a sentence is flagged when its score is strictly above the
    threshold, which is the ``k+1``-th highest good score (``k = floor(cap * n_good)``), so
    ties (quantized outputs) never push the false alarms over the cap. Raises ValueError
    without good or bad sentences."""
    bad, good = np.asarray(bad, np.float64), np.asarray(good, np.float64)
    if not bad.size or not good.size:
        raise ValueError(f"need good and bad sentences, got {good.size} good and {bad.size} bad")
    k = int(np.floor(cap * good.size + 1e-9))
    threshold = float(np.sort(good)[::-1][k]) if k < good.size else -np.inf
    return {
        "threshold": threshold,
        "false_alarm_rate": float((good > threshold).mean()),
        "recall": float((bad > threshold).mean()),
    }


def _sentence_figures(outputs: np.ndarray, split: Any, labels: Any) -> dict[str, Any]:
    """Recall at <= 5% false alarms over all error types (one threshold, set on the ok
    sentences) and per type at that threshold; with pairs (``meta["pair"]``), also how often
    the bad sentence of a pair scores above its good one."""
    scores = sentence_scores(outputs, split.x)
    y = np.asarray(split.y)
    good = scores[y == 0]
    if not good.size or not (y != 0).any():
        return {}
    overall = recall_at_false_alarms(scores[y != 0], good)
    t = overall["threshold"]
    out: dict[str, Any] = {
        "false_alarm_cap": FALSE_ALARM_CAP,
        "threshold": round(t, 6) if np.isfinite(t) else None,
        "false_alarm_rate": round(overall["false_alarm_rate"], 4),
        "recall": round(overall["recall"], 4),
        "recall_per_error_type": {
            label: round(float((scores[y == c] > t).mean()), 4)
            for c, label in enumerate(labels)
            if c and (y == c).any()
        },
        "n_good": int(good.size),
        "n_bad": int((y != 0).sum()),
    }
    pair = split.meta.get("pair")
    if pair is not None:
        good_of = {int(p): scores[i] for i, p in enumerate(pair) if y[i] == 0}
        wins = {}
        for c, label in enumerate(labels):
            rows = [i for i in np.flatnonzero(y == c) if int(pair[i]) in good_of] if c else []
            if rows:
                wins[label] = round(float(np.mean([scores[i] > good_of[int(pair[i])] for i in rows])), 4)
        out["pair_bad_scored_higher"] = wins
    return out


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
            "sentence_recall_at_5pct_false_alarms": _sentence_figures(outputs, split, labels),
        },
    )


def _shift(profile: str, seed: int, cache_dir: Path | None, data: Any) -> tuple[str, Any]:
    """BLiMP's minimal pairs (never trained on), both sentences of each: the good one labelled
    ok, the bad one with its error type at the first token that differs; encoded with the
    build's tokenizer. ``quick``: a seeded subset of :data:`SHIFT_PAIRS_PER_TYPE` pairs per type."""
    from zoo.datasets import grammar, sources
    from zoo.datasets.common import Split

    pairs = sources.blimp()
    per_type = SHIFT_PAIRS_PER_TYPE.get(profile)
    if per_type is not None:
        rng = np.random.default_rng([seed, 0x626C])
        keep: list[int] = []
        for kind in sorted({p["error"] for p in pairs}):
            rows = [i for i, p in enumerate(pairs) if p["error"] == kind]
            keep += [rows[i] for i in rng.permutation(len(rows))[:per_type]]
        pairs = [pairs[i] for i in sorted(keep)]
    tok = grammar.Tokenizer.from_json(data.info["tokenizer"])
    text, y, position, pair = [], [], [], []
    for k, p in enumerate(pairs):
        good, bad = tok.encode(p["good"]), tok.encode(p["bad"])
        first = next((i for i, (a, b) in enumerate(zip(good, bad, strict=False)) if a != b), min(len(good), len(bad)))
        if first >= len(bad):  # the same ids (two unknown words of one shape) or a cut-off difference
            first = -1
        for sentence, label, pos in ((p["good"], 0, -1), (p["bad"], grammar.LABELS.index(p["error"]), first)):
            text.append(sentence)
            y.append(label)
            position.append(pos if pos < tok.max_len else -1)
            pair.append(k)
    y_arr = np.array(y, np.int64)
    meta = {
        "error_type": y_arr.astype(np.int32),
        "position": np.array(position, np.int32),
        "pair": np.array(pair, np.int32),
        "text": np.array(text, dtype=str),
    }
    info = sources.info("blimp")
    kinds = sorted({p["error"] for p in pairs})
    source = (
        f"BLiMP minimal pairs ({len(pairs):,} pairs, {len(text):,} sentences; {', '.join(kinds)}): English "
        f"sentences generated from linguists' templates, no learners or children; {info.license}"
    )
    return source, Split(tok.encode_batch(text), y_arr, meta)


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
            "Trained on WordNet's dictionary example sentences, verb-frame sentences and generated simple "
            "sentences, with errors made by rules, not on children's writing: real student errors (spelling, "
            "run-ons, word order, several errors at once) are not covered and were not measured; the held-out "
            "source (BLiMP) is written by linguists' templates, not by children either.",
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
                "(Debian wordnet-base) example sentences and verb frames, and "
                f"{info['corpus'].get('simple_sentences', 0):,} generated simple sentences in the register children "
                "write (names, everyday and irregular nouns, irregular verbs), filtered by a children's content "
                "blocklist, with one generated error in about half of them."
            ),
            "provenance": "Generated by zoo/datasets/grammar/ with a fixed seed; nothing is downloaded. "
            "Split by source sentence (a hash of the clean text): a sentence and its corrupted copy stay together.",
            "license": "WordNet 3.0 license (Princeton University; permissive, keep the copyright notice)",
            "people": "No children and no learners: WordNet's example sentences were written by its adult "
            "lexicographers (Princeton); the frame and simple sentences and every error are generated by code.",
        },
        "evaluation_data": {
            "description": "Held-out source sentences (hash of the clean text % 10 == 0), with their generated errors. "
            "Also measured on BLiMP's minimal pairs (subject-verb agreement, determiner-noun agreement, irregular "
            "past participles; linguists' templates, no learners; CC BY 4.0), never trained on: recall at <= 5% "
            "false alarms per error type.",
            "provenance": "zoo/datasets/grammar/ test split.",
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
        version="2.0.0",  # 2: unknown-word rules 2 in tokenizer.json (a final -us/-is is singular)
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
        # The label-only student is the control that shows what distillation adds. On the quick
        # profile (20 epochs) it trails the teacher by 4.5-5.0 points (4.46 and 4.98 in two builds
        # on two machines; the second's 95% paired interval started at 3.07, over the recipe's 3);
        # on the full profile (40 epochs) by 1.19.
        max_drop={"student_int8": 5.0},
        baseline=_baseline,
        bar=_bar,
        files=_files,
        golden_extra=_golden_extra,
        shift=_shift,
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
                # 964 test sentences and 600 BLiMP sentences: a drop is judged by the lower end of
                # its 95% paired interval, and the bar is reported, not enforced (the student
                # missed it by 0.9 points at 20 epochs).
                enforce_bar=False,
                paired_gate=True,
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
