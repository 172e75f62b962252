"""The baseline every build measures against: TF-IDF n-grams and a logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np

from zoo.datasets.common import Dataset

from ._base import LABELS
from .dataset import texts


def baseline(data: Dataset) -> dict[str, Any]:
    """Binary baseline (ok vs any error): TF-IDF of character 2–5-grams within word
    boundaries (``char_wb``, sublinear tf, min_df 2) and logistic regression (C = 4, lbfgs),
    trained on the training texts; accuracy on val and test, and the test recall per class
    (for ``ok``: the share kept as ok; for an error type: the share flagged as an error)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, lowercase=True)
    x_train = vec.fit_transform(texts(data, "train"))
    y_train = (data.train.y != 0).astype(np.int64)
    model = LogisticRegression(C=4.0, max_iter=5000)
    model.fit(x_train, y_train)
    out: dict[str, Any] = {
        "model": "char_wb 2-5-gram TF-IDF + logistic regression, binary ok vs error",
        "n_train": int(y_train.size),
        "n_features": int(x_train.shape[1]),
    }
    for name in ("val", "test"):
        split = getattr(data, name)
        pred = model.predict(vec.transform(texts(data, name)))
        out[f"accuracy_{name}"] = float((pred == (split.y != 0)).mean())
        if name == "test":
            recall = {}
            for k, label in enumerate(LABELS):
                mask = split.y == k
                if mask.any():
                    hit = pred[mask] == (0 if k == 0 else 1)
                    recall[label] = float(hit.mean())
            out["recall_test"] = recall
    return out
