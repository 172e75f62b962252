"""The grammar model's held-out source (BLiMP's minimal pairs, zoo/tasks/grammar.py ``_shift``)
and the sentence-level figure every variant reports on it: recall at <= 5% false alarms.

No TensorFlow, no build: the shift split is encoded with a small tokenizer, outputs are made
by hand. The BLiMP file is vendored (zoo/datasets/sources)."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

import registry.core.preprocess as core
from zoo.datasets import grammar as gr
from zoo.datasets import sources
from zoo.datasets.common import Split
from zoo.tasks import get
from zoo.tasks import grammar as task_module


@pytest.fixture(scope="module")
def tiny_data() -> SimpleNamespace:
    texts = ["The cat sits on the mat.", "The dogs were running to the park.", "Many people sang."] * 2
    tok = gr.Tokenizer.build(texts, vocab_size=60, min_count=2, max_len=28)
    return SimpleNamespace(info={"tokenizer": tok.to_json()})


# ------------------------------------------------------------------ recall at false alarms

RECALL_CASES = {
    # name: (good scores, bad scores, cap, threshold, false alarms, recall)
    "twenty_good_one_may_fire": ([0.0] * 18 + [0.5, 0.9], [0.6, 0.95, 0.4, 0.5], 0.05, 0.5, 0.05, 0.5),
    "ties_at_the_threshold_stay_unflagged": ([0.3] * 20, [0.3, 0.31, 0.9], 0.05, 0.3, 0.0, 2 / 3),
    "cap_below_one_sentence": ([0.1, 0.2, 0.8], [0.7, 0.9], 0.05, 0.8, 0.0, 0.5),
    "cap_of_everything": ([0.1, 0.2], [0.0], 1.0, -np.inf, 1.0, 1.0),
}


@pytest.mark.parametrize("name", sorted(RECALL_CASES))
def test_recall_at_false_alarms(name: str) -> None:
    good, bad, cap, threshold, fa, recall = RECALL_CASES[name]
    got = task_module.recall_at_false_alarms(np.array(bad), np.array(good), cap)
    assert got["threshold"] == threshold
    assert got["false_alarm_rate"] == pytest.approx(fa)
    assert got["false_alarm_rate"] <= cap
    assert got["recall"] == pytest.approx(recall)


def test_recall_at_false_alarms_needs_both_kinds() -> None:
    with pytest.raises(ValueError, match="good and bad"):
        task_module.recall_at_false_alarms(np.array([]), np.array([0.1]))


def _outputs(p_ok_per_row: list[list[float]], length: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Outputs (N, L, 6) whose P(ok) per real token is given; the rest of the mass on class 1."""
    n = len(p_ok_per_row)
    out = np.zeros((n, length, 6), np.float32)
    x = np.zeros((n, length), np.int32)
    out[..., 0] = 1.0
    for i, row in enumerate(p_ok_per_row):
        x[i, : len(row)] = 5
        out[i, : len(row), 0] = row
        out[i, : len(row), 1] = 1.0 - np.array(row)
    return out, x


def test_sentence_figures_per_type_and_pairs() -> None:
    # 20 pairs: the good sentences' lowest P(ok) 0.99..0.80 (one of 20 may fire: threshold 0.19);
    # bad agreement sentences are confident (P(ok) 0.1), bad plural ones are not (0.855)
    good = [[1.0, 0.99 - 0.01 * k] for k in range(20)]
    bad = [[0.1, 1.0] if k < 10 else [0.855, 0.9] for k in range(20)]
    outputs, x = _outputs(good + bad)
    y = np.array([0] * 20 + [1] * 10 + [5] * 10)
    pair = np.array(list(range(20)) * 2, np.int32)
    split = Split(x, y, {"pair": pair, "position": np.full(40, -1, np.int32)})
    fig = task_module._sentence_figures(outputs, split, gr.LABELS)
    assert fig["false_alarm_rate"] <= 0.05 and fig["threshold"] == pytest.approx(0.19)
    assert fig["recall_per_error_type"] == {"agreement": 1.0, "plural": 0.0}
    assert fig["recall"] == 0.5 and fig["n_good"] == 20 and fig["n_bad"] == 20
    # a plural sentence (P(error) 0.145) beats the good one of pairs 10-13 only (0.11-0.14)
    assert fig["pair_bad_scored_higher"] == {"agreement": 1.0, "plural": pytest.approx(0.4)}
    score = task_module._score(outputs, split, gr.LABELS)
    assert score.extra["sentence_recall_at_5pct_false_alarms"] == fig


