"""Grammatical error detection in short English sentences, for writing-support apps.

6 classes, :data:`LABELS`: ``"ok"`` and the five error types of :data:`ERROR_TYPES`
(``agreement``, ``article``, ``tense``, ``preposition``, ``plural``; the class id is the
index). Every source sentence gives its clean version (``ok``) and, when one of the error
rules applies, one corrupted version, so about half the records are ``ok``. Nothing is
downloaded: the sentences come from the Debian package ``wordnet-base`` and from a seeded
generator of simple sentences in the register children write; the errors are made by seeded
code with the inflection tables of ``lemminflect`` and ``inflect``. The held-out source (BLiMP)
is never read by this module.

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

Simple sentences (:func:`simple_sentences`; the register children write)
    Generated, not read: subject + verb phrase + maybe an object and a place (``The children
    were chased by two geese after lunch.``, ``Mia hasn't eaten the apples.``). Subjects and
    objects are names, pronouns, ``Name and Name`` or a determiner (``the this that these those
    a/an every each one another many several some my your our all the two..ten``), an optional
    adjective and a noun; a subject may take an ``of`` phrase whose number differs (``The
    sisters of Mia are...``). Frames: present, progressive (``is/was + -ing``), perfect
    (``has/have + participle``), past, ``do/does/did + n't``, passive (``was/were +
    participle + by``), some with ``n't``. The words come from :func:`lexicon`, every list by a rule
    over WordNet's own files, most frequent first in its sense-tagged corpus (SemCor counts,
    ``cntlist.rev``): every noun with an irregular plural (137 in WordNet 3.0, at most 300:
    ``man/men``, ``child/children``, ``analysis/analyses``, ``cactus/cacti``...), 600 concrete nouns
    (animals, artifacts, food, objects, people, plants), 300 verbs with their transitivity from
    WordNet's verb frames (irregular pasts and participles: ``sang/sung``, ``ate/eaten``). Names are
    made up (syllables, never ending in ``s``). A share :data:`RARE_SHARE` of the nouns and verbs is
    drawn instead from the WordNet lemmas of ``index.noun`` / ``index.verb`` that occur in its
    sense-tagged corpus, so the model also learns number from unknown-word shapes (``[UNK-s]``).
    Drawn with ``numpy.random.default_rng(0x73696D70)``,
    seed-free (the split of a sentence never depends on the build seed); :data:`SIMPLE_PROFILES`
    sentences per profile, appended after the WordNet ones (their source ids follow). Their
    errors are made by the frame that built them, not by the rules below: agreement (the verb
    or auxiliary of the other number, ``The customers cheers``; or the subject noun of the
    other number, ``The customer cheer``), plural (a number-marked determiner and its noun
    disagree: ``Many person were``, ``this ladies``, ``two bridge``), tense (a participle for a
    past, ``Many drivers sung``; a past for a participle, ``has ate``, ``was took``; a past
    after ``did/doesn't``; the base after ``is``/``has``), article (``a``/``an`` swapped, ``an
    banana``). BLiMP (the held-out source, :mod:`zoo.datasets.sources`) is never read here.

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
The ``quick`` profile keeps the :data:`PROFILES` count of WordNet sentences with the smallest
``sha256("edzoo-grammar-subset:" + clean)`` (also seed-free), ``full`` keeps all; both add the
first :data:`SIMPLE_PROFILES` simple sentences, split by the same hash.

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
``-ed``: ``ed``, ≥ 4; ``-ly``: ``ly``, ≥ 4; ``-s``: ``s`` but not ``ss``, ``us`` or ``is``,
≥ 3) + ``]``, e.g. ``[UNK]``, ``[UNK-s]``, ``[UNK-V-ing]``: ``unknown_rules_version`` 2 of
:func:`registry.core.preprocess.unknown_token` (version 1, of grammar models before 2.0.0,
took ``cactus`` and ``oasis`` for plurals; it made singular nouns in ``-us``/``-is`` read as
``[UNK-s]``, so "Every oasis vanishes." looked like a number error). A sequence is ``[CLS]`` then the tokens,
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
* With the simple sentences (format 4: all 137 irregular nouns): ``quick`` takes 3,000 WordNet and
  2,500 simple sentences, 10,045 records (8,059 / 1,023 / 963 train / val / test), vocabulary
  4,000 (capped). ``full``: 11,574 WordNet and 12,000 simple sentences, 43,344 records (34,727 /
  4,383 / 4,234), vocabulary 4,000; in training agreement 3,836, article 3,674, tense 3,841,
  preposition 603, plural 3,857 (format 3, 60 irregular nouns: 34,657 / 4,416 / 4,271). Generated in
  15–18 s (the rare-word lists from ``index.noun``/``index.verb`` take about 3 s). Nothing is
  truncated at ``max_len`` 28.
* Format 1 (WordNet only), for comparison: ``quick`` 3,000 sentences, 7,179 records
  (4,191 / 531 / 457), vocabulary 3,265; ``full`` 19,999 records (16,064 / 2,004 / 1,931).
  12 % of the test tokens (full) are unknown words.
* :func:`baseline` (binary ok vs error), test accuracy (format 1): ``quick`` 0.705, ``full``
  0.721 (validation 0.680 / 0.702); on ``full`` it flags 57–72 % of each error type and keeps
  82 % of the clean sentences; 2–11 s. Format 2 ``quick``: 0.594 (validation 0.586): the
  simple sentences' errors are a change of number or form that character n-grams cannot see.
* 0.1 % of the corrupted records (format 1) encode to the same ids as their clean sentence
  (both words unknown with the same shape: ``befall``/``befell``).

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

from registry.core.errors import EdzooError, UsageError
from registry.core.preprocess import TOKEN_PATTERN, WordTokenizer, unknown_token
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


# --------------------------------------------------------------------------- simple sentences


def _listed(text: str) -> tuple[str, ...]:
    return tuple(text.split())


_ADJECTIVES = ("big", "small", "happy", "old", "new", "red", "little", "funny", "tall", "young", "kind", "old", "empty")
_PLACES = ("to the park", "at school", "in the garden", "after lunch", "on Monday", "at home", "every day", "")
_NUMBERS = ("two", "three", "four", "five", "six", "ten")


#: Share of the simple sentences' nouns, verbs and names drawn beyond the everyday lists (rare
#: WordNet words and made-up names, mostly unknown to the vocabulary).
RARE_SHARE = 0.35


@dataclass(frozen=True)
class _NP:
    """A noun phrase as words, with its determiner and noun slots (index into ``words``, -1: none)."""

    words: tuple[str, ...]
    plural: bool
    det: int  # index of a number-marked determiner, or -1
    noun: int  # index of the noun, or -1 (names, pronouns)
    sg: str = ""
    pl: str = ""


_INDEX_FILES = ("index.noun", "index.verb")


@cache
def _index_words(path: Path) -> tuple[str, ...]:
    """Single-word lemmas of a WordNet index file that occur in its sense-tagged corpus
    (tagsense_cnt >= 1), in file order: everyday words, though too many to all be in the
    model's vocabulary."""
    out = []
    for line in _read(path).decode("utf-8", errors="replace").splitlines():
        if line.startswith(" "):
            continue
        f = line.split()
        if len(f) < 6 or not f[0].isalpha() or not 3 <= len(f[0]) <= 12:
            continue
        p_cnt = int(f[3])
        tagged = int(f[5 + p_cnt]) if len(f) > 5 + p_cnt else 0
        if tagged >= 1 and f[0] not in _FUNCTION:
            out.append(f[0])
    return tuple(out)


