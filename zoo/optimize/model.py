"""A team's model: loading a Keras file or SavedModel, checking it, and deriving a smaller student."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from zoo.errors import ModelError

from .. import _tf, recipes
from ._base import MERGE_LAYERS, NARROWED, STUDENT_WIDTHS


def load_model(source: Any) -> Any:
    """A Keras model: as given, or read from ``.keras``, ``.h5`` or a SavedModel folder (Keras
    2 format, as tf_keras saves it). Raises ModelError saying what the file is not."""
    t = _tf.load()
    if isinstance(source, t.keras.Model):
        return source
    path = Path(source)
    if not path.exists():
        raise ModelError(f"{path}: no such file or folder (give a .keras, .h5 or SavedModel folder)")
    if path.suffix == ".tflite":
        raise ModelError(f"{path}: a .tflite is already converted; measure it with `edzoo measure {path} --data ...`")
    if path.is_dir() and not (path / "saved_model.pb").exists():
        raise ModelError(f"{path}: a folder without saved_model.pb is not a SavedModel")
    if path.is_file() and path.suffix not in (".keras", ".h5", ".hdf5"):
        raise ModelError(f"{path}: not a Keras model file (.keras, .h5) or a SavedModel folder")
    try:
        with _tf.quiet_native_stderr():
            model = t.keras.models.load_model(str(path), compile=False)
    except Exception as e:  # noqa: BLE001 - Keras raises many kinds for a file it cannot read
        raise ModelError(
            f"{path}: Keras could not load it ({type(e).__name__}: {str(e).splitlines()[0][:200]}); "
            "save it with model.save(...) from tf_keras (Keras 2), with custom layers registered"
        ) from e
    if not isinstance(model, t.keras.Model):
        raise ModelError(
            f"{path}: a SavedModel that is not a Keras model cannot be fine-tuned; convert it to .tflite "
            "and use `edzoo measure`"
        )
    return model


def _input_shape(model: Any) -> tuple[int | None, ...]:
    inputs = model.inputs
    if len(inputs) != 1 or len(model.outputs) != 1:
        raise ModelError(
            f"{model.name} has {len(inputs)} inputs and {len(model.outputs)} outputs; edzoo optimizes models "
            "with one input and one output"
        )
    return tuple(inputs[0].shape[1:])


def derive_student(model: Any, max_fraction: float) -> Callable[[Any, Any], Any]:
    """A factory of a narrower copy of a plain CNN or dense model: every Conv1D, Conv2D, Dense
    and Embedding keeps its kind with a fraction of its filters or units (the output layer
    keeps its classes), freshly initialized, at the widest fraction that fits ``max_fraction``
    of the parameters. Raises recipes.NotApplicable for models with merge layers, attention,
    recurrence or nested models, where narrowing by layer would not keep the shapes."""
    keras = _tf.load().keras
    kinds_in = {type(layer).__name__ for layer in model.layers}
    blocked = sorted(
        kinds_in & {*MERGE_LAYERS, "MultiHeadAttention", "LSTM", "GRU", "SimpleRNN", "Bidirectional", "TimeDistributed"}
    )
    nested = [layer.name for layer in model.layers if isinstance(layer, keras.Model)]
    if blocked or nested:
        what = ", ".join(blocked + [f"nested model {n}" for n in nested])
        raise recipes.NotApplicable(
            f"edzoo narrows plain CNN and dense models only (this one has {what}): give a student with --student"
        )
    weighted = [layer for layer in model.layers if layer.weights]
    if not weighted:
        raise recipes.NotApplicable("the model has no layer with weights to narrow")
    output_layer = weighted[-1].name
    teacher_params = _tf.param_count(model)

    def narrowed(width: float) -> Any:
        def clone(layer: Any) -> Any:
            config = layer.get_config()
            kind = type(layer).__name__
            if kind in NARROWED and layer.name != output_layer:
                key = {"Dense": "units", "Embedding": "output_dim"}.get(kind, "filters")
                config[key] = max(2, int(round(config[key] * width)))
            return layer.__class__.from_config(config)

        student = keras.models.clone_model(model, clone_function=clone)
        return student

    fits = None
    for width in STUDENT_WIDTHS:
        candidate = narrowed(width)
        if _tf.param_count(candidate) <= teacher_params * max_fraction:
            fits = width
            break
    if fits is None:
        raise recipes.NotApplicable(
            f"no narrower copy fits {max_fraction:.2g} of the teacher's {teacher_params:,} parameters "
            "(the layers edzoo narrows hold too few of them): give a student with --student"
        )
    width = fits

    def factory(keras_module: Any, data: Any) -> Any:
        return narrowed(width)

    return factory


def _given_student(source: Any) -> Callable[[Any, Any], Any]:
    t = _tf.load()
    if isinstance(source, t.keras.Model):
        weights = source.get_weights()

        def from_object(keras: Any, data: Any) -> Any:
            model = keras.models.clone_model(source)
            model.set_weights(weights)
            return model

        return from_object
    load_model(source)  # fails now, not in the middle of a build

    def from_file(keras: Any, data: Any) -> Any:
        return load_model(source)

    return from_file
