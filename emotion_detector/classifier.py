"""The emotion classifier: the exported LiteRT model plus the preprocessing metadata.json describes.

Everything about the input (size, channels, colour conversion, crop rule, photometric steps, pixel scale and offset)
and the output (labels, probabilities or logits, calibration temperature) is read from metadata.json, as the page's
classifier.js does.
"""

from __future__ import annotations

import numpy as np

from emotion_detector.calibration import calibrated
from emotion_detector.geometry import Box, crop_rect
from emotion_detector.litert import LiteRtModel
from emotion_detector.model_files import ModelFiles
from emotion_detector.photometric import apply_steps, check_steps
from emotion_detector.sampling import sample_region


class EmotionClassifier:
    def __init__(self, files: ModelFiles, threads: int | None = None) -> None:
        metadata = files.metadata
        self.labels: list[str] = list(metadata["labels"])
        self.input = metadata["input"]
        self.preprocessing = metadata["preprocessing"]
        self.output_kind = metadata.get("output", {}).get("kind", "probabilities")
        self.temperature = float(metadata.get("output", {}).get("temperature", 1.0))
        self.photometric = self.preprocessing.get("photometric", [])
        check_steps(self.photometric, str(files.metadata_path))
        color, channels = self.preprocessing["color"], self.input["channels"]
        if (color, channels) not in (("grey", 1), ("rgb", 3)):
            raise ValueError(f"{files.metadata_path}: preprocessing.color {color!r} with input.channels {channels} "
                             f"is not supported (expected grey with 1 or rgb with 3)")
        if self.output_kind not in ("probabilities", "logits"):
            raise ValueError(f"{files.metadata_path}: output.kind {self.output_kind!r}: expected probabilities or "
                             f"logits")
        if not self.temperature > 0:
            raise ValueError(f"{files.metadata_path}: output.temperature {self.temperature!r}: expected a number > 0")
        self.model = LiteRtModel(files.classifier_path, threads)

    def crop(self, box: Box) -> Box:
        return crop_rect(box, **self.preprocessing["face_crop"])

    def model_input(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(N, H, W, C) float32 model input for the faces in ``boxes`` of an RGB image (classifier.js inputTensor)."""
        height, width = self.input["height"], self.input["width"]
        spec = self.preprocessing
        faces = []
        for box in boxes:
            crop = sample_region(rgb, self.crop(box), width, height)  # outside the image reads 0, as the page
            if spec["color"] == "grey":
                crop = (crop * np.asarray(spec["grey_weights"], np.float32)).sum(axis=-1, keepdims=True)
                crop = apply_steps(crop, self.photometric)
            faces.append(crop * np.float32(spec["scale"]) + np.float32(spec["offset"]))
        return np.stack(faces).astype(np.float32)

    def classify(self, rgb: np.ndarray, boxes: list[Box]) -> np.ndarray:
        """(N, labels) probabilities for the faces in ``boxes``, in metadata.json's label order."""
        if not boxes:
            return np.zeros((0, len(self.labels)), np.float32)
        (output, *_) = self.model.run(self.model_input(rgb, boxes))
        return calibrated(output, self.output_kind, self.temperature)

