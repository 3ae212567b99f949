"""Photo mode: every face, large or small. The whole picture letterboxed into the model input, then finer and
finer scales, each covered by overlapping square windows, down to the smallest face sought; what the windows find
is merged into one list, and each face found gets a second look that rejects what is not a face. The page's
static/js/detection/tiling.js, second-look.js and detector.js (PHOTO_DEFAULTS), step for step.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from functools import lru_cache

from emotion_detector.blazeface import BlazeFace, Detection, Window, weighted_nms
from emotion_detector.canvas import Mipmaps
from emotion_detector.geometry import Box, iou


@dataclass(frozen=True)
class PhotoSearch:
    """The page's PHOTO_DEFAULTS (static/js/detector.js)."""

    model: str = "short"
    whole_score_threshold: float = 0.5  # the whole-picture window (level 0)
    score_threshold: float = 0.65  # above MediaPipe's 0.5: many windows see texture at many scales
    smallest_face: float = 32  # picture pixels: the smallest face sought (bounded by max_windows on large pictures)
    detectable: float = 28  # model-input pixels: the smallest face the model finds reliably
    overlap: float = 56  # model-input pixels between neighbouring windows
    scale_step: float = 2
    max_scale: float = 1
    max_windows: int = 150
    batch_size: int = 8
    edge_tolerance: float = 0.02  # of a window's side: a box may poke out this far past an interior edge
    nms_iou: float = 0.3  # within one window
    merge_iou: float = 0.3  # across windows and scales
    merge_containment: float = 0.6  # a box this much inside a better one is the same face seen again
    # The second look (second_look): window sides, × the face's long side; the near look's score that keeps a face
    # at once; otherwise the mean of both looks' scores a face must keep (0: no second look).
    second_look_near: float = 2
    second_look_far: float = 3
    second_look_sure: float = 0.8
    second_look_threshold: float = 0.65


@lru_cache(maxsize=64)  # photos of one size share a plan (making one took ~15 ms, 3% of a 1080p search)
def plan_windows(width: int, height: int, input_size: int, search: PhotoSearch) -> tuple[Window, ...]:
    """The whole picture letterboxed, then levels from the coarsest tiled scale to the finest; when that is more
    than max_windows, the finest scale shrinks by 10% until the plan fits (tiling.js planWindows)."""
    long_side = max(width, height)
    whole = Window((width - long_side) / 2, (height - long_side) / 2, long_side)
    whole_scale = input_size / long_side
    finest = min(search.max_scale, search.detectable / search.smallest_face)
    while True:
        levels = []
        scale = finest
        while scale > whole_scale * 1.05:
            levels.append(_tile_level(width, height, scale, input_size, search.overlap))
            scale /= search.scale_step
        windows = (whole, *(replace(window, level=index + 1) for index, level in enumerate(reversed(levels))
                            for window in level))
        if len(windows) <= search.max_windows or finest <= whole_scale:
            return windows
        finest *= 0.9


def _tile_level(width: int, height: int, scale: float, input_size: int, overlap: float) -> list[Window]:
    size = input_size / scale  # window side in picture pixels
    step = (input_size - overlap) / scale

    def starts(extent: int) -> list[float]:
        if extent <= size:
            return [(extent - size) / 2]  # one window, centred, padded
        count = math.ceil((extent - size) / step) + 1
        return [(extent - size) * index / (count - 1) for index in range(count)]

    return [Window(x, y, size, 0, overlap / scale, (x > 0, y > 0, x + size < width, y + size < height), "high")
            for y in starts(height) for x in starts(width)]


def whole_in_window(box: Box, window: Window, tolerance: float) -> bool:
    """Whether a face lies inside the window on every edge that cuts through the picture."""
    slack = tolerance * window.size
    left, top, right, bottom = window.interior
    return not ((left and box.x < window.x - slack) or (top and box.y < window.y - slack)
                or (right and box.x + box.width > window.x + window.size + slack)
                or (bottom and box.y + box.height > window.y + window.size + slack))


def _area(box: Box) -> float:
    return max(0.0, box.width) * max(0.0, box.height)


def _intersection(a: Box, b: Box) -> float:
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    return width * height if width > 0 and height > 0 else 0.0


