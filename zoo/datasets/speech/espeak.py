"""espeak-ng: finding it, its voices and variants, and speaking one word."""

from __future__ import annotations

import re
import shutil
import subprocess
import wave
from pathlib import Path
from typing import Any

import numpy as np

from ._base import (
    _APT,
    _TAG_SPEAKER,
    ESPEAK_RATE,
    VOICES,
    GenerationParams,
    SpeechToolsMissingError,
    SynthesisError,
    _Espeak,
    _Job,
)


def _find_espeak() -> _Espeak:
    """espeak-ng's binary, version, data folder and sorted variant names. Raises SpeechToolsMissingError."""
    binary = shutil.which("espeak-ng")
    if binary is None:
        raise SpeechToolsMissingError(f"espeak-ng not found on PATH; install it with: {_APT}")
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError) as e:
        raise SpeechToolsMissingError(f"espeak-ng at {binary} does not run ({e}); reinstall it with: {_APT}") from e
    version = re.search(r"text-to-speech:\s*(\S+)", out)
    data = re.search(r"Data at:\s*(.+)", out)
    data_dir = Path(data.group(1).strip()) if data else None
    variant_dir = data_dir / "voices" / "!v" if data_dir else None
    if variant_dir is None or not variant_dir.is_dir():
        raise SpeechToolsMissingError(f"espeak-ng's voice variants (voices/!v) not found; reinstall it with: {_APT}")
    variants = tuple(sorted(p.name for p in variant_dir.iterdir() if p.is_file()))
    if not variants:
        raise SpeechToolsMissingError(f"no voice variants in {variant_dir}; reinstall it with: {_APT}")
    return _Espeak(binary, version.group(1) if version else out.strip(), data_dir, variants)  # type: ignore[arg-type]


def _variant_family(name: str) -> str:
    return re.sub(r"\d+$", "", name).lower()


def _split_of(i: int) -> str:
    return "test" if i % 5 == 2 else "val" if i % 5 == 4 else "train"


def _assign(espeak: _Espeak) -> tuple[dict[str, str], dict[str, str]]:
    """Voice -> split and variant -> split (seed-independent): sorted voices, and variant families
    (name without trailing digits, lower case) sorted, position i % 5 == 2 test, == 4 val, else train."""
    voices = {v: _split_of(i) for i, v in enumerate(sorted(VOICES))}
    families = sorted({_variant_family(v) for v in espeak.variants})
    family_split = {f: _split_of(i) for i, f in enumerate(families)}
    return voices, {v: family_split[_variant_family(v)] for v in espeak.variants}


def _speakers(espeak: _Espeak, seed: int, p: GenerationParams) -> list[dict[str, Any]]:
    """Every usable (voice, variant) pair, sorted, with its split and its speed and pitch."""
    voice_split, variant_split = _assign(espeak)
    out: list[dict[str, Any]] = []
    for voice in sorted(VOICES):
        for variant in espeak.variants:
            if voice_split[voice] != variant_split[variant]:
                continue  # mixes the voices and variants of two splits: not used
            rng = np.random.default_rng([seed, _TAG_SPEAKER, len(out)])
            out.append(
                {
                    "voice": voice,
                    "variant": variant,
                    "family": _variant_family(variant),
                    "split": voice_split[voice],
                    "speed": float(rng.uniform(*p.speed_wpm)),
                    "pitch": float(rng.uniform(*p.pitch)),
                }
            )
    return out


def _read_wav(path: Path) -> np.ndarray:
    with wave.open(str(path), "rb") as w:
        if (w.getframerate(), w.getnchannels(), w.getsampwidth()) != (ESPEAK_RATE, 1, 2):
            raise SynthesisError(
                f"expected 22050 Hz 16-bit mono from espeak-ng, got {w.getframerate()} Hz, "
                f"{w.getnchannels()} channel(s), {8 * w.getsampwidth()}-bit"
            )
        return np.frombuffer(w.readframes(w.getnframes()), dtype="<i2").astype(np.float64) / 32768.0


def _speak(binary: str, job: _Job, tmp: Path) -> np.ndarray:
    """espeak-ng's audio for ``job`` at 22,050 Hz, float64 in [-1, 1]."""
    path = tmp / f"{'-'.join(map(str, job.key))}.wav"
    args = [binary, "-v", f"{job.voice}+{job.variant}", "-s", str(job.speed), "-p", str(job.pitch)]
    try:
        subprocess.run([*args, "-w", str(path), job.word], capture_output=True, check=True)
        return _read_wav(path)
    except (OSError, subprocess.CalledProcessError, wave.Error, EOFError) as e:
        raise SynthesisError(f"espeak-ng failed for {job.voice}+{job.variant} {job.word!r}: {e}") from e
    finally:
        path.unlink(missing_ok=True)
