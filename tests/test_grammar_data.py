"""The grammar dataset (zoo/datasets/grammar/): determinism, no source sentence on two sides
of the split, corruptions that differ where they say, the content filter, the tokenizer
contract, the cache, argument checks, missing dependencies and the baseline.

Needs the Debian package ``wordnet-base`` and the PyPI packages ``lemminflect`` and
``inflect``; generates the ``quick`` profile a few times (about 4 s each).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pytest

from registry.core.errors import UsageError
from registry.core.preprocess import WordTokenizer
from zoo.datasets import grammar as gr
from zoo.datasets.common import split_sha256
from zoo.datasets.grammar import dataset, rules, simple, wordnet

SPLITS = ("train", "val", "test")


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("grammar-cache")


@pytest.fixture(scope="module")
def data(cache_dir: Path) -> gr.Dataset:
    return gr.load("quick", seed=0, cache_dir=cache_dir)


def _clean_of(split: gr.Split) -> dict[int, int]:
    """source id -> row of its clean record."""
    return {int(split.meta["source"][i]): int(i) for i in np.flatnonzero(split.y == 0)}


def test_shapes_labels_and_balance(data: gr.Dataset) -> None:
    assert data.labels == gr.LABELS == ("ok", "agreement", "article", "tense", "preposition", "plural")
    max_len = data.info["tokenizer"]["max_len"]
    for name in SPLITS:
        split = getattr(data, name)
        n = split.y.size
        assert split.x.dtype == np.int32 and split.x.shape == (n, max_len), name
        assert split.y.dtype == np.int64 and np.array_equal(split.meta["error_type"], split.y), name
        assert split.meta["position"].dtype == np.int32 and split.meta["source"].dtype == np.int32, name
        assert len(gr.texts(data, name)) == n
        assert (split.x[:, 0] == 1).all(), "every sequence starts with [CLS]"
        assert split.x.max() < data.info["vocab_size"]
    total = sum(getattr(data, name).y.size for name in SPLITS)
    ok = sum(int((getattr(data, name).y == 0).sum()) for name in SPLITS)
    corpus = data.info["corpus"]
    assert corpus["profile_sentences"] == 3000 and 2400 <= corpus["simple_sentences"] <= gr.SIMPLE_PROFILES["quick"]
    assert ok == corpus["profile_sentences"] + corpus["simple_sentences"]
    assert 0.5 <= ok / total <= 0.65, (ok, total)
    for label in gr.ERROR_TYPES:
        assert data.info["counts"]["train"][label] >= 100, data.info["counts"]
    assert data.info["test_texts"] == gr.texts(data, "test")
    assert data.info["sources"]["package"] == "wordnet-base" and len(data.info["sources"]["sha256"]) == 8
    assert "permissive" in data.info["license"] and "Copyright 2006 by Princeton" in data.info["license"]


def test_same_profile_and_seed_give_identical_splits(data: gr.Dataset) -> None:
    again = gr.load("quick", seed=0)  # no cache: generated from scratch
    for name in SPLITS:
        assert split_sha256(getattr(again, name)) == split_sha256(getattr(data, name)), name
        assert gr.texts(again, name) == gr.texts(data, name)
    assert again.info == data.info


def test_another_seed_changes_errors_not_sources(data: gr.Dataset) -> None:
    other = gr.load("quick", seed=1)
    for name in SPLITS:
        a, b = getattr(data, name), getattr(other, name)
        assert set(a.meta["source"][a.y == 0]) == set(b.meta["source"][b.y == 0]), name
    assert gr.texts(other, "train") != gr.texts(data, "train")


def test_no_source_sentence_on_two_sides_of_the_split(data: gr.Dataset) -> None:
    sources = {name: set(getattr(data, name).meta["source"].tolist()) for name in SPLITS}
    clean = {name: set(np.asarray(gr.texts(data, name))[getattr(data, name).y == 0]) for name in SPLITS}
    for a, b in (("train", "val"), ("train", "test"), ("val", "test")):
        assert not sources[a] & sources[b], (a, b)
        assert not clean[a] & clean[b], (a, b)
    every_text = [t for name in SPLITS for t in gr.texts(data, name)]
    assert len(every_text) == len(set(every_text)), "a corruption equals another record"


def test_every_error_differs_from_its_clean_sentence_where_it_says(data: gr.Dataset) -> None:
    tok = gr.Tokenizer.from_json(data.info["tokenizer"])
    for name in SPLITS:
        split = getattr(data, name)
        text = gr.texts(data, name)
        clean_row = _clean_of(split)
        assert (split.meta["position"][split.y == 0] == -1).all()
        for i in np.flatnonzero(split.y != 0):
            c = clean_row[int(split.meta["source"][i])]
            assert text[i] != text[c]
            got, ref = tok.tokens(text[i]), tok.tokens(text[c])
            pos = int(split.meta["position"][i])
            assert pos >= 1, (text[i], pos)
            k = pos - 1  # [CLS] comes first
            assert got[:k] == ref[:k] and got[k] != (ref[k] if k < len(ref) else None), (text[c], text[i], pos)


@pytest.mark.parametrize(
    ("sentence", "kind", "expected"),
    [
        ("She likes the small dog.", "agreement", "She like the small dog."),
        ("They play in the park.", "agreement", "They plays in the park."),
        ("He ate an apple.", "article", "He ate a apple."),
        ("He ate an apple.", "article", "He ate apple."),
        ("We will go home.", "tense", "We will went home."),
        ("He is eating lunch.", "tense", "He is eat lunch."),
        ("She is interested in music.", "preposition", "She is interested on music."),
        ("I saw two birds.", "plural", "I saw two bird."),
        ("I saw a bird.", "plural", "I saw a birds."),
    ],
)
def test_rules_make_the_expected_errors(sentence: str, kind: str, expected: str) -> None:
    found = dict(gr.corrupt(sentence).get(kind, []))
    assert expected in found, (sentence, kind, found)


@pytest.mark.parametrize(
    ("sentence", "kind"),
    [
        ("If he were here, we would know.", "agreement"),  # subjunctive: "if he was" stays fine
        ("She bought a few apples.", "article"),  # "bought few apples" is grammatical
        ("The race is run every year.", "tense"),  # "is running" <-> "is run": participle = base
        ("He put the sports car in the garage.", "plural"),  # compound noun: "a sports car"
        ("I thought of you.", "preposition"),  # "of" after think is grammatical
    ],
)
def test_rules_avoid_grammatical_traps(sentence: str, kind: str) -> None:
    low = sentence.lower()
    for text, _ in gr.corrupt(sentence).get(kind, []):
        if kind == "agreement":
            assert "if he was" not in text.lower()
        elif kind == "article":
            assert "bought few" not in text
        elif kind == "tense":
            assert " is run" not in text or " is run" not in low
        elif kind == "plural":
            assert "sport car" not in text and "sports cars" not in text
        else:
            assert "thought" not in text or "thought of" in text


#: The error shapes children make that the simple sentences must produce ("Many person were",
#: "has ate", "sung" for "sang", "a apple", "The customer cheer").
SIMPLE_KINDS = ("plural", "tense", "article", "agreement")


def test_simple_sentences_carry_the_errors_children_make() -> None:
    texts, edits = gr.simple_sentences(4000)
    again, _ = gr.simple_sentences(4000)
    assert texts == again and len(set(texts)) == 4000, "seed-free and distinct"
    kinds = {k for e in edits.values() for k in e}
    assert kinds == {"agreement", "article", "tense", "plural"}
    for clean in texts[:500]:
        ref = [t.lower() for t, _ in rules._tokens(clean)]
        for kind, found in edits[clean].items():
            for text, pos in found:
                got = [t.lower() for t, _ in rules._tokens(text)]
                assert text != clean and got[:pos] == ref[:pos] and got[pos] != ref[pos], (clean, kind, text)
    # each shape of SIMPLE_KINDS occurs (not with given words: the draws are random)
    shapes = dict.fromkeys(SIMPLE_KINDS, 0)
    for clean in texts:
        for kind, found in edits[clean].items():
            for text, _ in found:
                low = text.lower()
                if (
                    kind == "plural"
                    and low.startswith("many ")
                    and low.split()[1] in {s for s, _ in gr.lexicon().irregular}
                ):
                    shapes[kind] += 1
                if kind == "tense" and any(f" {w} " in f" {low} " for w in ("has ate", "have ate", "sung", "has went")):
                    shapes[kind] += 1
                if kind == "article" and " a a" in f" {low}":
                    shapes[kind] += 1
                if kind == "agreement":
                    shapes[kind] += 1
    assert all(shapes.values()), shapes


def test_simple_sentence_words_are_chosen_by_rule_from_wordnet() -> None:
    lex = gr.lexicon()
    nouns = dict(lex.nouns)
    assert nouns["child"] == "children" and nouns["woman"] == "women" and nouns["analysis"] == "analyses"
    assert nouns["dog"] == "dogs" and nouns["lady"] == "ladies" and nouns["box"] == "boxes"
    assert all(sg != pl for sg, pl in lex.nouns)
    assert set(lex.irregular) <= set(lex.nouns)
    assert all(not simple._is_suffix_plural(sg, pl) for sg, pl in lex.irregular)
    assert 100 < len(lex.irregular) <= gr.LEXICON_SIZES["irregular_nouns"]  # all there are: 137 in WordNet 3.0
    assert len(lex.nouns) == len(lex.irregular) + gr.LEXICON_SIZES["nouns"]
    assert len(lex.verbs) == gr.LEXICON_SIZES["verbs"]
    verbs = dict(lex.verbs)
    assert (
        verbs["see"] is True
        and verbs["take"] is True
        and "give" not in verbs
        and verbs["walk"] is False
        and verbs["sit"] is False
    )
    # "give" is left out: its first sense has only the two-object frame (14)
    # most frequent first: the SemCor counts decide the order and the cut
    counts = simple._semcor_counts(gr.WORDNET_DIR, "2")
    assert [counts[v] for v, _ in lex.verbs] == sorted((counts[v] for v, _ in lex.verbs), reverse=True)
    assert not any(gr.blocked(w) for pair in lex.nouns for w in pair)


def test_frame_sentences_agree_by_construction() -> None:
    for subject, singular in gr.SUBJECTS:
        key = next(
            f"k{n}" for n in range(1000) if gr.SUBJECTS[wordnet._stable_int(f"k{n}") % len(gr.SUBJECTS)][0] == subject
        )
        s = gr.instantiate("They %s the plan", "abandon", key)
        assert s == f"{subject} {'abandons' if singular else 'abandon'} the plan.", s
    assert gr.instantiate("The water %ss", "boil", "x") == "The water boils."
    assert gr.instantiate("It was %sing all day long", "snow", "x") == "It was snowing all day long."
    assert gr.instantiate("They %s themselves", "wash", "x") == "They wash themselves."
    assert gr.instantiate("The car %ss the tree", "go_around", "x") == "The car goes around the tree."
    assert gr.instantiate("They %s the coin", "be", "x") is None


def test_blocklist_drops_sentences_with_blocked_words(data: gr.Dataset) -> None:
    assert gr.blocked("The soldiers carried guns.") == ["weapons"]
    assert gr.blocked("They killed time and drank beer.") == ["alcohol_tobacco", "violence"]
    assert gr.blocked("The season had begun.") == []  # "gun" only on word boundaries
    assert gr.blocked("We walked to the classroom.") == []
    assert 100 <= sum(len(v) for v in gr.BLOCKLIST.values()) <= 250
    f = data.info["filter"]
    assert f["dropped_sentences"] > 0 and set(f["dropped_by_category"]) <= set(gr.BLOCKLIST)
    for name in SPLITS:
        assert not any(gr.blocked(t) for t in gr.texts(data, name)), name


def test_tokenizer_round_trip_and_unknown_shapes(data: gr.Dataset) -> None:
    tok = gr.Tokenizer.from_json(data.info["tokenizer"])
    assert tok.to_json() == data.info["tokenizer"]
    assert np.array_equal(tok.encode_batch(gr.texts(data, "val")), data.val.x)
    spec = data.info["tokenizer"]
    assert spec["vocab"][:2] == ["[PAD]", "[CLS]"] and spec["padding"] == "right"
    assert len(spec["vocab"]) <= data.info["params"]["vocab_size"]
    assert re.findall(spec["pattern"], "don't stop, sam!") == ["don't", "stop", ",", "sam", "!"]
    cases = {
        "zorbling": "[UNK-ing]",
        "zorbled": "[UNK-ed]",
        "zorbly": "[UNK-ly]",
        "zorbs": "[UNK-s]",
        "zorbass": "[UNK]",
        "zorb": "[UNK]",
        "ozorb": "[UNK-V]",
        "ozorbs": "[UNK-V-s]",
        "ozorbing": "[UNK-V-ing]",
        "x42": "[UNK-NUM]",
        "\u00a7": "[UNK-PUNCT]",
        "zorbus": "[UNK]",  # rules 2: a final -us or -is is singular (cactus, oasis)
        "ozorbis": "[UNK-V]",
    }
    assert spec["unknown_rules_version"] == gr.UNKNOWN_RULES_VERSION == 2
    for word, expected in cases.items():
        assert gr.unknown_token(word, 2) == expected, word
        assert tok.encode(f"Zorbling {word}")[2] == tok.ids[expected], word
    # rules 1 (grammar models before 2.0.0, whose tokenizer.json names no version) stay as they were
    assert gr.unknown_token("zorbus") == gr.unknown_token("zorbus", 1) == "[UNK-s]"
    v1 = {k: v for k, v in spec.items() if k != "unknown_rules_version"}
    assert WordTokenizer.from_json(v1).encode("Every zorbus grows.")[2] == tok.ids["[UNK-s]"]
    assert WordTokenizer.from_json(spec).encode("Every zorbus grows.")[2] == tok.ids["[UNK]"]
    with pytest.raises(UsageError, match="upgrade edzoo"):
        WordTokenizer.from_json({**spec, "unknown_rules_version": 3})
    ids = tok.encode("The dog runs.")
    assert ids[0] == 1 and len(ids) == 5
    assert tok.encode_batch(["The dog runs."])[0, 5:].tolist() == [0] * (tok.max_len - 5)
    long = " ".join(["dog"] * 100)
    assert len(tok.encode(long)) == tok.max_len
    with pytest.raises(ValueError):
        gr.Tokenizer.from_json({**spec, "pattern": r"\w+"})


def test_cache_round_trip_and_corrupted_cache_is_regenerated(data: gr.Dataset, cache_dir: Path) -> None:
    files = sorted(cache_dir.glob("grammar-quick-seed0-*.npz"))
    assert len(files) == 1
    again = gr.load("quick", seed=0, cache_dir=cache_dir)
    assert again.info == data.info
    assert gr.texts(again, "train") == gr.texts(data, "train")
    raw = files[0].read_bytes()
    files[0].write_bytes(raw[: len(raw) // 2])
    fixed = gr.load("quick", seed=0, cache_dir=cache_dir)
    assert fixed.info["sha256"] == data.info["sha256"]
    assert files[0].read_bytes() != raw[: len(raw) // 2]
    assert not list(cache_dir.glob("*.incomplete"))


@pytest.mark.parametrize("profile", ["", "tiny", "QUICK", None])
def test_bad_profile(profile: object) -> None:
    with pytest.raises(ValueError, match="profile"):
        gr.load(profile)  # type: ignore[arg-type]


@pytest.mark.parametrize("seed", [-1, 1.5, "0", True, None])
def test_bad_seed(seed: object) -> None:
    with pytest.raises(ValueError, match="seed"):
        gr.load("quick", seed=seed)  # type: ignore[arg-type]


def test_missing_wordnet_names_the_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dataset, "WORDNET_DIR", tmp_path / "no-wordnet")  # where load() reads it
    for cache in (None, tmp_path / "cache"):
        with pytest.raises(gr.WordNetMissingError, match="apt-get install wordnet-base") as err:
            gr.load("quick", cache_dir=cache)
        assert err.value.exit_code == 11 and isinstance(err.value, FileNotFoundError)


def test_missing_inflection_libraries_name_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "lemminflect", None)
    with pytest.raises(gr.InflectionMissingError, match="pip install lemminflect inflect") as err:
        gr.load("quick")
    assert err.value.exit_code == 11


def test_baseline_is_better_than_chance_and_quiet(data: gr.Dataset) -> None:
    result = gr.baseline(data)  # warnings are errors: no convergence warning
    assert 0.55 <= result["accuracy_test"] <= 0.85, result
    assert set(result["recall_test"]) == set(gr.LABELS)
