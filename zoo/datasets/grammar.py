"""Grammatical error detection in short English sentences, for writing-support apps.

6 classes, :data:`LABELS`: ``"ok"`` and the five error types of :data:`ERROR_TYPES`
(``agreement``, ``article``, ``tense``, ``preposition``, ``plural``; the class id is the
index). Every source sentence gives its clean version (``ok``) and, when one of the error
rules applies, one corrupted version, so about half the records are ``ok``. Nothing is
downloaded: the sentences come from the Debian package ``wordnet-base`` and the errors are
made by seeded code with the inflection tables of ``lemminflect`` and ``inflect``.

Sources
-------
Gloss examples
    The quoted example sentences of the WordNet 3.0 glosses (``data.noun``, ``data.verb``,
    ``data.adj``, ``data.adv`` under :data:`WORDNET_DIR`; the text after ``|``, examples in
    double quotes). Kept when sentence-like: only ASCII letters, digits, spaces and
    ``, . ; : ! ? ' -``; a capital first letter; 4–20 words; ending in ``. ! ?`` (a period
    is added to one that ends in a letter or digit; any other ending drops it).
Verb-frame sentences
    ``sents.vrb`` holds 170 example templates (``They %s the coin``) and ``sentidx.vrb``
    maps 3,421 verb senses (``abandon%2:31:00::``) to template numbers. Each pair is
    instantiated with the verb inflected by lemminflect: ``%sing`` → VBG, ``%ss`` → VBZ,
    ``%s`` → the base form (every template's own subject is plural or follows an auxiliary
    or ``to``, so the base form agrees). In templates that open with ``They %s`` and do not
    refer back to it (no ``their``, ``themselves``), ``They`` is replaced by a subject of
    :data:`SUBJECTS`, picked by a hash of the sense key and template number (seed-free);
    a singular subject takes the VBZ form (``Sam abandons the coin.``), so agreement is
    correct by construction. Multi-word verbs inflect their first word (``gives up``). The
    verb ``be`` and templates with a double quote are skipped.

Both sets go through :func:`blocked` (the content filter) and are deduplicated (first
occurrence wins; file order: noun, verb, adj, adv, then the frames). ``info["corpus"]``
counts every stage. The WordNet licence is permissive (use, copy, modify and distribute
for any purpose, without fee) provided the copyright notice ("WordNet 3.0 Copyright 2006
by Princeton University. All rights reserved.") and the licence text appear on all copies:
ship ``/usr/share/doc/wordnet-base/copyright`` with anything built from this data.

Content filter
--------------
WordNet's examples include violence, drugs and adult content. :data:`BLOCKLIST` maps
categories (violence, weapons, death, crime, drugs, alcohol and tobacco, sexual content,
insults and slurs, gambling) to lowercase stems; a sentence is dropped when any of its
lowercased words equals a stem or a stem plus one of the suffixes ``s es d ed ing er ers
y ly``, also with a doubled final consonant (``kidnapped``) or a dropped final ``e``
(``choking``); whole words only: ``gun`` blocks ``guns`` but not ``begun``. ``info["filter"]``
records the blocklist size and how many sentences were dropped, per category (a sentence
can count in several categories); the dropped text is not stored.

Errors (:class:`GenerationParams`; each rule only fires in a context where its result is
clearly ungrammatical; the sets named below are module constants)
------------------------------------------------------------------------------------------
agreement
    ``is/are``, ``was/were``, ``has/have``, ``does/do`` (and their ``n't`` forms) flipped
    after a subject whose number is known (a nominative pronoun, ``this/these...``, or a
    noun whose number lemminflect knows); ``was/were`` never in a sentence with ``if``,
    ``wish``, ``though``, ``unless`` (the subjunctive keeps them grammatical). A lexical
    verb right after ``he/she`` (or a sentence-initial ``It``) goes from VBZ to the base
    form, after ``I/we/they`` (or initial ``You``) from the base form to VBZ; after
    determiner + noun, only when the verb cannot be read as a noun.
article
    ``a``↔``an`` swapped where inflect's choice matches the original; ``a/an`` dropped
    (not before ``few``/``little``, where the result stays grammatical); ``the`` before a
    plural noun replaced by ``a``/``an``; ``the`` inserted before a possessive (``the my``).
tense
    After a modal or ``do/does/did`` (+ an optional pronoun or adverb), the base verb
    becomes its past (``will went``; the -ing form when the past equals the base); after
    ``have/has/had`` a participle that differs from the base becomes the base (``has
    eat``); after a form of ``be`` an -ing form or a participle becomes the base (``is
    eat``), unless the base equals the participle (``is run``) or can be an adjective
    (``is close``); after a nominative pronoun a finite verb becomes its -ing form (``He
    eating``).
preposition
    Only in the fixed collocations of :data:`PREPOSITION_RULES` (``interested in``,
    ``because of``, ``at night``...), replaced by one of the listed wrong prepositions,
    which were chosen so the result is not another grammatical phrase: free swaps stay
    grammatical far too often (``a box from China`` → ``a box of China``).
plural
    A singular noun after ``a/an/one/this/each/every/another`` made plural, or a plural
    noun after ``two``..``ten``/``many/these/those/several/both/various/few`` made
    singular (lemminflect / inflect). The noun must be followed by a word that cannot be
    a noun (no compounds: ``a sports car``) and must not be a function word; singular
    nouns whose plural lemminflect does not know, and plurals whose singular is the same
    word (``sheep``) or that are not regular nouns (``people``) are skipped.

Every corrupted text differs from its clean sentence; ``position`` is the index (in the
tokenization below) of the first token that differs: the changed, inserted or — for a
dropped article — the following token. Which type a sentence gets is seeded and balanced:
sentences are visited in a seeded order and each takes, among the types applicable to it,
the one used least so far (ties broken at random); the site is drawn uniformly among that
type's candidates. ``numpy.random.default_rng([seed, 0x6772])`` drives both; nothing else
(no global state, no set order), so a profile and seed give byte-identical splits for the
same package versions (``info["versions"]``, ``info["sources"]``).

Splits
------
By source sentence, so a clean sentence and its corruption are always on the same side:
``h = int(sha256("edzoo-grammar-split:" + clean).hexdigest()[:8], 16) % 10``; ``h == 0``
test, ``h == 1`` validation, else training. The assignment does not depend on the seed.
The ``quick`` profile keeps the :data:`PROFILES` count of sentences with the smallest
``sha256("edzoo-grammar-subset:" + clean)`` (also seed-free), ``full`` keeps all.

Tokenizer (shipped with the model; :class:`Tokenizer`, ``info["tokenizer"]``)
------------------------------------------------------------------------------
Lowercase (ASCII ``A-Z`` → ``a-z``), then ``re.findall(r"[a-z0-9]+(?:'[a-z]+)*|[^\\sa-z0-9]")``:
words (with inner apostrophes, ``don't`` is one token) and single non-space characters.
Vocabulary: the specials ``[PAD]`` = 0, ``[CLS]`` = 1, then the 12 unknown-word tokens of
:data:`UNKNOWN_TOKENS`, then the training split's tokens (clean and corrupted texts) seen at
least twice, most frequent first (ties alphabetical), at most ``vocab_size`` in total. A
token not in the vocabulary becomes, checking in this order: ``[UNK-NUM]`` if it has a
digit; ``[UNK-PUNCT]`` if it has no letter; otherwise ``[UNK`` + ``-V`` if it starts with
``a e i o u`` + the first suffix class that matches (``-ing``: ends in ``ing``, length ≥ 5;
``-ed``: ``ed``, ≥ 4; ``-ly``: ``ly``, ≥ 4; ``-s``: ``s`` but not ``ss``, ≥ 3) + ``]``,
e.g. ``[UNK]``, ``[UNK-s]``, ``[UNK-V-ing]``. A sequence is ``[CLS]`` then the tokens,
cut to ``max_len`` and right-padded with ``[PAD]``.

Splits hold ``x`` int32 (N, max_len), ``y`` int64 and ``meta``: ``error_type`` (int32,
= ``y``), ``position`` (int32 index in ``x`` of the first changed token, i.e. the text
position + 1 for ``[CLS]``; -1 for ``ok`` or when truncated away), ``source`` (int32 id of
the source sentence: its index in the full filtered corpus) and ``text`` (the sentence as a
numpy unicode array; :func:`texts` returns it as a list). ``info["test_texts"]`` repeats the
test texts for golden samples and reports. The cache stores texts and labels; the tokenizer
and the encodings are rebuilt from them on load.

Measured (2-core machine, wordnet-base 1:3.0-370.2.3, lemminflect 0.2.3, inflect 7.6.0)
---------------------------------------------------------------------------------------
* Corpus: 48,339 quoted gloss examples, 8,790 sentence-like; 3,994 (sense, template) pairs,
  3,759 instantiated; the content filter drops 840 (most for crime and violence); after
  deduplication 11,574 sentences, 8,157 from glosses and 3,417 from frames.
* Rules applicable (full): tense 5,005 sentences, article 4,158, agreement 2,589, plural
  1,488, preposition 754; 27 % of the sentences take none. After balancing (full, seed 0):
  agreement 2,046, article 2,127, tense 2,126, preposition 753, plural 1,373, so 58 % of
  the records are ``ok``. 88 % of the preposition errors come from the verb + preposition
  → ``of`` rule; the collocation table gives the rest.
* ``quick``: 3,000 sentences, 7,179 records (4,191 / 531 / 457 train / val / test),
  vocabulary 3,265 tokens; generated in 2.5–4 s. ``full``: 11,574 sentences, 19,999
  records (16,064 / 2,004 / 1,931), vocabulary 4,000 (capped); 3.5–6 s. No text is longer
  than 27 tokens, so nothing is truncated at ``max_len`` 28; 12 % of the test tokens
  (full) are unknown words.
* :func:`baseline` (binary ok vs error), test accuracy: ``quick`` 0.705, ``full`` 0.721
  (validation 0.680 / 0.702); on ``full`` it flags 57–72 % of each error type and keeps
  82 % of the clean sentences; 2–11 s. 0.1 % of the corrupted records encode to the same
  ids as their clean sentence (both words unknown with the same shape: ``befall``/``befell``).

Limitations
-----------
* The clean sentences are adult dictionary examples and simple frame sentences, not
  children's writing; the errors are synthetic, one per sentence, of five kinds only.
  Real children's errors (spelling, run-ons, word order, missing words) are not covered.
* Rules use a dictionary without a tagger, so a few corruptions may still be grammatical
  or be of a different kind than labelled; contexts were chosen to keep this rare.
* Frame sentences are formulaic (~30 % of the corpus) and can be semantically odd
  (``They abandon the coin.``) though grammatical.
* Preposition errors are mostly a wrong ``of`` after a verb; other confusions
  (``in``/``on``/``at``) only occur in the listed collocations.
* The content filter is a word list: it misses offensive meaning without listed words and
  drops innocent uses (``shot`` a photo).
"""

