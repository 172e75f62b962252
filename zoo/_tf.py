"""Import TensorFlow the way tensorflow-model-optimization needs it: Keras 2 (``tf_keras``).

``TF_USE_LEGACY_KERAS=1`` must be set before TensorFlow is first imported, or tfmot receives
Keras 3 models and refuses them; this module sets it, so a user never has to.
"""

from __future__ import annotations

import contextlib
import os
import random
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

from registry.core.errors import EdzooError

INSTALL_HINT = "pip install 'edzoo[zoo]' && pip install --no-deps tf-keras==2.21.0 tensorflow-model-optimization==0.8.1"


class MissingZooDependencies(EdzooError):
    code = "missing_dependencies"
    exit_code = 11


@dataclass(frozen=True)
class TF:
    tf: ModuleType
    keras: ModuleType
    tfmot: ModuleType


_loaded: TF | None = None


def load() -> TF:
    """Import tensorflow, tf_keras and tfmot once (TF_USE_LEGACY_KERAS=1 first)."""
    global _loaded
    if _loaded is not None:
        return _loaded
    if "tensorflow" in sys.modules and os.environ.get("TF_USE_LEGACY_KERAS") != "1":
        raise MissingZooDependencies("TensorFlow was imported before zoo set TF_USE_LEGACY_KERAS=1; import zoo first")
    os.environ["TF_USE_LEGACY_KERAS"] = "1"
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    try:
        with quiet_native_stderr():  # absl prints start-up banners before any log level applies
            import tensorflow as tf
            import tensorflow_model_optimization as tfmot
            import tf_keras as keras
    except ImportError as e:
        raise MissingZooDependencies(f"the build side needs {e.name}: {INSTALL_HINT}") from e
    tf.get_logger().setLevel("ERROR")
    _loaded = TF(tf, keras, tfmot)
    return _loaded


def seed_everything(seed: int) -> None:
    """Fixed seeds and deterministic ops: the same commit, profile and seed give the same
    ``.tflite`` bytes."""
    t = load()
    random.seed(seed)
    t.keras.utils.set_random_seed(seed)
    t.tf.config.experimental.enable_op_determinism()


@contextlib.contextmanager
def quiet_native_stderr() -> Iterator[None]:
    """Silence what TensorFlow's and LiteRT's C++ code prints straight to file descriptor 2
    (converter statistics, delegate banners) so progress stays readable; Python exceptions still
    carry every error."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
        yield
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)


def param_count(model: Any) -> int:
    return int(sum(int(w.shape.num_elements()) for w in model.weights if w.trainable))
