"""The baseline every build measures against: MFCC statistics and a logistic regression."""

from __future__ import annotations

from typing import Any

import numpy as np
import sklearn
from scipy import fft as sp_fft

from zoo.datasets.common import Dataset, check_seed

from .frontend import snr_bands


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
