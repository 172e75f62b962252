"""Conversion: a recipe's Keras model to a ``.tflite`` (:func:`convert`), and float outputs after
an int8 model's last operator (:func:`float_output_activation`)."""

from __future__ import annotations

import contextlib
import io
import warnings
from typing import Any

import numpy as np

from .. import _tf
from .base import CALIBRATION_SAMPLES, Context, Made, NotApplicable


def convert(made: Made, ctx: Context) -> bytes:
    """Keras model → ``.tflite`` bytes with the recipe's quantization."""
    tf = ctx.tf
    converter = tf.lite.TFLiteConverter.from_keras_model(made.model)
    if made.mode == "dynamic":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    elif made.mode == "float16":
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.target_spec.supported_types = [tf.float16]
    elif made.mode == "int8":
        # Calibration reads the training split (the validation split when there is none): the
        # test split is never touched.
        calib = (ctx.data.train.x if len(ctx.data.train.x) else ctx.data.val.x)[:CALIBRATION_SAMPLES]
        if not len(calib):
            raise NotApplicable(
                "full-integer int8 needs calibration samples: the data has no training or validation split"
            )
        dtype = np.float32 if np.issubdtype(calib.dtype, np.floating) else np.int32

        def representative() -> Any:
            for row in calib:
                yield [row[None, ...].astype(dtype)]

        converter.optimizations = [tf.lite.Optimize.DEFAULT]
        converter.representative_dataset = representative
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        with _quiet_converter():
            return float_output_activation(converter.convert())
    elif made.mode != "fp32":
        raise ValueError(f"unknown conversion mode {made.mode!r}")
    with _quiet_converter():
        return converter.convert()


@contextlib.contextmanager
def _quiet_converter() -> Any:
    # The exporter prints the traced signature to stdout; keep the progress readable.
    with contextlib.redirect_stdout(io.StringIO()), _tf.quiet_native_stderr(), warnings.catch_warnings():
        # Known and harmless for int8 inputs: the converter reads the input statistics from the
        # calibration data instead.
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs were expected")
        yield


# The operators a full-integer variant runs in float: the dequantization of its logits and the
# activation that makes them probabilities.
FLOAT_OUTPUT_OPS = frozenset({"DEQUANTIZE", "SOFTMAX", "LOGISTIC"})


def float_output_activation(model: bytes) -> bytes:
    """A full-integer ``.tflite`` whose outputs end ``int8 softmax (or sigmoid) → DEQUANTIZE``,
    rewritten to ``DEQUANTIZE → float softmax``: the same graph in int8 up to the logits, and
    float32 probabilities out, which an app can rank and threshold.

    An int8 softmax outputs steps of 1/256: every probability under 1/512 reads 0, so below the
    winning class the ranking is lost (ties) and no threshold falls between two close
    confidences. The cost is one float activation over the classes. Works on the converter's
    output for post-training and quantization-aware models alike (the converter quantizes a
    softmax even when QAT left it unannotated). Outputs of any other shape are left as they are.
    """
    import flatbuffers
    from ai_edge_litert import schema_py_generated as schema

    op = schema.BuiltinOperator
    m = schema.ModelT.InitFromPackedBuf(bytearray(model), 0)
    graph = m.subgraphs[0]

    def code(o: Any) -> int:
        c = m.operatorCodes[o.opcodeIndex]
        return max(c.builtinCode, c.deprecatedBuiltinCode)

    producer = {int(t): i for i, o in enumerate(graph.operators) for t in o.outputs}
    readers: dict[int, int] = {}
    for o in graph.operators:
        for t in o.inputs:
            readers[int(t)] = readers.get(int(t), 0) + 1
    for out in graph.outputs:
        d = producer.get(int(out))
        if d is None or code(graph.operators[d]) != op.DEQUANTIZE:
            continue
        probs = int(graph.operators[d].inputs[0])
        a = producer.get(probs)
        if a is None or code(graph.operators[a]) not in (op.SOFTMAX, op.LOGISTIC) or readers[probs] != 1:
            continue
        dequantize, activation = graph.operators[d], graph.operators[a]
        logits = int(activation.inputs[0])
        dequantize.inputs, dequantize.outputs = [logits], [probs]
        activation.inputs, activation.outputs = [probs], [int(out)]
        tensor = graph.tensors[probs]
        tensor.type, tensor.quantization = schema.TensorType.FLOAT32, None
        graph.operators[a], graph.operators[d] = dequantize, activation
    builder = flatbuffers.Builder(len(model) + 1024)
    builder.Finish(m.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
