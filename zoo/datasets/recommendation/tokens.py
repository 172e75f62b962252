"""Answer histories as tokens: one id per (item, answer), the encoding an app reproduces."""

from __future__ import annotations

import numpy as np

from ._base import PAD, WINDOW


def encode_windows(items: np.ndarray, correct: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Tokens (int32, (n, window)) of the last ``window`` interactions of each row.

    ``items`` and ``correct`` are (n, L) histories, oldest first; an item of -1 marks "no
    interaction" and becomes the padding token 0 (give ragged histories right-aligned, with
    -1 on the left). Shorter histories are left-padded with 0. Raises ValueError on shapes.
    """
    items = np.asarray(items)
    correct = np.asarray(correct)
    if items.ndim != 2 or items.shape != correct.shape:
        raise ValueError(f"expected items and correct of the same shape (n, L), got {items.shape} and {correct.shape}")
    if window < 1:
        raise ValueError(f"window must be positive, got {window}")
    tokens = np.where(items >= 0, 1 + 2 * items.astype(np.int64) + (correct != 0), PAD).astype(np.int32)
    out = np.zeros((items.shape[0], window), dtype=np.int32)
    take = min(window, tokens.shape[1])
    if take:
        out[:, window - take :] = tokens[:, tokens.shape[1] - take :]
    return out


def encode_window(history_items: np.ndarray, history_correct: np.ndarray, window: int = WINDOW) -> np.ndarray:
    """Tokens (int32, (window,)) of one student's last ``window`` interactions, oldest first, left-padded."""
    items = np.asarray(history_items).reshape(1, -1)
    correct = np.asarray(history_correct).reshape(1, -1)
    return encode_windows(items, correct, window)[0]


def decode_tokens(tokens: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item, correct) of each token, int64 arrays of the same shape; padding gives (-1, 0)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    if tokens.size and tokens.min() < 0:
        raise ValueError("tokens must be non-negative")
    pad = tokens == PAD
    items = np.where(pad, -1, (tokens - 1) // 2)
    correct = np.where(pad, 0, (tokens - 1) % 2)
    return items, correct
