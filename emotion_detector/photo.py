"""The size a photo is analysed at, as the page's static/js/photo.js: at most MAX_SIDE pixels on the long side
(larger photos are scaled down by the canvas's plain bilinear filter), and no side under MIN_SIDE."""

from __future__ import annotations

import math

import numpy as np

from emotion_detector.canvas import bilerp_4bit, skia_positions

MAX_SIDE = 2048
MIN_SIDE = 16  # below this a side cannot hold a face the detector finds


class PictureSizeError(ValueError):
    """A picture whose size cannot hold a face (the page's SizeError, same words)."""


def analysis_size(width: int, height: int, name: str = "The picture") -> tuple[int, int]:
    if not (width >= 1 and height >= 1):
        raise PictureSizeError(f"{name} has no pixels ({width}×{height}).")
    scale = min(1.0, MAX_SIDE / max(width, height))
    size = (math.floor(width * scale + 0.5), math.floor(height * scale + 0.5))  # JS Math.round
    if min(size) < MIN_SIDE:
        why = "too narrow for its length" if max(width, height) / min(width, height) > MAX_SIDE / MIN_SIDE \
            else "too small"
        raise PictureSizeError(f"{name} is {width}×{height} pixels: {why} to hold a face. Each side needs at least "
                               f"{MIN_SIDE} pixels, and the long side at most {MAX_SIDE // MIN_SIDE} times the short "
                               f"one.")
    return size


def for_analysis(rgb: np.ndarray, name: str = "The picture") -> np.ndarray:
    """The picture at its analysis size (itself when no larger than MAX_SIDE), scaled as the page's canvas does."""
    height, width = rgb.shape[:2]
    new_width, new_height = analysis_size(width, height, name)
    if (new_width, new_height) == (width, height):
        return rgb
    xs = skia_positions(0.0, new_width / width, width, new_width, 0, new_width)
    ys = skia_positions(0.0, new_height / height, height, new_height, 0, new_height)
    return bilerp_4bit(np.ascontiguousarray(rgb[..., :3]), xs, ys)
