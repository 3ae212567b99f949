"""BlazeFace face detection (MediaPipe's short- and full-range models) run with LiteRT, the way the page runs the
same networks in TF.js (static/js/detection/blazeface.js, inputs.js, nms.js): square windows of the picture scaled
into the model input (black where a window reaches past the picture), SSD anchors, sigmoid scores, and MediaPipe's
weighted non-maximum suppression. The numbers are the page's, mirrored here; tests/test_python_api.py reads them from
static/js and fails if the two differ."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from emotion_detector.geometry import Box, iou
from emotion_detector.litert import LiteRtModel

# How a window is scaled into the model input. The page draws it on a canvas (detection/inputs.js): with
# imageSmoothingQuality 'low' (the whole picture), plain bilinear sampling, as MediaPipe's own resize; with 'high'
# (the tiles), which Chromium (Skia) does with mipmaps: halvings of the picture, sampled bilinearly in the two
# levels around the scale and blended (trilinear), the level chosen with a bias of -0.5. Both are reproduced here
# to the pixel: on real photos the inputs equal the page's canvas exactly (Pillow's best filter was 0.2–1.3 grey
# levels off on average), so Python finds the same boxes as the page.
MIPMAP_BIAS = -0.5


class Mipmaps:
    """A picture and its mipmap levels, made once per picture and shared by all its windows. Each level halves the
    last (rounding down), averaging 2 pixels per axis, or 3 weighted 1-2-1 where the last level's side is odd,
    and truncates to 8 bits: Skia's SkMipmap, which makes the page's canvas bit-exact on the pictures we tried."""

    def __init__(self, rgb: np.ndarray) -> None:
        self.height, self.width = rgb.shape[:2]
        self.levels = [np.ascontiguousarray(rgb[..., :3], dtype=np.uint8)]

    def level(self, index: int) -> np.ndarray:
        while len(self.levels) <= index and max(self.levels[-1].shape[:2]) > 1:
            summed, weight = _halve(self.levels[-1].astype(np.uint32), 0)
            summed, weight_x = _halve(summed, 1)
            self.levels.append((summed // (weight * weight_x)).astype(np.uint8))
        return self.levels[min(index, len(self.levels) - 1)]

    def sample(self, xs: np.ndarray, ys: np.ndarray, scale: float) -> np.ndarray:
        """Samples at source positions xs × ys for a drawing at ``scale``, rounded to 8 bits: trilinear below
        scale 1/√2, plain bilinear in the picture itself above (pass 1 for plain bilinear at any scale)."""
        detail = max(0.0, math.log2(1 / scale) + MIPMAP_BIAS) if scale < 1 else 0.0
        low = math.floor(detail)
        blend = detail - low
        values = self._sample_level(low, xs, ys)
        if blend > 0:
            values += blend * (self._sample_level(low + 1, xs, ys) - values)
        return np.floor(values + 0.5)

    def _sample_level(self, index: int, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
        level = self.level(index)  # positions scale by the level's actual size (odd sides round down)
        return _bilinear(level, xs * (level.shape[1] / self.width), ys * (level.shape[0] / self.height))


def _halve(image: np.ndarray, axis: int) -> tuple[np.ndarray, int]:
    """Unnormalised sums for the next mipmap level along one axis, and their total weight."""
    size = image.shape[axis]
    if size == 1:
        return image, 1
    half = size // 2
    taps = [np.take(image, range(offset, offset + 2 * half, 2), axis=axis) for offset in (0, 1, 2)
            if size % 2 or offset < 2]
    if size % 2:  # odd side: 1-2-1 over three neighbours
        return taps[0] + 2 * taps[1] + taps[2], 4
    return taps[0] + taps[1], 2


def _skia_positions(start: float, scale: float, extent: int, n: int, first: int, end: int) -> np.ndarray:
    """Source positions of input pixel centres first..end-1 as Skia computes them for drawImage: the source and
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


