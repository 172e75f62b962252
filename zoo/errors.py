"""The zoo's own errors: what a team's model or data can be wrong about. They derive from
:class:`registry.core.errors.UsageError`, so the CLI prints one line and exits with their code;
the registry server never raises them (they are not part of its HTTP contract)."""

from __future__ import annotations

from registry.core.errors import UsageError

__all__ = ["DataError", "ModelError", "RecipeError"]


class DataError(UsageError):
    """Training or evaluation data that cannot be read or does not fit the model: a missing or
    unreadable file, an unknown layout, arrays whose shapes disagree with the model's input,
    labels outside the classes, an empty split. Nothing is written."""

    code = "invalid_data"
    exit_code = 14

    def __init__(self, message: str, *, source: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.source = source


class ModelError(UsageError):
    """A file that is not a model edzoo can optimize or measure (not Keras, SavedModel or
    ``.tflite``, or unreadable). Nothing is written."""

    code = "invalid_model"
    exit_code = 15


class RecipeError(UsageError):
    """A recipe that was asked for by name cannot apply to this model: a layer its
    quantization scheme cannot handle, no training split, no student. ``recipe`` and
    ``reason`` say which and why; the recipes a build only lists by default are reported as
    not applied instead."""

    code = "recipe_not_applicable"
    exit_code = 16

    def __init__(self, message: str, *, recipe: str = "", reason: str = "", code: str | None = None) -> None:
        super().__init__(message, code=code)
        self.recipe, self.reason = recipe, reason