from __future__ import annotations

import hashlib
import json
import platform
import re
import subprocess
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from registry.core.errors import EdzooError
from zoo.datasets.common import Dataset, Split, cached, check_seed, split_sha256

__all__ = [
    "BLOCKLIST",
    "ERROR_TYPES",
    "LABELS",
    "OF_VERBS",
    "PREPOSITION_RULES",
    "PROFILES",
    "SUBJECTS",
    "TOKEN_PATTERN",
    "UNKNOWN_TOKENS",
    "WORDNET_DIR",
    "Dataset",
    "GenerationParams",
    "InflectionMissingError",
    "Split",
    "Tokenizer",
    "WordNetMissingError",
    "baseline",
    "blocked",
    "corrupt",
    "instantiate",
    "load",
    "sentences",
    "split_sha256",
    "texts",
    "unknown_token",
]

ERROR_TYPES: tuple[str, ...] = ("agreement", "article", "tense", "preposition", "plural")
LABELS: tuple[str, ...] = ("ok", *ERROR_TYPES)
WORDNET_DIR = Path("/usr/share/wordnet")
_GLOSS_FILES = ("data.noun", "data.verb", "data.adj", "data.adv")
_FRAME_FILES = ("sents.vrb", "sentidx.vrb")
_SPLITS = ("train", "val", "test")
_FORMAT = 1  # bump when the generator changes in a way GenerationParams does not capture
_LICENSE = (
    "WordNet 3.0 licence (Princeton; permissive, attribution): use, copy, modify and distribute for any "
    "purpose without fee, provided the copyright notice 'WordNet 3.0 Copyright 2006 by Princeton University. "
    "All rights reserved.' and the licence text appear on all copies (/usr/share/doc/wordnet-base/copyright)"
)

#: Sentences per profile (None: every filtered sentence).
PROFILES: dict[str, int | None] = {"quick": 3000, "full": None}


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


# --------------------------------------------------------------------------- content filter

