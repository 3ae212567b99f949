"""A one-line progress display on stderr: files done, images/s and video frames/s. File names and messages are
shown with their non-printable characters escaped (terminal.py)."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from emotion_detector.terminal import printable


class Progress:
    def __init__(self, total_files: int, stream: TextIO = sys.stderr, enabled: bool = True) -> None:
        self.total_files = total_files
        self.stream = stream
        self.enabled = enabled
        self.live = enabled and stream.isatty()  # redraw in place on a terminal; elsewhere, a line now and then
        self.started = time.perf_counter()
        self.files = self.images = self.frames = 0
        self.image_seconds = self.frame_seconds = 0.0
        self.current = ""
        self.last_drawn = self.started

    def image_done(self, seconds: float) -> None:
        self.images += 1
        self.image_seconds += seconds
        self.draw()

    def frame_done(self, seconds: float) -> None:
        self.frames += 1
        self.frame_seconds += seconds
        self.draw()

    def file_started(self, name: str) -> None:
        self.current = printable(name)
        self.draw()

    def file_done(self) -> None:
        self.files += 1
        self.draw(force=self.live and self.files == self.total_files)  # elsewhere the summary gives the rates

    def message(self, text: str) -> None:
        """A line of its own (a failure, a warning), above the progress line, which is redrawn after it."""
        self.stream.write(("\r\033[K" if self.live else "") + printable(text) + "\n")
        self.stream.flush()
        if self.live:
            self.draw(force=True)

    def stop(self) -> None:
        """Ends the progress line early (the run was interrupted), so what follows starts on a line of its own."""
        if self.live and self.files < self.total_files:
            self.stream.write("\n")
            self.stream.flush()

    def rates(self) -> str:
        parts = [f"{self.files}/{self.total_files} files"]
        if self.images:
            parts.append(f"{self.images} images {self.images / max(self.image_seconds, 1e-9):.1f} images/s")
        if self.frames:
            parts.append(f"{self.frames} frames {self.frames / max(self.frame_seconds, 1e-9):.1f} frames/s")
        return " | ".join(parts)

    def draw(self, force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        interval = 0.1 if self.live else 5.0
        if not force and now - self.last_drawn < interval:
            return
        self.last_drawn = now
        done = self.files / max(self.total_files, 1)
        bar = "#" * int(done * 20)
        line = f"[{bar:<20}] {self.rates()}"
        if self.live:
            self.stream.write(f"\r\033[K{line} {self.current[-40:]}")
            if self.files == self.total_files:
                self.stream.write("\n")
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
