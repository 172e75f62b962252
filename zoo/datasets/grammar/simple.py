"""Simple sentences in the register children write, with the errors their frames make
(:func:`simple_sentences`, :func:`lexicon`; the package docstring, "Simple sentences")."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from ._base import WORDNET_DIR, _words
from .blocklist import blocked
from .rules import _FUNCTION, _article_for, _first_difference, _inflection, _lemmas, _noun_number, _tokens
from .wordnet import _read


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
