"""Offline ×2 super-resolution of 48×48 faces with LapSRN (``cv2.dnn_superres``), cached on disk.

The cache is keyed by a hash of the input faces and of the model file, written atomically, and reused by
every later run on the same data.
"""

from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path

import numpy as np

from training.files import atomic_save_npy, sha256_file

log = logging.getLogger(__name__)

LAPSRN_ENV = "LAPSRN_MODEL"
SCALE = 2


class SuperResolutionError(RuntimeError):
    pass


def lapsrn_path(explicit: str | Path | None) -> Path:
    """The LapSRN_x2.pb to use: the explicit path, else $LAPSRN_MODEL; a clear error when neither exists."""
    candidate = explicit or os.environ.get(LAPSRN_ENV)
    if not candidate:
        raise SuperResolutionError(
            f"no LapSRN model given: pass --lapsrn PATH/LapSRN_x2.pb or set ${LAPSRN_ENV} "
            "(see the README for where to get it), or train with --upscale bilinear"
        )
    path = Path(candidate)
    if not path.is_file():
        raise SuperResolutionError(f"{path}: LapSRN model not found (expected the LapSRN_x2.pb file)")
    return path


class LapSRN:
    """The LapSRN ×2 network through OpenCV's dnn_superres: uint8 grey faces in, uint8 faces twice the size out."""

    def __init__(self, model_path: str | Path):
        try:
            import cv2
        except ImportError as missing:
            raise SuperResolutionError("OpenCV is not installed: pip install -r training/requirements.txt") from missing
        if not hasattr(cv2, "dnn_superres"):
            raise SuperResolutionError("this OpenCV has no dnn_superres: install opencv-contrib-python(-headless)")
        self.model_path = Path(model_path)
        self._impl = cv2.dnn_superres.DnnSuperResImpl_create()
        try:
            self._impl.readModel(str(self.model_path))
        except cv2.error as problem:
            raise SuperResolutionError(f"{self.model_path}: not a LapSRN model OpenCV can read ({problem})") from None
        self._impl.setModel("lapsrn", SCALE)

    def upscale(self, face: np.ndarray) -> np.ndarray:
        return self._impl.upsample(np.ascontiguousarray(face, dtype=np.uint8))

    def upscale_all(self, faces: np.ndarray, progress: bool = True) -> np.ndarray:
        from tqdm import tqdm

        out = np.empty((len(faces), faces.shape[1] * SCALE, faces.shape[2] * SCALE), np.uint8)
        for index in tqdm(range(len(faces)), desc="LapSRN ×2", unit="img", disable=not progress, mininterval=2):
            out[index] = self.upscale(faces[index])
        return out


def upscale_cached(
    faces: np.ndarray, model_path: str | Path, cache_dir: str | Path, progress: bool = True
) -> np.ndarray:
    """LapSRN ×2 of every face, read from the cache when these faces and this model were upscaled before."""
    model_path = Path(model_path)
    digest = hashlib.sha256()
    digest.update(f"lapsrn-x{SCALE}-v1|{faces.shape}|".encode())
    digest.update(np.ascontiguousarray(faces, dtype=np.uint8).tobytes())
    digest.update(sha256_file(model_path).encode())
    cache_file = Path(cache_dir) / f"lapsrn_x{SCALE}_{digest.hexdigest()[:20]}.npy"
    if cache_file.exists():
        try:
            cached = np.load(cache_file)
        except (OSError, ValueError, EOFError) as problem:
            log.warning("%s: unreadable cache (%s), recomputing", cache_file, problem)
            cached = np.zeros(0)
        if cached.shape == (len(faces), faces.shape[1] * SCALE, faces.shape[2] * SCALE):
            log.info("LapSRN ×2: %d faces read from cache %s", len(faces), cache_file)
            return cached
        log.warning("%s: cached array has shape %s, recomputing", cache_file, cached.shape)
    upscaled = LapSRN(model_path).upscale_all(faces, progress=progress)
    atomic_save_npy(cache_file, upscaled)
    log.info("LapSRN ×2: %d faces cached in %s", len(faces), cache_file)
    return upscaled