def merge_faces(faces: list[Detection], search: PhotoSearch) -> list[Detection]:
    """The same face found by several windows or scales: keep the best-scoring box of each group."""
    kept: list[Detection] = []
    for face in sorted(faces, key=lambda detection: -detection.score):
        def same(other: Detection, face: Detection = face) -> bool:
            shared = _intersection(face.box, other.box)
            union = _area(face.box) + _area(other.box) - shared
            smaller = min(_area(face.box), _area(other.box))
            return (union > 0 and shared / union > search.merge_iou) or \
                (smaller > 0 and shared / smaller > search.merge_containment)

        if not any(same(other) for other in kept):
            kept.append(face)
    return kept


def search_photo(detector: BlazeFace, rgb, search: PhotoSearch) -> list[Detection]:
    height, width = rgb.shape[:2]
    windows = plan_windows(width, height, detector.spec.input_size, search)
    picture = Mipmaps(rgb)
    batches = [windows[start:start + search.batch_size] for start in range(0, len(windows), search.batch_size)]
    lowest = min(search.score_threshold, search.whole_score_threshold)
    found = []
    for batch in batches:
        found += _kept(detector.run(picture, batch, lowest), batch, search)
    faces = merge_faces(found, search)
    return second_look(detector, picture, faces, search) if search.second_look_threshold > 0 else faces


LOOK_FLOOR = 0.3  # a look's candidates below this count as 0: with two looks and 0.65, such a look rejects anyway
SAME_FACE_IOU = 0.3  # a look's candidate overlapping the face this much is the face


def look_window(box: Box, factor: float) -> Window:
    """A square window centred on a face box, ``factor`` × its long side (second-look.js lookWindow)."""
    side = factor * max(box.width, box.height)
    return Window(box.x + (box.width - side) / 2, box.y + (box.height - side) / 2, side, smoothing="high")


def _looks(detector: BlazeFace, picture: Mipmaps, faces: list[Detection], factor: float, batch_size: int
           ) -> list[float]:
    """Each face's look score: the best candidate overlapping it in a window centred on it, ``factor`` × its size."""
    windows = [look_window(face.box, factor) for face in faces]
    scores: list[float] = []
    for start in range(0, len(windows), batch_size):
        batch = windows[start:start + batch_size]
        for face, candidates in zip(faces[start:start + batch_size], detector.run(picture, batch, LOOK_FLOOR),
                                    strict=True):
            scores.append(max((c.score for c in candidates if iou(c.box, face.box) > SAME_FACE_IOU), default=0.0))
    return scores


def second_look(detector: BlazeFace, picture: Mipmaps, faces: list[Detection], search: PhotoSearch
                ) -> list[Detection]:
    """The faces that still look like faces when the network sees them again, centred: the windows that found them
    framed them by chance, and a hand, a lamp or a collar that happened to match one window mostly fails fresh
    framings. A near look (second_look_near × the face) scoring second_look_sure keeps a face; otherwise a far
    one is taken too and the two must average second_look_threshold (detector.js secondLook)."""
    near = _looks(detector, picture, faces, search.second_look_near, search.batch_size)
    unsure = [face for face, score in zip(faces, near, strict=True) if score < search.second_look_sure]
    far = dict(zip(map(id, unsure), _looks(detector, picture, unsure, search.second_look_far, search.batch_size),
                   strict=True))
    return [face for face, score in zip(faces, near, strict=True)
            if score >= search.second_look_sure or (score + far[id(face)]) / 2 >= search.second_look_threshold]


def _kept(per_window: list[list[Detection]], batch: Sequence[Window], search: PhotoSearch) -> list[Detection]:
    """Each window's faces after its threshold and suppression, without those it may have cut (detector.js)."""
    found = []
    for window, candidates in zip(batch, per_window, strict=True):
        threshold = search.whole_score_threshold if window.level == 0 else search.score_threshold
        for face in weighted_nms([c for c in candidates if c.score >= threshold], search.nms_iou):
            # A face larger than the overlap may be cut by this window's edge: a coarser scale sees it whole.
            if max(face.box.width, face.box.height) > window.max_face:
                continue
            if whole_in_window(face.box, window, search.edge_tolerance):
                found.append(face)
    return found
