"""The grammar model's quick build (WordNet sentences, BLiMP held out): the checks every task
passes and its tokenizer."""

from __future__ import annotations

import pytest
from zoo_task_checks import *  # noqa: F403  (the checks every task's build passes)
from zoo_task_checks import read

TASK = "grammar"

pytestmark = [pytest.mark.tf, pytest.mark.slow(minutes=15)]


def test_grammar_ships_its_tokenizer(built):  # type: ignore[no-untyped-def]
    from zoo.datasets.grammar import Tokenizer

    tok = Tokenizer.from_json(read(built, "tokenizer.json"))
    for sample in read(built, "golden/samples.json")["samples"]:
        assert tok.encode_batch([sample["text"]])[0].tolist() == sample["input"]
    breakdown = read(built, "metrics.json")["variants"]["fp32"]["breakdown"]
    assert set(breakdown["recall_per_error_type"]) == {"agreement", "article", "tense", "preposition", "plural"}
    assert built.manifest["signature"]["preprocessing"]["text"]["vocab_file"] == "tokenizer.json"
