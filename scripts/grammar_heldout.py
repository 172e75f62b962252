#!/usr/bin/env python3
"""The grammar teacher alone on the held-out source, without a whole build: train the fp32
teacher of a profile exactly as the build does (zoo.recipes.Context.fit, the profile's epochs and
seed), then report, from Keras outputs, the sentence-level figures the build writes per variant
(recall at <= 5% false alarms on BLiMP's minimal pairs, per error type) on the test split and on
BLiMP. With ``--litert``, also the fp32 and int8 variants made by the build's recipes and
read through the LiteRT interpreter, as the build measures them (no gates, no benchmark).
For trying generator changes; published figures come from a build (every variant).

    TF_NUM_INTRAOP_THREADS=1 TF_NUM_INTEROP_THREADS=1 taskset -c 1 \\
        .venv/bin/python scripts/grammar_heldout.py --profile quick [--epochs N] [--litert --out DIR]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from zoo import _tf, measure, recipes
from zoo.tasks import get


def _report(name: str, score: Any) -> None:
    e = score.extra
    print(
        f"{name}: accuracy {score.value:.4f} (n={score.n}); recall per type at 0.5 "
        f"{json.dumps(e['recall_per_error_type'])}, false alarms {e['false_alarm_rate']}"
    )
    print(f"{name}: at <= 5% false alarms {json.dumps(e['sentence_recall_at_5pct_false_alarms'])}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--profile", default="quick", choices=("quick", "full"))
    ap.add_argument("--shift-profile", default=None, help="BLiMP subset to read (default: --profile)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--epochs", type=int, default=None, help="default: the profile's")
    ap.add_argument("--litert", action="store_true", help="also fp32 and int8 .tflite through LiteRT")
    ap.add_argument("--out", type=Path, default=Path("/tmp/grammar-heldout"), help="teacher and .tflite files")
    a = ap.parse_args()
    task = get("grammar")
    profile = task.profiles[a.profile]
    t0 = time.perf_counter()
    data = task.load_data(a.profile, a.seed, None)
    print(
        f"data: {data.info['counts']['train']} train records, vocabulary {data.info['vocab_size']} "
        f"({time.perf_counter() - t0:.0f} s)",
        flush=True,
    )
    source, shift = task.shift(a.shift_profile or a.profile, a.seed, None, data)
    t = _tf.load()
    _tf.seed_everything(a.seed)
    model = task.teacher(t.keras, data)
    ctx = recipes.Context(teacher=model, data=data, profile=profile, task=task, seed=a.seed)
    t0 = time.perf_counter()
    ctx.fit(model, a.epochs or profile.epochs)
    print(f"teacher trained in {time.perf_counter() - t0:.0f} s", flush=True)
    a.out.mkdir(parents=True, exist_ok=True)
    model.save_weights(str(a.out / f"teacher-{a.profile}-seed{a.seed}.weights.h5"))
    for name, split in (("test", data.test), ("blimp", shift)):
        with _tf.quiet_native_stderr():
            out = model.predict(split.x, verbose=0, batch_size=256)
        _report(f"keras {name}", task.score(out, split, data.labels))
    if a.litert:
        for rid in ("fp32", "int8"):
            t.keras.backend.clear_session()
            _tf.seed_everything(a.seed)
            ctx.cache.clear()
            path = a.out / f"{rid}-{a.profile}.tflite"
            path.write_bytes(recipes.convert(recipes.get(rid).make(ctx), ctx))
            for name, split in (("test", data.test), ("blimp", shift)):
                with _tf.quiet_native_stderr():
                    ev = measure.evaluate(
                        path, split.x, split.y, data.labels, score=lambda o, s=split: task.score(o, s, data.labels)
                    )
                _report(f"litert {rid} {name}", ev.score)
    print(f"blimp = {source}")


if __name__ == "__main__":
    main()
