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
    import keras

    from training.train import PreparedData, TrainConfig, build_compiled_model, make_train_dataset

    config = TrainConfig(data="", superres=input_size == 96, epochs=2, batch_size=batch_size, precision=precision)
    rng = np.random.default_rng(0)
    count = (steps + 2) * batch_size
    images = rng.integers(0, 256, (count, input_size, input_size), dtype=np.uint8)
    labels = rng.integers(0, 7, count)
    data = PreparedData(images, labels, images[:batch_size], labels[:batch_size], "benchmark")
    dataset, _ = make_train_dataset(data, config, first_epoch=0)
    model = build_compiled_model(config, steps_per_epoch=steps + 2)
    model.fit(dataset.take(2), verbose=0)  # build and warm up
    started = time.perf_counter()
    model.fit(dataset.skip(2).take(steps), verbose=0)
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
