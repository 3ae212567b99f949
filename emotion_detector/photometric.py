"""The photometric steps metadata.json's ``preprocessing.photometric`` declares: what the network expects done to a
grey face crop, at the model's input size, before pixel scaling. The page applies the same steps
(static/js/photometric.js), and training and evaluation use this module, so one list in metadata.json governs all.

The crop's grey levels are first rounded to whole levels in 0–255, since the steps are defined on 8-bit images.
Halves go to the even neighbour, and a level within TIE_TOLERANCE of a half counts as one: a ×2 bilinear resize
(a 48×48 face to a 96×96 input) gives exact quarter levels, which a float32 resize on the page misses by a few
millionths, and rounding those the other way moves whole histogram bins.

- ``{"op": "contrast", "gain": G}``: each level times G, rounded, levels above 255 clipped (OpenCV's
  ``convertScaleAbs``);
- ``{"op": "equalize_histogram"}``: each level mapped through the face's own cumulative histogram, so that the
  levels spread evenly over 0–255 (OpenCV's ``equalizeHist``: level v becomes
  round(255 · (cdf(v) − cdf(lowest level)) / (pixels − cdf(lowest level))); a face of one level stays as it is);
- ``{"op": "clahe", "tiles": G, "clip": C}``: contrast-limited adaptive equalisation. The face is cut into G×G
  tiles (its sides must divide by G); each tile's histogram is clipped at C times its mean bin count, the clipped
  counts spread evenly over all 256 bins, and its mapping is 255 · cumulative count / tile pixels. Each pixel takes
  the bilinear blend of the mappings of the four tiles whose centres surround it (the nearest ones at the edges),
  unrounded;
- ``{"op": "standardize", "mean": M, "std": S}``: the face's levels shifted and scaled to mean M and standard
  deviation S (population deviation, at least one level), neither rounded nor clipped. It needs no whole levels,
  so a face with only this step is not rounded first.
"""

from __future__ import annotations

import numpy as np

STEPS = ("contrast", "equalize_histogram", "clahe", "standardize")
WHOLE_LEVEL_STEPS = ("contrast", "equalize_histogram", "clahe")  # defined on 8-bit levels: the crop is rounded first
TIE_TOLERANCE = 1e-3


def check_steps(steps: list[dict], where: str) -> None:
    """Refuse a step list this module cannot apply, naming the step and what was expected."""
    if not isinstance(steps, list):
        raise ValueError(f"{where}: preprocessing.photometric is {steps!r}, expected a list of steps")
    for number, step in enumerate(steps, start=1):
        op = step.get("op") if isinstance(step, dict) else None
        if op not in STEPS:
            raise ValueError(f"{where}: preprocessing.photometric step {number} is {step!r}; expected an op of "
                             f"{', '.join(STEPS)}")
        if op == "contrast" and not (isinstance(step.get("gain"), int | float) and step["gain"] > 0):
            raise ValueError(f"{where}: preprocessing.photometric step {number} ({op}) needs a gain > 0, "
                             f"got {step.get('gain')!r}")
        if op == "clahe" and not (isinstance(step.get("tiles"), int) and step["tiles"] >= 1
                                  and isinstance(step.get("clip"), int | float) and step["clip"] >= 1):
            raise ValueError(f"{where}: preprocessing.photometric step {number} ({op}) needs whole tiles >= 1 and a "
                             f"clip >= 1, got {step.get('tiles')!r} and {step.get('clip')!r}")
        if op == "standardize" and not (isinstance(step.get("mean"), int | float)
                                        and isinstance(step.get("std"), int | float) and step["std"] > 0):
            raise ValueError(f"{where}: preprocessing.photometric step {number} ({op}) needs a mean and a std > 0, "
                             f"got {step.get('mean')!r} and {step.get('std')!r}")


def apply_steps(grey: np.ndarray, steps: list[dict]) -> np.ndarray:
    """``grey``: (..., H, W) or (..., H, W, 1) levels in 0–255, one face per leading index. Returns float32 levels
    after the steps (the input unchanged, as float32, when there are none)."""
    levels = np.asarray(grey, np.float32)
    whole = False
    for step in steps:
        if step["op"] in WHOLE_LEVEL_STEPS and not whole:
            levels, whole = np.clip(round_levels(levels), 0, 255).astype(np.uint8), True
        if step["op"] == "contrast":
            levels = np.minimum(np.rint(levels * np.float32(step["gain"])), 255).astype(np.uint8)
        elif step["op"] == "equalize_histogram":
            levels = equalize_histogram(levels)
        elif step["op"] == "clahe":
            levels, whole = clahe(levels, step["tiles"], step["clip"]), False
        else:
            levels, whole = standardize(levels.astype(np.float32), step["mean"], step["std"]), False
    return levels.astype(np.float32)


def round_levels(grey: np.ndarray) -> np.ndarray:
    """Nearest whole level; a half, or within TIE_TOLERANCE of one, goes to the even neighbour."""
    floor = np.floor(grey)
    tie = np.abs(grey - floor - 0.5) < TIE_TOLERANCE
    return np.where(tie, floor + floor % 2, np.rint(grey))