#: Content filter: category -> lowercase stems, matched on whole words with simple suffixes.
BLOCKLIST: dict[str, tuple[str, ...]] = {
    "violence": (
        "kill", "murder", "assassin", "assassinate", "slaughter", "massacre", "stab", "strangle", "torture",
        "assault", "attack", "violent", "violence", "blood", "bloody", "bleed", "wound", "war", "warfare",
        "combat", "terror", "terrorist", "terrorism", "hostage", "kidnap", "abuse", "rape", "raping", "brutal",
        "beating", "bled", "slay", "slain", "behead", "lynch", "genocide", "execution", "whip", "punch", "choke",
        "victim", "mugger", "mugging",
    ),
    "weapons": (
        "gun", "rifle", "pistol", "revolver", "shotgun", "bullet", "sword", "dagger", "weapon", "ammunition",
        "missile", "grenade", "bomb", "explosive", "cannon", "shoot", "shot", "firearm", "bayonet", "artillery",
    ),
    "death": (
        "death", "dead", "die", "dying", "corpse", "suicide", "drown", "poison", "deadly", "fatal", "coffin",
        "cadaver", "carcass", "mortal", "perish",
    ),
    "crime": (
        "crime", "criminal", "steal", "stole", "stolen", "thief", "thieves", "rob", "robbery", "robber",
        "burglar", "prison", "jail", "arrest", "convict", "fraud", "smuggle", "gang", "mafia", "prostitute",
        "prostitution", "murderer", "vandal", "hijack",
    ),
    "drugs": (
        "drug", "cocaine", "heroin", "marijuana", "opium", "narcotic", "addict", "addiction", "overdose",
        "cannabis", "hashish", "meth", "lsd", "amphetamine", "morphine",
    ),
    "alcohol_tobacco": (
        "alcohol", "alcoholic", "beer", "wine", "whiskey", "whisky", "vodka", "gin", "rum", "brandy", "liquor",
        "drunk", "drunken", "booze", "cocktail", "champagne", "cigarette", "cigar", "tobacco", "nicotine",
        "hangover", "tipsy", "bourbon", "sherry", "ale",
    ),
    "sexual": (
        "sex", "sexual", "sexy", "naked", "nude", "porn", "pornography", "erotic", "brothel", "orgasm", "penis",
        "vagina", "breast", "lust", "seduce", "intercourse", "mistress", "adultery", "virgin", "condom",
        "lover", "genital", "genitals", "buttock", "nipple", "harlot", "pimp",
    ),
    "insults_slurs": (
        "idiot", "stupid", "moron", "fool", "dumb", "retard", "bastard", "bitch", "damn", "hell", "crap",
        "shit", "fuck", "ass", "asshole", "jerk", "whore", "slut", "nigger", "negro", "faggot", "fag", "dyke",
        "spic", "chink", "kike", "wop", "gook", "tranny", "queer", "coon", "imbecile", "cretin",
    ),
    "gambling": ("gamble", "gambler", "casino"),
}  # fmt: skip

_SUFFIXES = ("", "s", "es", "d", "ed", "ing", "er", "ers", "y", "ly")


@lru_cache(maxsize=1)
def _block_index() -> dict[str, str]:
    """Every blocked word form -> its category (the first category listing it)."""
    index: dict[str, str] = {}
    for category, stems in BLOCKLIST.items():
        for stem in stems:
            forms = [stem + suffix for suffix in _SUFFIXES]
            forms += [stem + stem[-1] + suffix for suffix in ("ed", "ing", "er", "ers", "y")]  # kidnapped
            if stem.endswith("e"):
                forms += [stem[:-1] + suffix for suffix in ("ing", "er", "ers", "y")]  # choking
            for form in forms:
                index.setdefault(form, category)
    return index


def blocked(sentence: str) -> list[str]:
    """The blocklist categories whose words occur in ``sentence`` (empty: the sentence is kept)."""
    index = _block_index()
    found = {index[w] for w in re.findall(r"[a-z]+", sentence.lower()) if w in index}
    return sorted(found)


# --------------------------------------------------------------------------- sentences

_ALLOWED = re.compile(r"[A-Za-z0-9 ,.;:!?'\-]+")
_QUOTED = re.compile(r'"([^"]+)"')
_WORD = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*")

#: Subjects that replace ``They`` in frame sentences: (text, singular?).
SUBJECTS: tuple[tuple[str, bool], ...] = (
    ("Sam", True),
    ("Mia", True),
    ("The teacher", True),
    ("My sister", True),
    ("Grandpa", True),
    ("They", False),
    ("We", False),
    ("The children", False),
    ("My friends", False),
    ("Sam and Mia", False),
)


def _sentence_like(text: str, p: GenerationParams) -> str | None:
    """The example as a sentence (a final period added when needed), or None when it is not one."""
    text = " ".join(text.split())
    if not text or not _ALLOWED.fullmatch(text) or not text[0].isupper() or ".." in text:
        return None
    if not p.min_words <= len(_WORD.findall(text)) <= p.max_words:
        return None
    if text[-1] not in ".!?":
        if not text[-1].isalnum():
            return None
        text += "."
    return text


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_PARTICLES = _words("up down in out off on over away back through along around about together apart")


def _inflect_verb(lemma: str, tag: str) -> str:
    import lemminflect

    head, *rest = lemma.split("_")
    if tag == "VB":
        form = head
    else:
        forms = lemminflect.getInflection(head, tag)
        form = forms[0] if forms else head
    return " ".join([form, *rest])


def _stable_int(text: str) -> int:
    return int(hashlib.sha256(text.encode()).hexdigest()[:8], 16)


def instantiate(template: str, lemma: str, key: str) -> str | None:
    """A frame template (``They %s the coin``) with ``lemma`` inflected in it; ``They`` may be
    replaced by a subject of :data:`SUBJECTS` chosen by a hash of ``key``. None when unusable."""
    head, *rest = lemma.split("_")
    if head == "be" or '"' in template or template.count("%s") != 1 or any(w not in _PARTICLES for w in rest):
        return None
    words = template.split()
    subject = None
    if words[:2] == ["They", "%s"] and not {"their", "themselves"} & {w.lower() for w in words}:
        subject = SUBJECTS[_stable_int(key) % len(SUBJECTS)]
        words = [*subject[0].split(), *words[1:]]
    out = []
    for w in words:
        if "%s" in w:
            if w.startswith("%sing"):
                verb, tail = _inflect_verb(lemma, "VBG"), w[5:]
            elif w.startswith("%ss"):
                verb, tail = _inflect_verb(lemma, "VBZ"), w[3:]
            elif subject is not None and subject[1]:
                verb, tail = _inflect_verb(lemma, "VBZ"), w[2:]
            else:
                verb, tail = _inflect_verb(lemma, "VB"), w[2:]
            out.append(verb + tail)
        else:
            out.append(w)
    text = " ".join(out)
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError as e:
        raise WordNetMissingError(
            f"WordNet data file {path} not found; install the Debian package with: apt-get install wordnet-base"
        ) from e


def _raw_sentences(root: Path, p: GenerationParams) -> tuple[list[tuple[str, str]], dict[str, Any]]:
    """(origin, sentence) before filtering and deduplication, and the sha256 of each file read."""
    digests: dict[str, str] = {}
    out: list[tuple[str, str]] = []
    stats = {"gloss_examples": 0, "gloss_sentence_like": 0, "frame_pairs": 0, "frame_sentences": 0}
    for name in _GLOSS_FILES:
        raw = _read(root / name)
        digests[name] = hashlib.sha256(raw).hexdigest()
        for line in raw.decode("utf-8", errors="replace").splitlines():
            if line.startswith("  ") or "|" not in line:
                continue  # licence header
            for example in _QUOTED.findall(line.split("|", 1)[1]):
                stats["gloss_examples"] += 1
                s = _sentence_like(example, p)
                if s is not None:
                    stats["gloss_sentence_like"] += 1
                    out.append(("gloss", s))
    files = {}
    for name in _FRAME_FILES:
        raw = _read(root / name)
        digests[name] = hashlib.sha256(raw).hexdigest()
        files[name] = raw.decode("utf-8", errors="replace")
    templates = {}
    for line in files["sents.vrb"].splitlines():
        num, _, text = line.partition(" ")
        if num.isdigit():
            templates[int(num)] = text.strip()
    for line in files["sentidx.vrb"].splitlines():
        key, _, nums = line.strip().partition(" ")
        if "%" not in key or not nums:
            continue
        lemma = key.split("%")[0]
        for num in nums.split(","):
            if not num.strip().isdigit() or int(num) not in templates:
                continue
            stats["frame_pairs"] += 1
            s = instantiate(templates[int(num)], lemma, f"{key} {num}")
            s = None if s is None else _sentence_like(s, p)
            if s is not None:
                stats["frame_sentences"] += 1
                out.append(("frame", s))
    return out, {"sha256": digests, "counts": stats}


