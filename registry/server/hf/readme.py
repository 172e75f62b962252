"""The README.md that every revision of a Hugging Face repository carries: the model card as
Markdown, with the Hub's YAML front matter (licence, language, tags, datasets, metrics,
model-index) and an ``edzoo:`` block of the education fields. It depends on the manifest, the
signed file list and the signed withdrawal only, so it is the same on every server."""

from __future__ import annotations

import json
import re
import threading
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from registry.core.card import card_head, card_tail
from registry.core.manifest import describe_recipe
from registry.core.model import Manifest, Variant

__all__ = ["PIPELINE_TAGS", "card_metadata", "readme_bytes", "render_readme", "to_yaml"]

# Hugging Face pipeline tags for edzoo's tasks (none for recommendation and other).
PIPELINE_TAGS = {
    "image-classification": "image-classification",
    "speech-commands": "audio-classification",
    "keyword-spotting": "audio-classification",
    "grammar-error-detection": "token-classification",
    "text-classification": "text-classification",
}


_README_CACHE: OrderedDict[str, bytes] = OrderedDict()
_README_LOCK = threading.Lock()


def readme_bytes(
    manifest_sha256: str,
    manifest: dict[str, Any],
    files: dict[str, dict[str, Any]],
    withdrawn: dict[str, Any] | None = None,
) -> bytes:
    # A withdrawal (or its end) changes the README of the same manifest: it is part of the key.
    key = manifest_sha256 + (":" + json.dumps(withdrawn, sort_keys=True) if withdrawn else "")
    with _README_LOCK:
        cached = _README_CACHE.get(key)
        if cached is not None:
            _README_CACHE.move_to_end(key)
            return cached
    data = render_readme(manifest, files, manifest_sha256, withdrawn).encode()
    with _README_LOCK:
        _README_CACHE[key] = data
        while len(_README_CACHE) > 512:
            _README_CACHE.popitem(last=False)
    return data


def _hf_license(spdx: str) -> dict[str, str]:
    if spdx and " " not in spdx:
        return {"license": spdx.lower()}
    slug = re.sub(r"[^a-z0-9.]+", "-", spdx.lower()).strip("-") or "unknown"
    return {"license": "other", "license_name": slug}


def _reference_variant(m: Manifest) -> Variant:
    ref_id = m.variants[0].metrics.reference_variant
    return next((v for v in m.variants if v.id == ref_id), m.variants[0])


def card_metadata(
    manifest: Mapping[str, Any] | Manifest, manifest_sha256: str, withdrawn: dict[str, Any] | None = None
) -> dict[str, Any]:
    """README.md's YAML front matter: Hugging Face's fields, then the ``edzoo`` block (which
    carries ``withdrawn``, the reason, replacement, time and signer, for a withdrawn version)."""
    m = Manifest.of(manifest)
    card = m.card or {}
    education = card.get("education") or {}
    ref = _reference_variant(m)
    metric = ref.metrics
    tags = list(dict.fromkeys([m.task, *m.subjects, "edzoo", "tflite"]))
    meta: dict[str, Any] = {**_hf_license(m.license), "language": list(m.languages), "tags": tags}
    datasets = list((m.provenance or {}).get("dataset_digests") or {})
    if datasets:
        meta["datasets"] = datasets
    if metric.name:
        meta["metrics"] = [metric.name]
    if m.task in PIPELINE_TAGS:
        meta["pipeline_tag"] = PIPELINE_TAGS[m.task]
    evaluation = card.get("evaluation_data") or {}
    if metric.name and metric.value is not None:
        dataset: dict[str, Any] = {
            "name": f"held-out evaluation data ({evaluation.get('size', '?')} examples)",
            "type": "heldout",
            "split": "test",
        }
        if evaluation.get("sha256"):
            dataset["revision"] = evaluation["sha256"]
        meta["model-index"] = [
            {
                "name": m.id,
                "results": [
                    {
                        "task": {"type": m.task},
                        "dataset": dataset,
                        "metrics": [
                            {
                                "type": metric.name,
                                "value": metric.value,
                                "name": f"{metric.name} of {ref.id} (reference variant)",
                                "verified": False,
                            }
                        ],
                    }
                ],
            }
        ]
    edzoo: dict[str, Any] = {
        "model": m.id,
        "version": m.version,
        "manifest_sha256": manifest_sha256,
        "task": m.task,
        "subjects": list(m.subjects),
        "grades": list(m.grades),
    }
    for key in ("age_band", "privacy_class", "student_data", "runs_on"):
        if education.get(key):
            edzoo[key] = education[key]
    if metric.name:
        edzoo["reference_metric"] = {"variant": ref.id, "name": metric.name, "value": metric.value}
    edzoo["variants"] = [{"id": v.id, "file": v.file, "sha256": v.sha256, "size": v.size} for v in m.variants]
    if withdrawn:
        edzoo["withdrawn"] = dict(withdrawn)
        meta["tags"] = [*tags, "withdrawn"]
    meta["edzoo"] = edzoo
    return meta


