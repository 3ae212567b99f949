"""BlazeFace face detection (MediaPipe's short- and full-range models) run with LiteRT, the way the page runs the
same networks in TF.js (static/js/detection/blazeface.js, inputs.js, nms.js): square windows of the picture scaled
into the model input (black where a window reaches past the picture), SSD anchors, sigmoid scores, and MediaPipe's
weighted non-maximum suppression. The numbers are the page's, mirrored here; tests/test_python_api.py reads them from
static/js and fails if the two differ."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np

from emotion_detector.canvas import Mipmaps, bilerp_4bit, skia_positions
from emotion_detector.geometry import Box, iou
from emotion_detector.litert import LiteRtModel


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

    def inputs(self, picture: Mipmaps, windows: Sequence[Window]) -> np.ndarray:
        """(len(windows), n, n, 3) model input in [-1, 1]: each window scaled to the input size, black outside the
        picture (emotion_detector.canvas says how the page's canvas scales).

        As the page's canvas drawImage: the picture's part of a window maps to a rectangle of the input, and the
        input pixels whose centres fall inside it are filled (no blending of the edge with the black)."""
        n = self.spec.input_size
        height, width = picture.height, picture.width
        canvas = np.zeros((len(windows), n, n, 3), np.float32)
        for pixels, window in zip(canvas, windows, strict=True):
            scale = n / window.size
            columns = _covered(window.x, scale, width, n)
            rows = _covered(window.y, scale, height, n)
            if not (columns and rows):
                continue
            (c0, c1), (r0, r1) = columns, rows
            if window.smoothing == "high":
                xs = window.x + (np.arange(c0, c1) + 0.5) / scale  # source position of each input pixel's centre
                ys = window.y + (np.arange(r0, r1) + 0.5) / scale
                pixels[r0:r1, c0:c1] = picture.sample(xs, ys, scale)
            else:
                xs = skia_positions(window.x, scale, width, n, c0, c1)
                ys = skia_positions(window.y, scale, height, n, r0, r1)
                pixels[r0:r1, c0:c1] = bilerp_4bit(picture.rgb, xs, ys)
        return canvas / np.float32(127.5) - np.float32(1)

    def run(self, picture: Mipmaps, windows: Sequence[Window], score_threshold: float | None = None
            ) -> list[list[Detection]]:
        """Candidates scoring at least the threshold in each window, in source pixels, before suppression."""
        threshold = self.spec.score_threshold if score_threshold is None else score_threshold
        outputs = self.model.run(self.inputs(picture, windows))
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
