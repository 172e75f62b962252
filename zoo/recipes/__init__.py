"""Named optimization recipes: how each variant is made from the trained teacher.

Each recipe returns a Keras model and a conversion mode; :func:`convert` turns that into a
``.tflite``. A recipe declares the largest accuracy drop (points, against the fp32 variant)
that it may cost: the build fails when a variant exceeds it.

tfmot notes: ``quantize_model`` refuses a model that went through pruning or clustering, so
the collaborative recipe (prune → cluster with sparsity preserved → QAT with clusters and
sparsity preserved, "PCQAT") uses ``quantize_annotate_model`` + ``quantize_apply`` with
``Default8BitClusterPreserveQuantizeScheme``; every other recipe starts from a fresh clone of
the teacher with its trained weights.

The package: :mod:`.base` (the recipe type and its registry), :mod:`.convert`, and one module
per family of recipes (:mod:`.ptq`, :mod:`.qat`, :mod:`.pruning`, :mod:`.clustering`,
:mod:`.distill`), each registering its recipes when this package is imported.
"""

from . import clustering, distill, pruning, ptq, qat  # noqa: F401  (they register the recipes)
from .base import (
    CALIBRATION_SAMPLES,
    DISTILL_ALPHA,
    DISTILL_TEMPERATURE,
    MIN_SPARSITY,
    RECIPES,
    SELECT_PATIENCE,
    Context,
    Gate,
    GateCheck,
    GateFacts,
    Made,
    NotApplicable,
    Recipe,
    get,
    ids,
    min_sparsity,
    recipe,
    register,
    student_share,
)
from .convert import FLOAT_OUTPUT_OPS, convert, float_output_activation
from .distill import logits_model
from .pruning import measured_sparsity

__all__ = [
    "CALIBRATION_SAMPLES",
    "Context",
    "DISTILL_ALPHA",
    "DISTILL_TEMPERATURE",
    "FLOAT_OUTPUT_OPS",
    "Gate",
    "GateCheck",
    "GateFacts",
    "MIN_SPARSITY",
    "Made",
    "NotApplicable",
    "RECIPES",
    "Recipe",
    "SELECT_PATIENCE",
    "convert",
    "float_output_activation",
    "get",
    "ids",
    "logits_model",
    "measured_sparsity",
    "min_sparsity",
    "recipe",
    "register",
    "student_share",
]
