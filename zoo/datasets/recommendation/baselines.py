"""The baselines every build measures against: per-skill success counts with a logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from zoo.datasets.common import Dataset, Split

from .dataset import simulator
from .students import Simulator
from .tokens import decode_tokens


def _skill_count_features(split: Split, sim: Simulator) -> sp.csr_matrix:
    """One-hot of the target item, then successes / W and failures / W on the target skill,
    each placed in that skill's column (so every skill has its own two slopes)."""
    n, window = split.x.shape
    items_w, correct_w = decode_tokens(split.x)
    item = split.meta["item"].astype(np.int64)
    skill = sim.item_skill[item]
    same = (items_w >= 0) & (sim.item_skill[np.maximum(items_w, 0)] == skill[:, None])
    succ = (same & (correct_w == 1)).sum(axis=1) / window
    fail = (same & (correct_w == 0)).sum(axis=1) / window
    rows = np.repeat(np.arange(n), 3)
    cols = np.stack([item, sim.n_items + skill, sim.n_items + sim.n_skills + skill], axis=1).ravel()
    vals = np.stack([np.ones(n), succ, fail], axis=1).ravel()
    return sp.csr_matrix((vals, (rows, cols)), shape=(n, sim.n_items + 2 * sim.n_skills))


def baseline_skill_counts(data: Dataset) -> dict[str, Any]:
    """Performance-factor-analysis baseline: logistic regression on the target item's one-hot
    (item easiness) plus, for the target item's skill only, the number of correct and of wrong
    answers to items of that skill within the window (divided by the window length; separate
    slopes per skill). Trained on train (C = 1, lbfgs); returns its AUC on val and test."""
    sim = simulator(data)
    model = LogisticRegression(C=1.0, max_iter=2000)
    model.fit(_skill_count_features(data.train, sim), data.train.y)
    out: dict[str, Any] = {
        "model": "logistic regression: item one-hot + per-skill success and failure counts in the window",
        "n_train": int(data.train.y.size),
    }
    for name in ("val", "test"):
        split = getattr(data, name)
        p = model.predict_proba(_skill_count_features(split, sim))[:, 1]
        out[f"auc_{name}"] = float(roc_auc_score(split.y, p))
    return out
