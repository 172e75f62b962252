"""Magnitude pruning (``prune_int8``) and the sparsity it measured."""

from __future__ import annotations

from typing import Any

import numpy as np

from .base import MIN_SPARSITY, Context, Made, NotApplicable, min_sparsity, recipe


def _prune(ctx: Context, target: float) -> Any:
    """Magnitude pruning of the dense layers to ``target`` sparsity with a polynomial schedule,
    then stripped."""
    sparsity = ctx.tfmot.sparsity.keras
    # Pruning needs longer than the other fine-tunings: it reaches the target sparsity at 30%,
    # then the remaining weights recover the accuracy.
    epochs = ctx.finetune_epochs(3)
    steps = int(np.ceil(len(ctx.data.train.y) / ctx.profile.batch_size)) * epochs
    end = max(2, int(steps * 0.3))
    # The mask is updated every `frequency` steps (tfmot's default, 100, would never reach the
    # target in a short fine-tuning): ten updates over the schedule.
    schedule = sparsity.PolynomialDecay(
        initial_sparsity=0.2, final_sparsity=target, begin_step=0, end_step=end, frequency=max(1, end // 10)
    )
    keras = ctx.keras

    def prune_some(layer: Any) -> Any:
        # Only the layers that hold most of the weights (the task says which): pruning small
        # kernels costs accuracy and saves little.
        if ctx.is_one_of(layer, ctx.task.prune_layers):
            return sparsity.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer.__class__.from_config(layer.get_config())

    teacher = ctx.clone_teacher()
    if not any(ctx.is_one_of(layer, ctx.task.prune_layers) for layer in teacher.layers):
        raise NotApplicable(
            f"the model has no layer of the classes pruning acts on ({', '.join(ctx.task.prune_layers)})"
        )
    model = keras.models.clone_model(teacher, clone_function=prune_some)
    for layer, src in zip(model.layers, teacher.layers, strict=True):
        target_layer = getattr(layer, "layer", layer)
        target_layer.set_weights(src.get_weights())
    per_epoch = max(1, int(np.ceil(len(ctx.data.train.y) / ctx.profile.batch_size)))
    # Weights are chosen only once the target sparsity is reached.
    ctx.fit(model, epochs, callbacks=[sparsity.UpdatePruningStep()], select_from=int(np.ceil(end / per_epoch)))
    return sparsity.strip_pruning(model)


def measured_sparsity(model: Any, layer_types: tuple[type, ...] | None = None) -> float:
    """Fraction of zeros over the kernels (and embedding tables) of the layers pruning acts on
    (exactly the classes ``layer_types``; default: every layer)."""
    zeros = total = 0
    for layer in model.layers:
        if layer_types is not None and type(layer) not in layer_types:
            continue
        for w in layer.weights:
            if "kernel" in w.name or "embeddings" in w.name:
                values = w.numpy()
                zeros += int((values == 0).sum())
                total += values.size
    return round(zeros / total, 4) if total else 0.0


@recipe(
    "prune_int8",
    title="magnitude pruning → int8",
    quantization="int8",
    max_drop=1.5,
    order=60,
    needs_training=True,
    gates=(min_sparsity(MIN_SPARSITY),),
)
def _prune_int8(ctx: Context) -> Made:
    target = ctx.profile.prune_sparsity
    model = _prune(ctx, target)
    return Made(
        model,
        "int8",
        {
            "io_dtype": "int8",
            "pruning": {
                "sparsity": measured_sparsity(model, ctx.layer_types(ctx.task.prune_layers)),
                "layers": list(ctx.task.prune_layers),
                "schedule": f"polynomial-decay 0.2 -> {target} over the first 30% of "
                f"{ctx.finetune_epochs(3)} fine-tuning epochs",
            },
        },
    )
