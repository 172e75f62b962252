"""The ``image-folder`` layout: one folder of images per class, maybe under ``train/``, ``val/``,
``test/``."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from zoo.data._base import (
    SPLITS,
    Parts,
    Request,
    Source,
    fail,
    group_of,
    group_pattern,
    label_index,
    like_info,
    register_adapter,
    take,
)
from zoo.datasets.common import Split

from ._common import _GREY_MODES, _SPLIT_NAMES, IMAGE_SUFFIXES, _folder_has, _for_request, _groups, _plan


@dataclass(frozen=True)
class _Image:
    path: Path
    label: str
    pixels: np.ndarray  # uint8 (height, width, 3)
    grey: bool
    resized: bool


def _decode_image(source: Source, p: Path, size: tuple[int, int] | None) -> _Image:
    from PIL import Image

    blob = source.read_bytes(p)
    try:
        with Image.open(io.BytesIO(blob)) as im:
            im.load()
            grey = im.mode in _GREY_MODES
            if im.mode.startswith("I;16"):  # 16-bit grey: convert() would clip it at 255, keep the high byte
                rgb = Image.fromarray((np.asarray(im, np.uint16) >> 8).astype(np.uint8), "L").convert("RGB")
            else:
                rgb = im.convert("RGB")  # alpha is dropped, as Keras' image loading does
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise fail(
            p, f"is not a readable image ({type(e).__name__}: {e})", "re-save it as PNG or JPEG, or remove it"
        ) from e
    resized = size is not None and rgb.size != (size[1], size[0])
    if resized:
        assert size is not None
        rgb = rgb.resize((size[1], size[0]), Image.Resampling.BILINEAR)
    a = np.asarray(rgb, dtype=np.uint8)
    if not grey:  # an RGB file of grey pixels is grey
        grey = bool(np.array_equal(a[..., 0], a[..., 1]) and np.array_equal(a[..., 1], a[..., 2]))
    return _Image(p, p.parent.name, a, grey, resized)


def _pixels(images: list[_Image], channels: int) -> np.ndarray:
    """float32 NHWC in [0, 1]; one channel is the grey value, or ITU-R 601 luma of a colour image."""
    rgb = np.stack([im.pixels for im in images]).astype(np.float32) / np.float32(255)
    if channels == 3:
        return rgb
    luma = rgb @ np.array([0.299, 0.587, 0.114], np.float32)
    grey = np.array([im.grey for im in images])[:, None, None]
    return np.where(grey, rgb[..., 0], luma)[..., None].astype(np.float32)


def _split_folders(source: Source, root: Path) -> dict[str, Path]:
    """Declared split folders (train/, val/ or validation/, test/) or ``{"all": root}``. Raises
    DataError for split folders beside class folders, or both val/ and validation/."""
    folders = [d for d in source.entries(root) if d.is_dir()]
    named = [d for d in folders if d.name.lower() in _SPLIT_NAMES]
    if not named:
        return {"all": root}
    if len(named) != len(folders):
        others = [d.name for d in folders if d not in named]
        raise fail(
            root,
            f"holds split folders ({', '.join(d.name for d in named)}) beside class folders ({', '.join(others[:4])})",
            "put every class folder under train/, val/ and test/, or rename the split folders",
        )
    pools: dict[str, Path] = {}
    for d in named:
        split = _SPLIT_NAMES[d.name.lower()]
        if split in pools:
            raise fail(root, f"has both {pools[split].name}/ and {d.name}/", "keep one validation folder")
        pools[split] = d
    return {split: pools[split] for split in SPLITS if split in pools}


def _is_image_folder(p: Path) -> bool:
    if not p.is_dir():
        return False
    if _folder_has(p, IMAGE_SUFFIXES, 1):
        return True
    return any(d.is_dir() and d.name.lower() in _SPLIT_NAMES and _folder_has(d, IMAGE_SUFFIXES, 1) for d in p.iterdir())


@register_adapter(
    "image-folder",
    kind="image-classification",
    summary="root/<class>/*.png|jpg|jpeg|bmp|gif, or root/{train,val,test}/<class>/...",
    detect=_is_image_folder,
)
def read_image_folder(request: Request) -> Parts:
    """One folder of images per class (labels: sorted folder names), optionally under split
    folders. Raises DataError as the module says."""
    src, o, like, root = request.source, request.options, request.like, request.source.path
    if not root.is_dir():
        raise fail(root, "is not a folder", "give the folder that holds one folder of images per class")
    size, channels = o.image_size, o.channels
    if like is not None:
        shape = like_info(like, "image", root, "image size")
        size, channels = (shape["height"], shape["width"]), shape["channels"]
    rx = group_pattern(root, o.group) if o.group else None
    layout = _split_folders(src, root)
    folders = _for_request(request, layout)
    images: dict[str, list[_Image]] = {}
    classes: dict[str, list[str]] = {}
    skipped = 0
    first: _Image | None = None
    for pool, folder in folders.items():
        class_dirs = []
        for e in src.entries(folder):
            if e.is_dir():
                class_dirs.append(e)
            elif e.suffix.lower() in IMAGE_SUFFIXES:
                raise fail(e, "is an image outside a class folder", f"move it into {folder}/<class>/")
            else:
                skipped += 1
        if not class_dirs:
            raise fail(folder, "holds no class folders", "put each class's images in a folder named after the class")
        classes[pool] = [d.name for d in class_dirs]
        images[pool] = []
        for d in class_dirs:
            entries = src.entries(d)
            files = [f for f in entries if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file()]
            skipped += len(entries) - len(files)
            if not files:
                raise fail(
                    d, "is a class folder without images", f"add images ({' '.join(IMAGE_SUFFIXES)}) or remove it"
                )
            for f in files:
                im = _decode_image(src, f, size)
                if size is None and first is not None and im.pixels.shape != first.pixels.shape:
                    h, w = im.pixels.shape[:2]
                    fh, fw = first.pixels.shape[:2]
                    raise fail(
                        f,
                        f"is {h}x{w} pixels (height x width) but {src.rel(first.path)} is {fh}x{fw}",
                        "give images of one size, or set image_size (height, width) to resize them while reading",
                    )
                first = first or im
                images[pool].append(im)

    if like is not None:
        labels = like.labels
        for pool, names in classes.items():
            for name in names:
                if name not in labels:
                    raise fail(
                        folders[pool] / name,
                        "is a class the training data does not have",
                        f"use its classes: {', '.join(labels)}",
                    )
    else:
        ref = next(iter(classes))
        for pool, names in classes.items():
            if set(names) != set(classes[ref]):
                raise fail(
                    folders[pool],
                    f"has the classes {', '.join(sorted(names))} but {folders[ref].name} has "
                    f"{', '.join(sorted(classes[ref]))}",
                    "give every split folder the same class folders",
                )
        labels = tuple(sorted(classes[ref]))
    every = [im for pool in images.values() for im in pool]
    channels = channels or (1 if all(im.grey for im in every) else 3)
    keys = {pool: [group_of(rx, src, im.path) for im in ims] for pool, ims in images.items()} if rx else None
    pools = {pool: _groups(keys[pool] if keys else None, len(ims)) for pool, ims in images.items()}
    p = _plan(request, pools, o.group or "image", layout)
    index = label_index(labels)
    splits = {}
    for name, pieces in p.pieces.items():
        chosen = take(images, pieces)
        meta = {"group": np.array(take(keys, pieces), dtype=str)} if keys else {}
        splits[name] = Split(_pixels(chosen, channels), np.array([index[im.label] for im in chosen], np.int64), meta)
    h, w = every[0].pixels.shape[:2]
    info = {
        "image": {
            "height": int(h),
            "width": int(w),
            "channels": int(channels),
            "resized": sum(im.resized for im in every),
            "colour_images": sum(not im.grey for im in every),
        },
        "skipped_files": skipped,
    }
    return Parts(splits, labels, p.declared, p.made, info)
