"""Progress of a whole batch job on stderr: files done, images/s and frames/s over the cluster, and time left."""

from __future__ import annotations

import time

from emotion_detector.progress import Progress


class JobProgress(Progress):
    """The command line's progress line, for many workers at once: rates are wall-clock (what the cluster delivers,
    since it started), not per item; the time left is the work not done (images, and the frames of the videos
    planned so far) at the worker-seconds per image and per frame measured so far, over the rate at which the
    cluster spends worker-seconds."""

    def __init__(self, total_files: int, enabled: bool = True) -> None:
        super().__init__(total_files, enabled=enabled)
        self.images_left = self.frames_left = 0

    def expect(self, images: int = 0, frames: int = 0) -> None:
        self.images_left += images
        self.frames_left += frames

    def analysed(self, images: int, frames: int, seconds: float) -> None:
        """A task's work: images, video frames, and the worker time it took."""
        self.images += images
        self.frames += frames
        self.images_left = max(0, self.images_left - images)
        self.frames_left = max(0, self.frames_left - frames)
        if images:
            self.image_seconds += seconds
        elif frames:
            self.frame_seconds += seconds
        self.draw()

    def seconds_left(self) -> float | None:
        per_image = self.image_seconds / self.images if self.images else None
        per_frame = self.frame_seconds / self.frames if self.frames else None
        spent = self.image_seconds + self.frame_seconds
        if not spent or (self.images_left and per_image is None) or (self.frames_left and per_frame is None):
            return None
        work = self.images_left * (per_image or 0) + self.frames_left * (per_frame or 0)
        return work * (time.perf_counter() - self.started) / spent

    def rates(self) -> str:
        elapsed = max(time.perf_counter() - self.started, 1e-9)
        parts = [f"{self.files}/{self.total_files} files"]
        if self.images:
            parts.append(f"{self.images} images {self.images / elapsed:.1f} images/s")
        if self.frames:
            parts.append(f"{self.frames} frames {self.frames / elapsed:.1f} frames/s")
        if self.files < self.total_files:
            left = self.seconds_left()
            parts.append("? left" if left is None else f"{int(left) // 60}:{int(left) % 60:02d} left")
        return " | ".join(parts)