def sentences(root: Path | None = None, params: GenerationParams | None = None) -> tuple[list[str], dict[str, Any]]:
    """Every clean source sentence (filtered, deduplicated, in file order; the index is the
    source id) and the corpus statistics. Raises WordNetMissingError, InflectionMissingError."""
    _require_inflection()
    p = params or GenerationParams()
    raw, stats = _raw_sentences(Path(root) if root is not None else WORDNET_DIR, p)
    seen: set[str] = set()
    kept: list[str] = []
    by_origin: Counter[str] = Counter()
    dropped: Counter[str] = Counter()
    dropped_total = 0
    for origin, s in raw:
        if s in seen:
            continue
        seen.add(s)
        cats = blocked(s)
        if cats:
            dropped_total += 1
            dropped.update(cats)
            continue
        kept.append(s)
        by_origin[origin] += 1
    stats["counts"].update({"unique_kept_" + k: v for k, v in sorted(by_origin.items())})
    stats["filter"] = {
        "blocklist_stems": sum(len(v) for v in BLOCKLIST.values()),
        "categories": sorted(BLOCKLIST),
        "dropped_sentences": dropped_total,
        "dropped_by_category": dict(sorted(dropped.items())),
        "rule": "whole lowercase words equal to a stem or a stem + one of: "
        + " ".join(s for s in _SUFFIXES if s)
        + "; also with the final consonant doubled (ed ing er ers y) or a final e dropped (ing er ers y)",
    }
    return kept, stats


def _require_inflection() -> None:
    try:
        import inflect  # noqa: F401
        import lemminflect  # noqa: F401
    except ImportError as e:
        raise InflectionMissingError(
            f"the grammar error generator needs lemminflect and inflect ({e}); install them with: "
            "pip install lemminflect inflect"
        ) from e


# --------------------------------------------------------------------------- error generator

_TOKEN = re.compile(r"[A-Za-z0-9]+(?:'[A-Za-z]+)*|[^\sA-Za-z0-9]")

_MODALS = _words(
    "will would can could should must may might shall cannot won't can't wouldn't couldn't shouldn't mustn't"
)
_DO = _words("do does did don't doesn't didn't")
_HAVE = _words("have has had haven't hasn't hadn't")
_BE = _words("am is are was were be been being isn't aren't wasn't weren't")
_ADVERBS = _words("not never also always often still just really even only usually sometimes soon")
_PRONOUNS = _words("i you he she it we they me him her us them")
_DETERMINERS = _words(
    "a an the this that these those my your his her its our their some any no every each another either "
    "neither all both many much few several one two three four five six seven eight nine ten"
)
_PREPOSITIONS = _words(
    "in on at of for to with by from into onto about over under after before during through between "
    "against among around without within upon across along behind below above near off out up down"
)
_CONJUNCTIONS = _words("and or but so because if when while although though unless than as that")
_OTHER = _words(
    "what who whom whose which where why how there here not no yes please very too more most less least "
    "such own same other else ever also"
)
_FUNCTION = _MODALS | _DO | _HAVE | _BE | _PRONOUNS | _DETERMINERS | _PREPOSITIONS | _CONJUNCTIONS | _OTHER
_SUBJUNCTIVE = _words("if wish though unless suppose")
_SG_SUBJECT = _words("he she it this that")
_PL_SUBJECT = _words("we they you these those")
_AUX_PAIRS = {
    "is": "are", "are": "is", "was": "were", "were": "was", "has": "have", "have": "has",
    "does": "do", "do": "does", "doesn't": "don't", "don't": "doesn't", "isn't": "aren't",
    "aren't": "isn't", "wasn't": "weren't", "weren't": "wasn't", "hasn't": "haven't", "haven't": "hasn't",
}  # fmt: skip
_AUX_SINGULAR = _words("is was has does doesn't isn't wasn't hasn't")
_NOUN_DET = _words("the a an this that my your his her its our their every each")
_SG_DET = ("a", "an", "one", "this", "each", "every", "another")
_PL_DET = _words("two three four five six seven eight nine ten many these those several both various few")

_MONTHS = tuple(sorted(_words("january february march april may june july august september october november december")))
#: Verbs after which "of" can follow grammatically ("think of", "made of"): the verb + preposition
#: rule leaves them alone.
OF_VERBS = _words(
    "think speak talk dream hear know approve disapprove consist smell taste reek tire despair repent partake "
    "warn accuse rob rid clear relieve deprive cure convince inform assure remind beware complain boast "
    "conceive ask require demand expect make compose comprise cheat divest strip empty purge free tell sing "
    "write read learn avail die run fall get come go take become dispose suspect heal smack build construct "
    "form weave carve cast fashion assemble weary give drain"
)
_VERB_PREPS = _words("to in on at into onto from with")
_OBJECT_START = _NOUN_DET | _words("him her them us me it")

