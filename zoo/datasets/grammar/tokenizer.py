"""The tokenizer: words and punctuation to ids, with the unknown-word classes (:class:`Tokenizer`)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np

from registry.core.errors import UsageError
from registry.core.preprocess import TOKEN_PATTERN, WordTokenizer, unknown_token

_SPECIALS = ("[PAD]", "[CLS]")

#: Unknown-word tokens, in vocabulary order (ids 2..13).
UNKNOWN_TOKENS: tuple[str, ...] = (
    "[UNK]", "[UNK-s]", "[UNK-ed]", "[UNK-ing]", "[UNK-ly]",
    "[UNK-V]", "[UNK-V-s]", "[UNK-V-ed]", "[UNK-V-ing]", "[UNK-V-ly]",
    "[UNK-NUM]", "[UNK-PUNCT]",
)  # fmt: skip


#: The unknown-word rules this generator's tokenizers use (registry.core.preprocess.unknown_token).
UNKNOWN_RULES_VERSION = 2

_UNKNOWN_RULES = (
    "a token not in the vocabulary is mapped, checking in order: contains a digit 0-9 -> [UNK-NUM]; "
    "contains no letter a-z -> [UNK-PUNCT]; otherwise '[UNK' + ('-V' if it starts with a, e, i, o or u) + "
    "the first matching suffix class: '-ing' (ends with 'ing', length >= 5), '-ed' (ends with 'ed', length >= 4), "
    "'-ly' (ends with 'ly', length >= 4), '-s' (ends with 's' but not 'ss', 'us' or 'is', length >= 3), "
    "else nothing; + ']'",
)


class Tokenizer:
    """Words and punctuation to ids, as the module docstring specifies; ``to_json`` holds
    everything an app needs to reimplement it."""

    def __init__(self, vocab: Sequence[str], max_len: int) -> None:
        head = (*_SPECIALS, *UNKNOWN_TOKENS)
        if tuple(vocab[: len(head)]) != head:
            raise ValueError(f"a vocabulary must start with {', '.join(head)}")
        if len(set(vocab)) != len(vocab):
            raise ValueError("the vocabulary has duplicate tokens")
        if max_len < 2:
            raise ValueError(f"max_len must be at least 2, got {max_len}")
        self.vocab = list(vocab)
        self.max_len = max_len
        self.ids = {t: i for i, t in enumerate(self.vocab)}
        # The splitting and unknown-word rules are the client's (one owner: what an app runs);
        # only the vocabulary and the batch encoding live here.
        self._core = WordTokenizer(tuple(self.vocab), max_len, UNKNOWN_RULES_VERSION)

    @classmethod
    def build(cls, texts: Iterable[str], vocab_size: int, min_count: int, max_len: int) -> Tokenizer:
        """The vocabulary of ``texts``: tokens seen at least ``min_count`` times, most frequent
        first (ties alphabetical), after the specials, at most ``vocab_size`` tokens in all."""
        counts: Counter[str] = Counter()
        split = WordTokenizer((), max_len).tokens
        for text in texts:
            counts.update(split(text))
        head = [*_SPECIALS, *UNKNOWN_TOKENS]
        words = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(head + words[: max(0, vocab_size - len(head))], max_len)

    def tokens(self, text: str) -> list[str]:
        return self._core.tokens(text)

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` + token ids, cut to ``max_len`` (not padded)."""
        ids = [1]
        for t in self.tokens(text)[: self.max_len - 1]:
            ids.append(self.ids[t] if t in self.ids else self.ids[unknown_token(t, UNKNOWN_RULES_VERSION)])
        return ids

    def encode_batch(self, texts: Iterable[str]) -> np.ndarray:
        """int32 (N, max_len): :meth:`encode`, right-padded with ``[PAD]`` = 0."""
        rows = [self.encode(t) for t in texts]
        out = np.zeros((len(rows), self.max_len), dtype=np.int32)
        for k, ids in enumerate(rows):
            out[k, : len(ids)] = ids
        return out

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "edzoo-grammar-words",
            "lowercase": "ASCII A-Z to a-z only, before splitting",
            "pattern": TOKEN_PATTERN,
            "pattern_syntax": "Python re; all non-overlapping matches left to right (re.findall)",
            "specials": {"[PAD]": 0, "[CLS]": 1},
            "unknown_tokens": list(UNKNOWN_TOKENS),
            "unknown_rules_version": UNKNOWN_RULES_VERSION,
            "unknown_rules": list(_UNKNOWN_RULES),
            "vocab": list(self.vocab),
            "max_len": self.max_len,
            "sequence": "[CLS] then token ids, cut to max_len",
            "padding": "right",
            "pad_id": 0,
            "truncation": "right",
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Tokenizer:
        """Raises ValueError for another kind of tokenizer (the client's check, then the
        unknown-token list this generator writes)."""
        try:
            core = WordTokenizer.from_json(d)
        except UsageError as e:
            raise ValueError(str(e)) from e
        if list(d.get("unknown_tokens", ())) != list(UNKNOWN_TOKENS):
            raise ValueError("unsupported unknown-token rules in the tokenizer description")
        if core.unknown_rules_version != UNKNOWN_RULES_VERSION:
            raise ValueError(
                f"a tokenizer of unknown-word rules {core.unknown_rules_version}; this generator writes "
                f"{UNKNOWN_RULES_VERSION}"
            )
        return cls(list(core.vocab), core.max_len)
