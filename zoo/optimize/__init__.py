"""Optimize a team's own trained model on its own data (``edzoo optimize``), and measure a
``.tflite`` someone else made (``edzoo measure``).

``optimize(model, data, task=KIND)`` runs the zoo's pipeline (:mod:`zoo.pipeline`) on the
given Keras model: every registered recipe that applies (post-training quantization needs only
calibration samples; QAT, pruning, clustering and PCQAT fine-tune with the kind's loss;
distillation trains a student the user gives, or a narrower copy edzoo derives from a plain
CNN or dense model), each variant measured through LiteRT on the test split and, when given,
on a second evaluation set from another source. The result is a build directory that
``edzoo publish`` accepts, with the same table, gates, card, golden I/O and provenance as a
reference build.

The package: :mod:`._base` (profiles), :mod:`.model`, :mod:`.data`, :mod:`.card`, :mod:`.job`
(:func:`optimize`) and :mod:`.tflite` (:func:`measure_tflite`).
"""

from ._base import PROFILES
from .card import read_card
from .job import optimize
from .model import derive_student, load_model
from .tflite import MeasureResult, measure_tflite

__all__ = ["MeasureResult", "PROFILES", "derive_student", "load_model", "measure_tflite", "optimize", "read_card"]