#: Fixed collocations: (first word forms, second word forms, which word is the preposition,
#: wrong replacements). A match is two adjacent lowercased tokens.
PREPOSITION_RULES: tuple[tuple[tuple[str, ...], tuple[str, ...], int, tuple[str, ...]], ...] = (
    (("interested",), ("in",), 1, ("on", "at")),
    (("afraid",), ("of",), 1, ("from", "with")),
    (("depend", "depends", "depended", "depending", "dependent"), ("on",), 1, ("of", "at")),
    (("rely", "relies", "relied", "relying"), ("on",), 1, ("of", "at")),
    (("proud",), ("of",), 1, ("with", "from")),
    (("full",), ("of",), 1, ("from", "by")),
    (("consist", "consists", "consisted", "consisting"), ("of",), 1, ("from", "with")),
    (("belong", "belongs", "belonged", "belonging"), ("to",), 1, ("of", "for")),
    (("responsible",), ("for",), 1, ("of", "at")),
    (("famous",), ("for",), 1, ("of", "at")),
    (("similar",), ("to",), 1, ("with", "of")),
    (("different",), ("from",), 1, ("of", "at")),
    (("capable",), ("of",), 1, ("to", "for")),
    (("aware",), ("of",), 1, ("for", "with")),
    (("fond",), ("of",), 1, ("for", "to")),
    (("insist", "insists", "insisted", "insisting"), ("on",), 1, ("in", "at")),
    (("suffer", "suffers", "suffered", "suffering"), ("from",), 1, ("of", "with")),
    (("according",), ("to",), 1, ("of", "by")),
    (("because",), ("of",), 1, ("from", "by")),
    (("instead",), ("of",), 1, ("for", "from")),
    (("front",), ("of",), 1, ("from", "at")),
    (("filled",), ("with",), 1, ("of", "by")),
    (("related",), ("to",), 1, ("with", "of")),
    (("jealous",), ("of",), 1, ("from", "on")),
    (("ashamed",), ("of",), 1, ("from", "with")),
    (("cope", "copes", "coped", "coping"), ("with",), 1, ("of", "at")),
    (("rich",), ("in",), 1, ("of", "at")),
    (("excited",), ("about",), 1, ("of", "on")),
    (("worried",), ("about",), 1, ("of", "on")),
    (("keen",), ("on",), 1, ("of", "in")),
    (("participate", "participates", "participated", "participating"), ("in",), 1, ("on", "to")),
    (("pleased",), ("with",), 1, ("of", "on")),
    (("forward",), ("to",), 1, ("for", "at")),
    (("rid",), ("of",), 1, ("from", "with")),
    (("married",), ("to",), 1, ("at", "of")),
    (("at",), ("night", "noon", "midnight", "least", "once", "dawn"), 0, ("in", "on")),
    (("at",), ("home",), 0, ("on", "of")),
    (("at",), ("same",), 0, ("on", "of")),
    (("in",), ("fact", "order", "general", "addition", "particular"), 0, ("on", "at")),
    (("in",), _MONTHS, 0, ("at", "of")),
    (("of",), ("course",), 0, ("for", "in")),
    (("on",), ("purpose", "foot", "fire", "sale"), 0, ("in", "at")),
    (("on",), ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"), 0, ("in", "at")),
    (("by",), ("mistake", "chance", "accident", "heart"), 0, ("of", "at")),
    (("by",), ("bus", "car", "train", "plane", "bicycle", "bike", "boat", "ship", "taxi", "mail"), 0, ("with", "of")),
)  # fmt: skip


@dataclass(frozen=True)
class _Edit:
    error_type: str
    tokens: tuple[tuple[str, str], ...]  # (token, whitespace after)
    position: int


def _tokens(text: str) -> list[tuple[str, str]]:
    out = []
    for m in _TOKEN.finditer(text):
        end = m.end()
        ws = text[end : end + 1] if end < len(text) and text[end].isspace() else ""
        out.append((m.group(), ws))
    return out


def _join(tokens: Sequence[tuple[str, str]]) -> str:
    return "".join(t + w for t, w in tokens).strip()


@cache
def _lemmas(word: str) -> dict[str, tuple[str, ...]]:
    import lemminflect

    return dict(lemminflect.getAllLemmas(word))


@cache
def _inflection(lemma: str, tag: str) -> tuple[str, ...]:
    import lemminflect

    return tuple(lemminflect.getInflection(lemma, tag, inflect_oov=False))


def _verb_lemma(word: str, tag: str) -> str | None:
    """A verb lemma of which ``word`` is the ``tag`` form (VB, VBZ, VBD, VBN, VBG), or None."""
    if word in _FUNCTION or not word.isalpha():
        return None
    for lemma in _lemmas(word).get("VERB", ()):
        if lemma == word and tag == "VB":
            return lemma
        if tag != "VB" and word in _inflection(lemma, tag):
            return lemma
    return None


def _maybe_noun(word: str) -> bool:
    return word.isalpha() and word not in _FUNCTION and "NOUN" in _lemmas(word)


def _noun_number(word: str) -> str | None:
    """ "sg" or "pl" when lemminflect knows ``word`` as a noun of one number only, else None."""
    if word in _FUNCTION or not word.isalpha():
        return None
    lemmas = _lemmas(word).get("NOUN", ())
    if not lemmas:
        return None
    if all(lemma == word for lemma in lemmas):
        plural = _inflection(word, "NNS")
        return "sg" if plural and plural[0] != word else None
    if all(lemma != word for lemma in lemmas) and word in _inflection(lemmas[0], "NNS"):
        return "pl"
    return None


def _same_case(new: str, old: str) -> str:
    return new[:1].upper() + new[1:] if old[:1].isupper() else new


def _replace(toks: list[tuple[str, str]], i: int, new: str, kind: str) -> _Edit:
    out = list(toks)
    out[i] = (_same_case(new, toks[i][0]), toks[i][1])
    return _Edit(kind, tuple(out), i)


def _insert(toks: list[tuple[str, str]], i: int, new: str, kind: str) -> _Edit:
    out = list(toks)
    if i == 0:
        new = new[:1].upper() + new[1:]
        out[0] = (out[0][0][:1].lower() + out[0][0][1:] if out[0][0] not in ("I",) else out[0][0], out[0][1])
    out.insert(i, (new, " "))
    return _Edit(kind, tuple(out), i)


def _delete(toks: list[tuple[str, str]], i: int, kind: str) -> _Edit:
    out = list(toks)
    del out[i]
    if i == 0:
        out[0] = (out[0][0][:1].upper() + out[0][0][1:], out[0][1])
    return _Edit(kind, tuple(out), i)


def _agreement(toks: list[tuple[str, str]], low: list[str]) -> list[_Edit]:
    edits = []
    subjunctive = bool(_SUBJUNCTIVE & set(low))
    for i in range(1, len(low)):
        w, prev = low[i], low[i - 1]
        number = "sg" if prev in _SG_SUBJECT or prev == "i" else "pl" if prev in _PL_SUBJECT else None
        if number is None and i >= 2 and low[i - 2] in _NOUN_DET:
            number = _noun_number(prev)
        if w in _AUX_PAIRS:
            if subjunctive and w.startswith(("was", "were")):
                continue
            singular_form = w in _AUX_SINGULAR
            if prev == "i":  # I am/was/have/do: "I is" is wrong, "I was" -> "I were" too
                ok = w in ("was", "have", "do", "don't", "wasn't", "haven't")
            elif number == "sg":
                ok = singular_form
            elif number == "pl":
                ok = not singular_form
            else:
                ok = False
            if ok:
                edits.append(_replace(toks, i, _AUX_PAIRS[w], "agreement"))
            continue
        nominative = prev in ("he", "she", "i", "we", "they") or (i == 1 and prev in ("it", "you"))
        if nominative:
            if prev in ("he", "she", "it"):
                lemma = _verb_lemma(w, "VBZ")
                if lemma and lemma != w:
                    edits.append(_replace(toks, i, lemma, "agreement"))
            else:
                lemma = _verb_lemma(w, "VB")
                forms = _inflection(lemma, "VBZ") if lemma else ()
                if forms and forms[0] != w:
                    edits.append(_replace(toks, i, forms[0], "agreement"))
        elif number is not None and i >= 2 and low[i - 2] in _NOUN_DET:
            if _maybe_noun(w) or "ADJ" in _lemmas(prev):  # "the old rules", "the dog barks"
                continue
            if number == "sg":
                lemma = _verb_lemma(w, "VBZ")
                if lemma and lemma != w:
                    edits.append(_replace(toks, i, lemma, "agreement"))
            else:
                lemma = _verb_lemma(w, "VB")
                forms = _inflection(lemma, "VBZ") if lemma else ()
                if forms and forms[0] != w:
                    edits.append(_replace(toks, i, forms[0], "agreement"))
    return edits


@cache
def _article_for(word: str) -> str:
    """ "a" or "an" for ``word``, as inflect chooses it (by sound: "an hour", "a union")."""
    return str(_inflect_engine().a(word)).split(" ", 1)[0].lower()


@lru_cache(maxsize=1)
def _inflect_engine() -> Any:
    import inflect

    return inflect.engine()


def _article(toks: list[tuple[str, str]], low: list[str]) -> list[_Edit]:
    edits = []
    for i, w in enumerate(low):
        nxt = low[i + 1] if i + 1 < len(low) else ""
        if w in ("a", "an") and nxt.isalpha():
            if _article_for(nxt) == w:
                edits.append(_replace(toks, i, "an" if w == "a" else "a", "article"))
            if nxt not in ("few", "little"):
                edits.append(_delete(toks, i, "article"))
        elif w == "the" and _noun_number(nxt) == "pl":
            after = low[i + 2] if i + 2 < len(low) else "."
            if not _maybe_noun(after) and after not in ("of", "'"):
                edits.append(_replace(toks, i, _article_for(nxt), "article"))
        elif w in ("my", "your", "his", "our", "their") and (i == 0 or low[i - 1] not in _DETERMINERS):
            edits.append(_insert(toks, i, "the", "article"))
    return edits


def _skip_adverb(low: list[str], i: int) -> int:
    """Index of the word after position ``i``, skipping one adverb of :data:`_ADVERBS`."""
    return i + 2 if i + 1 < len(low) and low[i + 1] in _ADVERBS else i + 1


def _tense(toks: list[tuple[str, str]], low: list[str]) -> list[_Edit]:
    edits = []
    for i, w in enumerate(low):
        j = _skip_adverb(low, i)
        if w in _MODALS or w in _DO:
            if j < len(low) and low[j] in _PRONOUNS and w in _DO | {"will", "can", "would", "could", "should"}:
                j = _skip_adverb(low, j)
            if j >= len(low):
                continue
            lemma = _verb_lemma(low[j], "VB")
            if lemma:
                past = _inflection(lemma, "VBD")
                new = past[0] if past and past[0] != lemma else (_inflection(lemma, "VBG") or (lemma,))[0]
                if new != lemma:
                    edits.append(_replace(toks, j, new, "tense"))
        elif w in _HAVE and j < len(low):
            lemma = _verb_lemma(low[j], "VBN")
            if lemma and lemma != low[j]:
                edits.append(_replace(toks, j, lemma, "tense"))
        elif w in _BE and j < len(low):
            lemma = _verb_lemma(low[j], "VBG") or _verb_lemma(low[j], "VBN")
            if lemma and lemma != low[j] and lemma not in _inflection(lemma, "VBN") and "ADJ" not in _lemmas(lemma):
                edits.append(_replace(toks, j, lemma, "tense"))
        elif (w in ("he", "she", "i", "we", "they") or (i == 0 and w in ("it", "you"))) and i + 1 < len(low):
            nxt = low[i + 1]
            tags = ("VBD", "VBZ") if w in ("he", "she", "it") else ("VBD", "VB")
            for tag in tags:
                lemma = _verb_lemma(nxt, tag)
                if lemma:
                    ing = _inflection(lemma, "VBG")
                    if ing and ing[0] != nxt:
                        edits.append(_replace(toks, i + 1, ing[0], "tense"))
                    break
    return edits


def _preposition(toks: list[tuple[str, str]], low: list[str]) -> list[_Edit]:
    edits = []
    for i in range(len(low) - 1):
        for first, second, which, wrong in PREPOSITION_RULES:
            if low[i] in first and low[i + 1] in second:
                for new in wrong:
                    edits.append(_replace(toks, i + which, new, "preposition"))
        # verb + preposition + object -> verb + "of": "They live in the city" -> "They live of the city"
        if 0 < i < len(low) - 2 and low[i + 1] in _VERB_PREPS and low[i + 2] in _OBJECT_START:
            lemma = next((v for tag in _VERB_TAGS if (v := _verb_lemma(low[i], tag))), None)
            if lemma is None or lemma in OF_VERBS or low[i + 1] == "of":
                continue
            if _maybe_noun(low[i]) and low[i - 1] not in _SUBJECT_WORDS:
                continue  # "the walk to the park" could be a noun phrase
            edits.append(_replace(toks, i + 1, "of", "preposition"))
    return edits


_VERB_TAGS = ("VBD", "VBZ", "VB", "VBN", "VBG")
_SUBJECT_WORDS = _words("i you he she it we they sam mia grandpa children friends") | _MODALS


def _plural(toks: list[tuple[str, str]], low: list[str]) -> list[_Edit]:
    edits = []
    for i in range(len(low) - 2):
        det, noun, after = low[i], low[i + 1], low[i + 2]
        if _maybe_noun(after) or after == "'":  # compounds ("a sports car"), plural possessives
            continue
        number = _noun_number(noun)
        if det in _SG_DET and number == "sg":
            edits.append(_replace(toks, i + 1, _inflection(noun, "NNS")[0], "plural"))
        elif det in _PL_DET and number == "pl":
            singular = _lemmas(noun)["NOUN"][0]
            if singular != noun:
                edits.append(_replace(toks, i + 1, singular, "plural"))
    return edits


_RULES = {"agreement": _agreement, "article": _article, "tense": _tense, "preposition": _preposition, "plural": _plural}


def _first_difference(a: Sequence[str], b: Sequence[str]) -> int:
    for k, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return k
    return min(len(a), len(b))


def corrupt(sentence: str) -> dict[str, list[tuple[str, int]]]:
    """Every corruption the rules can make of ``sentence``: error type -> [(text, position)],
    position being the index of the first token of ``text`` that differs from the sentence.
    Corruptions equal to the sentence or to another one of the list are left out."""
    _require_inflection()
    toks = _tokens(sentence)
    low = [t.lower() for t, _ in toks]
    out: dict[str, list[tuple[str, int]]] = {}
    for kind, rule in _RULES.items():
        seen: set[str] = set()
        for edit in rule(toks, low):
            text = _join(edit.tokens)
            new_low = [t.lower() for t, _ in edit.tokens]
            if text == sentence or text in seen or new_low == low:
                continue
            pos = _first_difference(new_low, low)
            if pos != edit.position:
                raise AssertionError(f"{kind} edit of {sentence!r} at {edit.position} differs first at {pos}")
            seen.add(text)
            out.setdefault(kind, []).append((text, pos))
    return out


# --------------------------------------------------------------------------- tokenizer

#: The tokenizer's regular expression, applied to the lowercased text (Python ``re`` syntax).
TOKEN_PATTERN = r"[a-z0-9]+(?:'[a-z]+)*|[^\sa-z0-9]"
_SPECIALS = ("[PAD]", "[CLS]")
#: Unknown-word tokens, in vocabulary order (ids 2..13).
UNKNOWN_TOKENS: tuple[str, ...] = (
    "[UNK]", "[UNK-s]", "[UNK-ed]", "[UNK-ing]", "[UNK-ly]",
    "[UNK-V]", "[UNK-V-s]", "[UNK-V-ed]", "[UNK-V-ing]", "[UNK-V-ly]",
    "[UNK-NUM]", "[UNK-PUNCT]",
)  # fmt: skip
_UNKNOWN_RULES = (
    "a token not in the vocabulary is mapped, checking in order: contains a digit 0-9 -> [UNK-NUM]; "
    "contains no letter a-z -> [UNK-PUNCT]; otherwise '[UNK' + ('-V' if it starts with a, e, i, o or u) + "
    "the first matching suffix class: '-ing' (ends with 'ing', length >= 5), '-ed' (ends with 'ed', length >= 4), "
    "'-ly' (ends with 'ly', length >= 4), '-s' (ends with 's' but not 'ss', length >= 3), else nothing; + ']'",
)


def _lowercase(text: str) -> str:
    return text.translate(_LOWER)


_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def unknown_token(token: str) -> str:
    """The unknown-word token for an out-of-vocabulary (lowercased) token."""
    if any(c.isdigit() for c in token):
        return "[UNK-NUM]"
    if not any("a" <= c <= "z" for c in token):
        return "[UNK-PUNCT]"
    vowel = "-V" if token[0] in "aeiou" else ""
    n = len(token)
    if token.endswith("ing") and n >= 5:
        suffix = "-ing"
    elif token.endswith("ed") and n >= 4:
        suffix = "-ed"
    elif token.endswith("ly") and n >= 4:
        suffix = "-ly"
    elif token.endswith("s") and not token.endswith("ss") and n >= 3:
        suffix = "-s"
    else:
        suffix = ""
    return f"[UNK{vowel}{suffix}]"


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
        self._pattern = re.compile(TOKEN_PATTERN)

    @classmethod
    def build(cls, texts: Iterable[str], vocab_size: int, min_count: int, max_len: int) -> Tokenizer:
        """The vocabulary of ``texts``: tokens seen at least ``min_count`` times, most frequent
        first (ties alphabetical), after the specials, at most ``vocab_size`` tokens in all."""
        counts: Counter[str] = Counter()
        pattern = re.compile(TOKEN_PATTERN)
        for text in texts:
            counts.update(pattern.findall(_lowercase(text)))
        head = [*_SPECIALS, *UNKNOWN_TOKENS]
        words = sorted((t for t, c in counts.items() if c >= min_count), key=lambda t: (-counts[t], t))
        return cls(head + words[: max(0, vocab_size - len(head))], max_len)

    def tokens(self, text: str) -> list[str]:
        return self._pattern.findall(_lowercase(text))

    def encode(self, text: str) -> list[int]:
        """``[CLS]`` + token ids, cut to ``max_len`` (not padded)."""
        ids = [1]
        for t in self.tokens(text)[: self.max_len - 1]:
            ids.append(self.ids[t] if t in self.ids else self.ids[unknown_token(t)])
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
        if d.get("type") != "edzoo-grammar-words" or d.get("pattern") != TOKEN_PATTERN:
            raise ValueError("not an edzoo grammar tokenizer description (type or pattern differs)")
        if d.get("padding") != "right" or list(d.get("unknown_tokens", ())) != list(UNKNOWN_TOKENS):
            raise ValueError("unsupported padding or unknown-token rules in the tokenizer description")
        return cls(list(d["vocab"]), int(d["max_len"]))


# --------------------------------------------------------------------------- dataset


def _split_of(clean: str) -> int:
    """0 train, 1 val, 2 test, from the hash of the clean sentence (seed-free)."""
    h = int(hashlib.sha256(("edzoo-grammar-split:" + clean).encode()).hexdigest()[:8], 16) % 10
    return 2 if h == 0 else 1 if h == 1 else 0


def _subset(corpus: list[str], n: int | None) -> list[int]:
    """Source ids of the profile: the ``n`` smallest subset hashes, in id order."""
    if n is None or n >= len(corpus):
        return list(range(len(corpus)))
    keys = sorted(
        range(len(corpus)), key=lambda k: hashlib.sha256(("edzoo-grammar-subset:" + corpus[k]).encode()).digest()
    )
    return sorted(keys[:n])


def _versions() -> dict[str, str]:
    from importlib import metadata

    return {
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "lemminflect": metadata.version("lemminflect"),
        "inflect": metadata.version("inflect"),
    }


def _package_version(package: str) -> str | None:
    try:
        return subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _generate(profile: str, seed: int, p: GenerationParams, root: Path) -> tuple[dict[str, np.ndarray], dict]:
    corpus, stats = sentences(root, p)
    ids = _subset(corpus, PROFILES[profile])
    rng = np.random.default_rng([seed, 0x6772])
    order = rng.permutation(len(ids))
    used = dict.fromkeys(ERROR_TYPES, 0)
    chosen: dict[int, tuple[str, str, int]] = {}
    applicable = dict.fromkeys(ERROR_TYPES, 0)
    clean_set = set(corpus)
    for k in order:
        sid = ids[int(k)]
        options = {}
        for kind, found in corrupt(corpus[sid]).items():
            # never another clean source, never a blocked word ("two dice" -> "two die")
            found = [(text, pos) for text, pos in found if text not in clean_set and not blocked(text)]
            if found:
                options[kind] = found
        for kind in options:
            applicable[kind] += 1
        if not options or rng.random() >= p.corrupt_fraction:
            continue
        kinds = [t for t in ERROR_TYPES if t in options]
        low = min(used[t] for t in kinds)
        ties = [t for t in kinds if used[t] == low]
        kind = ties[int(rng.integers(len(ties)))]
        text, pos = options[kind][int(rng.integers(len(options[kind])))]
        used[kind] += 1
        chosen[sid] = (kind, text, pos)
    records: list[tuple[int, str, int, int, int]] = []  # split, text, label, position, source
    for sid in ids:
        split = _split_of(corpus[sid])
        records.append((split, corpus[sid], 0, -1, sid))
        if sid in chosen:
            kind, text, pos = chosen[sid]
            records.append((split, text, LABELS.index(kind), pos, sid))
    arrays: dict[str, np.ndarray] = {}
    for k, name in enumerate(_SPLITS):
        rows = [r for r in records if r[0] == k]
        arrays[f"text_{name}"] = np.array([r[1] for r in rows], dtype=str)
        arrays[f"label_{name}"] = np.array([r[2] for r in rows], dtype=np.int64)
        arrays[f"position_{name}"] = np.array([r[3] for r in rows], dtype=np.int32)
        arrays[f"source_{name}"] = np.array([r[4] for r in rows], dtype=np.int32)
    info: dict[str, Any] = {
        "dataset": "edzoo grammar",
        "profile": profile,
        "seed": seed,
        "labels": list(LABELS),
        "params": asdict(p),
        "corpus": {**stats["counts"], "sentences": len(corpus), "profile_sentences": len(ids)},
        "filter": stats["filter"],
        "generator": {
            "applicable_sentences": applicable,
            "chosen": used,
            "seeding": "numpy default_rng([seed, 0x6772]): visiting order, tie-breaks and sites",
            "balance": "each sentence takes the applicable type used least so far",
            "subjects": [s for s, _ in SUBJECTS],
        },
        "splits": {
            "rule": "h = int(sha256('edzoo-grammar-split:' + clean)[:8 hex], 16) % 10: 0 test, 1 val, else train",
            "subset": "quick: the sentences with the smallest sha256('edzoo-grammar-subset:' + clean)",
        },
        "sources": {
            "package": "wordnet-base",
            "version": _package_version("wordnet-base"),
            "dir": str(root),
            "sha256": stats["sha256"],
        },
        "license": _LICENSE,
        "raw_sha256": _raw_sha256(arrays),
        "format": _FORMAT,
        "versions": _versions(),
    }
    return arrays, info


def _raw_sha256(arrays: dict[str, np.ndarray]) -> str:
    h = hashlib.sha256()
    for name in sorted(arrays):
        a = arrays[name]
        h.update(name.encode())
        if a.dtype.kind == "U":
            h.update("\n".join(a.tolist()).encode() + b"\x00" + str(a.size).encode())
        else:
            h.update(np.ascontiguousarray(a).astype(a.dtype.newbyteorder("<"), copy=False).tobytes())
    return h.hexdigest()


def _finish(arrays: dict[str, np.ndarray], info: dict[str, Any]) -> Dataset:
    if _raw_sha256(arrays) != info["raw_sha256"]:
        raise ValueError("cached grammar records do not match their recorded digest")
    p = GenerationParams(**info["params"])
    tok = Tokenizer.build(arrays["text_train"].tolist(), p.vocab_size, p.min_count, p.max_len)
    splits = {}
    for name in _SPLITS:
        text = arrays[f"text_{name}"]
        y = arrays[f"label_{name}"].astype(np.int64)
        pos = arrays[f"position_{name}"].astype(np.int32)
        encoded = np.where((pos >= 0) & (pos + 1 < p.max_len), pos + 1, -1).astype(np.int32)
        meta = {
            "error_type": y.astype(np.int32),
            "position": encoded,
            "source": arrays[f"source_{name}"].astype(np.int32),
            "text": text,
        }
        splits[name] = Split(tok.encode_batch(text.tolist()), y, meta)
    info = json.loads(json.dumps(info))
    info["tokenizer"] = tok.to_json()
    info["vocab_size"] = len(tok.vocab)
    info["counts"] = {
        name: {label: int((splits[name].y == k).sum()) for k, label in enumerate(LABELS)} for name in _SPLITS
    }
    info["sources_per_split"] = {name: int(np.unique(splits[name].meta["source"]).size) for name in _SPLITS}
    info["truncated"] = {
        name: int(sum(len(tok.tokens(t)) + 1 > p.max_len for t in splits[name].meta["text"])) for name in _SPLITS
    }
    info["test_texts"] = splits["test"].meta["text"].tolist()
    info["sha256"] = {name: split_sha256(splits[name]) for name in _SPLITS}
    return Dataset(splits["train"], splits["val"], splits["test"], LABELS, info)


def _cache_key(profile: str, seed: int, p: GenerationParams, root: Path) -> str:
    digests = {}
    for name in (*_GLOSS_FILES, *_FRAME_FILES):
        digests[name] = hashlib.sha256(_read(root / name)).hexdigest()
    material = {
        "format": _FORMAT,
        "profile": profile,
        "size": PROFILES[profile],
        "seed": seed,
        "params": asdict(p),
        "blocklist": BLOCKLIST,
        "files": digests,
        "versions": _versions(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode()).hexdigest()[:16]


def load(
    profile: str = "quick", seed: int = 0, cache_dir: Path | None = None, *, wordnet_dir: Path | None = None
) -> Dataset:
    """Grammar error detection records for ``profile`` (a key of :data:`PROFILES`).

    With ``cache_dir`` the texts and labels are stored there as ``.npz`` keyed by profile,
    seed, parameters, blocklist, WordNet file digests and library versions; a cached file that
    cannot be read or does not hash to its recorded digests is regenerated. Raises ValueError
    for an unknown profile or a bad seed, WordNetMissingError without ``wordnet-base`` and
    InflectionMissingError without lemminflect or inflect.
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; expected one of {', '.join(sorted(PROFILES))}")
    check_seed(seed)
    _require_inflection()
    root = Path(wordnet_dir) if wordnet_dir is not None else WORDNET_DIR
    p = GenerationParams()
    path = None
    if cache_dir is not None:
        path = Path(cache_dir) / f"grammar-{profile}-seed{seed}-{_cache_key(profile, seed, p, root)}.npz"
    else:
        for name in (*_GLOSS_FILES, *_FRAME_FILES):
            if not (root / name).is_file():
                _read(root / name)  # raises WordNetMissingError before any work is done
    return cached(path, lambda: _generate(profile, seed, p, root), _finish)


def texts(data: Dataset, split: str) -> list[str]:
    """The sentences of ``split`` ("train", "val" or "test"), in record order."""
    if split not in _SPLITS:
        raise ValueError(f"unknown split {split!r}; expected one of {', '.join(_SPLITS)}")
    return getattr(data, split).meta["text"].tolist()


# --------------------------------------------------------------------------- baseline


def baseline(data: Dataset) -> dict[str, Any]:
    """Binary baseline (ok vs any error): TF-IDF of character 2–5-grams within word
    boundaries (``char_wb``, sublinear tf, min_df 2) and logistic regression (C = 4, lbfgs),
    trained on the training texts; accuracy on val and test, and the test recall per class
    (for ``ok``: the share kept as ok; for an error type: the share flagged as an error)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    vec = TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, lowercase=True)
    x_train = vec.fit_transform(texts(data, "train"))
    y_train = (data.train.y != 0).astype(np.int64)
    model = LogisticRegression(C=4.0, max_iter=5000)
    model.fit(x_train, y_train)
    out: dict[str, Any] = {
        "model": "char_wb 2-5-gram TF-IDF + logistic regression, binary ok vs error",
        "n_train": int(y_train.size),
        "n_features": int(x_train.shape[1]),
    }
    for name in ("val", "test"):
        split = getattr(data, name)
        pred = model.predict(vec.transform(texts(data, name)))
        out[f"accuracy_{name}"] = float((pred == (split.y != 0)).mean())
        if name == "test":
            recall = {}
            for k, label in enumerate(LABELS):
                mask = split.y == k
                if mask.any():
                    hit = pred[mask] == (0 if k == 0 else 1)
                    recall[label] = float(hit.mean())
            out["recall_test"] = recall
    return out
