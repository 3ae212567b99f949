"""What every model is given: the first N FER2013 faces of a split, our model's version of them, and a test frame."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from training.data import load_dataset
from training.labels import FER_SIZE

FRAME_SIZE = (640, 480)
FRAME_GREY = 128


@dataclass(frozen=True)
class Faces:
    split: str
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) indices into training.labels.EMOTIONS


def load_faces(csv: Path, split: str, count: int | None) -> Faces:
    """The first ``count`` faces (all when None) of ``split``, in file order so that runs are comparable."""
    sets = load_dataset(csv)
    if split not in sets:
        raise SystemExit(f"{csv}: no split {split!r} (has {', '.join(sorted(sets))})")
    faces = sets[split]
    end = len(faces) if count is None else min(count, len(faces))
    return Faces(split, faces.images[:end], faces.labels[:end])


def our_inputs(faces: np.ndarray, metadata: dict, lapsrn: Path, cache_dir: Path) -> np.ndarray:
    """Our model's faces as it was trained on them: 48×48, or LapSRN ×2 when its input is 96×96.

    Pixel scaling and colour handling stay with static/js/classifier.js, which reads them from metadata.json.
    """
    from training.train import prepare_images

    size = int(metadata["input"]["height"])
    if size not in (FER_SIZE, 2 * FER_SIZE) or metadata["input"]["width"] != size:
        raise SystemExit(f"metadata.json input is {metadata['input']}; the benchmark handles 48×48 or 96×96")
    return prepare_images(faces, superres=size == 2 * FER_SIZE, lapsrn=str(lapsrn), cache_dir=str(cache_dir))


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


def write_inputs(folder: Path, faces: Faces, ours: np.ndarray, frame: np.ndarray) -> None:
    """Raw uint8 face files for the browser page (N × size × size), the .npy faces for fer, and the frame PNG."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "faces48.u8").write_bytes(np.ascontiguousarray(faces.images, np.uint8).tobytes())
    (folder / "faces_ours.u8").write_bytes(np.ascontiguousarray(ours, np.uint8).tobytes())
    np.save(folder / "faces48.npy", faces.images)
    Image.fromarray(frame).save(folder / "frame.png")