@cache
def _rare_words(root: Path) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """Nouns (singular, plural) and verbs for the simple sentences beyond the everyday lists, so
    the model also meets words it only knows by their unknown-word shape (``[UNK-s]`` plurals)."""
    nouns, verbs = [], []
    for word in _index_words(root / "index.noun"):
        plural = _inflection(word, "NNS")
        usable = _noun_number(word) == "sg" and plural and plural[0].isalpha() and "VERB" not in _lemmas(word)
        if usable and not blocked(word) and not blocked(plural[0]):
            nouns.append((word, plural[0]))
    for word in _index_words(root / "index.verb"):
        if blocked(word) or word in ("be", "have", "do"):
            continue
        if all(_inflection(word, t) for t in ("VBZ", "VBD", "VBN", "VBG")):
            verbs.append(word)
    return tuple(nouns), tuple(verbs)


#: WordNet lexicographer files whose nouns are things a child can name: noun.animal (5),
#: noun.artifact (6), noun.food (13), noun.object (17), noun.person (18), noun.plant (20).
CONCRETE_LEXFILES: frozenset[int] = frozenset({5, 6, 13, 17, 18, 20})
#: How many words of each kind the simple sentences take: the most frequent in WordNet's
#: sense-tagged corpus (SemCor counts of ``cntlist.rev``), chosen by :func:`lexicon`'s rules.
LEXICON_SIZES: dict[str, int] = {"nouns": 600, "irregular_nouns": 300, "verbs": 300}
#: WordNet verb frames of a plain direct object ("Somebody ----s something", "... somebody",
#: "Something ----s somebody", "Something ----s something") and of none ("Something ----s",
#: "Somebody ----s").
_TRANSITIVE_FRAMES = frozenset({8, 9, 10, 11})
_INTRANSITIVE_FRAMES = frozenset({1, 2})
_NOT_LEXICAL = _words("be have do get")


