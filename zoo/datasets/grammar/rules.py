"""The error generator: the five rules that corrupt a sentence (:func:`corrupt`; the package docstring,
"Errors")."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from typing import Any

from ._base import _words
from .wordnet import _require_inflection

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
