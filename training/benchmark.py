"""Throughput on this machine: LapSRN ×2 preprocessing (faces/s) and training (faces/s, augmentation included)
for the default model at 96×96 (LapSRN) and 48×48 input. Prints figures; asserts nothing.

    python -m training benchmark --data fer2013.csv.gz --lapsrn LapSRN_x2.pb
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np

from training.data import load_dataset, pick_split


def lapsrn_faces_per_second(faces: np.ndarray, lapsrn: str) -> float:
    from training.superres import LapSRN, lapsrn_path

    model = LapSRN(lapsrn_path(lapsrn))
    model.upscale(faces[0])  # first call initialises OpenCV's network
    started = time.perf_counter()
    model.upscale_all(faces, progress=False)
    return len(faces) / (time.perf_counter() - started)


def training_faces_per_second(input_size: int, steps: int, batch_size: int, precision: str) -> float:
    """Faces per second through the trainer's step (augmentation, forward and backward pass) on random faces of
    ``input_size`` (96: LapSRN-upscaled faces; 48: faces resized bilinearly in the step)."""
    import keras

    from training.labels import EMOTIONS
    from training.model import build_model
    from training.portable import PortableConfig, make_optimizer, training_loss, training_model

    config = PortableConfig(data="", out="", batch_size=batch_size, precision=precision)
    keras.mixed_precision.set_global_policy(precision)
    rng = np.random.default_rng(0)
    count = (steps + 2) * batch_size
    faces = rng.integers(0, 256, (count, input_size, input_size, 1)).astype(np.uint8)
    targets = np.eye(len(EMOTIONS), dtype=np.float32)[rng.integers(0, len(EMOTIONS), count)]
    classifier = build_model(96, len(EMOTIONS), width=config.width, dropout=config.dropout, weight_decay=0.0,
                             architecture=config.architecture)
    model = training_model(classifier, config.seed, face_size=input_size)
    model.compile(optimizer=make_optimizer(config), loss=training_loss(config), jit_compile=False)
    warm = 2 * batch_size
    model.fit(faces[:warm], targets[:warm], batch_size=batch_size, verbose=0)  # build and warm up
    started = time.perf_counter()
    model.fit(faces[warm:], targets[warm:], batch_size=batch_size, verbose=0)
    seconds = time.perf_counter() - started
    keras.mixed_precision.set_global_policy("float32")
    return steps * batch_size / seconds


def add_parser(commands, add_data_options) -> None:
    parser = commands.add_parser("benchmark", help="LapSRN and training throughput on this machine",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    parser.add_argument("--faces", type=int, default=2000, help="real faces to upscale")
    parser.add_argument("--steps", type=int, default=30, help="training steps to time per input size")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--precision", default="mixed_bfloat16")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.data:
        raise ValueError("no dataset: pass --data PATH/fer2013.csv(.gz) or set $FER2013_CSV")
    faces = pick_split(load_dataset(args.data), "Training", args.data).images[: args.faces]
    figures = {"machine": f"{platform.machine()}, {os.cpu_count()} CPU cores", "precision": args.precision,
               "lapsrn_x2_faces_per_second": round(lapsrn_faces_per_second(faces, args.lapsrn), 1)}
    for size in (96, 48):
        figures[f"train_faces_per_second_{size}px"] = round(
            training_faces_per_second(size, args.steps, args.batch_size, args.precision), 1)
    print(json.dumps(figures, indent=2))
    return 0
