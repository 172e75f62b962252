"""Quantization-aware training (``qat_int8``) and the annotate/apply steps PCQAT shares."""

from __future__ import annotations

from typing import Any

from .base import Context, Made, NotApplicable, recipe


def _annotate(ctx: Context, model: Any) -> tuple[Any, list[str]]:
    """Annotate for QAT every layer tfmot's 8-bit scheme supports. Returns the annotated model
    and the layer classes left to post-training calibration (empty: the whole model is QAT)."""
    q = ctx.tfmot.quantization.keras
    from tensorflow_model_optimization.python.core.quantization.keras.default_8bit import (
        default_8bit_quantize_registry as registry_module,
    )

    registry = registry_module.Default8BitQuantizeRegistry()
    # Batch normalization is folded into the convolution before it by the scheme's layout
    # transforms, not by the registry: it counts as supported.
    folded = (ctx.keras.layers.InputLayer, ctx.keras.layers.BatchNormalization)
    weighted = [layer for layer in model.layers if layer.weights and not isinstance(layer, folded)]
    unsupported = sorted({type(layer).__name__ for layer in weighted if not registry.supports(layer)})
    if weighted and len(unsupported) == len({type(layer).__name__ for layer in weighted}):
        raise NotApplicable(
            f"tfmot's 8-bit QAT scheme supports none of the layers with weights ({', '.join(unsupported)})"
        )
    if not unsupported:
        try:
            return q.quantize_annotate_model(model), []
        except (ValueError, TypeError, RuntimeError) as e:
            raise NotApplicable(f"tfmot could not annotate the model for QAT: {e}") from e

    def annotate(layer: Any) -> Any:
        clone = layer.__class__.from_config(layer.get_config())
        return q.quantize_annotate_layer(clone) if registry.supports(layer) else clone

    annotated = ctx.keras.models.clone_model(model, clone_function=annotate)
    for layer, src in zip(annotated.layers, model.layers, strict=True):
        getattr(layer, "layer", layer).set_weights(src.get_weights())
    return annotated, unsupported


def _apply(ctx: Context, annotated: Any, scheme: Any = None) -> Any:
    """tfmot's quantize_apply, its refusals (a layer layout it cannot quantize) as NotApplicable."""
    q = ctx.tfmot.quantization.keras
    try:
        return q.quantize_apply(annotated, scheme) if scheme is not None else q.quantize_apply(annotated)
    except (ValueError, TypeError, RuntimeError, KeyError) as e:
        raise NotApplicable(f"tfmot could not quantize the model for QAT: {type(e).__name__}: {e}") from e


def _partial_note(unsupported: list[str]) -> str:
    return (
        f"; tfmot's 8-bit QAT scheme does not support {', '.join(unsupported)}: those layers are "
        "trained in float and quantized after training from calibration data"
        if unsupported
        else ""
    )


@recipe(
    "qat_int8",
    title="quantization-aware training → int8",
    quantization="int8",
    max_drop=1.0,
    order=50,
    needs_training=True,
)
def _qat(ctx: Context) -> Made:
    annotated, unsupported = _annotate(ctx, ctx.clone_teacher())
    model = _apply(ctx, annotated)
    epochs = ctx.finetune_epochs()
    ctx.fit(model, epochs, lr=ctx.profile.learning_rate / 4)
    details: dict[str, Any] = {
        "io_dtype": "int8",
        "qat": True,
        "notes": f"quantization-aware fine-tuning, {epochs} epochs" + _partial_note(unsupported),
    }
    return Made(model, "int8", details)
