"""Test pictures made from real faces: the astronaut photo, FER2013 faces pasted into frames, and y4m video."""

from __future__ import annotations

import csv
import gzip
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

FER2013_CSV = Path(os.environ.get("FER2013_CSV", "/work/shared/data/fer2013/fer2013.csv.gz"))
FER_SIZE = 48
NEUTRAL_GREY = 128

# Where the astronaut's face is in skimage.data.astronaut() (512×512), measured by eye: x0, y0, x1, y1.
ASTRONAUT_FACE = (165, 60, 290, 200)


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def fer_faces(count: int, usage: str = "PublicTest", skip: int = 0) -> list[tuple[int, np.ndarray]]:
    """(label, 48×48 uint8) for the first `count` faces of a split; raises FileNotFoundError without the CSV."""
    if not FER2013_CSV.is_file():
        raise FileNotFoundError(f"FER2013 CSV not found at {FER2013_CSV} (set FER2013_CSV)")
    faces = []
    with gzip.open(FER2013_CSV, "rt", newline="") as handle:
        for row in csv.DictReader(handle):
            if row["Usage"] != usage:
                continue
            if skip:
                skip -= 1
                continue
            pixels = np.array(row["pixels"].split(), dtype=np.uint8).reshape(FER_SIZE, FER_SIZE)
            faces.append((int(row["emotion"]), pixels))
            if len(faces) == count:
                break
    return faces


@dataclass(frozen=True)
class Pasted:
    x: int
    y: int
    size: int


def paste_faces(faces: list[np.ndarray], frame_size: tuple[int, int], size: int,
                positions: list[tuple[int, int]]) -> tuple[np.ndarray, list[Pasted]]:
    """RGB frame of neutral grey with each grey face upscaled (bicubic) to size×size at its (x, y)."""
    width, height = frame_size
    frame = np.full((height, width, 3), NEUTRAL_GREY, np.uint8)
    placed = []
    for face, (x, y) in zip(faces, positions, strict=True):
        big = np.asarray(Image.fromarray(face).resize((size, size), Image.Resampling.BICUBIC))
        frame[y:y + size, x:x + size] = big[..., None]
        placed.append(Pasted(x, y, size))
    return frame, placed


def save_png(rgb: np.ndarray, path: Path) -> Path:
    Image.fromarray(rgb).save(path)
    return path


def write_y4m(frames: list[np.ndarray], path: Path, fps: int = 15) -> Path:
    """Writes RGB frames (even width and height) as YUV4MPEG2 4:2:0, the format Chromium's fake camera plays."""
    height, width = frames[0].shape[:2]
    with open(path, "wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for rgb in frames:
            r, g, b = (rgb[..., channel].astype(np.float32) for channel in range(3))
            y = 0.299 * r + 0.587 * g + 0.114 * b
            u = 128 + (b - y) * 0.564
            v = 128 + (r - y) * 0.713

            def subsample(plane: np.ndarray) -> np.ndarray:
                return plane.reshape(height // 2, 2, width // 2, 2).mean(axis=(1, 3))

            out.write(b"FRAME\n")
            for plane in (y, subsample(u), subsample(v)):
                out.write(np.clip(np.rint(plane), 0, 255).astype(np.uint8).tobytes())
    return path


def astronaut_video_frames(count: int = 30, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """The astronaut's upper body drifting slowly across a 640×480 frame, so each frame differs."""
    width, height = size
    photo = astronaut()[:400, 56:456]  # head and shoulders, 400×400
    photo = np.asarray(Image.fromarray(photo).resize((360, 360), Image.Resampling.BILINEAR))
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), 90, np.uint8)
        x = 60 + int(100 * index / max(count - 1, 1))
        frame[60:420, x:x + 360] = photo
        frames.append(frame)
    return frames