def _bilerp_4bit(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Skia's plain bilinear filter (imageSmoothingQuality 'low'): 4-bit sub-pixel weights out of 256, truncated."""
    height, width = image.shape[:2]
    px, py = np.clip(xs - 0.5, 0, width - 1), np.clip(ys - 0.5, 0, height - 1)
    x0, y0 = np.floor(px).astype(np.intp), np.floor(py).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    sx = np.floor((px - x0) * 16).astype(np.float32)[None, :, None]
    sy = np.floor((py - y0) * 16).astype(np.float32)[:, None, None]
    top_left, top_right, bottom_left, bottom_right = _corners(image, x0, x1, y0, y1)
    both = sx * sy
    total = (top_left * (256 - 16 * sx - 16 * sy + both) + top_right * (16 * sx - both)
             + bottom_left * (16 * sy - both) + bottom_right * both)
    return np.floor(total / 256)


def _bilinear(image: np.ndarray, xs: np.ndarray, ys: np.ndarray) -> np.ndarray:
    """Bilinear samples at pixel positions (centres at +0.5), edges clamped."""
    height, width = image.shape[:2]
    xs = np.clip(xs - 0.5, 0, width - 1)
    ys = np.clip(ys - 0.5, 0, height - 1)
    x0, y0 = np.floor(xs).astype(np.intp), np.floor(ys).astype(np.intp)
    x1, y1 = np.minimum(x0 + 1, width - 1), np.minimum(y0 + 1, height - 1)
    fx = (xs - x0).astype(np.float32)[None, :, None]
    fy = (ys - y0).astype(np.float32)[:, None, None]
    top_left, top_right, bottom_left, bottom_right = _corners(image, x0, x1, y0, y1)
    upper = top_left + (top_right - top_left) * fx
    lower = bottom_left + (bottom_right - bottom_left) * fx
    return upper + (lower - upper) * fy


def _corners(image: np.ndarray, x0: np.ndarray, x1: np.ndarray, y0: np.ndarray, y1: np.ndarray
             ) -> tuple[np.ndarray, ...]:
    """The four neighbours of every sample, as float32 (only they are gathered: np.take on the flat pixels is
    several times faster than 2-D fancy indexing)."""
    height, width, channels = image.shape
    pixels = image.reshape(height * width, channels)
    return tuple(np.take(pixels, (rows[:, None] * width + columns).ravel(), axis=0)
                 .reshape(len(rows), len(columns), channels).astype(np.float32)
                 for rows in (y0, y1) for columns in (x0, x1))


@dataclass(frozen=True)
class BlazeFaceSpec:
    file: str  # in the npm package @mediapipe/face_detection
    input_size: int
    strides: tuple[int, ...]  # one per SSD layer; consecutive layers of one stride share a grid
    anchors_per_layer: int
    score_threshold: float  # MediaPipe's min_score_thresh for this model

    @cached_property
    def grid_sizes(self) -> list[int]:
        """Anchors per grid (one grid per run of equal strides), in output order."""
        sizes, layer = [], 0
        while layer < len(self.strides):
            same = _run_length(self.strides, layer)
            sizes.append(math.ceil(self.input_size / self.strides[layer]) ** 2 * same * self.anchors_per_layer)
            layer += same
        return sizes

    def unfold(self, output: np.ndarray, batch: int) -> np.ndarray:
        """(batch, anchors, C) from a model output of shape (1, batch·anchors, C). The graphs reshape each grid's
        predictions to a fixed leading 1 before concatenating the grids, so a batch comes out grid by grid: all
        windows' first grid, then all windows' second grid."""
        parts, offset = [], 0
        for size in self.grid_sizes:
            parts.append(output[0, offset:offset + batch * size].reshape(batch, size, output.shape[-1]))
            offset += batch * size
        return np.concatenate(parts, axis=1)

    @cached_property
    def anchors(self) -> np.ndarray:
        """(N, 2) anchor centres in [0, 1], row-major over each grid, a cell's anchors consecutive (MediaPipe's
        SsdAnchorsCalculator with fixed_anchor_size and anchor_offset 0.5)."""
        centres = []
        layer = 0
        while layer < len(self.strides):
            stride = self.strides[layer]
            same = _run_length(self.strides, layer)
            cells = math.ceil(self.input_size / stride)
            for row in range(cells):
                for col in range(cells):
                    centres.extend([((col + 0.5) / cells, (row + 0.5) / cells)] * (same * self.anchors_per_layer))
            layer += same
        return np.asarray(centres, np.float64)


def _covered(start: float, scale: float, extent: int, n: int) -> tuple[int, int] | None:
    """Input pixels [first, end) whose centres lie where the picture's [0, extent) lands in a window starting at
    ``start`` (source pixels) scaled by ``scale``; None if none do."""
    low, high = (max(0.0, start) - start) * scale, (min(float(extent), start + n / scale) - start) * scale
    first, end = max(0, math.ceil(low - 0.5)), min(n, math.ceil(high - 0.5))
    return (first, end) if end > first else None


def _run_length(values: tuple[int, ...], start: int) -> int:
    """How many consecutive entries from ``start`` equal values[start]."""
    count = 0
    while start + count < len(values) and values[start + count] == values[start]:
        count += 1
    return count


MODELS: dict[str, BlazeFaceSpec] = {
    "short": BlazeFaceSpec("face_detection_short_range.tflite", 128, (8, 16, 16, 16), 2, 0.5),
    "full": BlazeFaceSpec("face_detection_full_range_sparse.tflite", 192, (4,), 1, 0.6),
}
NMS_IOU = 0.3  # MediaPipe's min_suppression_threshold


@dataclass(frozen=True)
class Window:
    """A square of the picture (source pixels; may reach past its edges) that fills one model input."""

    x: float
    y: float
    size: float
    level: int = 0
    max_face: float = math.inf  # largest face (source pixels) this window reports
    interior: tuple[bool, bool, bool, bool] = field(default=(False, False, False, False))  # left, top, right, bottom
    smoothing: str = "low"  # the canvas's imageSmoothingQuality: 'low' plain bilinear, 'high' mipmapped


@dataclass(frozen=True)
class Detection:
    box: Box  # source pixels
    score: float


class BlazeFace:
    def __init__(self, spec: BlazeFaceSpec, model: LiteRtModel) -> None:
        self.spec = spec
        self.model = model
        expected = (1, spec.input_size, spec.input_size, 3)
        if model.input_shape != expected:
            raise ValueError(f"{model.path}: input {model.input_shape}, expected {expected} for {spec.file}")

    def window_input(self, picture: Mipmaps, window: Window) -> np.ndarray:
        """(n, n, 3) model input in [-1, 1]: the window scaled to the input size, black outside the picture.

        As the page's canvas drawImage: the picture's part of the window maps to a rectangle of the input, and the
        input pixels whose centres fall inside it are filled (no blending of the edge with the black)."""
        n = self.spec.input_size
        height, width = picture.height, picture.width
        scale = n / window.size
        columns = _covered(window.x, scale, width, n)
        rows = _covered(window.y, scale, height, n)
        canvas = np.zeros((n, n, 3), np.float32)
        if columns and rows:
            (c0, c1), (r0, r1) = columns, rows
            if window.smoothing == "high":
                xs = window.x + (np.arange(c0, c1) + 0.5) / scale  # source position of each input pixel's centre
                ys = window.y + (np.arange(r0, r1) + 0.5) / scale
                canvas[r0:r1, c0:c1] = picture.sample(xs, ys, scale)
            else:
                xs = _skia_positions(window.x, scale, width, n, c0, c1)
                ys = _skia_positions(window.y, scale, height, n, r0, r1)
                canvas[r0:r1, c0:c1] = _bilerp_4bit(picture.level(0), xs, ys)
        return canvas / np.float32(127.5) - np.float32(1)

    def run(self, picture: Mipmaps, windows: list[Window], score_threshold: float | None = None
            ) -> list[list[Detection]]:
        """Candidates scoring at least the threshold in each window, in source pixels, before suppression."""
        threshold = self.spec.score_threshold if score_threshold is None else score_threshold
        outputs = self.model.run(np.stack([self.window_input(picture, window) for window in windows]))
        anchors = self.spec.anchors
        regressors = self.spec.unfold(next(o for o in outputs if o.shape[-1] == 16), len(windows))
        logits = self.spec.unfold(next(o for o in outputs if o.shape[-1] == 1), len(windows))[..., 0].astype(np.float64)
        scores = 1 / (1 + np.exp(-np.clip(logits, -100, 100)))
        size = self.spec.input_size
        found = []
        for window, window_scores, window_regressors in zip(windows, scores, regressors, strict=True):
            keep = np.flatnonzero(window_scores >= threshold)
            raw = window_regressors[keep, :4].astype(np.float64) / size
            centres = raw[:, :2] + anchors[keep]
            found.append([
                Detection(Box(window.x + (cx - w / 2) * window.size, window.y + (cy - h / 2) * window.size,
                              w * window.size, h * window.size), float(score))
                for (cx, cy), (_, _, w, h), score in zip(centres.tolist(), raw.tolist(), window_scores[keep],
                                                         strict=True)
            ])
        return found

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """One pass over the whole picture, letterboxed (the page's video path)."""
        height, width = rgb.shape[:2]
        side = max(width, height)
        (candidates,) = self.run(Mipmaps(rgb), [Window((width - side) / 2, (height - side) / 2, side)])
        return weighted_nms(candidates, NMS_IOU)


def weighted_nms(detections: list[Detection], threshold: float) -> list[Detection]:
    """MediaPipe's WEIGHTED suppression: the best remaining box and every box overlapping it by more than
    ``threshold`` (IoU) become one detection, their score-weighted mean box with the best score."""
    remaining = sorted(detections, key=lambda detection: -detection.score)
    kept = []
    while remaining:
        best = remaining[0]
        cluster = [other for other in remaining if iou(best.box, other.box) > threshold]
        remaining = [other for other in remaining if iou(best.box, other.box) <= threshold]
        if not cluster:  # a zero-area box overlaps nothing, itself included
            cluster, remaining = [best], remaining[1:]
        total = sum(member.score for member in cluster)
        mean = [sum(member.score * getattr(member.box, side) for member in cluster) / total
                for side in ("x", "y", "width", "height")]
        kept.append(Detection(Box(*mean), best.score))
    return kept
