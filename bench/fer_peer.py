"""The `fer` package's classifier on FER2013 faces, and its own detect + classify pipeline on the test frame.

Runs in the bench venv (`.venv-bench`, bench/requirements.txt), not the training venv; bench/run.py calls it
and reads the JSON it writes. Needs only numpy, OpenCV and fer.

Preprocessing follows fer 25.10.3's own code, fer/fer.py, FER.detect_emotions(): greyscale
(cv2.cvtColor BGR2GRAY) → cv2.resize to the classifier's input (64×64, FER._initialize_model) → ÷ 255 → (x − 0.5)
× 2, then FER._classify_emotions; labels in FER._get_labels() order (FER2013's own). detect_emotions itself would
first grow the box by `offsets` (10 px a side) inside a 40 px padded border; on FER2013's 48 px crops that would
shrink the face to a third of the input, so classification alone resizes the crop as the model was trained on it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script, in the bench venv
from bench.timing import latency_summary  # noqa: E402


def timed(call: Callable[[], object], warmup: int, runs: int) -> dict:
    for _ in range(warmup):
        call()
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return latency_summary(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--faces", type=Path, required=True, help="(N, 48, 48) uint8 .npy")
    parser.add_argument("--frame", type=Path, required=True, help="RGB test frame (PNG)")
    parser.add_argument("--variant", choices=("tflite", "keras"), default="tflite",
                        help="tflite: fer's default quantized model; keras: its float32 .hdf5")
    parser.add_argument("--latency-runs", type=int, default=30)
    parser.add_argument("--frames", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--no-predict", action="store_true", help="timing only")
    parser.add_argument("--out", type=Path, required=True, help="JSON result (stdout carries TensorFlow's chatter)")
    args = parser.parse_args(argv)

    import fer
    from fer.fer import FER  # fer 25.10.3's __init__ does not re-export FER

    started = time.perf_counter()
    detector = FER(use_tflite=args.variant == "tflite")  # mtcnn=False: OpenCV's Haar cascade, its default
    load_ms = (time.perf_counter() - started) * 1000
    target = tuple(detector._FER__emotion_target_size)  # set by FER._initialize_model from the model
    labels = [name for _, name in sorted(FER._get_labels().items())]

    def prepare(grey_faces: np.ndarray) -> np.ndarray:
        resized = np.stack([cv2.resize(face, target) for face in grey_faces]).astype("float32")
        return (resized / 255.0 - 0.5) * 2.0

    def classify(grey_faces: np.ndarray) -> np.ndarray:
        return np.asarray(detector._classify_emotions(prepare(grey_faces)))

    # FER2013 faces are grey already: BGR2GRAY of a grey image (B = G = R) returns it unchanged.
    faces = np.load(args.faces)
    result: dict = {"model": f"fer-{args.variant}" if args.variant == "keras" else "fer", "backend": "python",
                    "labels": labels, "load_ms": load_ms, "fer_version": fer.__version__,
                    "tensorflow": _tensorflow_version(), "opencv": cv2.__version__}
    if not args.no_predict:
        result["probabilities"] = np.concatenate([classify(faces[i:i + 64]) for i in range(0, len(faces), 64)]).tolist()
    face_index = iter(range(10**9))
    result["latency"] = timed(lambda: classify(faces[next(face_index) % len(faces)][None]), args.warmup,
                              args.latency_runs)
    frame_bgr = cv2.imread(str(args.frame))  # fer takes OpenCV's BGR order
    found = detector.detect_emotions(frame_bgr)
    result["frame"] = {"width": frame_bgr.shape[1], "height": frame_bgr.shape[0], "faces": len(found)}
    if args.frames:
        result["end_to_end"] = timed(lambda: detector.detect_emotions(frame_bgr), max(1, min(args.warmup, 2)),
                                     args.frames)
    args.out.write_text(json.dumps(result))
    return 0


def _tensorflow_version() -> str:
    import tensorflow as tf

    return tf.__version__


if __name__ == "__main__":
    sys.exit(main())
