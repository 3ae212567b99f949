"""How the page's canvas scales a picture (drawImage), reproduced to the pixel so that Python's detector is fed
exactly what the page's is.

With imageSmoothingQuality 'low' (the whole picture, and photos scaled down to the analysis size) Chromium (Skia)
samples plain bilinearly with 4-bit sub-pixel weights; with 'high' (the photo tiles) it uses mipmaps: halvings of the
picture, sampled bilinearly in the two levels around the scale and blended (trilinear), the level chosen with a bias
of -0.5. On real photos the inputs equal the page's canvas exactly (Pillow's best filter was 0.2–1.3 grey levels
off on average), so Python finds the same boxes as the page.

Both filters are separable, and computed that way: every row of the picture interpolated at the window's columns,
then those rows interpolated, in the same float32 operations and order as the two-dimensional formula (so the
same values to the bit). The tiles of one column of a photo's tiling share their columns, so the first pass is
made once per column of tiles and scale, not once per tile.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

MIPMAP_BIAS = -0.5


@dataclass(frozen=True)
class Taps:
    """Along one axis, for each output pixel: the two source pixels it blends and the weight of the second."""

    low: np.ndarray  # intp
    high: np.ndarray  # intp
    weight: np.ndarray  # float32 fractions (bilinear), or uint16 sixteenths (4-bit)

    @classmethod
    def bilinear(cls, positions: np.ndarray, size: int) -> Taps:
        """Sampling at ``positions`` (pixel centres at +0.5) of an axis of ``size`` pixels, edges clamped."""
        clipped = np.clip(positions - 0.5, 0, size - 1)
        low = np.floor(clipped).astype(np.intp)
        return cls(low, np.minimum(low + 1, size - 1), (clipped - low).astype(np.float32))

    @classmethod
    def sixteenths(cls, positions: np.ndarray, size: int) -> Taps:
        """As ``bilinear`` with Skia's 4-bit weights: the fraction truncated to sixteenths."""
        clipped = np.clip(positions - 0.5, 0, size - 1)
        low = np.floor(clipped).astype(np.intp)
        return cls(low, np.minimum(low + 1, size - 1), np.floor((clipped - low) * 16).astype(np.uint16))


def lerp_columns(columns_first: np.ndarray, columns: Taps) -> np.ndarray:
    """(H, len(columns), C) float32: every row of an image interpolated at the columns, from the image stored
    columns first ((W, H, C) uint8). Gathering its columns then copies contiguous memory and the arithmetic runs
    along whole columns: with the result turned back, about twice as fast as the same on the (H, W, C) image."""
    left = np.take(columns_first, columns.low, axis=0).astype(np.float32)
    right = np.take(columns_first, columns.high, axis=0).astype(np.float32)
    right -= left  # left + (right - left) · weight, in place
    right *= columns.weight[:, None, None]
    right += left
    return transpose_pixels(right)


def transpose_pixels(image: np.ndarray) -> np.ndarray:
    """(W, H, C) from (H, W, C), contiguous. Moved as whole pixels (one item of C values), which is several times
    faster than numpy's transposing copy, value by value."""
    height, width, channels = image.shape
    pixels = np.ascontiguousarray(image).view(np.dtype((np.void, channels * image.itemsize)))[..., 0]
    return np.ascontiguousarray(pixels.T).view(image.dtype).reshape(width, height, channels)


def lerp_rows(lerped: np.ndarray, rows: Taps) -> np.ndarray:
    """(len(rows), W', C) float32: the rows of ``lerp_columns``' output interpolated at ``rows``."""
    upper = np.take(lerped, rows.low, axis=0)
    lower = np.take(lerped, rows.high, axis=0)
    return upper + (lower - upper) * rows.weight[:, None, None]


