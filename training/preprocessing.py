"""How a face in a photo becomes model input, outside training: the constants the export writes into
``metadata.json``, and a NumPy reference of the browser's crop that the tests compare against.

Training faces are FER2013's 48×48 grey crops (upscaled ×2 by LapSRN); in a photo the detector's box is
grown by ``FACE_MARGIN`` on each side and squared so the crop frames the face as FER2013 does.
"""

from __future__ import annotations

import numpy as np

GREY_WEIGHTS = (0.299, 0.587, 0.114)  # ITU-R BT.601, as PIL's convert("L") and OpenCV's BGR2GRAY
# Measured with bench/calibrate_margin.py: FER2013 faces pasted into frames, detected by the page's MediaPipe
# detector; this margin and upward shift make the crop reproduce the FER2013 framing (median over faces).
FACE_MARGIN = 0.135  # fraction of the detector box's size added on each side
FACE_SHIFT_Y = -0.09  # the crop's centre moves by this fraction of the box height (negative: up)
PIXEL_SCALE = 1 / 255
PIXEL_OFFSET = 0.0

# What a network may expect done to each grey crop after resizing (emotion_detector/photometric.py defines the
# steps), by the name a training run records. "fer2013-filter" is the filter of the image mirror that the filtered
# FER2013 copy came from (×1.2 contrast, then histogram equalisation): networks trained on that copy need it.
PHOTOMETRIC: dict[str, list[dict]] = {
    "none": [],
    "equalize": [{"op": "equalize_histogram"}],
    "fer2013-filter": [{"op": "contrast", "gain": 1.2}, {"op": "equalize_histogram"}],
    # Contrast-limited adaptive equalisation (OpenCV's default clip) on 4×4 tiles: local contrast without
    # equalisation's amplified noise in flat regions.
    "clahe": [{"op": "clahe", "tiles": 4, "clip": 2.0}],
    # Each face to the mean and spread of levels spread evenly over 0–255 (255/√12), what equalisation gives, but
    # by a linear map that keeps the face's own histogram.
    "standardize": [{"op": "standardize", "mean": 127.5, "std": 73.6}],
}


def photometric_steps(name: str) -> list[dict]:
    if name not in PHOTOMETRIC:
        raise ValueError(f"photometric = {name!r}: expected one of {', '.join(PHOTOMETRIC)}")
    return PHOTOMETRIC[name]


def preprocessing_spec(photometric: str, training_faces: str) -> dict:
    return {
        "color": "grey",
        "grey_weights": list(GREY_WEIGHTS),
        "face_crop": {"margin": FACE_MARGIN, "square": True, "shift_y": FACE_SHIFT_Y},
        "resize": "bilinear",
        "photometric": photometric_steps(photometric),
        "scale": PIXEL_SCALE,
        "offset": PIXEL_OFFSET,
        "training_faces": training_faces,
    }


Box = tuple[float, float, float, float]  # x, y, width, height in pixels


def crop_box(box: Box, margin: float, square: bool, shift_y: float = 0.0) -> Box:
    """The crop around a detector box: grown by margin·size on each side, squared about its centre, which
    moves down by shift_y·height."""
    x, y, width, height = box
    grown_w, grown_h = width * (1 + 2 * margin), height * (1 + 2 * margin)
    if square:
        grown_w = grown_h = max(grown_w, grown_h)
    centre_x, centre_y = x + width / 2, y + height / 2 + shift_y * height
    return centre_x - grown_w / 2, centre_y - grown_h / 2, grown_w, grown_h


def face_input(rgb: np.ndarray, box: Box, metadata: dict) -> np.ndarray:
    """The model input (H, W, 1) float32 for the face in ``box`` of an RGB uint8 image, per ``metadata``."""
    from PIL import Image

    spec = metadata["preprocessing"]
    size = (metadata["input"]["width"], metadata["input"]["height"])
    crop = crop_box(box, **spec["face_crop"])
    grey = rgb[..., :3].astype(np.float32) @ np.asarray(spec["grey_weights"], np.float32)
    left, top, width, height = crop
    face = Image.fromarray(grey, mode="F").transform(
        size, Image.Transform.EXTENT, (left, top, left + width, top + height), Image.Resampling.BILINEAR
    )
    from emotion_detector.photometric import apply_steps

    levels = apply_steps(np.asarray(face, np.float32), spec.get("photometric", []))
    return (levels * spec["scale"] + spec["offset"])[..., None]