def _yaml_scalar(value: Any) -> str:
    # JSON scalars (and flow lists of them) are valid YAML; ASCII escapes keep every parser happy.
    return json.dumps(value, ensure_ascii=True)


def _yaml_key(key: str) -> str:
    return key if re.match(r"^[A-Za-z_][A-Za-z0-9_-]*\Z", key) else _yaml_scalar(key)


def _yaml_map(mapping: dict[str, Any], indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for key, value in mapping.items():
        if isinstance(value, dict) and value:
            lines.append(f"{pad}{_yaml_key(key)}:")
            lines += _yaml_map(value, indent + 2)
        elif isinstance(value, list) and value:
            lines.append(f"{pad}{_yaml_key(key)}:")
            lines += _yaml_list(value, indent)
        else:
            lines.append(f"{pad}{_yaml_key(key)}: {_yaml_scalar(value)}")
    return lines


def _yaml_list(items: list[Any], indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for item in items:
        if isinstance(item, dict) and item:
            sub = _yaml_map(item, indent + 2)
            lines.append(pad + "- " + sub[0][indent + 2 :])
            lines += sub[1:]
        else:
            lines.append(f"{pad}- {_yaml_scalar(item)}")
    return lines


def to_yaml(mapping: dict[str, Any]) -> str:
    """Block-style YAML of plain data (dicts, lists, strings, numbers, booleans, None)."""
    return "\n".join(_yaml_map(mapping, 0)) + "\n"


def _cell(value: Any) -> str:
    return str(value).replace("|", "\\|").replace("\n", " ")


def render_readme(
    manifest: Mapping[str, Any] | Manifest,
    files: dict[str, dict[str, Any]],
    manifest_sha256: str,
    withdrawn: dict[str, Any] | None = None,
) -> str:
    """README.md of a version: front matter, then the card as Markdown. Depends on the manifest,
    the signed file list and the signed withdrawal only, so it is the same for every request and
    every server."""
    m = Manifest.of(manifest)
    lines = [
        "---",
        to_yaml(card_metadata(m, manifest_sha256, withdrawn)).rstrip("\n"),
        "---",
        "",
        *card_head(m, notice=withdrawn_notice(m.id, m.version, withdrawn)),
        *_variants_table(m, _reference_variant(m)),
        "",
        *card_tail(m),
        *_files_and_get(m, files),
    ]
    return "\n".join(lines)


def _variants_table(m: Manifest, ref: Variant) -> list[str]:
    lines = [
        "## Variants",
        "",
        f"| variant | file | recipe | bytes | {ref.metrics.name} | Δ vs {ref.id} | p50 µs | min RAM MB |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for v in m.variants:
        lines.append(
            f"| {_cell(v.id)} | `{_cell(v.file)}` | {_cell(describe_recipe(v.recipe))} | "
            f"{v.size:,} | {_cell(v.metrics.value)} | {_cell(v.metrics.delta_vs_reference)} | "
            f"{_cell(v.benchmarks.latency_us_p50)} | {_cell(v.requirements.min_ram_mb)} |"
        )
    return lines


def _files_and_get(m: Manifest, files: dict[str, dict[str, Any]]) -> list[str]:
    lines = [
        "## Files and how to verify them",
        "",
        "Every file but this README is a TUF target signed by the publisher: its sha256 below is the",
        "signed one, and it is the file's ETag here. `edzoo pull` checks the signatures itself.",
        "",
        "| file | bytes | sha256 |",
        "|---|---:|---|",
    ]
    for path, info in sorted(files.items()):
        lines.append(f"| `{_cell(path)}` | {info['size']:,} | `{info['sha256']}` |")
    if "card.md" in files:
        lines += ["", "The card as the build rendered it, with every measurement, is `card.md`."]
    first, repo = m.variants[0], m.id
    return [
        *lines,
        "",
        "## Get it",
        "",
        "```sh",
        f"edzoo pull {repo}@{m.version} --variant {first.id} --registry <this registry's URL>",
        "```",
        "",
        "or, with `HF_ENDPOINT` set to this registry's URL:",
        "",
        "```python",
        "from huggingface_hub import hf_hub_download",
        f'path = hf_hub_download("{repo}", "{first.file}", revision="{m.version}")',
        "```",
        "",
    ]


def withdrawn_notice(repo: str, version: str, withdrawn: dict[str, Any] | None) -> list[str]:
    if not withdrawn:
        return []
    who = "its publisher" if withdrawn.get("by") == "publisher" else "the registry admin"
    use = withdrawn.get("use")
    instead = f"Use `{repo}@{use}` instead." if use else "No replacement was named."
    return [
        f"> **Withdrawn.** {repo} {version} was withdrawn by {who} on {str(withdrawn.get('at', ''))[:10]}: "
        f"{_cell(withdrawn.get('reason', ''))}. {instead} `edzoo pull` refuses a pin of it.",
        "",
    ]