def has_channel_axis(levels: np.ndarray) -> bool:
    """Whether a (..., H, W[, 1]) array of faces ends in a channel axis of one."""
    return levels.ndim >= 3 and levels.shape[-1] == 1


def equalize_histogram(levels: np.ndarray) -> np.ndarray:
    """OpenCV's ``equalizeHist`` on each face of a (..., H, W[, 1]) uint8 array (the last two or three axes)."""
    face_axes = 3 if has_channel_axis(levels) else 2
    faces = levels.reshape(-1, int(np.prod(levels.shape[-face_axes:])))
    pixels = faces.shape[1]
    offsets = (np.arange(len(faces)) * 256)[:, None]
    counts = np.bincount((faces.astype(np.int64) + offsets).ravel(), minlength=256 * len(faces)).reshape(-1, 256)
    cdf = np.cumsum(counts, axis=1)
    lowest = cdf[np.arange(len(faces)), (counts > 0).argmax(axis=1)][:, None]  # the count of the lowest level
    spread = pixels - lowest
    table = np.rint(255 * (cdf - lowest) / np.maximum(spread, 1)).clip(0, 255)
    table = np.where(spread > 0, table, np.arange(256)[None, :])  # a face of one level is left as it is
    mapped = np.take_along_axis(table, faces.astype(np.int64), axis=1)
    return mapped.astype(np.uint8).reshape(levels.shape)


def standardize(levels: np.ndarray, mean: float, std: float) -> np.ndarray:
    """Each face of a (..., H, W[, 1]) float array shifted and scaled to ``mean`` and ``std``."""
    face_axes = (-3, -2, -1) if has_channel_axis(levels) else (-2, -1)
    face_mean = levels.mean(axis=face_axes, keepdims=True, dtype=np.float64)
    face_std = np.maximum(levels.std(axis=face_axes, keepdims=True, dtype=np.float64), 1.0)
    return (mean + std * (levels - face_mean) / face_std).astype(np.float32)


def clahe_geometry(size: int, tiles: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Along one side of ``size`` pixels cut into ``tiles``: for each pixel the two tiles whose centres surround it
    and the weight of the second (the nearest tile twice, at the edges)."""
    if size % tiles:
        raise ValueError(f"clahe: a side of {size} pixels does not divide into {tiles} tiles")
    position = (np.arange(size) + 0.5) / (size // tiles) - 0.5  # in tile units, 0 at the first tile's centre
    first = np.floor(position)
    weight = (position - first).astype(np.float32)
    return (np.clip(first, 0, tiles - 1).astype(np.int64), np.clip(first + 1, 0, tiles - 1).astype(np.int64),
            weight)


def clahe(levels: np.ndarray, tiles: int, clip: float) -> np.ndarray:
    """The ``clahe`` step on each face of a (..., H, W[, 1]) uint8 array; float32 levels out."""
    channel = has_channel_axis(levels)
    faces = levels[..., 0] if channel else levels
    height, width = faces.shape[-2:]
    flat = faces.reshape(-1, height, width).astype(np.int64)
    rows, columns = clahe_geometry(height, tiles), clahe_geometry(width, tiles)
    tile_h, tile_w = height // tiles, width // tiles
    blocks = flat.reshape(len(flat), tiles, tile_h, tiles, tile_w).transpose(0, 1, 3, 2, 4)
    blocks = blocks.reshape(-1, tile_h * tile_w)
    offsets = (np.arange(len(blocks)) * 256)[:, None]
    counts = np.bincount((blocks + offsets).ravel(), minlength=256 * len(blocks)).reshape(-1, 256)
    mappings = tile_mappings(counts.astype(np.float32), tile_h * tile_w, clip).reshape(len(flat), tiles * tiles * 256)

    def picked(row_tiles: np.ndarray, column_tiles: np.ndarray) -> np.ndarray:
        tile_offsets = ((row_tiles[:, None] * tiles + column_tiles[None, :]) * 256).reshape(1, -1)
        index = tile_offsets + flat.reshape(len(flat), -1)
        return np.take_along_axis(mappings, index, axis=1).reshape(flat.shape)

    top_left, top_right, bottom_left, bottom_right = (picked(row, column) for row in rows[:2] for column in columns[:2])
    # Blended as two steps along rows and one down, so that equal mappings blend to exactly themselves.
    across, down = columns[2][None, :], rows[2][:, None]
    top = top_left + across * (top_right - top_left)
    bottom = bottom_left + across * (bottom_right - bottom_left)
    out = top + down * (bottom - top)
    out = out.reshape(faces.shape)
    return out[..., None] if channel else out


def tile_mappings(counts: np.ndarray, pixels: int, clip: float) -> np.ndarray:
    """Each tile's mapping from its (tiles, 256) histogram: clipped, the excess spread evenly, accumulated."""
    limit = np.float32(clip * pixels / 256)
    excess = np.maximum(counts - limit, 0).sum(axis=1, keepdims=True)
    clipped = np.minimum(counts, limit) + excess / 256
    return np.minimum(255 * np.cumsum(clipped, axis=1) / pixels, 255).astype(np.float32)  # 255 at most, not 255.00002