@dataclass(frozen=True)
class Lexicon:
    """The words of the simple sentences, every list chosen by a rule over WordNet files (never
    by looking at an evaluation set): ``nouns`` (singular, plural), regular and irregular;
    ``irregular`` the subset whose plural is not a suffix; ``verbs`` (lemma, takes an object?);
    ``rare_nouns``/``rare_verbs`` the long tail of :func:`_rare_words`."""

    nouns: tuple[tuple[str, str], ...]
    irregular: tuple[tuple[str, str], ...]
    verbs: tuple[tuple[str, bool], ...]
    rare_nouns: tuple[tuple[str, str], ...]
    rare_verbs: tuple[str, ...]


@cache
def _semcor_counts(root: Path, pos: str) -> Counter[str]:
    """Tag counts per lemma of part of speech ``pos`` ("1" noun, "2" verb) in ``cntlist.rev``
    (``lemma%pos:lexfile:... sense_number count``): how often SemCor's annotators met it."""
    counts: Counter[str] = Counter()
    for line in _read(root / "cntlist.rev").decode("utf-8", errors="replace").splitlines():
        f = line.split()
        if len(f) == 3 and "%" in f[0]:
            lemma, key = f[0].split("%", 1)
            if key.startswith(pos + ":"):
                counts[lemma] += int(f[2])
    return counts


@cache
def _first_senses(index: Path) -> dict[str, int]:
    """Lemma -> byte offset of its most frequent sense's synset (the first one the index lists)."""
    out = {}
    for line in _read(index).decode("utf-8", errors="replace").splitlines():
        f = line.split()
        if line.startswith(" ") or len(f) < 6:
            continue
        p_cnt = int(f[3])
        if len(f) > 6 + p_cnt:
            out[f[0]] = int(f[6 + p_cnt])
    return out


def _synset(data: bytes, offset: int) -> tuple[int, tuple[str, ...], frozenset[int]]:
    """The lexicographer file, word forms and verb frames of the synset at ``offset`` (a WordNet
    data file's offsets are byte positions)."""
    f = data[offset : data.index(b"\n", offset)].decode("utf-8", errors="replace").split()
    n = int(f[3], 16)
    forms = tuple(f[4 + 2 * i] for i in range(n))
    i = 4 + 2 * n
    i += 1 + 4 * int(f[i])  # pointers
    frames = (
        frozenset(int(f[i + 2 + 3 * j]) for j in range(int(f[i]))) if f[2] == "v" and f[i].isdigit() else frozenset()
    )
    return int(f[1]), forms, frames


def _is_suffix_plural(sg: str, pl: str) -> bool:
    return pl in (sg + "s", sg + "es") or (sg.endswith("y") and pl == sg[:-1] + "ies")


def _word_ok(word: str) -> bool:
    return word.isalpha() and 2 <= len(word) <= 12 and word not in _FUNCTION and not blocked(word)


