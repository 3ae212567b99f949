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
  round(255 · (cdf(v) − cdf(lowest level)) / (pixels − cdf(lowest level))); a face of one level stays as it is).
"""

from __future__ import annotations

import numpy as np

STEPS = ("contrast", "equalize_histogram")
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


def apply_steps(grey: np.ndarray, steps: list[dict]) -> np.ndarray:
    """``grey``: (..., H, W) or (..., H, W, 1) levels in 0–255, one face per leading index. Returns float32 levels
    after the steps (the input unchanged, as float32, when there are none)."""
    grey = np.asarray(grey, np.float32)
    if not steps:
        return grey
    levels = np.clip(round_levels(grey), 0, 255).astype(np.uint8)
    for step in steps:
        if step["op"] == "contrast":
            levels = np.minimum(np.rint(levels * np.float32(step["gain"])), 255).astype(np.uint8)
        else:
            levels = equalize_histogram(levels)
    return levels.astype(np.float32)


def round_levels(grey: np.ndarray) -> np.ndarray:
    """Nearest whole level; a half, or within TIE_TOLERANCE of one, goes to the even neighbour."""
    floor = np.floor(grey)
    tie = np.abs(grey - floor - 0.5) < TIE_TOLERANCE
    return np.where(tie, floor + floor % 2, np.rint(grey))


def equalize_histogram(levels: np.ndarray) -> np.ndarray:
    """OpenCV's ``equalizeHist`` on each face of a (..., H, W[, 1]) uint8 array (the last two or three axes)."""
    face_axes = 3 if levels.ndim >= 3 and levels.shape[-1] == 1 else 2
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
