"""Bilinear sampling of image regions exactly as the page's TF.js ``tf.image.cropAndResize`` calls do it.

Output pixel i of a region reads source coordinate ``start + (i + 0.5) · size / out − 0.5`` (pixel centres at
+0.5, as a bilinear resize of that region); a sample outside the image reads ``fill`` (cropAndResize's
extrapolation value), a sample inside interpolates its four neighbours in float32.
"""

from __future__ import annotations

import numpy as np

from emotion_detector.geometry import Box


def _axis(start: float, size: float, out: int, limit: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per output index: low and high source index, interpolation weight, and whether the sample is inside."""
    # float64 positions, like cropAndResize's own arithmetic on the normalised box (computed in JS doubles and then
    # float32): the difference is far below a grey level.
    position = start + (np.arange(out, dtype=np.float64) + 0.5) * size / out - 0.5
    inside = (position >= 0) & (position <= limit - 1)
    clipped = np.clip(position, 0, limit - 1)
    low = np.floor(clipped).astype(np.intp)
    high = np.ceil(clipped).astype(np.intp)
    return low, high, (clipped - low).astype(np.float32), inside


def sample_region(image: np.ndarray, region: Box, out_width: int, out_height: int, fill: float = 0.0) -> np.ndarray:
    """(out_height, out_width, C) float32 samples of ``region`` of an (H, W, C) image."""
    height, width = image.shape[:2]
    y_low, y_high, y_weight, y_inside = _axis(region.y, region.height, out_height, height)
    x_low, x_high, x_weight, x_inside = _axis(region.x, region.width, out_width, width)
    top_rows, bottom_rows = image[y_low].astype(np.float32), image[y_high].astype(np.float32)
    top_left, top_right = top_rows[:, x_low], top_rows[:, x_high]
    bottom_left, bottom_right = bottom_rows[:, x_low], bottom_rows[:, x_high]
    xw = x_weight[None, :, None]
    top = top_left + (top_right - top_left) * xw
    bottom = bottom_left + (bottom_right - bottom_left) * xw
    samples = top + (bottom - top) * y_weight[:, None, None]
    samples[~y_inside] = fill
    samples[:, ~x_inside] = fill
    return samples
