"""Save a PNG grid of the handwriting dataset: one row per class, samples from train and test.

Usage: python scripts/preview_handwriting.py OUT.png [--profile quick] [--seed 0] [--samples 10]

Each row shows ``--samples`` training images, a gap, then as many test images (test letters
come from fonts the training split never saw, test digits from MNIST SD-1 writers). Cells are
the 28×28 model inputs, upscaled; dark is ink.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from zoo.datasets import handwriting  # noqa: E402

CELL = 58  # pixels per sample in the PNG (28×28, doubled, and a margin)
LABEL_W = 28


def _pick(split: handwriting.Split, cls: int, n: int) -> np.ndarray:
    idx = np.flatnonzero(split.y == cls)
    if idx.size > n:
        idx = idx[np.linspace(0, idx.size - 1, n).round().astype(int)]
    return split.x[idx, ..., 0]


def render(data: handwriting.Dataset, samples: int) -> Image.Image:
    gap = CELL // 2
    width = LABEL_W + 2 * samples * CELL + gap
    img = Image.new("L", (width, len(data.labels) * CELL), 255)
    draw = ImageDraw.Draw(img)
    for row, label in enumerate(data.labels):
        top = row * CELL
        draw.text((8, top + CELL // 3), label, fill=0)
        for col_offset, split in ((LABEL_W, data.train), (LABEL_W + samples * CELL + gap, data.test)):
            for j, grid in enumerate(_pick(split, row, samples)):
                cell = Image.fromarray((255 - grid * 255).round().astype(np.uint8)).resize(
                    (CELL - 2, CELL - 2), Image.Resampling.NEAREST
                )
                img.paste(cell, (col_offset + j * CELL, top + 1))
    return img


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path, help="where to write the PNG")
    parser.add_argument("--profile", default="quick", choices=sorted(handwriting.PROFILES))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--samples", type=int, default=10, help="samples per class from each split")
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    data = handwriting.load(args.profile, args.seed, cache_dir=args.cache_dir)
    render(data, args.samples).save(args.out)
    print(f"wrote {args.out}: {len(data.labels)} classes x {args.samples} train | {args.samples} test")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
