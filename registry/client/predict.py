"""Run a model on a student's input the way its manifest says: read the build (or pulled
version), choose a variant, preprocess each input by ``signature.preprocessing``, run it with
LiteRT, and name the top classes.

Inputs by preprocessing block: ``image`` (PNG/JPEG), ``audio`` (16-bit mono WAV), ``text``
(a .txt file, one sentence per line) and, for knowledge tracing and recommendation, a .json
answer history ``[{"item": i, "correct": true}, ...]``."""

from __future__ import annotations

import json
import re
import wave
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from registry.core import preprocess
from registry.core.errors import NotFoundError, UsageError
from registry.core.model import Manifest, RecordError, Variant

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg")
SUFFIXES = {"image": IMAGE_SUFFIXES, "audio": (".wav",), "text": (".txt",), "history": (".json",)}


@dataclass(frozen=True)
class Model:
    """A model version on disk: its folder, manifest and the files beside it."""

    root: Path
    manifest: dict[str, Any]

    def typed(self) -> Manifest:
        """The manifest as the typed model; UsageError when it lacks what a manifest must hold."""
        try:
            return Manifest.from_dict(self.manifest)
        except RecordError as e:
            raise UsageError(
                f"{self.root / 'manifest.json'}: not a complete edzoo manifest ({e}); rebuild it with `edzoo zoo build`"
            ) from e

    @property
    def preprocessing(self) -> dict[str, Any]:
        return dict(self.manifest["signature"].get("preprocessing") or {})

    @property
    def labels(self) -> list[str]:
        return [str(x) for x in self.manifest["signature"].get("labels") or []]

    @property
    def input_kind(self) -> str:
        """``image``, ``audio``, ``text`` or ``history``: which files this model reads."""
        pre = self.preprocessing
        for kind in ("image", "audio", "text"):
            if kind in pre:
                return kind
        if self.manifest.get("task") in ("knowledge-tracing", "recommendation"):
            return "history"
        raise UsageError(
            f"{self.root / 'manifest.json'}: its preprocessing declares no image, audio or text input; "
            "edzoo predict cannot prepare inputs for it (feed the tensor with LiteRT yourself)"
        )


@dataclass(frozen=True)
class Prediction:
    """One input's top classes (``line`` is the 1-based line of a text file; ``extra`` holds
    task details such as grammar's flagged token)."""

    input: str
    top: tuple[tuple[str, float], ...]
    line: int | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"input": self.input}
        if self.line is not None:
            out["line"] = self.line
        out["top"] = [{"label": label, "probability": round(p, 6)} for label, p in self.top]
        out.update(self.extra)
        return out


def open_model(source: str | Path, *, cache_dir: Path | None = None) -> Model:
    """A build directory (``manifest.json`` beside its files), or ``NS/MODEL[@VERSION]`` from
    the local cache of pulled versions.

    Raises NotFoundError when neither exists, UsageError for an unreadable manifest."""
    path = Path(source)
    if path.is_dir():
        return _read_build(path)
    if path.exists():
        raise UsageError(f"{path}: not a build directory (a folder with manifest.json) nor NS/MODEL[@VERSION]")
    return _pulled(str(source), cache_dir)


def _read_build(root: Path) -> Model:
    manifest_path = root / "manifest.json"
    try:
        doc = json.loads(manifest_path.read_text())
    except FileNotFoundError:
        raise NotFoundError(f"{root}: no manifest.json; pass a build directory (build/NS/MODEL/VERSION)") from None
    except (OSError, ValueError) as e:
        raise UsageError(f"{manifest_path}: cannot read it ({e}); rebuild it with `edzoo zoo build`") from e
    if not isinstance(doc, dict) or "signature" not in doc or "variants" not in doc:
        raise UsageError(f"{manifest_path}: not an edzoo manifest (no signature or variants)")
    return Model(root, doc)


def _pulled(ref: str, cache_dir: Path | None) -> Model:
    """A version pulled into the cache: its verified files sit under
    ``registries/<registry>/models/NS/MODEL/VERSION/``."""
    from registry.client.cache import Cache, default_cache_dir
    from registry.core import names

    try:
        parsed = names.ModelRef.parse(ref)
    except UsageError:
        raise NotFoundError(f"{ref}: no such build directory, and not NS/MODEL[@VERSION]") from None
    cache = Cache(cache_dir or default_cache_dir())
    found: list[Path] = []
    for reg in cache.registries():
        folder = reg.root / "models" / parsed.namespace / parsed.model
        if folder.is_dir():
            found += [p for p in folder.iterdir() if p.is_dir() and (p / "manifest.json").exists()]
    wanted = parsed.revision
    if wanted:
        found = [p for p in found if p.name == wanted]
    if not found:
        raise NotFoundError(
            f"{ref}: not in the cache with its manifest; pull it first (`edzoo pull {ref} --registry URL`) "
            "or pass a build directory"
        )
    return _read_build(sorted(found, key=lambda p: _version_key(p.name))[-1])


