"""Faces as a cheap camera would give them, to measure what camera artefacts cost a model.

Each 48×48 face gets, drawn per face from a seed: dimmer light and another gamma, a slight defocus, sensor noise,
a JPEG save by libjpeg at quality 30–80 and, for some, the loss of detail of a face small in the frame. Made with
Pillow and NumPy, not with the trainer's simulated camera (``training.camera``), so that a model trained with that
simulation is not measured on its own augmentation.
"""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageFilter


def camera_faces(faces: np.ndarray, seed: int) -> np.ndarray:
    """(N, 48, 48) uint8 faces → the same faces through a cheap camera, the same for the same seed."""
    rng = np.random.default_rng(seed)
    return np.stack([one_face(face, rng) for face in faces])


def one_face(face: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    light = (face / 255.0) ** rng.uniform(0.8, 1.25) * rng.uniform(0.4, 1.0)
    picture = Image.fromarray(np.round(light * 255).astype(np.uint8))
    picture = picture.filter(ImageFilter.GaussianBlur(rng.uniform(0.0, 0.6)))
    signal = np.asarray(picture, np.float64) / 255
    shot, read = rng.uniform(0, 0.003), rng.uniform(0, 0.008)
    noisy = signal + rng.normal(size=signal.shape) * np.sqrt(shot * signal + read**2)
    picture = Image.fromarray(np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8))
    if rng.random() < 0.25:  # a small face: 24 pixels across, enlarged back
        picture = picture.resize((24, 24), Image.Resampling.BILINEAR).resize(face.shape[::-1],
                                                                             Image.Resampling.BILINEAR)
    encoded = io.BytesIO()
    picture.save(encoded, "JPEG", quality=int(rng.integers(30, 81)))
    return np.asarray(Image.open(encoded), np.uint8)
