"""A smaller student, distilled from the teacher (``distilled_int8``) or trained alone
(``student_int8``)."""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _tf
from .base import DISTILL_ALPHA, DISTILL_TEMPERATURE, Context, Made, NotApplicable, recipe, student_share


def _student(ctx: Context, distill: bool) -> Any:
    """The student architecture, trained on hard labels, or distilled from the teacher's soft
    labels at temperature T: loss = a * hard + (1 - a) * T^2 * soft, where for a softmax output
    soft = KL(teacher_T || student_T), and for independent sigmoid outputs soft = the binary
    cross-entropy between sigmoid(teacher logits / T) and sigmoid(student logits / T) averaged
    over outputs."""
    keras, tf = ctx.keras, ctx.tf
    key = f"student-distill={distill}"
    if key in ctx.cache:
        return ctx.cache[key]
    ctx.keras.utils.set_random_seed(ctx.seed + 1)  # both students start from the same weights
    d = ctx.data
    if ctx.task.student is None:
        raise NotApplicable("no student model: give one (--student), or a plain CNN or dense model edzoo can narrow")
    student = ctx.task.student(keras, d)
    # A narrow network learns more slowly: both students get more epochs than the teacher.
    epochs = ctx.epochs(ctx.profile.student_epochs or 2 * ctx.profile.epochs, ctx.profile.min_student_steps)
    if not distill:
        ctx.fit(student, epochs)
    else:
        teacher_logits = logits_model(keras, ctx.teacher)
        t, alpha = _distill_params(ctx)
        sigmoid = ctx.task.output == "sigmoid"

        def distill_targets(x: Any, hard_targets: Any) -> np.ndarray:
            """The hard targets then the teacher's soft outputs, along the last axis (a class id
            for a softmax, per sample or per token; the task's targets for sigmoids)."""
            with _tf.quiet_native_stderr():
                logits = teacher_logits.predict(x, batch_size=512, verbose=0)
            hard = np.asarray(hard_targets, np.float32)
            if not sigmoid:
                hard = hard[..., None]
            elif hard.ndim != logits.ndim:
                hard = hard.reshape(len(hard), -1)
            soft = tf.sigmoid(logits / t) if sigmoid else tf.nn.softmax(logits / t)
            return np.concatenate([hard, soft.numpy()], axis=-1)

        targets = distill_targets(d.train.x, ctx.targets())
        k = targets.shape[-1] - int(teacher_logits.output.shape[-1])
        val_targets = None
        if ctx.profile.select_on_validation and len(d.val.y):
            val_hard = ctx.task.targets(d.val) if ctx.task.targets is not None else d.val.y
            val_targets = distill_targets(d.val.x, val_hard)
        student_logits = logits_model(keras, student)
        hard_loss = ctx.hard_loss(from_logits=True)

        def loss(y_true: Any, logits: Any) -> Any:
            hard_part = y_true[..., :k] if sigmoid else tf.cast(y_true[..., 0], tf.int32)
            if sigmoid:
                soft_part = keras.losses.binary_crossentropy(y_true[..., k:], logits / t, from_logits=True)
            else:
                soft_part = keras.losses.kl_divergence(y_true[..., k:], tf.nn.softmax(logits / t))
            return alpha * hard_loss(hard_part, logits) + (1 - alpha) * (t * t) * soft_part

        ctx.fit(student_logits, epochs, y=targets, loss=loss, val_y=val_targets)
    ctx.cache[key] = student
    return student


def logits_model(keras: Any, model: Any) -> Any:
    """The model up to its logits: the layer named ``logits`` if there is one, else the input of
    a final softmax or sigmoid activation layer. Raises NotApplicable when neither exists (a
    Dense layer with the activation built in hides its logits)."""
    names = {layer.name for layer in model.layers}
    if "logits" in names:
        return keras.Model(model.input, model.get_layer("logits").output)
    last = model.layers[-1]
    activation = getattr(last, "activation", None)
    is_act = isinstance(last, keras.layers.Softmax) or (
        isinstance(last, keras.layers.Activation) and getattr(activation, "__name__", "") in ("softmax", "sigmoid")
    )
    if is_act:
        return keras.Model(model.input, last.input)
    raise NotApplicable(
        f"distillation reads the logits: name the layer before the final activation 'logits', or end "
        f"{model.name} with a separate Softmax layer (its last layer is {type(last).__name__})"
    )


def _distill_params(ctx: Context) -> tuple[float, float]:
    t = ctx.task.distill_temperature
    a = ctx.task.distill_alpha
    return (DISTILL_TEMPERATURE if t is None else t), (DISTILL_ALPHA if a is None else a)


@recipe(
    "distilled_int8",
    title="distilled student (a fraction of the teacher) → int8",
    quantization="int8",
    max_drop=2.0,
    order=90,
    needs_training=True,
    gates=(student_share,),
)
def _distilled_int8(ctx: Context) -> Made:
    model = _student(ctx, distill=True)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "distilled_from": "fp32",
            "notes": "knowledge distillation, T={:g}, alpha={:g}; then full-integer int8".format(*_distill_params(ctx)),
        },
        parameters=_tf.param_count(model),
    )


@recipe(
    "student_int8",
    title="same student without distillation → int8",
    quantization="int8",
    max_drop=3.0,
    order=100,
    needs_training=True,
    gates=(student_share,),
)
def _student_int8(ctx: Context) -> Made:
    model = _student(ctx, distill=False)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "notes": "the distilled student's architecture trained on labels alone: the control for distillation",
        },
        parameters=_tf.param_count(model),
    )