def bilerp_4bit(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """(len(ys), len(xs), C) uint8: Skia's plain bilinear filter (imageSmoothingQuality 'low') at source positions
    xs × ys, the sum of the four neighbours weighted in 256ths and truncated. Exact in uint16 (at most 255·256)."""
    height, width, channels = image.shape
    columns, rows = Taps.sixteenths(xs, width), Taps.sixteenths(ys, height)
    left = np.take(image, columns.low, axis=1).astype(np.uint16).reshape(height, -1)
    right = np.take(image, columns.high, axis=1).astype(np.uint16).reshape(height, -1)
    # One weight per value, not per pixel: numpy then multiplies whole rows, instead of looping over one pixel's
    # channels at a time (several times slower).
    weight = np.repeat(columns.weight, channels)
    lerped = left * (16 - weight) + right * weight  # at most 255·16
    upper, lower = np.take(lerped, rows.low, axis=0), np.take(lerped, rows.high, axis=0)
    weight = rows.weight[:, None]
    return ((upper * (16 - weight) + lower * weight) >> 8).astype(np.uint8).reshape(len(rows.low), -1, channels)


def skia_positions(start: float, scale: float, extent: int, n: int, first: int, end: int) -> np.ndarray:
    """Source positions of output pixel centres first..end-1 as Skia computes them for drawImage: the source and
    destination rectangles in float32, the scale between them, and its inverse (the float32 rounding decides which
    side of a pixel boundary a position falls on, so it is kept)."""
    f32 = np.float32
    low, high = max(0.0, start), min(float(extent), start + n / scale)
    dst_left, dst_right = f32((low - start) * scale), f32((high - start) * scale)
    src_left, src_right = f32(low), f32(high)
    forward = f32((dst_right - dst_left) / (src_right - src_left))
    shift = f32(dst_left - src_left * forward)
    inverse = 1.0 / float(forward)
    centres = (np.arange(first, end) + 0.5).astype(f32)
    return (centres * f32(inverse) + f32(-float(shift) * inverse)).astype(np.float64)


class Mipmaps:
    """A picture and its mipmap levels, made once per picture and shared by all its windows. Each level halves the
    last (rounding down), averaging 2 pixels per axis, or 3 weighted 1-2-1 where the last level's side is odd,
    and truncates to 8 bits: Skia's SkMipmap, which makes the page's canvas bit-exact on the pictures we tried."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.height, self.width = rgb.shape[:2]
        self.rgb = np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)
        # Levels columns first, (W, H, 3), for lerp_columns; made on first use (a video frame's one plain bilinear
        # window needs none).
        self.levels: list[np.ndarray] = []
        # First passes of the current scale, by level and columns: tiles of one column share them. Dropped when the
        # scale changes (a photo's tiles come scale by scale), which bounds the memory to one scale's columns.
        self._lerped: dict[tuple[int, bytes], np.ndarray] = {}
        self._lerped_scale: float | None = None

    def level(self, index: int) -> np.ndarray:
        """Level ``index`` (0: the picture; past the last, the last), columns first: (W, H, 3) uint8."""
        if not self.levels:
            self.levels.append(transpose_pixels(self.rgb))
        while len(self.levels) <= index and max(self.levels[-1].shape[:2]) > 1:
            summed, shift = _halve(self.levels[-1], 0)
            summed, shift_y = _halve(summed, 1)
            self.levels.append((summed >> (shift + shift_y)).astype(np.uint8))
        return self.levels[min(index, len(self.levels) - 1)]

    def sample(self, xs: np.ndarray, ys: np.ndarray, scale: float) -> np.ndarray:
        """Samples at source positions xs × ys for a drawing at ``scale``, rounded to 8 bits (float32): trilinear
        below scale 1/√2, plain bilinear in the picture itself above (pass 1 for plain bilinear at any scale)."""
        if scale != self._lerped_scale:
            self._lerped, self._lerped_scale = {}, scale
        detail = max(0.0, math.log2(1 / scale) + MIPMAP_BIAS) if scale < 1 else 0.0
        low = math.floor(detail)
        blend = detail - low
        values = self._sample_level(low, xs, ys)
        if blend > 0:
            values += blend * (self._sample_level(low + 1, xs, ys) - values)
        return np.floor(values + 0.5)

    def _sample_level(self, index: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        level = self.level(index)  # positions scale by the level's actual size (odd sides round down)
        width, height = level.shape[:2]
        key = (index, xs.tobytes())
        if key not in self._lerped:
            self._lerped[key] = lerp_columns(level, Taps.bilinear(xs * (width / self.width), width))
        return lerp_rows(self._lerped[key], Taps.bilinear(ys * (height / self.height), height))


def _halve(image: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
    """Unnormalised uint16 sums for the next mipmap level along one axis (at most 4 × 4 × 255), and the log2 of
    their total weight."""
    size = image.shape[axis]
    if size == 1:
        return image.astype(np.uint16), 0
    half = size // 2

    def taps(offset: int) -> np.ndarray:
        every_other = slice(offset, offset + 2 * half, 2)
        return image[every_other] if axis == 0 else image[:, every_other]

    summed = np.add(taps(0), taps(1), dtype=np.uint16)
    if size % 2:  # odd side: 1-2-1 over three neighbours
        summed += taps(1)
        summed += taps(2)
        return summed, 2
    return summed, 1
