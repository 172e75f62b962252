"""edzoo's typed data model, after python-tuf's ``tuf.api``: classes built from validated JSON
with ``from_dict`` and written back byte for byte with ``to_dict``."""

from .manifest import Benchmarks, Manifest, Metrics, Recipe, Requirements, Variant

__all__ = ["Benchmarks", "Manifest", "Metrics", "Recipe", "Requirements", "Variant"]