def test_padding_never_raises_a_sentence_score() -> None:
    outputs, x = _outputs([[0.9, 0.95]])
    outputs[0, 3, 0] = 0.0  # a confident "error" on a padding token
    assert task_module.sentence_scores(outputs, x)[0] == pytest.approx(0.1)


# ------------------------------------------------------------------ the shift split


def test_shift_is_blimp_pairs_in_the_test_split_format(tiny_data: SimpleNamespace) -> None:
    task = get("grammar")
    assert task.shift is task_module._shift
    source, split = task.shift("quick", 0, None, tiny_data)
    n = 2 * 3 * task_module.SHIFT_PAIRS_PER_TYPE["quick"]
    assert split.x.dtype == np.int32 and split.x.shape == (n, 28) and (split.x[:, 0] == 1).all()
    assert split.y.dtype == np.int64 and np.array_equal(split.meta["error_type"], split.y)
    assert set(split.meta) >= {"error_type", "position", "pair", "text"}
    assert "BLiMP" in source and "CC BY 4.0" in source and "no learners" in source
    # each pair: its good sentence (ok, no position), then its bad one, at the first token that differs
    pairs = {p["good"]: p for p in sources.blimp()}
    counts = dict.fromkeys(("agreement", "plural", "tense"), 0)
    for k in range(0, n, 2):
        good, bad = split.meta["text"][k], split.meta["text"][k + 1]
        assert split.meta["pair"][k] == split.meta["pair"][k + 1]
        assert split.y[k] == 0 and split.meta["position"][k] == -1
        p = pairs[str(good)]
        assert p["bad"] == bad and gr.LABELS[split.y[k + 1]] == p["error"]
        counts[p["error"]] += 1
        pos = split.meta["position"][k + 1]
        if pos >= 0:  # -1 when both words are unknown with the same shape
            assert split.x[k, pos] != split.x[k + 1, pos] and (split.x[k, :pos] == split.x[k + 1, :pos]).all()
    assert set(counts.values()) == {task_module.SHIFT_PAIRS_PER_TYPE["quick"]}
    tok = core.WordTokenizer.from_json(tiny_data.info["tokenizer"])
    np.testing.assert_array_equal(split.x[7], tok.encode_padded(str(split.meta["text"][7])))


def test_shift_subset_is_seeded(tiny_data: SimpleNamespace) -> None:
    task = get("grammar")
    a = task.shift("quick", 0, None, tiny_data)[1].meta["text"].tolist()
    b = task.shift("quick", 0, None, tiny_data)[1].meta["text"].tolist()
    c = task.shift("quick", 1, None, tiny_data)[1].meta["text"].tolist()
    assert a == b and a != c


def test_full_shift_reads_every_pair(tiny_data: SimpleNamespace) -> None:
    source, split = get("grammar").shift("full", 0, None, tiny_data)
    assert len(split.y) == 2 * len(sources.blimp()) == 20000 and "10,000 pairs" in source


# ------------------------------------------------------------------ one tokenizer owner


def test_the_zoo_tokenizer_uses_the_client_rules() -> None:
    assert gr.unknown_token is core.unknown_token and gr.TOKEN_PATTERN is core.TOKEN_PATTERN
    assert not hasattr(gr, "_lowercase") and not hasattr(gr, "_LOWER")
    tok = gr.Tokenizer.build(["Sam doesn't like the ÉCOLE, 3 times!"] * 2, vocab_size=30, min_count=2, max_len=12)
    assert tok.tokens("Sam DOESN'T go.") == core.WordTokenizer((), 12).tokens("Sam DOESN'T go.")
    with pytest.raises(ValueError, match="not an edzoo-grammar-words tokenizer"):
        gr.Tokenizer.from_json({**tok.to_json(), "pattern": r"\w+"})
