"""Annotated copies: each face boxed, with its number or track ID, label and probability. Each is written as
``NAME.incomplete`` and renamed to its name once whole (atomic.py)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from emotion_detector.atomic import PendingFile
from emotion_detector.detector import Face

COLOUR = (255, 200, 0)


def draw_faces(rgb: np.ndarray, faces: list[Face]) -> np.ndarray:
    image = Image.fromarray(rgb)
    draw = ImageDraw.Draw(image)
    width = max(2, round(max(rgb.shape[:2]) / 400))
    for face in faces:
        box = face.box
        draw.rectangle((box.x, box.y, box.x + box.width, box.y + box.height), outline=COLOUR, width=width)
        text = f"{face.id} {face.label} {face.confidence:.0%}"
        left, top, right, bottom = draw.textbbox((box.x, box.y), text)
        lift = bottom - top + 4
        draw.rectangle((left - 2, top - lift - 2, right + 2, bottom - lift + 2), fill=COLOUR)
        draw.text((box.x, box.y - lift), text, fill=(0, 0, 0))
    return np.asarray(image)


def save_image(rgb: np.ndarray, faces: list[Face], path: Path) -> None:
    pending = PendingFile(path)
    Image.fromarray(draw_faces(rgb, faces)).save(pending.temporary, format="PNG")
    pending.finish()


class VideoWriter:
    """H.264 MP4 (MPEG-4 Part 2 where this PyAV build has no libx264) of annotated frames, under its name once
    ``close(finished=True)``."""

    def __init__(self, path: Path, fps: float | None) -> None:
        import av

        self.pending = PendingFile(path)
        self.container = av.open(str(self.pending.temporary), mode="w", format="mp4")
        codec = "libx264" if "libx264" in av.codecs_available else "mpeg4"
        rate = Fraction(fps).limit_denominator(1000) if fps else Fraction(25)
        self.stream = self.container.add_stream(codec, rate=rate)
        self.stream.pix_fmt = "yuv420p"
        self.size: tuple[int, int] | None = None

    def write(self, rgb: np.ndarray, faces: list[Face]) -> None:
        import av

        height, width = rgb.shape[:2]
        if self.size is None:  # 4:2:0 needs even sides
            self.size = (width - width % 2, height - height % 2)
            self.stream.width, self.stream.height = self.size
        frame = draw_faces(rgb, faces)[: self.size[1], : self.size[0]]
        for packet in self.stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
            self.container.mux(packet)

    def close(self, finished: bool) -> None:
        """finished: every frame was written: renamed to its name. Else what was written stays ``.incomplete``
        (PyAV creates the file with the first encoded packet, so a video stopped within the encoder's first few
        frames leaves no file). A video without a frame is not written."""
        if finished and self.size is not None:
            for packet in self.stream.encode():
                self.container.mux(packet)
        self.container.close()
        if finished and self.size is not None:
            self.pending.finish()
        elif self.size is None:
            self.pending.temporary.unlink(missing_ok=True)
