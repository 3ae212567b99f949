"""``EmotionDetector``: the page's pipeline in Python — BlazeFace finds faces, the exported classifier scores
each one — for photos (``detect``) and videos (``analyse_video``, with the page's track IDs and smoothing)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_detector.blazeface import MODELS, BlazeFace, Detection
from emotion_detector.classifier import EmotionClassifier
from emotion_detector.geometry import Box
from emotion_detector.litert import LiteRtModel
from emotion_detector.media import read_image, read_video
from emotion_detector.model_files import ModelFiles, load_model_files
from emotion_detector.photo import for_analysis
from emotion_detector.tiling import PhotoSearch, search_photo
from emotion_detector.tracking import FaceTimeline


@dataclass(frozen=True)
class Face:
    """One face. ``id``: in a photo, its number left to right from 1; in a video, its track ID. ``probabilities``
    are this picture's own; ``smoothed`` and ``label`` follow the page: in a video the moving average and the
    steady (hysteresis) label, in a photo the same as the raw ones."""

    id: int
    box: Box  # detector box, source pixels
    score: float  # detector confidence
    probabilities: dict[str, float]
    smoothed: dict[str, float]
    label: str

    @property
    def confidence(self) -> float:
        return self.smoothed[self.label]

    def as_dict(self) -> dict:
        return {"id": self.id, "box": self.box.as_dict(), "score": self.score, "probabilities": self.probabilities,
                "smoothed": self.smoothed, "label": self.label}


@dataclass(frozen=True)
class FrameResult:
    frame: int  # index among all decoded frames, from 0
    time: float  # seconds
    width: int
    height: int
    faces: list[Face]


FACE_MODELS = ("auto", *MODELS)
VIDEO_MODEL = "short"  # 'auto' in a video: one fast short-range pass per frame, as the page's camera mode


class EmotionDetector:
    def __init__(self, files: ModelFiles, face_model: str = "auto", threads: int | None = None,
                 photo_search: PhotoSearch | None = None) -> None:
        if face_model not in FACE_MODELS:
            raise ValueError(f"face_model {face_model!r}: expected one of {', '.join(FACE_MODELS)}")
        self.files = files
        self.face_model = face_model
        self.photo_search = photo_search or PhotoSearch()
        self.classifier = EmotionClassifier(files, threads)
        self.face_detectors = {name: BlazeFace(spec, LiteRtModel(files.face_model(spec.file), threads))
                               for name, spec in MODELS.items()}
        self.labels = self.classifier.labels

    @classmethod
    def load(cls, model_dir: str | Path | None = None, face_models: str | Path | None = None,
             face_model: str = "auto", threads: int | None = None) -> EmotionDetector:
        """model_dir: a folder written by ``python -m training export`` (metadata.json + model.tflite); default:
        ./converted_model if there is one, else the shipped classifier (inside the installed package, or the
        checkout's converted_model/);
        face_models: folder of MediaPipe's BlazeFace .tflite files (default: the installed package's copy, else the
        checkout's node_modules);
        face_model: as the page's "Face distance": 'auto' (photos searched at every scale, as the page's photo
        mode; video frames one short-range pass), 'short' (faces within ~2 m) or 'full' (up to ~5 m), one pass."""
        return cls(load_model_files(model_dir, face_models), face_model, threads)

    def find_faces(self, rgb: np.ndarray, still: bool = True) -> list[Detection]:
        """still: a photo (searched at every scale in 'auto' mode) rather than a video frame."""
        if self.face_model == "auto" and still:
            return search_photo(self.face_detectors[self.photo_search.model], rgb, self.photo_search)
        return self.face_detectors[VIDEO_MODEL if self.face_model == "auto" else self.face_model].detect(rgb)

    def _score(self, rgb: np.ndarray, detections: list[Detection]) -> list[np.ndarray]:
        return list(self.classifier.classify(rgb, [detection.box for detection in detections]))

    def detect(self, image: np.ndarray | str | Path) -> list[Face]:
        """Every face in a photo (an RGB (H, W, 3) uint8 array, a PIL image or a file path), numbered left to right.

        As on the page, a photo larger than 2048 pixels on its long side is analysed scaled down to that; boxes are
        given in the photo's own pixels all the same. Raises PictureSizeError (a ValueError) for a picture too small
        or too narrow to hold a face, MediaError for a file that is not a readable image."""
        rgb = as_rgb(image)
        name = str(image) if isinstance(image, (str, Path)) else "The picture"
        analysed = for_analysis(rgb, name)
        back_x, back_y = rgb.shape[1] / analysed.shape[1], rgb.shape[0] / analysed.shape[0]
        detections = sorted(self.find_faces(analysed), key=lambda detection: detection.box.x)
        faces = []
        for number, (detection, row) in enumerate(zip(detections, self._score(analysed, detections), strict=True), 1):
            probabilities = dict(zip(self.labels, map(float, row), strict=True))
            box = detection.box
            if (back_x, back_y) != (1, 1):
                box = Box(box.x * back_x, box.y * back_y, box.width * back_x, box.height * back_y)
            faces.append(Face(number, box, detection.score, probabilities, probabilities,
                              self.labels[int(np.argmax(row))]))
        return faces

    def analyse_video(self, path: str | Path, every_n_frames: int = 1, smoothing_ms: float = 300,
                      hysteresis: float = 0.1) -> Iterator[FrameResult]:
        """Per analysed frame (every n-th), its faces with track IDs, smoothed probabilities and steady labels
        (the page's FaceTimeline: moving average over ``smoothing_ms``, label change only past ``hysteresis``).
        Raises emotion_detector.MediaError for a file that is not a readable video."""
        timeline = FaceTimeline(smoothing_ms, hysteresis)
        for frame in read_video(path, every_n_frames):
            yield self.analyse_frame(frame.rgb, frame.index, frame.time, timeline)

    def analyse_frame(self, rgb: np.ndarray, index: int, time: float, timeline: FaceTimeline) -> FrameResult:
        """One video frame, tracked and smoothed by ``timeline`` (which carries the state between frames)."""
        detections = self.find_faces(rgb, still=False)
        rows = self._score(rgb, detections)
        tracked = timeline.update([d.box for d in detections], [list(map(float, row)) for row in rows], time * 1000)
        faces = [Face(track_id, detection.box, detection.score, dict(zip(self.labels, map(float, row), strict=True)),
                      dict(zip(self.labels, smoothed, strict=True)), self.labels[label])
                 for detection, row, (track_id, smoothed, label) in zip(detections, rows, tracked, strict=True)]
        height, width = rgb.shape[:2]
        return FrameResult(index, time, width, height, faces)


def as_rgb(image) -> np.ndarray:
    if isinstance(image, (str, Path)):
        return read_image(image)
    if isinstance(image, np.ndarray):
        if image.ndim == 2:
            return np.repeat(image[..., None], 3, axis=2)
        if image.ndim == 3 and image.shape[2] in (3, 4) and image.dtype == np.uint8:
            return image[..., :3]
        raise ValueError(f"image array of shape {image.shape} and dtype {image.dtype}: expected (H, W, 3) uint8 RGB")
    if hasattr(image, "convert"):  # a PIL image
        return np.asarray(image.convert("RGB"))
    raise TypeError(f"image of type {type(image).__name__}: expected a file path, a PIL image or an RGB array")
