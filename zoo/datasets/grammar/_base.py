"""What every part of the grammar dataset shares: the labels, the WordNet folder, the generation
parameters and the errors that name a missing package."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from registry.core.errors import EdzooError

ERROR_TYPES: tuple[str, ...] = ("agreement", "article", "tense", "preposition", "plural")

LABELS: tuple[str, ...] = ("ok", *ERROR_TYPES)

WORDNET_DIR = Path("/usr/share/wordnet")

_GLOSS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")

_FRAME_FILES = ("sents.vrb", "sentidx.vrb")

_SPLITS = ("train", "val", "test")

_FORMAT = 4  # bump when the generator changes in a way GenerationParams does not capture

_LICENSE = (
    "WordNet 3.0 licence (Princeton; permissive, attribution): use, copy, modify and distribute for any "
    "purpose without fee, provided the copyright notice 'WordNet 3.0 Copyright 2006 by Princeton University. "
    "All rights reserved.' and the licence text appear on all copies (/usr/share/doc/wordnet-base/copyright)"
)


#: Sentences per profile (None: every filtered sentence).
PROFILES: dict[str, int | None] = {"quick": 3000, "full": None}

#: Simple sentences (:func:`simple_sentences`) per profile, added to the WordNet ones.
SIMPLE_PROFILES: dict[str, int] = {"quick": 2500, "full": 12000}


class WordNetMissingError(EdzooError, FileNotFoundError):
    """The Debian package ``wordnet-base`` (the source sentences) is not installed."""

    code = "wordnet_missing"
    exit_code = 11


class InflectionMissingError(EdzooError, ModuleNotFoundError):
    """``lemminflect`` or ``inflect`` (the error generator's inflection tables) is not installed."""

    code = "inflection_missing"
    exit_code = 11


@dataclass(frozen=True)
class GenerationParams:
    """Sentence selection, tokenization and error generation; the module docstring explains each."""

    min_words: int = 4
    max_words: int = 20
    vocab_size: int = 4000  # including the 14 special and unknown-word tokens
    min_count: int = 2  # a training token seen fewer times is unknown
    max_len: int = 28  # [CLS] + 27 tokens; longer texts are cut
    corrupt_fraction: float = 1.0  # share of sources that get a corrupted record when a rule applies


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())
