"""What every model is given: the first N FER2013 faces of a split (raw 48×48 grey, as every model gets them: ours
resizes and normalises them in the page's own classifier.js, from metadata.json) and a test frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.data import load_dataset

FRAME_SIZE = (640, 480)
FRAME_GREY = 128


@dataclass(frozen=True)
class Faces:
    split: str
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) indices into training.labels.EMOTIONS
    votes: np.ndarray | None  # (N, 10) FER+ votes, where the data has them


def load_faces(csv: Path, split: str, count: int | None) -> Faces:
    """The first ``count`` faces (all when None) of ``split``, in file order so that runs are comparable."""
    sets = load_dataset(csv)
    if split not in sets:
        raise SystemExit(f"{csv}: no split {split!r} (has {', '.join(sorted(sets))})")
    faces = sets[split]
    end = len(faces) if count is None else min(count, len(faces))
    return Faces(split, faces.images[:end], faces.labels[:end], None if faces.votes is None else faces.votes[:end])


def test_frame() -> np.ndarray:
    """A 640×480 RGB webcam-sized frame with one real face: scikit-image's astronaut photo (public domain), 480 px
    high, centred on grey. Every pipeline detects and classifies this same frame."""
    from skimage import data

    width, height = FRAME_SIZE
    photo = Image.fromarray(data.astronaut()).resize((height, height), Image.Resampling.BILINEAR)
    frame = np.full((height, width, 3), FRAME_GREY, np.uint8)
    left = (width - height) // 2
    frame[:, left:left + height] = np.asarray(photo)
    return frame


def write_inputs(folder: Path, faces: Faces, frame: np.ndarray) -> None:
    """Raw uint8 face file for the browser page (N × 48 × 48), the .npy faces for fer, and the frame PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "faces48.u8").write_bytes(np.ascontiguousarray(faces.images, np.uint8).tobytes())
    np.save(folder / "faces48.npy", faces.images)
    Image.fromarray(frame).save(folder / "frame.png")