def _version_key(text: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", text))


def choose_variant(model: Model, variant: str | None = None, device: Mapping[str, Any] | None = None) -> Variant:
    """The variant to run: ``variant`` by id, else the one ``edzoo pull --device`` would choose
    for ``device``, else the manifest's first.

    Raises NotFoundError for an unknown id, NoCompatibleVariantError when none fits the device."""
    manifest = model.typed()
    if variant is not None:
        try:
            return manifest.variant(variant)
        except KeyError:
            raise NotFoundError(
                f"{model.root}: no variant {variant!r}; it has {', '.join(manifest.ids)} (--variant ID)"
            ) from None
    if device is not None:
        from registry.core.select import policy_for_device, select

        _, policy, _ = policy_for_device(device)
        return select(manifest, device, policy).variant
    if not manifest.variants:
        raise NotFoundError(f"{model.root / 'manifest.json'}: lists no variants")
    return manifest.variants[0]


def expand_inputs(args: Sequence[str], kind: str, stdin: Iterable[str] = ()) -> list[Path]:
    """Input paths in order: files as given, a folder's supported files (sorted), and ``-``
    for paths read from ``stdin`` one per line.

    Raises NotFoundError for a path that does not exist, UsageError when nothing is left."""
    out: list[Path] = []
    for arg in args:
        if arg == "-":
            out += [Path(line.strip()) for line in stdin if line.strip()]
            continue
        p = Path(arg)
        if p.is_dir():
            out += sorted(q for q in p.iterdir() if q.is_file() and q.suffix.lower() in SUFFIXES[kind])
        else:
            out.append(p)
    for p in out:
        if not p.exists():
            raise NotFoundError(f"{p}: no such input file")
    if not out:
        raise UsageError(f"no inputs: give {kind} files ({', '.join(SUFFIXES[kind])}), a folder of them, or -")
    return out


class Predictor:
    """One variant loaded in a LiteRT interpreter, with the model's preprocessing."""

    def __init__(self, model: Model, variant: Variant) -> None:
        self.model = model
        self.variant = variant
        self._file = model.root / variant.file
        if not self._file.exists():
            raise NotFoundError(f"{self._file}: the variant's file is missing; use the whole build directory")
        self._loaded: Any = None
        self._frontend: Any = None

    @property
    def _interpreter(self) -> Any:
        # loaded on first use, so an unreadable first input fails before LiteRT starts
        if self._loaded is None:
            self._loaded = _interpreter(self._file)
        return self._loaded

    @property
    def input_detail(self) -> dict[str, Any]:
        return self._interpreter.get_input_details()[0]

    def run(self, x: np.ndarray) -> np.ndarray:
        """The model's float outputs for one preprocessed input (no batch axis): quantized
        (int8) inputs are quantized and outputs dequantized by each tensor's scale and zero point."""
        return _invoke(self._interpreter, x)

    def predict(self, path: Path, top: int = 5) -> list[Prediction]:
        """Every prediction one input file holds (one per line for text).

        Raises UsageError when the file cannot be read as this model's input."""
        kind = self.model.input_kind
        if kind == "image":
            return [self._rank(str(path), self.run(self.image(path)), top)]
        if kind == "audio":
            return [self._rank(str(path), self.run(self.audio(path)), top)]
        if kind == "history":
            return [self._history(path, top)]
        return self._text(path, top)

    # -- preprocessing --------------------------------------------------------------------
    def image(self, path: Path) -> np.ndarray:
        """An image file as the model's input tensor (no batch axis). Raises UsageError."""
        spec = self.model.preprocessing["image"]
        try:
            from PIL import Image, UnidentifiedImageError
        except ImportError as e:  # pragma: no cover - Pillow is a client dependency
            raise UsageError("reading images needs Pillow: pip install pillow") from e
        channels = int(spec.get("channels", 1))
        try:
            with Image.open(path) as raw:
                im = raw.convert("L" if channels == 1 else "RGB")
                size = (int(spec["width"]), int(spec["height"]))
                if spec.get("normalize"):
                    gray = np.asarray(im, np.float32)
                    pixels = preprocess.normalizer(str(spec["normalize"]))(gray)
                    pixels = _resize(pixels, size)
                    source = spec.get("pixel_range", [0, 255])
                else:
                    pixels = np.asarray(im.resize(size, Image.Resampling.BILINEAR), np.float32)
                    source = [0, 255]
        except UnidentifiedImageError:
            raise UsageError(f"{path}: not an image Pillow can read; give a PNG or JPEG file") from None
        except OSError as e:
            raise UsageError(f"{path}: cannot read the image ({e}); give a PNG or JPEG file") from e
        x = preprocess.scale(pixels, source, spec.get("range", [0, 1]))
        if x.ndim == 2:
            x = x[..., None]
        if spec.get("layout", "nhwc") == "nchw":
            x = np.transpose(x, (2, 0, 1))
        return x

    def audio(self, path: Path) -> np.ndarray:
        """A WAV file as the model's input (the waveform, or the front end's features).

        Raises UsageError for another sample rate, a stereo or non-16-bit file."""
        spec = self.model.preprocessing["audio"]
        rate = int(spec.get("sample_rate_hz", 16000))
        try:
            with wave.open(str(path), "rb") as w:
                got, channels, width, frames = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
                raw = w.readframes(frames)
        except (wave.Error, EOFError, OSError) as e:
            raise UsageError(
                f"{path}: not a WAV file ({e}); convert it: sox in.audio -r {rate} -c 1 -b 16 out.wav"
            ) from e
        if got != rate:
            raise UsageError(
                f"{path}: sampled at {got} Hz, the model needs {rate} Hz; resample it: sox in.wav -r {rate} out.wav"
            )
        if channels != 1 or width != 2:
            raise UsageError(f"{path}: needs 16-bit mono; convert it: sox in.wav -r {rate} -c 1 -b 16 out.wav")
        n = int(round(int(spec.get("clip_ms", 1000)) * rate / 1000))
        samples = np.frombuffer(raw, "<i2").astype(np.float32) / 32768.0
        clip = np.zeros(n, np.float32)
        clip[: min(n, len(samples))] = samples[:n]
        if spec.get("features", "waveform") == "waveform":
            return clip.reshape(_shape(self.input_detail))
        if self._frontend is None:
            front = self.model.root / "frontend.tflite"
            if not front.exists():
                raise NotFoundError(f"{front}: the model's input is {spec['features']} features and needs it")
            self._frontend = _interpreter(front)
        features = _invoke(self._frontend, clip.reshape(_shape(self._frontend.get_input_details()[0])))
        return features.reshape(_shape(self.input_detail))

    def _text(self, path: Path, top: int) -> list[Prediction]:
        spec = self.model.preprocessing["text"]
        vocab = self.model.root / str(spec.get("vocab_file", "tokenizer.json"))
        try:
            tok = preprocess.WordTokenizer.from_json(json.loads(vocab.read_text()), source=str(vocab))
        except FileNotFoundError:
            raise NotFoundError(f"{vocab}: the model's tokenizer is missing; use the whole build directory") from None
        except ValueError as e:
            raise UsageError(f"{vocab}: cannot read the tokenizer ({e})") from e
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except (OSError, UnicodeDecodeError) as e:
            raise UsageError(f"{path}: not a UTF-8 text file ({e}); give one sentence per line") from e
        out = []
        for n, sentence in enumerate(lines, 1):
            if not sentence.strip():
                continue
            ids = tok.encode(sentence)
            outputs = self.run(tok.encode_padded(sentence).reshape(_shape(self.input_detail)))
            out.append(self._grammar(str(path), n, sentence, tok, ids, outputs, top))
        return out

    def _grammar(
        self,
        name: str,
        line: int,
        sentence: str,
        tok: preprocess.WordTokenizer,
        ids: list[int],
        outputs: np.ndarray,
        top: int,
    ) -> Prediction:
        """Per token P(ok) and P(each error): the sentence is flagged at its real token with the
        lowest P(ok) when that is below 0.5; ``top`` ranks that token's classes."""
        per_token = outputs.reshape(-1, outputs.shape[-1])
        real = list(range(1, len(ids))) or [0]  # [CLS] only when the line has no token
        ok = self.model.labels.index("ok") if "ok" in self.model.labels else 0
        worst = min(real, key=lambda i: float(per_token[i, ok]))
        words = tok.tokens(sentence)
        flagged = float(per_token[worst, ok]) < 0.5
        extra = {
            "decision": "error" if flagged else "ok",
            "token": words[worst - 1] if flagged and worst >= 1 else None,
            "position": worst - 1 if flagged and worst >= 1 else None,
        }
        ranked = self._rank(name, per_token[worst], top)
        return Prediction(name, ranked.top, line=line, extra=extra)

    def _history(self, path: Path, top: int) -> Prediction:
        try:
            history = json.loads(path.read_text())
        except (OSError, ValueError) as e:
            raise UsageError(f'{path}: not a JSON answer history ({e}); give [{{"item": 3, "correct": true}}]') from e
        if not isinstance(history, list):
            raise UsageError(f'{path}: expected a JSON list of {{"item": INT, "correct": BOOL}}')
        shape = _shape(self.input_detail)
        notes = str(self.model.preprocessing.get("notes", ""))
        skills = re.search(r"1 \+ skill \+ (\d+) \* correct", notes)
        x = preprocess.history_tokens(
            history, int(np.prod(shape)), n_skills=int(skills.group(1)) if skills else None, source=str(path)
        )
        outputs = self.run(x.reshape(shape))
        if skills:  # one row per past answer: the last real one is the student now
            rows = outputs.reshape(-1, outputs.shape[-1])
            outputs = rows[max(0, min(len(history), len(rows)) - 1)]
        return self._rank(str(path), outputs, top)

    def _rank(self, name: str, outputs: np.ndarray, top: int) -> Prediction:
        probs = np.ravel(outputs).astype(np.float64)
        labels = self.model.labels or [str(i) for i in range(len(probs))]
        if len(labels) != len(probs):
            labels = [str(i) for i in range(len(probs))]
        order = sorted(range(len(probs)), key=lambda i: (-probs[i], i))[: max(1, top)]
        return Prediction(name, tuple((labels[i], float(probs[i])) for i in order))


def predict(
    source: str | Path,
    inputs: Sequence[str],
    *,
    variant: str | None = None,
    device: Mapping[str, Any] | None = None,
    top: int = 5,
    stdin: Iterable[str] = (),
    cache_dir: Path | None = None,
) -> tuple[str, list[Prediction]]:
    """``(variant id, predictions in input order)`` for ``inputs`` run through ``source``.

    Raises NotFoundError (a missing model, variant or input), UsageError (an input that is not
    what the model reads), NoCompatibleVariantError (nothing fits ``device``)."""
    model = open_model(source, cache_dir=cache_dir)
    chosen = choose_variant(model, variant, device)
    paths = expand_inputs(inputs, model.input_kind, stdin)
    predictor = Predictor(model, chosen)
    results: list[Prediction] = []
    for p in paths:
        results += predictor.predict(p, top)
    return chosen.id, results


# -- LiteRT ----------------------------------------------------------------------------------


def _interpreter(path: Path) -> Any:
    from ai_edge_litert.interpreter import Interpreter

    if not path.exists():
        raise NotFoundError(f"{path}: the variant's file is missing; use the whole build directory or pull it again")
    try:
        it = Interpreter(model_path=str(path), num_threads=1)
    except (ValueError, RuntimeError) as e:
        raise UsageError(f"{path}: LiteRT cannot load it ({e})") from e
    detail = it.get_input_details()[0]
    shape = [1 if d < 0 else int(d) for d in detail.get("shape_signature", detail["shape"])]
    if list(detail["shape"]) != shape:
        it.resize_tensor_input(detail["index"], shape)
    it.allocate_tensors()
    return it


def _shape(detail: Mapping[str, Any]) -> tuple[int, ...]:
    return tuple(int(d) for d in detail["shape"])


def _invoke(it: Any, x: np.ndarray) -> np.ndarray:
    detail = it.get_input_details()[0]
    shape = _shape(detail)
    x = np.asarray(x).reshape(shape)
    dtype = np.dtype(detail["dtype"])
    scale, zero = detail.get("quantization", (0.0, 0))
    if np.issubdtype(dtype, np.integer) and scale and np.issubdtype(x.dtype, np.floating):
        x = preprocess.quantize(x, scale, zero, dtype)
    it.set_tensor(detail["index"], x.astype(dtype))
    it.invoke()
    out = it.get_output_details()[0]
    y = it.get_tensor(out["index"])
    scale, zero = out.get("quantization", (0.0, 0))
    if np.issubdtype(y.dtype, np.integer) and scale:
        return preprocess.dequantize(y, scale, zero)[0]
    return np.asarray(y, np.float32)[0]


def _resize(pixels: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    return np.asarray(Image.fromarray(pixels.astype(np.float32), mode="F").resize(size, Image.Resampling.BILINEAR))
