#!/usr/bin/env python3
"""How far real data of another origin is from an in-distribution test split, before any
network: a support-vector classifier on raw 28x28 pixels, trained on MNIST's SD-3 digits, read
on MNIST's SD-1 digits (other writers, same collection) and on UCI pendigits drawn as strokes
(other writers, a tablet); then trained with the 30 pendigits.tra writers too, read on the 14
pendigits.tes writers it never saw.

    python scripts/heldout_baseline.py        # about 2 minutes on 2 cores
"""

from __future__ import annotations

import numpy as np
from sklearn.svm import SVC

from zoo.datasets import sources


def main() -> None:
    x, y, origin = sources.mnist_t10k()
    x = x.reshape(len(x), -1).astype(np.float32) / 255.0
    points, py, writers = sources.pendigits()
    pen = sources.render_pen(points).reshape(len(points), -1)
    sd3, sd1 = origin == 0, origin == 1
    tra, tes = writers == 0, writers == 1

    def acc(clf: SVC, xs: np.ndarray, ys: np.ndarray) -> str:
        return f"{(clf.predict(xs) == ys).mean():.1%}"

    clf = SVC(C=5, gamma="scale").fit(x[sd3], y[sd3])
    print("trained on MNIST SD-3 (5,000 digits)")
    print(f"  MNIST SD-1, other writers, same collection   {acc(clf, x[sd1], y[sd1])}")
    print(f"  pendigits strokes, 44 tablet writers         {acc(clf, pen, py)}")
    both = SVC(C=5, gamma="scale").fit(np.concatenate([x[sd3], pen[tra]]), np.concatenate([y[sd3], py[tra]]))
    print("trained on MNIST SD-3 + pendigits.tra (30 tablet writers)")
    print(f"  MNIST SD-1                                   {acc(both, x[sd1], y[sd1])}")
    print(f"  pendigits.tes, 14 tablet writers never seen  {acc(both, pen[tes], py[tes])}")


if __name__ == "__main__":
    main()
