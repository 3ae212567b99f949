"""Track IDs and temporal smoothing for video, mirroring the page's static/js/tracker.js, smoother.js and
timeline.js: the same matching rule, the same defaults, the same moving average and hysteresis."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from emotion_detector.geometry import Box, iou


def centre_distance(a: Box, b: Box) -> float:
    """Distance between box centres in units of the boxes' mean side (so it means the same near and far)."""
    dx = a.x + a.width / 2 - (b.x + b.width / 2)
    dy = a.y + a.height / 2 - (b.y + b.height / 2)
    return math.hypot(dx, dy) / ((a.width + a.height + b.width + b.height) / 4)


@dataclass
class _Track:
    id: int
    box: Box
    last_seen_ms: float
    missed: int = 0
    velocity: tuple[float, float] = (0.0, 0.0)  # of the box centre, pixels per ms

    def predicted(self, time_ms: float) -> Box:
        """Where the face should be at ``time_ms`` if it kept its speed."""
        elapsed = time_ms - self.last_seen_ms
        return Box(self.box.x + self.velocity[0] * elapsed, self.box.y + self.velocity[1] * elapsed,
                   self.box.width, self.box.height)

    def follow(self, box: Box, time_ms: float) -> None:
        """Moves to the new box; the speed is averaged with the last step's, which steadies detector jitter."""
        elapsed = time_ms - self.last_seen_ms
        if elapsed > 0:
            step_x = (box.x + box.width / 2 - (self.box.x + self.box.width / 2)) / elapsed
            step_y = (box.y + box.height / 2 - (self.box.y + self.box.height / 2)) / elapsed
            self.velocity = ((self.velocity[0] + step_x) / 2, (self.velocity[1] + step_y) / 2)
        self.box, self.last_seen_ms, self.missed = box, time_ms, 0


@dataclass
class TrackUpdate:
    ids: list[int]  # ids[i] is the track of boxes[i]
    entered: list[int]
    left: list[int]


@dataclass
class FaceTracker:
    """One ID per face across frames: each box goes to the track that overlaps it most (IoU), or failing that whose
    centre is nearest; a track is compared both where it was and where its speed would take it, keeping the better.
    A face missing for ``leave_after_frames`` frames in a row AND ``leave_after_ms`` has left. Defaults are the
    page's (tracker.js)."""

    min_iou: float = 0.3
    max_centre_distance: float = 1
    leave_after_frames: int = 3
    leave_after_ms: float = 400
    tracks: list[_Track] = field(default_factory=list)
    next_id: int = 1

    def update(self, boxes: list[Box], time_ms: float) -> TrackUpdate:
        ids: list[int | None] = [None] * len(boxes)
        matched: set[int] = set()

        places = [(track.box, track.predicted(time_ms)) for track in self.tracks]

        def candidates(score, accept, better) -> list[tuple[float, int, int]]:
            found = []
            for t in range(len(self.tracks)):
                for b, box in enumerate(boxes):
                    if ids[b] is None and t not in matched:
                        value = better(score(place, box) for place in places[t])
                        if accept(value):
                            found.append((value, t, b))
            return found

        def assign(pairs: list[tuple[float, int, int]]) -> None:
            for _, t, b in pairs:
                if ids[b] is not None or t in matched:
                    continue
                ids[b] = self.tracks[t].id
                matched.add(t)
                self.tracks[t].follow(boxes[b], time_ms)

        # Overlap first (best pairs first), then nearness for fast moves that leave no overlap. Python's sort is
        # stable like the page's, so ties resolve in the same (track, box) order.
        assign(sorted(candidates(iou, lambda value: value >= self.min_iou, max), key=lambda pair: -pair[0]))
        assign(sorted(candidates(centre_distance, lambda value: value <= self.max_centre_distance, min),
                      key=lambda pair: pair[0]))

        left, kept = [], []
        for t, track in enumerate(self.tracks):
            if t not in matched:
                track.missed += 1
                if track.missed >= self.leave_after_frames and time_ms - track.last_seen_ms >= self.leave_after_ms:
                    left.append(track.id)
                    continue
            kept.append(track)
        self.tracks = kept
        entered = []
        for b, box in enumerate(boxes):
            if ids[b] is None:
                ids[b] = self.next_id
                self.next_id += 1
                entered.append(ids[b])
                self.tracks.append(_Track(ids[b], box, time_ms))
        return TrackUpdate([int(i) for i in ids], entered, left)  # type: ignore[arg-type]


@dataclass
class EmotionSmoother:
    """One face's probabilities, steadied: an exponential moving average with time constant ``time_constant_ms``
    (0: none) and a label that changes only when another class leads the shown one by ``hysteresis``
    (smoother.js)."""

    time_constant_ms: float = 300
    hysteresis: float = 0.1
    smoothed: list[float] | None = None
    label: int = -1
    last_ms: float | None = None

    def update(self, probabilities: list[float], time_ms: float) -> tuple[list[float], int]:
        if self.smoothed is None or self.last_ms is None:
            self.smoothed = list(probabilities)
        else:
            gap = max(0.0, time_ms - self.last_ms)
            weight = 1 - math.exp(-gap / self.time_constant_ms) if self.time_constant_ms > 0 else 1.0
            self.smoothed = [value + weight * (new - value) for value, new in zip(self.smoothed, probabilities,
                                                                                   strict=True)]
        self.last_ms = time_ms
        leader = max(range(len(self.smoothed)), key=lambda index: (self.smoothed[index], -index))
        if self.label < 0 or self.smoothed[leader] - self.smoothed[self.label] > self.hysteresis:
            self.label = leader
        return self.smoothed, self.label


@dataclass
class FaceTimeline:
    """Track IDs plus one smoother per track, as the page's FaceTimeline (smoothing 300 ms, hysteresis 0.1)."""

    smoothing_ms: float = 300
    hysteresis: float = 0.1
    tracker: FaceTracker = field(default_factory=FaceTracker)
    smoothers: dict[int, EmotionSmoother] = field(default_factory=dict)

    def update(self, boxes: list[Box], probabilities: list[list[float]], time_ms: float
               ) -> list[tuple[int, list[float], int]]:
        """(track id, smoothed probabilities, index of the steady label) for each face, in the order given."""
        step = self.tracker.update(boxes, time_ms)
        for gone in step.left:
            self.smoothers.pop(gone, None)
        results = []
        for track_id, row in zip(step.ids, probabilities, strict=True):
            smoother = self.smoothers.setdefault(track_id, EmotionSmoother(self.smoothing_ms, self.hysteresis))
            smoothed, label = smoother.update(row, time_ms)
            results.append((track_id, list(smoothed), label))
        return results
