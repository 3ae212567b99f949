"""A long video as segments that start at keyframes, so workers can decode and analyse them in parallel; and the
join that turns the segments' raw detections back into the one-pass rows (track IDs and smoothing included).

Only detection and classification, the costly part, run per segment. Tracking and smoothing depend on every earlier
frame, so the join replays them over all segments in frame order with the package's own code
(``EmotionDetector.analyse_frame``): the track IDs and smoothed probabilities are those of one pass whenever each
segment decodes from its keyframe to the same pictures as one pass does (closed GOPs: H.264/H.265 IDR keyframes,
VP9, AV1, MJPEG). A stream whose frames before a cut depend on pictures after it (open GOP) is still read correctly
up to the cut, and a segment whose first frame is not its keyframe is reported as a failure naming the frame.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from emotion_detector.blazeface import Detection
from emotion_detector.detector import EmotionDetector, FrameResult
from emotion_detector.geometry import Box
from emotion_detector.media import MediaError, VideoFrame, _ffmpeg_reason, open_video
from emotion_detector.tracking import FaceTimeline


@dataclass(frozen=True)
class Segment:
    """Frames [start, end) of a video in presentation order; it begins at the keyframe with timestamp start_pts and
    ends before the frame with timestamp end_pts (None: the end of the stream)."""

    start: int
    end: int
    start_pts: int
    end_pts: int | None


def plan_segments(path: Path | str, min_frames: int) -> list[Segment] | None:
    """Cuts at keyframes, each segment at least ``min_frames`` long; None where the video should be read in one
    pass: fewer than two segments, or packets without timestamps (then no seek can find a frame again). Reads the
    container's packets only, without decoding. MediaError if the file is not a readable video."""
    import av

    container, stream = open_video(path)
    timestamps, keyframes = [], []
    with container:
        try:
            for packet in container.demux(stream):
                if packet.size == 0:  # the demuxer's end-of-stream marker
                    continue
                if packet.pts is None:
                    return None
                timestamps.append(packet.pts)
                if packet.is_keyframe:
                    keyframes.append(packet.pts)
        except av.error.FFmpegError:
            return None  # the one-pass reader reports the damage with the frame it happened at
    timestamps.sort()
    position = {pts: index for index, pts in enumerate(timestamps)}
    if len(position) != len(timestamps):
        return None
    cuts = [0]
    for pts in sorted(keyframes):
        index = position[pts]
        if index - cuts[-1] >= min_frames and len(timestamps) - index >= min_frames:
            cuts.append(index)
    if len(cuts) < 2:
        return None
    ends = [*cuts[1:], len(timestamps)]
    return [Segment(start, end, timestamps[start], timestamps[end] if end < len(timestamps) else None)
            for start, end in zip(cuts, ends, strict=True)]


def read_segment(path: Path | str, segment: Segment, every_n_frames: int) -> Iterator[VideoFrame]:
    """The segment's frames whose index (counted from the start of the video) is a multiple of every_n_frames."""
    import av

    container, stream = open_video(path)
    rate = stream.average_rate or stream.guessed_rate
    index = segment.start
    with container:
        try:
            container.seek(segment.start_pts, stream=stream, backward=True, any_frame=False)
            for frame in container.decode(stream):
                if frame.pts is None or frame.pts < segment.start_pts:
                    continue  # decoded from an earlier keyframe, or an open GOP's leading pictures
                if segment.end_pts is not None and frame.pts >= segment.end_pts:
                    break
                if index == segment.start and frame.pts != segment.start_pts:
                    raise MediaError(path, f"frame {index} does not decode from its keyframe (an open GOP?): "
                                           f"analyse this video without --cluster")
                if index % every_n_frames == 0:
                    time = frame.time if frame.time is not None else index / float(rate) if rate else 0.0
                    yield VideoFrame(index, float(time), frame.to_ndarray(format="rgb24"))
                index += 1
        except av.error.FFmpegError as error:
            raise MediaError(path, f"video decoding failed after frame {index - 1} ({_ffmpeg_reason(error)})"
                             ) from None


# A segment's record: per analysed frame [index, time, width, height, [[x, y, width, height, score], ...],
# [[probability per label], ...]], plain floats so it survives JSON exactly (the resumable run keeps it on disk).
FrameRecord = list


def detect_segment(detector: EmotionDetector, path: Path | str, segment: Segment, every_n_frames: int,
                   on_frame=None) -> list[FrameRecord]:
    """Detection and classification of each analysed frame of the segment, without tracking."""
    records = []
    for frame in read_segment(path, segment, every_n_frames):
        detections = detector.find_faces(frame.rgb, still=False)
        rows = detector._score(frame.rgb, detections)
        height, width = frame.rgb.shape[:2]
        records.append([frame.index, frame.time, width, height,
                        [[*map(float, (d.box.x, d.box.y, d.box.width, d.box.height)), float(d.score)]
                         for d in detections],
                        [list(map(float, row)) for row in rows]])
        if on_frame:
            on_frame()
    return records


class _Recorded:
    """Stands in for the detector in ``EmotionDetector.analyse_frame``: it gives back what a worker found in one
    frame, so the join tracks and smooths with exactly the code one pass runs."""

    def __init__(self, labels: list[str], detections: list[Detection], rows: list[list[float]]) -> None:
        self.labels, self.detections, self.rows = labels, detections, rows

    def find_faces(self, rgb: np.ndarray, still: bool = True) -> list[Detection]:
        return self.detections

    def _score(self, rgb: np.ndarray, detections: list[Detection]) -> list[list[float]]:
        return self.rows


def join_segments(labels: list[str], records: Iterator[FrameRecord], smoothing_ms: float, hysteresis: float
                  ) -> Iterator[FrameResult]:
    """The one-pass results of a video from its segments' records, given in frame order."""
    timeline = FaceTimeline(smoothing_ms, hysteresis)
    for index, time, width, height, boxes, rows in records:
        detections = [Detection(Box(x, y, w, h), score) for x, y, w, h, score in boxes]
        frame_shape = np.empty((height, width, 0), np.uint8)  # analyse_frame reads only the size
        yield EmotionDetector.analyse_frame(_Recorded(labels, detections, rows), frame_shape,  # type: ignore[arg-type]
                                            index, time, timeline)
