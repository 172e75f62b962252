"""Recommendation: knowledge tracing and the next exercise.

The model reads a student's last 32 answers and predicts, for every item of the bank, the
chance that the student answers it correctly now. The app then picks the next exercise with
:func:`recommend`: among the skills the model does not yet consider mastered, the item whose
predicted success is closest to a target (0.7: hard enough to learn from, easy enough to keep
a young learner going).

Input: int32 ``(1, 32)`` interaction tokens, oldest first, left-padded with 0; an answer to
item ``i`` is ``1 + 2 * i + correct``. Output: float32 ``(1, 64)`` probabilities, one per item.
Data: :mod:`zoo.datasets.recommendation` (a seeded simulator; no real student data).

Two evaluations: the AUC of the predictions on held-out students' next answers (against the
simulator's own probabilities, the oracle, and a per-skill success-count baseline), and the
learning gain of simulated students who follow :func:`recommend` through the variant, against
the fixed curriculum order and random order (same students, same luck).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from zoo.kinds import auc, auc_ci95

from . import Profile, Task, register

TARGET = 0.7  # the success rate the recommender aims at
MASTERY = 0.85  # a skill whose items' mean predicted success reaches this counts as mastered
AUC_FRACTION = 0.97  # the bar: AUC at least this fraction of the oracle's
GAIN_STUDENTS = {"quick": 300, "full": 1000}
GAIN_STEPS = 40


def _load(profile: str, seed: int, cache_dir: Path | None) -> Any:
    from zoo.datasets import recommendation

    return recommendation.load(profile, seed, cache_dir=cache_dir)


def _n_items(data: Any) -> int:
    return len(data.info["simulator"]["items"])


def _net(keras: Any, data: Any, width: int, hidden: int, name: str, dropout: float) -> Any:
    """Token embeddings averaged over the window (padding included, so the average also says
    how much history there is), one hidden layer, then one logit per item and independent
    sigmoids."""
    layers = keras.layers
    n_items = _n_items(data)
    window = data.train.x.shape[1]
    inputs = keras.Input(shape=(window,), dtype="int32", name="interactions")
    x = layers.Embedding(1 + 2 * n_items, width, name="embedding")(inputs)
    x = layers.GlobalAveragePooling1D(name="pool")(x)
    x = layers.Dense(hidden, activation="relu", name="dense")(x)
    if dropout:
        x = layers.Dropout(dropout, name="dropout")(x)
    logits = layers.Dense(n_items, name="logits")(x)
    probs = layers.Activation("sigmoid", name="probs")(logits)
    return keras.Model(inputs, probs, name=name)


def _teacher(keras: Any, data: Any) -> Any:
    """~16.6k parameters."""
    return _net(keras, data, 32, 128, "recommendation_teacher", dropout=0.0)


def _student(keras: Any, data: Any) -> Any:
    """~3.4k parameters, a fifth of the teacher."""
    return _net(keras, data, 8, 32, "recommendation_student", dropout=0.0)


def _targets(split: Any) -> np.ndarray:
    """(item, correct) of the next answer: the loss reads the prediction for that item."""
    return np.stack([split.meta["item"], split.y], axis=1).astype(np.float32)


def _loss(tf: Any, y_true: Any, y_pred: Any, from_logits: bool) -> Any:
    item = tf.cast(y_true[:, 0], tf.int32)
    correct = y_true[:, 1]
    picked = tf.gather(y_pred, item, axis=1, batch_dims=1)
    if from_logits:
        return tf.nn.sigmoid_cross_entropy_with_logits(labels=correct, logits=picked)
    picked = tf.clip_by_value(picked, 1e-7, 1 - 1e-7)
    return -(correct * tf.math.log(picked) + (1 - correct) * tf.math.log(1 - picked))


def _score(outputs: np.ndarray, split: Any, labels: Any) -> Any:
    from zoo import measure

    item = split.meta["item"].astype(np.int64)
    p = outputs[np.arange(len(item)), item]
    y = split.y.astype(np.int64)
    value = auc(y, p)
    pos, neg = int(y.sum()), int((1 - y).sum())
    n_items = outputs.shape[1]
    skill = split.meta["skill"]
    per_skill = {f"skill {s + 1}": round(auc(y[skill == s], p[skill == s]), 4) for s in np.unique(skill)}
    predictions = (p >= 0.5).astype(np.int64)
    return measure.Score(
        value=value,
        ci95=auc_ci95(value, pos, neg),
        n=len(y),
        per_class={labels[c]: round(float((predictions[y == c] == c).mean()), 6) for c in (0, 1) if (y == c).any()},
        predictions=predictions,
        extra={
            "oracle_auc": round(auc(y, split.meta["p_true"]), 6),
            "calibration_mean_predicted": round(float(p.mean()), 4),
            "calibration_mean_observed": round(float(y.mean()), 4),
            "items": n_items,
            "auc_per_skill": per_skill,
        },
    )


def recommend(
    probs: np.ndarray, item_skill: np.ndarray, target: float = TARGET, mastery: float = MASTERY
) -> np.ndarray:
    """The next item for each student from the model's predictions ``probs`` (n, items).

    Among the items of skills whose mean predicted success is below ``mastery`` (all items
    when every skill is mastered), the item whose prediction is closest to ``target``; ties go
    to the lower item id (the easier skill). Deterministic, no randomness.
    """
    probs = np.asarray(probs, np.float64)
    skills = int(item_skill.max()) + 1
    per_skill = np.stack([probs[:, item_skill == s].mean(axis=1) for s in range(skills)], axis=1)
    open_item = per_skill[:, item_skill] < mastery
    none_open = ~open_item.any(axis=1, keepdims=True)
    allowed = open_item | none_open
    distance = np.where(allowed, np.abs(probs - target), np.inf)
    return distance.argmin(axis=1)


@cache
def _reference_gains(seed: int, profile: str, n_students: int, data_seed: int) -> dict[str, Any]:
    from zoo.datasets import recommendation as rec

    sim = rec.simulator(data_seed)
    out = {}
    for name, policy in (
        ("curriculum", rec.curriculum_policy(sim)),
        ("random", rec.random_policy(sim)),
        ("oracle", rec.oracle_policy(sim, TARGET)),
    ):
        o = rec.simulate(sim, policy, n_students, GAIN_STEPS, seed)
        out[name] = _outcome(o)
    return out


def _outcome(o: Any) -> dict[str, Any]:
    return {
        "mean_gain": round(float(o.mean_gain), 6),
        "ci95": [round(float(o.ci95[0]), 6), round(float(o.ci95[1]), 6)],
        "practice_correct": round(float(o.practice_correct), 4),
        "mastered_skills_before": round(float(np.mean(o.mastered_before)), 3),
        "mastered_skills_after": round(float(np.mean(o.mastered_after)), 3),
    }


def _evaluate_more(path: Path, data: Any, seed: int) -> dict[str, Any]:
    """Learning gain when simulated held-out students follow this variant's recommendations."""
    from zoo import measure
    from zoo.datasets import recommendation as rec

    sim = rec.simulator(data)
    runner = measure.Runner(path)
    n_students = GAIN_STUDENTS[data.info["profile"]]

    def policy(windows: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        return recommend(runner(windows), sim.item_skill)

    # The students of the evaluation come from a stream no training student was drawn from.
    ours = _outcome(rec.simulate(sim, policy, n_students, GAIN_STEPS, seed))
    refs = _reference_gains(seed, data.info["profile"], n_students, int(data.info["seed"]))
    return {
        "learning_gain": {
            "students": n_students,
            "steps": GAIN_STEPS,
            "measure": "mean over the item bank of P(correct) after minus before, per student",
            "recommender": ours,
            **refs,
        }
    }


def _baseline(data: Any, seed: int) -> dict[str, Any]:
    from zoo.datasets import recommendation as rec

    b = rec.baseline_skill_counts(data)
    return {"name": "per-skill success counts + logistic regression", "value": round(b["auc_test"], 6), **b}


def _bar(inp: Any) -> list[tuple[str, bool, str]]:
    fp32 = inp.scores["fp32"]
    oracle = fp32.extra["oracle_auc"]
    checks = [
        (
            f"AUC >= {AUC_FRACTION} x oracle AUC",
            fp32.value >= AUC_FRACTION * oracle,
            f"fp32 {fp32.value:.4f} vs {AUC_FRACTION} x {oracle:.4f} = {AUC_FRACTION * oracle:.4f}",
        )
    ]
    if inp.baseline:
        b = inp.baseline["value"]
        checks.append(("AUC above the per-skill count baseline", fp32.value > b, f"fp32 {fp32.value:.4f} vs {b:.4f}"))
    gains = inp.more["fp32"]["learning_gain"]
    ours, curriculum = gains["recommender"]["mean_gain"], gains["curriculum"]["mean_gain"]
    checks.append(
        (
            "learning gain above the curriculum order",
            ours > curriculum,
            f"recommender {ours:.4f} vs curriculum {curriculum:.4f} (random {gains['random']['mean_gain']:.4f}, "
            f"oracle {gains['oracle']['mean_gain']:.4f})",
        )
    )
    return checks


def _golden_extra(data: Any, i: int) -> dict[str, Any]:
    return {"next_item": int(data.test.meta["item"][i])}


def _card(data: Any) -> dict[str, Any]:
    info = data.info
    sim = info["simulator"]
    return {
        "intended_use": (
            "Choosing the next practice exercise in a maths or reading practice app for young learners "
            "(ages 6-11): the app keeps the student's last 32 answers on the device, asks the model how "
            "likely each exercise is to be answered correctly now, and offers one near a 70% chance of "
            "success in a skill the student has not mastered yet (zoo/tasks/recommendation.py recommend())."
        ),
        "limitations": [
            "Trained and evaluated only on simulated students (a 2PL item-response simulator with "
            "learning); real students forget, guess, get tired and skip, which the simulator does not model. "
            "The AUC and learning gains are measured against that simulator, not classrooms.",
            f"The item bank is fixed: {len(sim['items'])} items in {sim['params']['n_skills']} skills. Adding or "
            "reordering exercises needs retraining; item ids are positions in that bank.",
            "It sees only the last 32 answers: older practice is forgotten by the model.",
            "Predictions for a student with no history are the population average; the first "
            "recommendations are the same for everyone.",
            "A recommendation is a suggestion: teachers and students must be able to choose another exercise.",
        ],
        "training_data": {
            "description": (
                f"Simulated practice logs: {info.get('students', {}).get('train', 'n')} students in training; "
                "each answers a mostly curriculum-ordered sequence with random detours; a window of the previous "
                "32 answers predicts each next answer."
            ),
            "provenance": "Generated by zoo/datasets/recommendation/ with a fixed seed; nothing is downloaded.",
            "license": "synthetic, made by edzoo's own code (Apache-2.0); no third-party content, no real student data",
        },
        "evaluation_data": {
            "description": "Held-out simulated students (student id % 10 == 9), never used for training or "
            "choosing; learning gains use further fresh students from a separate random stream.",
            "provenance": "zoo/datasets/recommendation/ test split.",
            "sha256": info["sha256"]["test"],
            "size": int(len(data.test.y)),
        },
        "ethical_considerations": (
            "The model reads a student's answer history, which is student data: keep the window on the "
            "device, never send it to a server, and delete it with the student's account. A recommender "
            "can narrow what a child sees; keep teachers in control, and watch for students stuck on "
            "one skill."
        ),
    }


TASK = register(
    Task(
        kind="knowledge-tracing",
        name="recommendation",
        version="1.0.0",
        task_type="recommendation",
        summary="Predicts a student's chance of answering each practice item from their last 32 answers, "
        "so an app can offer the next exercise at about 70% expected success.",
        subjects=("math", "literacy"),
        grades=("1", "2", "3", "4", "5"),
        languages=("en",),
        license="Apache-2.0",
        load_data=_load,
        teacher=_teacher,
        student=_student,
        card=_card,
        metric="auc",
        score=_score,
        output="sigmoid",
        loss=_loss,
        targets=_targets,
        prune_layers=("Dense", "Embedding"),
        baseline=_baseline,
        evaluate_more=_evaluate_more,
        bar=_bar,
        golden_extra=_golden_extra,
        preprocessing={
            "notes": "Tokens: the student's last 32 answers, oldest first, left-padded with 0; an answer to item i "
            "(0..63, the bank's order) is 1 + 2*i + (1 if correct else 0). Output i is the predicted chance of "
            "answering item i correctly now. The recommender (not in the model): among items of skills whose "
            f"mean predicted success is below {MASTERY}, pick the one closest to {TARGET}."
        },
        education={
            "age_band": "6-11",
            "privacy_class": "student-record-on-device",
            "student_data": "The student's last 32 answers (item id and right or wrong). The app stores this window "
            "on the device only; the model keeps nothing between calls and nothing is sent anywhere.",
            "runs_on": "The student's device, offline.",
        },
        profiles={
            "quick": Profile(
                "quick",
                epochs=6,
                finetune_epochs=2,
                batch_size=256,
                bench_runs=200,
                bench_warmup=20,
                version_suffix="-quick",
                student_epochs=8,
            ),
            "full": Profile("full", epochs=10, finetune_epochs=3, batch_size=256, bench_runs=1000, bench_warmup=100),
        },
    )
)
