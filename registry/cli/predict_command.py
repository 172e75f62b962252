"""`edzoo predict`: run a build directory or a pulled model on images, WAV clips, text files or
answer histories, preprocessed as its manifest says (LiteRT only)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from registry.cli.options import cache_option, device_profile, json_option


@click.command()
@click.argument("model", metavar="NS/MODEL[@VERSION] | BUILD_DIR")
@click.argument("inputs", nargs=-1, required=True, metavar="INPUT...")
@click.option("--variant", default=None, help="Variant id [default: chosen for --device, else the manifest's first].")
@click.option(
    "--device",
    default=None,
    help="Choose the variant as `edzoo pull --device` does: a reference id, a profile .json, or `this`.",
)
@click.option("--top", default=5, show_default=True, type=click.IntRange(1, 1000), help="Classes shown per input.")
@json_option("One JSON object per input (per line of a text file).")
@cache_option()
def predict(
    model: str,
    inputs: tuple[str, ...],
    variant: str | None,
    device: str | None,
    top: int,
    as_json: bool,
    cache_dir: Path | None,
) -> None:
    """Run MODEL on each INPUT and print its top classes with their probabilities.

    INPUT is an image (PNG/JPEG), a 16 kHz mono WAV, a .txt file (one sentence per line) or a
    .json answer history, as the model reads; a folder (its supported files, sorted) or `-`
    (paths on stdin, one per line). Exits 2 for an input the model cannot read, 6 for a
    missing file, model or variant, 10 when no variant fits --device.
    """
    from registry.client.predict import predict as run

    profile = device_profile(device, cache_dir) if device else None
    stdin = sys.stdin if "-" in inputs else ()
    chosen, results = run(model, inputs, variant=variant, device=profile, top=top, stdin=stdin, cache_dir=cache_dir)
    if as_json:
        for r in results:
            click.echo(json.dumps(r.to_json(), ensure_ascii=False))
        return
    click.echo(f"variant {chosen}", err=True)
    for r in results:
        where = f"{r.input}:{r.line}" if r.line is not None else r.input
        flagged = r.extra.get("token") if r.extra else None
        click.echo(where + (f"  (flagged: {flagged!r})" if flagged else ""))
        for label, p in r.top:
            click.echo(f"  {label:20s} {p:8.4f}")


COMMANDS: tuple[click.Command, ...] = (predict,)
