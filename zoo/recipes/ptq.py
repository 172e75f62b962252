"""Post-training recipes: fp32, dynamic-range, float16 and full-integer int8."""

from __future__ import annotations

from .base import CALIBRATION_SAMPLES, Context, Made, recipe


@recipe(
    "fp32",
    title="float32, the reference",
    quantization="none",
    max_drop=0.0,
    order=20,
)
def _fp32(ctx: Context) -> Made:
    return Made(ctx.teacher, "fp32", {})


@recipe(
    "dynamic",
    title="dynamic-range quantization",
    quantization="dynamic-range",
    max_drop=1.0,
    order=30,
)
def _dynamic(ctx: Context) -> Made:
    return Made(
        ctx.teacher, "dynamic", {"notes": "post-training dynamic-range quantization: int8 weights, float activations"}
    )


@recipe(
    "float16",
    title="float16 quantization",
    quantization="float16",
    max_drop=0.5,
    order=40,
)
def _float16(ctx: Context) -> Made:
    return Made(ctx.teacher, "float16", {"notes": "post-training float16 weights"})


@recipe(
    "int8",
    title="full-integer int8 (int8 input, float32 probabilities out)",
    quantization="int8",
    max_drop=1.0,
    order=10,
)
def _int8(ctx: Context) -> Made:
    return Made(
        ctx.teacher,
        "int8",
        {
            "io_dtype": "int8",
            "notes": f"post-training full-integer; calibration: {CALIBRATION_SAMPLES} training samples",
        },
    )