@cache
def lexicon(root: Path = WORDNET_DIR) -> Lexicon:
    """The simple sentences' words, by rule, most frequent first (SemCor counts):

    * nouns: single-word lemmas whose most frequent sense is not a proper noun, whose plural
      (lemminflect) differs from the singular, and which :func:`blocked` keeps. Irregular (the
      plural is not ``+s``/``+es``/``y -> ies``): the first ``irregular_nouns`` of any kind
      (``man/men``, ``analysis/analyses``); regular: the first ``nouns`` whose most frequent
      sense lies in :data:`CONCRETE_LEXFILES`.
    * verbs: the first ``verbs`` lemmas (not be, have, do, get) with all four inflections whose
      most frequent sense has a plain-object frame (transitive) or else a no-object frame.
    """
    root = Path(root)
    noun_data, verb_data = _read(root / "data.noun"), _read(root / "data.verb")
    senses = _first_senses(root / "index.noun")
    irregular: list[tuple[str, str]] = []
    regular: list[tuple[str, str]] = []
    for lemma, _ in _semcor_counts(root, "1").most_common():
        if lemma not in senses or not _word_ok(lemma):
            continue
        lexfile, forms, _ = _synset(noun_data, senses[lemma])
        if any(w.lower() == lemma and not w.islower() for w in forms) or _noun_number(lemma) != "sg":
            continue
        plural = _inflection(lemma, "NNS")
        if not plural or not plural[0].isalpha() or plural[0] == lemma or blocked(plural[0]):
            continue
        if not _is_suffix_plural(lemma, plural[0]):
            if len(irregular) < LEXICON_SIZES["irregular_nouns"]:
                irregular.append((lemma, plural[0]))
        elif lexfile in CONCRETE_LEXFILES and len(regular) < LEXICON_SIZES["nouns"]:
            regular.append((lemma, plural[0]))
    verb_senses = _first_senses(root / "index.verb")
    verbs: list[tuple[str, bool]] = []
    for lemma, _ in _semcor_counts(root, "2").most_common():
        if len(verbs) == LEXICON_SIZES["verbs"]:
            break
        if lemma not in verb_senses or not _word_ok(lemma) or lemma in _NOT_LEXICAL:
            continue
        if not all(_inflection(lemma, t) for t in ("VBZ", "VBD", "VBN", "VBG")):
            continue
        frames = _synset(verb_data, verb_senses[lemma])[2]
        if frames & _TRANSITIVE_FRAMES or frames & _INTRANSITIVE_FRAMES:
            verbs.append((lemma, bool(frames & _TRANSITIVE_FRAMES)))
    rare_nouns, rare_verbs = _rare_words(root)
    return Lexicon((*irregular, *regular), tuple(irregular), tuple(verbs), rare_nouns, rare_verbs)


_SYLLABLES = ("ka", "lo", "mi", "ren", "ta", "vi", "do", "na", "bel", "ri", "ko", "sa", "len", "mar", "ti", "zu")


def _made_up_name(rng: np.random.Generator) -> str:
    """A name the vocabulary will not know (never ending in "s", which would look plural)."""
    name = "".join(_SYLLABLES[int(rng.integers(len(_SYLLABLES)))] for _ in range(int(rng.integers(2, 4))))
    return name.capitalize()


def _name(rng: np.random.Generator) -> str:
    return _made_up_name(rng)


def _np(rng: np.random.Generator, nouns: Lexicon, subject: bool) -> _NP:
    """A seeded noun phrase: a name, a pronoun, or a determiner (+ adjective) + noun."""
    r = rng.random()
    if r < 0.15:
        return _NP((_name(rng),), False, -1, -1)
    if r < 0.2:
        a, b = _name(rng), _name(rng)
        return _NP((a, "and", b), True, -1, -1) if a != b else _NP((a,), False, -1, -1)
    if r < 0.27:
        if subject:
            word, plural = [("he", False), ("she", False), ("it", False), ("we", True), ("they", True)][
                int(rng.integers(5))
            ]
        else:
            word, plural = [("him", False), ("her", False), ("it", False), ("us", True), ("them", True)][
                int(rng.integers(5))
            ]
        return _NP((word,), plural, -1, -1)
    table = nouns.rare_nouns if rng.random() < RARE_SHARE else nouns.nouns
    sg, pl = table[int(rng.integers(len(table)))]
    plural = bool(rng.random() < 0.5)
    adjective = (_ADJECTIVES[int(rng.integers(len(_ADJECTIVES)))],) if rng.random() < 0.2 else ()
    noun = pl if plural else sg
    det: tuple[str, ...]
    if plural:
        det = ("the", "these", "those", "many", "some", "my", "our", "several", "all the", *_NUMBERS)
    else:
        det = ("the", "this", "that", "a", "every", "each", "my", "your", "one", "another")
    d = det[int(rng.integers(len(det)))]
    if d == "a":
        d = _article_for((adjective or (noun,))[0])
    words = (*d.split(), *adjective, noun)
    marked = d in ("this", "that", "these", "those", "a", "an", "every", "each", "one", "another", "many", "several")
    marked = marked or d in _NUMBERS
    return _NP(words, plural, len(d.split()) - 1 if marked else -1, len(words) - 1, sg, pl)


