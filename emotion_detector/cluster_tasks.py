"""What a worker of the batch cluster runs: a whole file (with the command line's own per-file code, so rows and
failure reasons are the same), a video's keyframe plan, or one segment's detections. Each worker process loads the
models once and keeps them for every task it is given. Nothing here imports the distributed engine."""

from __future__ import annotations

import argparse
import io
import time
from dataclasses import dataclass
from pathlib import Path

from emotion_detector.cli import Runner, Summary
from emotion_detector.cluster_segments import FrameRecord, Segment, detect_segment, plan_segments
from emotion_detector.detector import EmotionDetector
from emotion_detector.inputs import Job
from emotion_detector.media import MediaError
from emotion_detector.output import RowWriter
from emotion_detector.progress import Progress


@dataclass(frozen=True)
class Settings:
    """Everything a task needs besides its file: the same on every worker, and recorded with the run so a resumed
    run cannot mix rows made with other settings."""

    model_dir: str
    face_models: str | None
    face_model: str
    threads: int | None
    every_n_frames: int
    smoothing_ms: float
    hysteresis: float
    block_format: str  # csv (without header) or jsonl: how a file's rows are kept until the output is assembled
    segment_frames: int


@dataclass(frozen=True)
class FileResult:
    path: str
    rows: str  # the file's rows in block_format; empty if it failed or has no face
    faces: int
    images: int
    frames: int
    seconds: float  # worker time spent on it, for the time-left estimate
    failure: str | None = None  # the reason, as the command line gives it


@dataclass(frozen=True)
class VideoPlan:
    path: str
    segments: list[Segment] | None  # None: analyse the file in one task
    frames: int  # frames in the stream (0 when unknown)


@dataclass(frozen=True)
class SegmentResult:
    path: str
    segment: Segment
    records: list[FrameRecord]
    seconds: float
    failure: str | None = None


_loaded: dict[tuple, EmotionDetector] = {}


def detector_for(settings: Settings) -> EmotionDetector:
    """The worker's models, loaded by its first task (a worker process runs one task at a time)."""
    key = (settings.model_dir, settings.face_models, settings.face_model, settings.threads)
    if key not in _loaded:
        _loaded[key] = EmotionDetector.load(settings.model_dir, settings.face_models, settings.face_model,
                                            settings.threads)
    return _loaded[key]


def row_writer(stream: io.StringIO, labels: list[str], block_format: str) -> RowWriter:
    """A RowWriter whose stream holds rows only (a CSV writer writes its header first: dropped here)."""
    writer = RowWriter(stream, labels, block_format)
    stream.seek(0)
    stream.truncate()
    return writer


def analyse_file(path: str, kind: str | None, settings: Settings) -> FileResult:
    detector = detector_for(settings)
    stream = io.StringIO()
    writer = row_writer(stream, detector.labels, settings.block_format)
    options = argparse.Namespace(annotate=None, every_n_frames=settings.every_n_frames,
                                 smoothing_ms=settings.smoothing_ms, hysteresis=settings.hysteresis)
    counts, summary = Progress(1, enabled=False), Summary()
    started = time.perf_counter()
    Runner(detector, writer, counts, options, summary, annotated={}).run(Job(Path(path), Path(path).parent, kind))
    seconds = time.perf_counter() - started
    if summary.failures:
        return FileResult(path, "", 0, 0, 0, seconds, summary.failures[0].reason)
    return FileResult(path, stream.getvalue(), summary.faces, counts.images, counts.frames, seconds)


def plan_video(path: str, settings: Settings) -> VideoPlan:
    from emotion_detector.media import video_info

    try:
        segments = plan_segments(path, settings.segment_frames)
        frames = (segments[-1].end if segments else video_info(path).frames) or 0
    except MediaError:
        return VideoPlan(path, None, 0)  # the one-task reading reports it as the command line does
    return VideoPlan(path, segments, frames)


def analyse_segment(path: str, segment: Segment, settings: Settings) -> SegmentResult:
    detector = detector_for(settings)
    started = time.perf_counter()
    try:
        records = detect_segment(detector, path, segment, settings.every_n_frames)
    except MediaError as failure:
        return SegmentResult(path, segment, [], time.perf_counter() - started, failure.reason)
    return SegmentResult(path, segment, records, time.perf_counter() - started)
