"""Tasks, kinds and recipes from other packages, through Python entry points.

A team adds its own without forking edzoo, in its package's ``pyproject.toml``::

    [project.entry-points."edzoo.tasks"]
    reading-level = "ourpkg.edzoo:KIND"      # a zoo.kinds.Kind, or a zoo.tasks.Task
    [project.entry-points."edzoo.recipes"]
    int8_wide = "ourpkg.edzoo:RECIPE"        # a zoo.recipes.Recipe

An entry point may also name a module whose import registers things with the decorators.
Entry points are read once per process, the first time a registry is asked.
"""

from __future__ import annotations

from importlib import metadata
from types import ModuleType

from registry.core.errors import UsageError

__all__ = ["GROUPS", "load", "loaded"]

GROUPS = ("edzoo.tasks", "edzoo.recipes")

_loaded: list[str] = []
_done = False


def load() -> None:
    """Import every ``edzoo.tasks`` and ``edzoo.recipes`` entry point and register what it names.

    Raises UsageError naming the entry point and its distribution when one cannot be loaded or
    names something that is not a task, a kind, a recipe or a module.
    """
    global _done
    if _done:
        return
    _done = True  # a failure below is reported once, not on every lookup
    from . import kinds, recipes, tasks

    for group in GROUPS:
        for ep in metadata.entry_points(group=group):
            where = f"entry point {ep.name!r} = {ep.value!r} in group {group}" + (
                f" of {ep.dist.name} {ep.dist.version}" if ep.dist else ""
            )
            try:
                obj = ep.load()
            except Exception as e:  # noqa: BLE001 - a plugin's own failure, reported with its origin
                raise UsageError(f"{where} failed to load: {type(e).__name__}: {e}") from e
            if isinstance(obj, kinds.Kind) and group == "edzoo.tasks":
                kinds.register(obj)
            elif isinstance(obj, tasks.Task) and group == "edzoo.tasks":
                tasks.register(obj)
            elif isinstance(obj, recipes.Recipe) and group == "edzoo.recipes":
                recipes.register(obj)
            elif not isinstance(obj, ModuleType):
                raise UsageError(
                    f"{where} names a {type(obj).__name__}; it must name a "
                    + ("zoo.kinds.Kind or zoo.tasks.Task" if group == "edzoo.tasks" else "zoo.recipes.Recipe")
                    + " (or a module that registers them)"
                )
            _loaded.append(f"{group}:{ep.name}")


def loaded() -> list[str]:
    """The entry points read so far (``group:name``)."""
    return list(_loaded)