def _cap(words: list[str]) -> str:
    text = " ".join(words).replace(" n't", "n't")
    text = text.replace(" ,", ",")
    return text[0].upper() + text[1:] + "."


_BE_FORM = {("pres", False): "is", ("pres", True): "are", ("past", False): "was", ("past", True): "were"}
_HAVE_FORM = {False: "has", True: "have"}
_DO_FORM = {False: "does", True: "do"}


def simple_sentence(rng: np.random.Generator, nouns: Lexicon) -> tuple[str, dict[str, list[tuple[str, int]]]]:
    """One seeded sentence of the simple register (subject, verb phrase, maybe an object and a
    place) and its corruptions by type: agreement (verb or subject number flipped), plural
    (determiner and noun disagree), tense (past and participle swapped, a participle or a
    past after the wrong auxiliary), article (a/an swapped)."""
    subject = _np(rng, nouns, True)
    if rng.random() < 0.12 and subject.noun >= 0:  # "The sisters of Bradley are ..."
        of = _np(rng, nouns, False)
        if of.words[0] not in ("him", "her", "us", "them", "it"):
            subject = _NP((*subject.words, "of", *of.words), subject.plural, subject.det, subject.noun,
                          subject.sg, subject.pl)  # fmt: skip
    if rng.random() < RARE_SHARE:
        lemma, transitive = nouns.rare_verbs[int(rng.integers(len(nouns.rare_verbs)))], bool(rng.random() < 0.6)
    else:
        lemma, transitive = nouns.verbs[int(rng.integers(len(nouns.verbs)))]
    obj = _np(rng, nouns, False) if transitive else None
    first_person = subject.words == ("i",)
    pl = subject.plural or subject.words in (("you",),)
    frame = (
        ("pres", "prog", "perf", "past", "neg", "pass")[int(rng.integers(6))]
        if transitive
        else (("pres", "prog", "perf", "past", "neg")[int(rng.integers(5))])
    )
    negate = rng.random() < 0.3
    vbz, vbd, vbn, vbg = (_inflection(lemma, t)[0] for t in ("VBZ", "VBD", "VBN", "VBG"))
    tense = "past" if rng.random() < 0.5 else "pres"
    s = list(subject.words)
    v0 = len(s)  # index of the first verb word
    # verb words for the grammatical number, then for the other number (the agreement error)
    if frame == "pres":
        good, wrong = [vbz if not pl else lemma], [lemma if not pl else vbz]
        tense_bad = [vbn] if vbn != vbd and vbn != lemma else None
        if good == wrong:
            return "", {}
    elif frame == "prog":
        good, wrong = [_BE_FORM[tense, pl], vbg], [_BE_FORM[tense, not pl], vbg]
        tense_bad = [good[0], lemma]
    elif frame == "perf":
        good, wrong = [_HAVE_FORM[pl], vbn], [_HAVE_FORM[not pl], vbn]
        tense_bad = [good[0], vbd] if vbd != vbn else [good[0], lemma] if lemma != vbn else None
    elif frame == "past":
        good, wrong = [vbd], None
        tense_bad = [vbn] if vbn != vbd else None
    elif frame == "neg":
        good, wrong = [_DO_FORM[pl] if tense == "pres" else "did", "n't", lemma], None
        if tense == "pres":
            wrong = [_DO_FORM[not pl], "n't", lemma]
        tense_bad = [good[0], "n't", vbd] if vbd != lemma else None
    else:  # passive: "Many people were angered by the hearings"
        good, wrong = [_BE_FORM["past", pl], vbn, "by"], [_BE_FORM["past", not pl], vbn, "by"]
        tense_bad = [good[0], vbd, "by"] if vbd != vbn else None
    if negate and frame in ("prog", "perf", "pass"):
        good = [good[0], "n't", *good[1:]]
        wrong = None if wrong is None else [wrong[0], "n't", *wrong[1:]]
        tense_bad = None if tense_bad is None else [tense_bad[0], "n't", *tense_bad[1:]]
    if first_person or (subject.words in (("you",),) and frame in ("prog", "pass")):
        return "", {}
    tail = list(obj.words) if obj is not None else []
    place = _PLACES[int(rng.integers(len(_PLACES)))] if rng.random() < 0.3 else ""
    end = place.split() if place else []
    clean = _cap([*s, *good, *tail, *end])
    out: dict[str, list[str]] = {}

    def add(kind: str, words: list[str]) -> None:
        text = _cap(words)
        if text != clean:
            out.setdefault(kind, []).append(text)

    if wrong is not None:
        add("agreement", [*s, *wrong, *tail, *end])
    if subject.noun >= 0 and subject.sg != subject.pl and wrong is not None and subject.det < 0:
        flipped = list(s)
        flipped[subject.noun] = subject.sg if subject.plural else subject.pl
        add("agreement", [*flipped, *good, *tail, *end])  # "The customer cheer."
    if tense_bad is not None:
        add("tense", [*s, *tense_bad, *tail, *end])
    for np_, offset in ((subject, 0), (obj, v0 + len(good))):
        if np_ is None or np_.det < 0 or np_.sg == np_.pl:
            continue
        words = [*s, *good, *tail, *end]
        det_word = words[offset + np_.det]
        if det_word in ("a", "an"):
            swapped = list(words)
            swapped[offset + np_.det] = "an" if det_word == "a" else "a"
            add("article", swapped)
        flipped = list(words)
        flipped[offset + np_.noun] = np_.sg if np_.plural else np_.pl
        add("plural", flipped)  # "these child", "Many person were"
        swap = {"this": "these", "these": "this", "that": "those", "those": "that"}.get(det_word)
        if swap:
            other = list(words)
            other[offset + np_.det] = swap
            add("plural", other)  # "this ladies"
    found: dict[str, list[tuple[str, int]]] = {}
    clean_low = [t.lower() for t, _ in _tokens(clean)]
    for kind, texts_ in out.items():
        for text in dict.fromkeys(texts_):
            found.setdefault(kind, []).append(
                (text, _first_difference([t.lower() for t, _ in _tokens(text)], clean_low))
            )
    return clean, found


