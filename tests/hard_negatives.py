"""Hard negatives for face detection: pictures with no face in them, made from the sample photos that scikit-image
and matplotlib ship in their wheels. Hands and gloves, a cat's face, a collar and tie, a cap badge, a camera,
a cup, a motorcycle's lamp, a helmet, coins, a clock, textures: things a face detector looking at many windows of a
photo can take for a face. Crops of photos with a person in them stop short of the face.

Each crop is made at two sizes, so the same thing is searched at different scales (the page's photo search sees
a 160-px picture whole at 0.8× and a 400-px one at 0.32×, its finer windows at 0.875×). Everything is deterministic:
fixed crop boxes, bicubic resizing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import numpy as np
from PIL import Image

SIDES = (160, 400)  # long side of each picture, pixels


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from skimage import data

        picture = getattr(data, name)()
        return picture[0] if isinstance(picture, tuple) else picture  # stereo_motorcycle: (left, right, disparity)

    return load


def _matplotlib(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        from matplotlib import cbook

        with cbook.get_sample_data(name) as handle:
            return np.asarray(Image.open(handle))

    return load


SOURCES: dict[str, Callable[[], np.ndarray]] = {
    name: _skimage(name) for name in (
        "astronaut", "camera", "chelsea", "coffee", "rocket", "stereo_motorcycle", "clock", "coins", "horse",
        "brick", "grass", "gravel", "moon", "hubble_deep_field", "retina", "immunohistochemistry", "cell", "page",
        "text", "logo", "colorwheel")
} | {"grace_hopper": _matplotlib("grace_hopper.jpg"), "present": _matplotlib("Minduka_Present_Blue_Pack.png")}


@dataclass(frozen=True)
class Crop:
    name: str
    source: str
    box: tuple[int, int, int, int] | None  # x, y, width, height in the source's pixels; None: the whole picture


CROPS: tuple[Crop, ...] = (
    # Photos with a person: only the parts below or beside the face.
    Crop("astronaut-helmet-and-glove", "astronaut", (270, 320, 242, 192)),
    Crop("astronaut-glove", "astronaut", (60, 400, 200, 112)),
    Crop("astronaut-mission-patch", "astronaut", (100, 310, 180, 150)),
    Crop("astronaut-neck-ring", "astronaut", (90, 210, 240, 140)),
    Crop("astronaut-shuttle-model", "astronaut", (330, 0, 182, 300)),
    Crop("astronaut-flag", "astronaut", (0, 0, 120, 330)),
    Crop("cameraman-hands", "camera", (160, 190, 200, 130)),
    Crop("cameraman-camera", "camera", (268, 120, 110, 130)),
    Crop("cameraman-tripod", "camera", (220, 250, 220, 262)),
    Crop("cameraman-coat", "camera", (0, 200, 220, 312)),
    Crop("cameraman-buildings", "camera", (330, 90, 182, 160)),
    Crop("hopper-collar-and-tie", "grace_hopper", (170, 345, 240, 180)),
    Crop("hopper-ribbons", "grace_hopper", (290, 450, 222, 150)),
    Crop("hopper-name-tag", "grace_hopper", (40, 440, 220, 140)),
    Crop("hopper-cap-badge", "grace_hopper", (150, 0, 300, 125)),
    Crop("hopper-flag", "grace_hopper", (0, 0, 170, 330)),
    # A cat's face, objects, textures.
    Crop("cat-face", "chelsea", (60, 0, 360, 300)),
    Crop("cat-eye", "chelsea", (120, 60, 160, 140)),
    Crop("coffee-cup", "coffee", None),
    Crop("coffee-spoon", "coffee", (380, 180, 180, 160)),
    Crop("rocket", "rocket", None),
    Crop("motorcycle", "stereo_motorcycle", None),
    Crop("motorcycle-lamp-and-mirror", "stereo_motorcycle", (480, 60, 200, 180)),
    Crop("motorcycle-engine", "stereo_motorcycle", (300, 200, 240, 200)),
    Crop("clock", "clock", None),
    Crop("coins", "coins", None),
    Crop("horse", "horse", None),
    Crop("brick", "brick", None),
    Crop("grass", "grass", None),
    Crop("gravel", "gravel", None),
    Crop("moon", "moon", None),
    Crop("hubble", "hubble_deep_field", (0, 0, 500, 436)),
    Crop("retina", "retina", None),
    Crop("immunohistochemistry", "immunohistochemistry", None),
    Crop("cells", "cell", None),
    Crop("page", "page", None),
    Crop("text", "text", None),
    Crop("logo", "logo", None),
    Crop("colour-wheel", "colorwheel", None),
    Crop("present", "present", None),
)


@dataclass(frozen=True)
class HardNegative:
    name: str  # crop name and long side, e.g. "cameraman-hands-160"
    rgb: np.ndarray  # (H, W, 3) uint8


@cache
def _source(name: str) -> np.ndarray:
    picture = SOURCES[name]()
    if picture.ndim == 2:
        picture = np.repeat(picture[..., None], 3, axis=2)
    if picture.dtype != np.uint8:  # e.g. a float image in [0, 1]
        picture = (np.clip(picture, 0, 1) * 255).round().astype(np.uint8)
    if picture.shape[2] == 4:  # over white, as a browser shows a transparent PNG on a white page
        alpha = picture[..., 3:].astype(np.float32) / 255
        picture = (picture[..., :3] * alpha + 255 * (1 - alpha)).round().astype(np.uint8)
    return picture


def hard_negatives() -> list[HardNegative]:
    """Every crop at every side in SIDES: 80 pictures without a face."""
    pictures = []
    for crop in CROPS:
        source = _source(crop.source)
        if crop.box is not None:
            x, y, width, height = crop.box
            if x + width > source.shape[1] or y + height > source.shape[0]:
                raise ValueError(f"crop {crop.name}: box {crop.box} reaches past {crop.source}'s "
                                 f"{source.shape[1]}×{source.shape[0]} pixels")
            source = source[y:y + height, x:x + width]
        for side in SIDES:
            scale = side / max(source.shape[:2])
            size = (max(1, round(source.shape[1] * scale)), max(1, round(source.shape[0] * scale)))
            rgb = np.asarray(Image.fromarray(source).resize(size, Image.Resampling.BICUBIC))
            pictures.append(HardNegative(f"{crop.name}-{side}", rgb))
    return pictures
