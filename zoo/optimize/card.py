"""The card a team gives (``--card``): read, checked and merged with what the build measures."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from registry.core.errors import UsageError

from ..datasets.common import Dataset
from ._base import CARD_KEYS


def read_card(source: Any) -> dict[str, Any]:
    """The model's card and listing fields from a ``.yaml``/``.yml``/``.json`` file or a dict.
    Raises UsageError naming unknown keys or an unreadable file."""
    if source is None:
        return {}
    if isinstance(source, Mapping):
        card = dict(source)
        where = "card"
    else:
        path = Path(source)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as e:
            raise UsageError(f"{path}: cannot read the card ({e.strerror})") from e
        try:
            if path.suffix in (".yaml", ".yml"):
                import yaml

                card = yaml.safe_load(text) or {}
            else:
                card = json.loads(text)
        except Exception as e:  # noqa: BLE001 - yaml and json errors have no common base
            raise UsageError(f"{path}: not valid {'YAML' if path.suffix != '.json' else 'JSON'}: {e}") from e
    if not isinstance(card, dict):
        raise UsageError(f"{where}: a card is a mapping of fields (summary, intended_use, limitations, ...)")
    unknown = sorted(set(card) - CARD_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown card fields {', '.join(unknown)}; known: {', '.join(sorted(CARD_KEYS))}")
    return card


def _slug(text: str) -> str:
    s = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (s or "model")[:40].strip("-")


def _card_fn(card: dict[str, Any], data_where: str, shift_where: str | None) -> Callable[[Dataset], dict[str, Any]]:
    def make(data: Dataset) -> dict[str, Any]:
        info = data.info
        sizes = {k: int(len(getattr(data, k).y)) for k in ("train", "val", "test")}
        made = (info.get("splits") or {}).get("made")
        split_note = (
            f"split here with seed {made.get('seed')}" + (f" by {made['group']}" if made.get("group") else "")
            if made
            else "splits as declared by the data"
        )
        limitations = list(card.get("limitations") or [])
        if not limitations:
            limitations = [
                "Measured on a test split of the same source as the training data"
                + (
                    f" and on {shift_where}"
                    if shift_where
                    else "; no data from another source was given (--shift-data)"
                )
                + ": quality on other learners' input is "
                + ("shown beside it." if shift_where else "unknown."),
            ]
        training = card.get("training_data") or {
            "description": f"{sizes['train']:,} training and {sizes['val']:,} validation samples from {data_where} "
            f"({info.get('format', 'arrays')}; {split_note}).",
            "provenance": f"{data_where}; source digest {info.get('source_sha256', 'not recorded')}",
        }
        evaluation = {
            "description": f"{sizes['test']:,} held-out samples from {data_where}, never used for training, "
            "calibration or choosing.",
            "provenance": f"{data_where}; digest: sha256 of the split's arrays (zoo.datasets.common.split_sha256)",
            **(card.get("evaluation_data") or {}),
            "sha256": info["sha256"]["test"],
            "size": sizes["test"],
        }
        out: dict[str, Any] = {
            "intended_use": card.get("intended_use")
            or "Not stated by its publisher (optimized without a card: pass --card card.yaml).",
            "limitations": limitations,
            "training_data": training,
            "evaluation_data": evaluation,
        }
        if card.get("ethical_considerations"):
            out["ethical_considerations"] = card["ethical_considerations"]
        return out

    return make