def simple_sentences(n: int, root: Path | None = None) -> tuple[list[str], dict[str, dict[str, list[tuple[str, int]]]]]:
    """``n`` distinct simple sentences (seed-free: ``default_rng(0x73696D70)``, so they and their
    split never depend on the build's seed) and each one's corruptions, blocked words left out.
    Rare words come from WordNet's index files under ``root``. Raises WordNetMissingError."""
    rng = np.random.default_rng(0x73696D70)
    nouns = lexicon(Path(root) if root is not None else WORDNET_DIR)
    kept: list[str] = []
    edits: dict[str, dict[str, list[tuple[str, int]]]] = {}
    tries = 0
    while len(kept) < n and tries < 20 * n:
        tries += 1
        clean, found = simple_sentence(rng, nouns)
        if not clean or clean in edits or blocked(clean):
            continue
        kept.append(clean)
        edits[clean] = {k: [(t, p) for t, p in v if not blocked(t)] for k, v in found.items()}
    return kept, edits


# --------------------------------------------------------------------------- tokenizer

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
    # The simple sentences come after every WordNet one, so WordNet source ids do not move.
    known = set(corpus)
    simple, simple_edits = simple_sentences(SIMPLE_PROFILES[profile], root)
    stats["sha256"].update({name: hashlib.sha256(_read(root / name)).hexdigest() for name in _INDEX_FILES})
    simple = [s for s in simple if s not in known]
    ids += range(len(corpus), len(corpus) + len(simple))
    corpus = corpus + simple
    rng = np.random.default_rng([seed, 0x6772])
    order = rng.permutation(len(ids))
    used = dict.fromkeys(ERROR_TYPES, 0)
    chosen: dict[int, tuple[str, str, int]] = {}
    applicable = dict.fromkeys(ERROR_TYPES, 0)
    clean_set = set(corpus)
    for k in order:
        sid = ids[int(k)]
        options = {}
        edits = simple_edits[corpus[sid]] if corpus[sid] in simple_edits else corrupt(corpus[sid])
        for kind, found in edits.items():
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
        "corpus": {
            **stats["counts"],
            "sentences": len(corpus) - len(simple),
            "profile_sentences": len(ids) - len(simple),
            "simple_sentences": len(simple),
        },
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
    for name in (*_GLOSS_FILES, *_FRAME_FILES, *_INDEX_FILES):
        digests[name] = hashlib.sha256(_read(root / name)).hexdigest()
    material = {
        "format": _FORMAT,
        "profile": profile,
        "size": PROFILES[profile],
        "simple": SIMPLE_PROFILES[profile],
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
        for name in (*_GLOSS_FILES, *_FRAME_FILES, *_INDEX_FILES):
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
