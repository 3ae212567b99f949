"""Test pictures made from real faces: the astronaut photo, FER2013 faces pasted into frames, and y4m video."""

from __future__ import annotations

import csv
import gzip
import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

FER2013_CSV = Path(os.environ.get("FER2013_CSV") or
                   Path(__file__).resolve().parents[2] / "shared" / "data" / "fer2013" / "fer2013_raw.csv.gz")
# The filtered copy, whose rows are ordered differently: the generated group photo was tuned on its faces.
FILTERED_FER2013_CSV = FER2013_CSV.parent / "fer2013.csv.gz"
FER_SIZE = 48
NEUTRAL_GREY = 128

# Where the astronaut's face is in skimage.data.astronaut() (512×512), measured by eye: x0, y0, x1, y1.
ASTRONAUT_FACE = (165, 60, 290, 200)


def astronaut() -> np.ndarray:
    from skimage import data

    return data.astronaut()


def fer_faces(count: int, usage: str = "PublicTest", skip: int = 0,
              path: Path = FER2013_CSV) -> list[tuple[int, np.ndarray]]:
    """(label, 48×48 uint8) for the first `count` faces of a split; raises FileNotFoundError without the CSV."""
    if not path.is_file():
        raise FileNotFoundError(f"FER2013 CSV not found at {path} (set FER2013_CSV)")
    faces = []
    with gzip.open(path, "rt", newline="") as handle:
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


def five_face_group_photo() -> tuple[np.ndarray, list[Pasted]]:
    """Five FER2013 PublicTest faces of 200 px on an 800×560 frame, where the page finds each one; skips the
    calling test when FER2013 is absent."""
    import pytest

    try:
        faces = [pixels for _, pixels in fer_faces(5, skip=40)]
    except FileNotFoundError as missing:
        pytest.skip(str(missing))
    positions = [(30, 40), (300, 30), (570, 60), (140, 330), (450, 320)]
    return paste_faces(faces, (800, 560), 200, positions)


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


# The bad-image set (issue 9): files a visitor may give the page that are empty, broken, hostile or extreme.
# Each builder writes one file into `folder` and returns its path; sizes are made cheaply (no 900-megapixel array).

def _png_chunk(kind: bytes, data: bytes) -> bytes:
    import struct
    import zlib

    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_bomb(path: Path, side: int = 30000) -> Path:
    """A valid side×side 1-bit black PNG: about 110 kB on disk, side² pixels once decoded."""
    import struct
    import zlib

    row = bytes(1 + (side + 7) // 8)  # filter byte 0, then the packed bits of one row
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(side)) + packer.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit greyscale, no interlace
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))
    return path


def astronaut_portrait() -> np.ndarray:
    """The astronaut cut to 384 wide × 512 tall (face kept), so a rotation shows in the decoded size."""
    return astronaut()[:, 64:448]


def exif_rotated_jpeg(path: Path) -> Path:
    """The portrait stored turned 90° clockwise, with EXIF orientation 8 saying how to turn it upright."""
    stored = Image.fromarray(np.rot90(astronaut_portrait(), k=-1).copy())  # 512 wide × 384 tall on disk
    exif = Image.Exif()
    exif[0x0112] = 8  # Orientation: rotate 90° counter-clockwise to display
    stored.save(path, quality=92, exif=exif)
    return path


def bad_images(folder: Path) -> dict[str, Path]:
    """name → file, for every entry of the bad-image set (12000² and 30000² ones included; about 2 s to build)."""
    folder.mkdir(parents=True, exist_ok=True)
    face = astronaut()
    files: dict[str, Path] = {}

    def save(name: str, image: Image.Image, **options) -> None:
        files[name.split(".")[0]] = folder / name
        image.save(folder / name, **options)

    (folder / "empty.jpg").write_bytes(b"")
    files["empty"] = folder / "empty.jpg"
    (folder / "text.jpg").write_text("This is a text file that only claims to be a JPEG.\n")
    files["text"] = folder / "text.jpg"
    save("complete.jpg", Image.fromarray(face), quality=90)
    data = (folder / "complete.jpg").read_bytes()
    (folder / "truncated.jpg").write_bytes(data[: len(data) // 3])
    files["truncated"] = folder / "truncated.jpg"
    del files["complete"]
    (folder / "script.svg").write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="200">'
        '<script>alert("svg script ran")</script><rect width="200" height="200" fill="#888"/></svg>')
    files["script"] = folder / "script.svg"
    files["bomb"] = png_bomb(folder / "bomb.png")
    with warnings.catch_warnings():  # Pillow warns about the size we want on purpose
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        huge = Image.fromarray(face).convert("L").resize((12000, 12000), Image.Resampling.BILINEAR)
    save("huge.jpg", huge, quality=80)
    save("wide.png", Image.new("L", (61440, 1), 128))
    save("tall.png", Image.new("L", (1, 61440), 128))
    frames = [Image.fromarray(face), Image.fromarray(face[:, ::-1].copy())]
    save("animated.gif", frames[0], save_all=True, append_images=frames[1:], duration=200, loop=0)
    grey16 = (face.astype(np.float32) @ np.array([0.299, 0.587, 0.114], np.float32) * 257).astype(np.uint16)
    save("deep.png", Image.fromarray(grey16))  # mode I;16: a 16-bit greyscale PNG
    save("cmyk.jpg", Image.fromarray(face).convert("CMYK"), quality=92)
    files["rotated"] = exif_rotated_jpeg(folder / "rotated.jpg")
    rgba = np.dstack([face, np.full(face.shape[:2], 255, np.uint8)])
    rgba[:, :40, 3] = 0  # a transparent band at the left
    rgba[:, 40:100, 3] = 128  # and a half-transparent one
    save("transparent.png", Image.fromarray(rgba, "RGBA"))
    save("tiny.png", Image.new("RGB", (1, 1), (200, 150, 120)))
    return files


def astronaut_back_and_forth_frames(count: int = 60, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """The astronaut's head and shoulders sliding right then back (a loop without jumps, for tracking tests)."""
    width, height = size
    photo = np.asarray(Image.fromarray(astronaut()[:400, 56:456]).resize((320, 320), Image.Resampling.BILINEAR))
    frames = []
    for index in range(count):
        phase = 1 - abs(2 * index / count - 1)  # 0 → 1 → 0 over the loop
        x = 40 + int(240 * phase)
        frame = np.full((height, width, 3), 90, np.uint8)
        frame[80:400, x:x + 320] = photo
        frames.append(frame)
    return frames


def astronaut_comes_and_goes_frames(present: int = 20, absent: int = 20) -> list[np.ndarray]:
    """`present` frames with the astronaut standing still, then `absent` frames of the empty grey 640×480 scene."""
    still = astronaut_back_and_forth_frames(4)[0]
    return [still] * present + [np.full_like(still, 90)] * absent
