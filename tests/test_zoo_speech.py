"""The speech model's quick build (espeak-ng voices, the Speech Commands held-out source): the
checks every task passes and its front end."""

from __future__ import annotations

import numpy as np
import pytest
from zoo_task_checks import *  # noqa: F403  (the checks every task's build passes)
from zoo_task_checks import read

from zoo.measure import Runner

TASK = "speech"

pytestmark = [pytest.mark.tf, pytest.mark.slow(minutes=30)]


def test_speech_ships_its_front_end(built):  # type: ignore[no-untyped-def]
    from zoo.datasets.speech import logmel

    golden = read(built, "golden/samples.json")
    frontend = Runner(built.out_dir / "frontend.tflite")
    with_audio = [s for s in golden["samples"] if "audio_int16" in s]
    assert with_audio
    for sample in with_audio:
        audio = np.asarray(sample["audio_int16"], np.float32)[None] / 32768.0
        ours = frontend(audio)[0]
        assert ours.shape == (98, 40, 1)
        assert np.abs(ours - np.asarray(sample["input"], np.float32)).max() < 1e-2
        assert np.abs(ours[..., 0] - logmel(audio[0])).max() < 1e-2
    breakdown = read(built, "metrics.json")["variants"]["fp32"]["breakdown"]
    assert set(breakdown["accuracy_per_snr_band"]) >= {"5-10 dB", "10-20 dB", "20-30 dB"}
    assert all({"said", "heard", "count"} <= set(c) for c in breakdown["confusions"])
    assert built.manifest["signature"]["preprocessing"]["audio"]["features"] == "log-mel"
    # the held-out source: real recordings, keywords and other words reported apart
    metrics = read(built, "metrics.json")
    assert metrics["shift_set"]["size"] == 648 and "Speech Commands" in metrics["shift_set"]["source"]
    held = metrics["variants"]["fp32"]["shift_breakdown"]
    assert held["keywords"]["n"] == 508 and held["other_words_not_taken_for_a_keyword"]["n"] == 140
    assert "accuracy_per_snr_band" not in held
    point = held["keywords_at_5pct_other_words_taken"]
    assert point["n"] == 508 and point["other_words_taken"] <= 0.05 and 0 < point["threshold"] <= 1
    # the test split has recorded and synthesized speakers, reported apart
    assert breakdown["recorded_speakers"]["n"] + breakdown["synthesized_speakers"]["n"] == metrics["test_set"]["size"]
    assert built.manifest["signature"]["preprocessing"]["audio"]["level_range"] == [0.0, 255.0]
    card = (built.out_dir / "card.md").read_text()
    assert "## On data from another source" in card and "no children documented" in card
