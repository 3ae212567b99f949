"""The models compared: where each one's files are, how it runs, and how its labels map onto FER2013's seven.

Each peer's preprocessing lives next to the code that applies it (bench/web/models/*.js, bench/fer_peer.py), with
the file and function of the peer's own source it follows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.labels import EMOTIONS

REPO = Path(__file__).resolve().parents[1]
NODE_MODULES = REPO / "node_modules"
FACE_API = NODE_MODULES / "@vladmandic" / "face-api"
HUMAN = NODE_MODULES / "@vladmandic" / "human"

# Peer label name → FER2013 label name, for the names that differ.
SYNONYMS = {"fearful": "fear", "disgusted": "disgust", "surprised": "surprise"}


@dataclass(frozen=True)
class Model:
    name: str
    title: str
    runtime: str  # "browser" (TF.js in Chromium) or "python"
    classifier_files: tuple[Path, ...]  # the expression model's own weights and topology
    pipeline_files: tuple[Path, ...] = field(default=())  # plus its detector, for the end-to-end figure
    notes: str = ""

    def bytes(self, files: tuple[Path, ...] | None = None) -> int:
        return sum(path.stat().st_size for path in (self.classifier_files if files is None else files))


def face_detector_folder() -> Path:
    """The page's BlazeFace graphs (converted from MediaPipe's .tflite files on first use)."""
    from webapp.vendor_files import VendorFiles

    return VendorFiles(NODE_MODULES).folder("blazeface")


def browser_models(model_dir: Path) -> list[Model]:
    blazeface = face_detector_folder()
    return [
        Model("ours", "Ours (converted_model)", "browser",
              tuple(sorted(p for p in model_dir.iterdir() if p.name == "model.json" or p.suffix == ".bin")),
              (blazeface / "face_detection_short_range.json", blazeface / "face_detection_short_range.bin"),
              "the page's classifier (bilinear crop resize, declared photometric steps, calibrated); page pipeline: "
              "BlazeFace short-range (TF.js, one pass as on video) + static/js/analyse.js"),
        Model("face-api", "@vladmandic/face-api FaceExpressionNet", "browser",
              (FACE_API / "model" / "face_expression_model-weights_manifest.json",
               FACE_API / "model" / "face_expression_model.bin"),
              (FACE_API / "model" / "ssd_mobilenetv1_model-weights_manifest.json",
               FACE_API / "model" / "ssd_mobilenetv1_model.bin"),
              "end to end: detectAllFaces(SsdMobilenetv1Options()).withFaceExpressions()"),
        Model("human", "@vladmandic/human emotion (oarriaga mini-Xception)", "browser",
              (HUMAN / "models" / "emotion.json", HUMAN / "models" / "emotion.bin"),
              tuple(HUMAN / "models" / f"{stem}.{ext}" for stem in ("blazeface", "facemesh")
                    for ext in ("json", "bin")),
              "end to end: human.detect() with BlazeFace + FaceMesh + emotion, caching off"),
    ]


def fer_models(site_packages: Path | None) -> list[Model]:
    """The fer package's two classifiers (its default quantized TFLite one, and the float Keras original)."""
    if site_packages is None:
        return []
    data = site_packages / "fer" / "data"
    cascade = (site_packages / "cv2" / "data" / "haarcascade_frontalface_default.xml",)  # FER()'s default detector
    return [
        Model("fer", "fer (mini-Xception, TFLite int8, its default)", "python",
              (data / "emotion_model_quantized.tflite",), cascade, "Python + TensorFlow Lite, OpenCV Haar cascade"),
        Model("fer-keras", "fer (mini-Xception, Keras float32)", "python",
              (data / "emotion_model.hdf5",), cascade, "Python + TensorFlow/Keras, OpenCV Haar cascade"),
    ]


def to_fer_order(probabilities: np.ndarray, labels: list[str]) -> np.ndarray:
    """(N, len(labels)) scores in a model's own label order → (N, 7) in FER2013 order.

    A FER2013 class the model lacks gets score 0, so it is never predicted and its faces all count as misses;
    a class the model has beyond FER2013's seven is dropped (none of the peers benchmarked has one).
    """
    probabilities = np.asarray(probabilities, np.float64)
    if probabilities.ndim != 2 or probabilities.shape[1] != len(labels):
        raise ValueError(f"expected (N, {len(labels)}) scores for labels {labels}, got {probabilities.shape}")
    out = np.zeros((len(probabilities), len(EMOTIONS)))
    for column, label in enumerate(labels):
        name = SYNONYMS.get(label.lower(), label.lower())
        if name in EMOTIONS:
            out[:, EMOTIONS.index(name)] = probabilities[:, column]
    return out
