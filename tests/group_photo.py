"""Generated group photos with faces at known places: real faces (FER2013, the astronaut) pasted onto a real
photo (scikit-image's rocket launch), and grids of the astronaut photo. Shared by tests/test_page_detection.py and
bench/page_speed.py."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from tests.images import ASTRONAUT_FACE, FILTERED_FER2013_CSV, astronaut, fer_faces


@dataclass(frozen=True)
class Face:
    """Where a face was pasted, picture pixels: the square (x, y, size) it fills."""

    x: float
    y: float
    size: float

    @property
    def centre(self) -> tuple[float, float]:
        return self.x + self.size / 2, self.y + self.size / 2


def background(width: int, height: int) -> np.ndarray:
    """scikit-image's rocket launch photo (outdoor scene, trees, sky), resized to width × height."""
    from skimage import data

    return np.asarray(Image.fromarray(data.rocket()).resize((width, height), Image.Resampling.BICUBIC))


def astronaut_face(margin: float = 0.25) -> np.ndarray:
    """The astronaut's face with some hair and neck around it, square, RGB."""
    x0, y0, x1, y1 = ASTRONAUT_FACE
    side = max(x1 - x0, y1 - y0) * (1 + 2 * margin)
    cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
    left, top = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
    return astronaut()[top:top + int(side), left:left + int(side)]


def group_photo(sizes: list[int], width: int = 1600, height: int = 1067,
                seed: int = 7) -> tuple[np.ndarray, list[Face]]:
    """`sizes` faces (each a FER2013 PublicTest face, every fourth one the astronaut) pasted without overlap at
    random places on the background; raises FileNotFoundError without the FER2013 CSV. The faces are those the
    detection thresholds were tuned on, from the filtered copy: the raw file orders its rows differently, and its
    PublicTest faces 100–119 include a face cut off above the eyes."""
    rng = np.random.default_rng(seed)
    picture = background(width, height).copy()
    fer = [pixels for _, pixels in fer_faces(len(sizes), usage="PublicTest", skip=100,
                                                path=FILTERED_FER2013_CSV)]
    placed: list[Face] = []
    for index, size in enumerate(sorted(sizes, reverse=True)):
        source = astronaut_face() if index % 4 == 3 else np.repeat(fer[index][..., None], 3, axis=2)
        for _ in range(1000):
            x, y = int(rng.integers(0, width - size)), int(rng.integers(0, height - size))
            gap = 8
            if all(x + size + gap <= f.x or f.x + f.size + gap <= x or y + size + gap <= f.y or f.y + f.size + gap <= y
                   for f in placed):
                break
        else:
            raise ValueError(f"no room for a {size}px face in a {width}×{height} picture")
        resized = Image.fromarray(source).resize((size, size), Image.Resampling.BICUBIC)
        picture[y:y + size, x:x + size] = np.asarray(resized)
        placed.append(Face(x, y, size))
    return picture, placed


def astronaut_grid(count: int, side: int = 512) -> tuple[np.ndarray, list[Face]]:
    """The astronaut photo tiled count × count, each copy side × side pixels; the faces where each copy has it."""
    copy = np.asarray(Image.fromarray(astronaut()).resize((side, side), Image.Resampling.BILINEAR))
    picture = np.tile(copy, (count, count, 1))
    x0, y0, x1, y1 = (value * side / 512 for value in ASTRONAUT_FACE)
    size = max(x1 - x0, y1 - y0)
    faces = [Face(col * side + (x0 + x1 - size) / 2, row * side + (y0 + y1 - size) / 2, size)
             for row in range(count) for col in range(count)]
    return picture, faces


def match(boxes: list[dict], faces: list[Face]) -> tuple[list[Face], list[dict]]:
    """(faces found, false detections): a box finds a face when its centre lies in the face's middle half and its
    size is 0.4–1.5 × the face's; each face is found at most once."""
    found: list[Face] = []
    false: list[dict] = []
    for box in sorted(boxes, key=lambda b: -(b.get("score") or 0)):
        bx, by = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        size = max(box["width"], box["height"])
        hit = next((face for face in faces if face not in found
                    and abs(bx - face.centre[0]) < face.size / 4 and abs(by - face.centre[1]) < face.size / 4
                    and 0.4 * face.size <= size <= 1.5 * face.size), None)
        if hit is None:
            false.append(box)
        else:
            found.append(hit)
    return found, false


def faces_video_frames(faces: int, count: int = 30, size: tuple[int, int] = (640, 480)) -> list[np.ndarray]:
    """`faces` (1 or 4) astronaut heads, 200 px, drifting a little on a grey 640×480 frame: a webcam scene with
    one person, or four in a 2×2 group, each face big enough for the video pass (short-range, whole frame)."""
    width, height = size
    head = np.asarray(Image.fromarray(astronaut_face(0.15)).resize((200, 200), Image.Resampling.BILINEAR))
    corners = [(220, 140)] if faces == 1 else [(20, 20), (420, 20), (20, 260), (420, 260)]
    if faces not in (1, 4):
        raise ValueError(f"faces must be 1 or 4, not {faces}")
    frames = []
    for index in range(count):
        frame = np.full((height, width, 3), 90, np.uint8)
        drift = int(round(15 * np.sin(2 * np.pi * index / count)))
        for x, y in corners:
            frame[y:y + 200, x + drift:x + drift + 200] = head
        frames.append(frame)
    return frames
