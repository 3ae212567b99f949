"""Boxes in source pixels, as the page's detector returns them: x, y (top left), width, height."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Box:
    x: float
    y: float
    width: float
    height: float

    def as_dict(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "width": self.width, "height": self.height}


def iou(a: Box, b: Box) -> float:
    """Intersection over union (0 when the boxes do not overlap)."""
    width = min(a.x + a.width, b.x + b.width) - max(a.x, b.x)
    height = min(a.y + a.height, b.y + b.height) - max(a.y, b.y)
    if width <= 0 or height <= 0:
        return 0.0
    overlap = width * height
    return overlap / (a.width * a.height + b.width * b.height - overlap)


def crop_rect(box: Box, margin: float, square: bool, shift_y: float = 0.0) -> Box:
    """The classifier's crop around a detector box, per metadata.json's preprocessing.face_crop: grown by
    margin·size on each side, squared about its centre, moved down by shift_y·height (static/js/crop.js)."""
    width, height = box.width * (1 + 2 * margin), box.height * (1 + 2 * margin)
    if square:
        width = height = max(width, height)
    centre_x, centre_y = box.x + box.width / 2, box.y + box.height / 2 + shift_y * box.height
    return Box(centre_x - width / 2, centre_y - height / 2, width, height)
