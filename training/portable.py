"""The trainer: Keras 3 on any backend (JAX, PyTorch or TensorFlow), on this CPU or on GPUs.

It trains the networks of ``training.model`` on FER2013's 48×48 faces and moves the work onto the accelerator:

- the faces travel as 48×48 uint8 (``pack``: Training in ~53 MB) with LapSRN ×2's weights beside them, and are
  upscaled once on arrival by ``training.lapsrn`` (the same network in Keras ops, within one grey level of
  OpenCV's output); ``--upscale bilinear`` upscales inside the training graph instead, as the page does with
  camera crops, and ``--upscale mixed`` picks one of the two per face at every step;
- augmentation runs on the accelerator inside the training step: one random affine map per face (mirror,
  rotation, shift, zoom), then Keras's brightness, contrast, noise and random-erasing layers; then the photometric
  steps that metadata.json declares (``--photometric``), as the page does to every crop; ``--camera P`` puts a
  share P of the faces through a simulated camera first (``training.camera``: low light, blur, sensor noise, JPEG,
  small faces), and ``--occlusion P`` draws a hand, glasses or hair over a share P before that
  (``training.occlusion``);
- targets: the FER2013 labels, mixed with the FER+ vote distributions by ``--ferplus-weight`` where the data has
  votes; AdamW or SGD with Nesterov momentum, a cosine schedule after a linear warm-up, label smoothing and the
  pipeline's class weights. No model selection: the last epoch is the result, so PublicTest stays untouched;
- with ``--teacher`` (repeatable), distillation: the teachers label the very augmented faces the network sees
  ("consistent" teaching, Beyer et al. 2022);
- with ``--mixup ALPHA``, mixup: faces blended in pairs, their labels alike, and the teachers label the blended
  faces; ``--cutmix ALPHA`` pastes a box of one face into the other instead (CutMix), labels mixed by area;
- with ``--init-from``, a trained network to start from; a wider one of the same architecture is pruned to
  ``--width`` first (``training.prune``);
- with ``--devices N`` (0: every visible device), data parallelism through ``keras.distribution`` on the JAX
  backend: each step's batch of N × ``--batch-size`` faces is split over N accelerators.

With ``--time-budget`` the run fits its epoch count to the time it has (measured on the first epochs) and
records the count; rerunning with ``--epochs`` set to it reproduces the schedule on any machine, this CPU too.
The same command resumes an interrupted run after its last finished epoch (``checkpoint.npz``); on the same
backend it ends with the weights an uninterrupted run has, and a run stopped on another backend goes on here too.

    python -m training pack --data fer2013_raw.csv.gz --lapsrn LapSRN_x2.pb --out faces.npz.xz
    KERAS_BACKEND=jax python -m training train --data faces.npz.xz --out DIR --epochs 120 [--teacher T.keras]
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import platform
import time
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import keras
import numpy as np
from keras import layers, ops

from training import lapsrn
from training.camera import CameraDegradation
from training.data import (
    DATA_ENV,
    PACKED_SUFFIX,
    DataError,
    FaceSet,
    class_weights,
    load_dataset,
    pick_split,
    read_packed,
    save_packed,
)
from training.distill import averaged_probabilities, distillation_targets, load_teachers
from training.ferplus import vote_distributions
from training.files import atomic_write, atomic_write_json, remove_partial_writes, sha256_arrays, sha256_file
from training.labels import EMOTIONS, FER_SIZE
from training.occlusion import Occlusion
from training.options import check_ranges
from training.preprocessing import photometric_steps
from training.superres import LAPSRN_ENV, lapsrn_path

log = logging.getLogger("training.portable")

OPTIMIZERS = ("adamw", "sgd")  # SGD with Nesterov momentum 0.9
UPSCALING = {"lapsrn": "LapSRN ×2 (training.lapsrn) once, before training",
             "bilinear": "bilinear ×2 in the training graph",
             "mixed": "LapSRN ×2 (training.lapsrn) once, before training, or bilinear ×2 in the training graph: "
                      "one of the two per face at every step, each with probability 1/2"}


@dataclass
class PortableConfig:
    data: str
    out: str
    train_split: str = "Training"
    architecture: str = "vgg96"
    width: int = 20
    dropout: float = 0.4
    optimizer: str = "adamw"  # one of OPTIMIZERS
    learning_rate: float = 2e-3
    weight_decay: float = 1e-2  # decoupled, as AdamW's; SGD takes it the same way
    warmup_epochs: float = 1.0
    epochs: int = 60
    time_budget: float = 0.0  # seconds; > 0: fewer epochs when the measured pace needs it
    batch_size: int = 128
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5
    seed: int = 1
    precision: str = "mixed_bfloat16"
    upscale: str = "lapsrn"  # one of UPSCALING
    lapsrn: str | None = None  # LapSRN_x2.pb for a CSV (default $LAPSRN_MODEL); a packed file carries the weights
    # Teachers label every augmented batch the network sees (consistent distillation, Beyer et al. 2022).
    teachers: list[str] = field(default_factory=list)
    distill_weight: float = 0.5
    distill_temperature: float = 2.0
    teacher_flip_average: bool = False  # each teacher averages its output with that of the mirrored face
    # > 0: mixup, each face blended with another by a weight drawn from Beta(mixup, mixup); 0: off
    mixup: float = 0.0
    # > 0: CutMix, a box of another face pasted over 1 − w of each face, w drawn as mixup's; 0: off
    cutmix: float = 0.0
    # Start from this model's weights; a wider one of the same architecture is pruned to ``width`` first.
    init_from: str | None = None
    # The targets: (1 − w) × the FER2013 label + w × the FER+ vote distribution (training.ferplus), where the data
    # has votes; faces no annotator gave one of our classes keep their label.
    ferplus_weight: float = 0.0
    # Steps done to every face after augmentation, by name (training.preprocessing.PHOTOMETRIC); exported into
    # metadata.json, so that the page does the same to every crop.
    photometric: str = "none"
    # The share of faces put through a simulated camera (training.camera) after augmentation, before the
    # photometric steps; 0: none.
    camera: float = 0.0
    # The share of faces with a hand, glasses or hair drawn over them (training.occlusion) after augmentation,
    # before the simulated camera; 0: none.
    occlusion: float = 0.0
    # Accelerators each step's batch is split over (keras.distribution.DataParallel, JAX backend): 0 means every
    # visible one. ``batch_size`` is per device, so N devices train with N × the batch.
    devices: int = 1

    def __post_init__(self) -> None:
        check_ranges(self)
        for name, allowed in (("optimizer", OPTIMIZERS), ("upscale", UPSCALING)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} = {getattr(self, name)!r}: expected one of {', '.join(allowed)}")
        if self.mixup and self.cutmix:
            raise ValueError(f"mixup = {self.mixup!r} and cutmix = {self.cutmix!r}: expected at most one of the two")
        photometric_steps(self.photometric)

    def recipe(self) -> dict:
        """What determines the trained weights: a finished run in the same folder must match it to be reused."""
        fields = asdict(self)
        # The device count is recorded by ``train`` once resolved (0 means all there are), and only when above 1.
        for key in ("data", "out", "time_budget", "lapsrn", "teachers", "init_from", "devices"):
            fields.pop(key)
        if self.init_from:  # runs recorded before pruning existed, which all started from noise, still match
            fields["init_from_sha256"] = sha256_file(self.init_from)
        if self.teachers:
            fields["teachers_sha256"] = [sha256_file(teacher) for teacher in self.teachers]
        else:  # runs recorded before distillation existed still match
            fields.pop("distill_weight")
            fields.pop("distill_temperature")
        for recent in ("teacher_flip_average", "mixup", "cutmix", "ferplus_weight", "camera", "occlusion"):
            if not fields[recent]:  # left out when off, so that runs recorded before the option existed still match
                fields.pop(recent)
        if self.photometric == "none":
            fields.pop("photometric")
        if self.upscale == "bilinear":  # as all runs recorded before LapSRN ran here
            fields.pop("upscale")
        return fields


class RandomAffine(keras.layers.Layer):
    """Mirror, rotation, zoom and shift drawn per face and applied as one bilinear resampling.

    Keras's RandomRotation, RandomZoom and RandomTranslation mark themselves as not jittable, which makes the JAX
    backend run the whole training step op by op: on an H200 it trained no faster than this 2-core CPU. One
    affine map also resamples each face once instead of three times.
    """

    def __init__(self, degrees: float = 10.0, zoom: float = 0.1, shift: float = 0.08, seed: int | None = None,
                 **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.degrees, self.zoom, self.shift, self.seed = degrees, zoom, shift, seed
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, faces, training=False):
        if not training:
            return faces
        count, size = ops.shape(faces)[0], faces.shape[1]

        def uniform(low, high):
            return keras.random.uniform((count,), low, high, seed=self.generator)

        angle = uniform(-self.degrees, self.degrees) * (math.pi / 180)
        scale = uniform(1 - self.zoom, 1 + self.zoom)
        mirror = ops.where(uniform(0.0, 1.0) < 0.5, -1.0, 1.0)
        shift_x, shift_y = uniform(-self.shift, self.shift) * size, uniform(-self.shift, self.shift) * size
        # Output pixel p reads input pixel M·(p − c) + c + shift, with M = rotation · mirror / scale.
        cos, sin, centre = ops.cos(angle) / scale, ops.sin(angle) / scale, (size - 1) / 2
        a0, a1, b0, b1 = cos * mirror, -sin, sin * mirror, cos
        zero = ops.zeros_like(angle)
        transform = ops.stack([a0, a1, centre + shift_x - (a0 + a1) * centre,
                               b0, b1, centre + shift_y - (b0 + b1) * centre, zero, zero], axis=1)
        return ops.image.affine_transform(faces, transform, "bilinear", fill_mode="reflect")

    def compute_output_shape(self, input_shape):
        return input_shape


def augmenter(seed: int) -> keras.Sequential:
    """Training-time distortions of a batch of [0, 1] faces, each drawn per face, all jittable."""
    return keras.Sequential([
        RandomAffine(degrees=10.0, zoom=0.1, shift=0.08, seed=seed),
        layers.RandomBrightness(0.15, value_range=(0.0, 1.0), seed=seed + 1, dtype="float32"),
        layers.RandomContrast(0.3, value_range=(0.0, 1.0), seed=seed + 2, dtype="float32"),
        layers.GaussianNoise(0.02, seed=seed + 3, dtype="float32"),
        layers.RandomErasing(factor=0.5, scale=(0.02, 0.2), fill_value=0.5, value_range=(0.0, 1.0), seed=seed + 4,
                             dtype="float32"),
    ], name="augment")


class PickUpscaling(keras.layers.Layer):
    """Per face and step, its LapSRN ×2 version or its bilinear ×2 one, each with probability 1/2: the network
    sees the detail LapSRN restores and the blur of the camera crops the page resizes bilinearly, so that the
    accuracy on the one does not come at the other's expense."""

    def __init__(self, seed: int | None = None, **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        lapsrn_faces, bilinear_faces = inputs
        if not training:
            return lapsrn_faces
        bilinear = keras.random.uniform((ops.shape(lapsrn_faces)[0], 1, 1, 1), seed=self.generator) < 0.5
        return ops.where(bilinear, bilinear_faces, lapsrn_faces)

    def compute_output_shape(self, input_shapes):
        return input_shapes[0]


class Mixup(keras.layers.Layer):
    """Each face blended with the next one in the (shuffled) batch, by a weight drawn per face from Beta(alpha,
    alpha) and taken as the larger of w and 1 − w, so that the face's own label, and its class weight, dominate.
    Returns the blended faces and the weights, which the loss applies to the labels; teachers label the blended
    faces themselves, which makes distillation "function matching" (Beyer et al. 2022).

    The weights are picked at random from a bank of Beta draws that NumPy makes once, because JAX samples Beta by
    rejection, in loops of unknown length: with JAX's sampler, mixup students beside others on an H200 took 5–25 s an
    epoch against their neighbours' 1.1–1.7 s; with the bank they kept their neighbours' pace."""

    BANK_SIZE = 4096

    def __init__(self, alpha: float, seed: int | None = None, **kwargs):
        super().__init__(**{"dtype": "float32", **kwargs})
        self.alpha = alpha
        self.generator = keras.random.SeedGenerator(seed)
        drawn = np.random.default_rng(seed).beta(alpha, alpha, self.BANK_SIZE)
        self.bank = np.maximum(drawn, 1 - drawn).astype(np.float32)

    def call(self, faces, training=False):
        count = ops.shape(faces)[0]
        if not training:
            return faces, ops.ones((count, 1))
        weight = self.draw_weights(count)
        per_pixel = ops.reshape(weight, (-1, 1, 1, 1))
        return per_pixel * faces + (1 - per_pixel) * ops.roll(faces, 1, axis=0), weight

    def draw_weights(self, count):
        picks = keras.random.randint((count, 1), 0, self.BANK_SIZE, seed=self.generator)
        return ops.take(ops.convert_to_tensor(self.bank), picks)

    def compute_output_shape(self, input_shape):
        return input_shape, (input_shape[0], 1)


class Cutmix(Mixup):
    """CutMix (Yun et al. 2019): each face with a square box of the next one in the (shuffled) batch pasted over
    it. The box covers about 1 − w of the face, w drawn as Mixup's (at least half, so the face's own label
    dominates), at a place drawn uniformly among those where it fits whole. Returns the faces and the share of
    each face's pixels that are still its own, which the loss applies to the labels as Mixup's weight; teachers
    label the pasted faces themselves."""

    def call(self, faces, training=False):
        count = ops.shape(faces)[0]
        if not training:
            return faces, ops.ones((count, 1))
        size = faces.shape[1]
        side = ops.sqrt(1 - self.draw_weights(count)) * size  # (count, 1) pixels
        corner = keras.random.uniform((count, 2), seed=self.generator) * (size - side)  # top, left
        pixels = ops.arange(size, dtype="float32")[None, :]
        rows = ops.logical_and(pixels >= corner[:, :1], pixels < corner[:, :1] + side)  # (count, size)
        columns = ops.logical_and(pixels >= corner[:, 1:], pixels < corner[:, 1:] + side)
        box = ops.cast(ops.logical_and(rows[:, :, None], columns[:, None, :]), "float32")[..., None]
        pasted = box * ops.roll(faces, 1, axis=0) + (1 - box) * faces
        # The share counted in whole pixels, so the labels match what the network and the teachers see.
        return pasted, 1 - ops.mean(box, axis=(1, 2))


class Teachers(keras.layers.Layer):
    """The frozen teachers' mean probabilities for the very batch the student sees."""

    def __init__(self, teachers: list[keras.Model], **kwargs):
        super().__init__(**{"dtype": "float32", "trainable": False, **kwargs})
        self.teachers = teachers

    def call(self, faces):
        return averaged_probabilities(self.teachers, faces)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], len(EMOTIONS))


class Photometric(keras.layers.Layer):
    """The photometric steps of emotion_detector.photometric, in Keras ops, on a batch of [0, 1] faces: the page
    does the same to every crop (static/js/photometric.js), so the network trains on what it will be given."""

    def __init__(self, steps: list[dict], **kwargs):
        super().__init__(**{"dtype": "float32", "trainable": False, **kwargs})
        self.steps = steps

    def call(self, faces):
        from emotion_detector.photometric import WHOLE_LEVEL_STEPS

        levels, whole = faces * 255, False
        for step in self.steps:
            if step["op"] in WHOLE_LEVEL_STEPS and not whole:
                levels, whole = ops.clip(round_levels(levels), 0, 255), True
            if step["op"] == "contrast":
                levels = ops.minimum(ops.round(levels * step["gain"]), 255)
            elif step["op"] == "equalize_histogram":
                levels = equalize_histogram(levels)
            elif step["op"] == "clahe":
                levels, whole = clahe(levels, step["tiles"], step["clip"]), False
            else:
                levels, whole = standardize(levels, step["mean"], step["std"]), False
        return levels / 255

    def compute_output_shape(self, input_shape):
        return input_shape


def round_levels(grey):
    """emotion_detector.photometric.round_levels in Keras ops: the nearest level, a half (or within TIE_TOLERANCE
    of one) to the even neighbour."""
    from emotion_detector.photometric import TIE_TOLERANCE

    floor = ops.floor(grey)
    tie = ops.abs(grey - floor - 0.5) < TIE_TOLERANCE
    return ops.where(tie, floor + ops.mod(floor, 2), ops.round(grey))


def equalize_histogram(levels):
    """OpenCV's equalizeHist on each face of a (N, H, W, 1) batch of whole grey levels, as
    emotion_detector.photometric.equalize_histogram does in NumPy."""
    face_shape = tuple(levels.shape[1:])
    pixels = math.prod(face_shape)
    flat = ops.cast(ops.reshape(levels, (-1, pixels)), "int32")
    counts = ops.cast(ops.bincount(flat, minlength=256), "float32")  # (N, 256): rank 2 counts per row
    cdf = ops.cumsum(counts, axis=1)
    lowest = ops.take_along_axis(cdf, ops.min(flat, axis=1, keepdims=True), axis=1)  # (N, 1)
    spread = pixels - lowest
    table = ops.clip(ops.round(255 * (cdf - lowest) / ops.maximum(spread, 1)), 0, 255)
    table = ops.where(spread > 0, table, ops.arange(256, dtype="float32")[None, :])
    return ops.reshape(ops.take_along_axis(table, flat, axis=1), (-1, *face_shape))


def clahe(levels, tiles: int, clip: float):
    """emotion_detector.photometric.clahe on a (N, H, W, 1) batch of whole grey levels."""
    from emotion_detector.photometric import clahe_geometry

    height, width = levels.shape[1], levels.shape[2]
    tile_h, tile_w = height // tiles, width // tiles
    rows, columns = clahe_geometry(height, tiles), clahe_geometry(width, tiles)
    flat = ops.cast(ops.reshape(levels, (-1, height, width)), "int32")
    blocks = ops.reshape(ops.transpose(ops.reshape(flat, (-1, tiles, tile_h, tiles, tile_w)), (0, 1, 3, 2, 4)),
                         (-1, tile_h * tile_w))
    counts = ops.cast(ops.bincount(blocks, minlength=256), "float32")  # (N·tiles², 256)
    limit = clip * tile_h * tile_w / 256
    excess = ops.sum(ops.maximum(counts - limit, 0), axis=1, keepdims=True)
    mappings = ops.minimum(255 * ops.cumsum(ops.minimum(counts, limit) + excess / 256, axis=1) / (tile_h * tile_w), 255)
    mappings = ops.reshape(mappings, (-1, tiles * tiles * 256))
    pixels = ops.reshape(flat, (-1, height * width))

    def picked(row_tiles, column_tiles):
        tile_offsets = ((row_tiles[:, None] * tiles + column_tiles[None, :]) * 256).reshape(1, -1)
        return ops.take_along_axis(mappings, pixels + ops.convert_to_tensor(tile_offsets, "int32"), axis=1)

    across = np.broadcast_to(columns[2][None, :], (height, width)).reshape(1, -1)
    down = np.broadcast_to(rows[2][:, None], (height, width)).reshape(1, -1)
    top_left, top_right, bottom_left, bottom_right = (picked(row, column) for row in rows[:2] for column in columns[:2])
    top = top_left + across * (top_right - top_left)
    bottom = bottom_left + across * (bottom_right - bottom_left)
    out = top + down * (bottom - top)
    return ops.reshape(out, (-1, height, width, 1))


def standardize(levels, mean: float, std: float):
    """emotion_detector.photometric.standardize on a (N, H, W, 1) batch."""
    face_mean = ops.mean(levels, axis=(1, 2, 3), keepdims=True)
    face_std = ops.maximum(ops.std(levels, axis=(1, 2, 3), keepdims=True), 1.0)
    return mean + std * (levels - face_mean) / face_std


def training_model(classifier: keras.Model, seed: int, teachers: list[keras.Model] = (),
                   face_size: int = FER_SIZE, mixup: float = 0.0, mixed_upscaling: bool = False,
                   cutmix: float = 0.0, photometric: list[dict] = (), camera: float = 0.0,
                   occlusion: float = 0.0) -> keras.Model:
    """uint8 faces → [0, 1] → bilinear resizing to the classifier's input (when the faces are smaller) →
    augmentation → optionally occluders → optionally the simulated camera → the photometric steps → optionally
    mixup or CutMix → the classifier (96×96 input, as exported).

    With ``mixed_upscaling`` it takes two inputs, the upscaled faces and the 48×48 originals, and each face goes on
    as one of the two, the originals resized bilinearly (``PickUpscaling``).

    The output is the classifier's probabilities, then with teachers the teachers' on the same faces, then with
    mixup or CutMix each face's mixing weight (``training_loss`` splits them)."""
    size = classifier.input_shape[1]

    def to_input_size(faces):
        x = layers.Rescaling(1 / 255, dtype="float32")(faces)
        return layers.Resizing(size, size, "bilinear", dtype="float32")(x) if faces.shape[1] != size else x

    faces = keras.Input((face_size, face_size, 1), name="faces")
    x = to_input_size(faces)
    if mixed_upscaling:
        originals = keras.Input((FER_SIZE, FER_SIZE, 1), name="original_faces")
        x = PickUpscaling(seed=seed + 6)([x, to_input_size(originals)])
        faces = [faces, originals]
    x = augmenter(seed)(x)
    if occlusion:
        x = Occlusion(occlusion, seed=seed + 8)(x)
    if camera:
        x = CameraDegradation(camera, seed=seed + 7)(x)
    if photometric:
        x = Photometric(list(photometric))(x)
    mixing = Mixup(mixup, seed=seed + 5) if mixup else Cutmix(cutmix, seed=seed + 5) if cutmix else None
    if mixing:
        x, mixing_weight = mixing(x)
    outputs = [classifier(x)]
    if teachers:
        outputs.append(Teachers(list(teachers))(x))
    if mixing:
        outputs.append(mixing_weight)
    joined = layers.Concatenate(dtype="float32")(outputs) if len(outputs) > 1 else outputs[0]
    return keras.Model(faces, joined, name="portable_training")


def training_loss(config: PortableConfig):
    """Cross-entropy of the student's probabilities (label smoothing as configured) against its targets: the
    labels, blended as the faces were when mixup or CutMix is on, then mixed with the softened teachers' when there are
    teachers. Reads ``training_model``'s outputs."""
    classes = len(EMOTIONS)

    def loss(labels, outputs):
        student = outputs[:, :classes]
        if config.mixup or config.cutmix:
            weight = outputs[:, -1:]
            labels = weight * labels + (1 - weight) * ops.roll(labels, 1, axis=0)
        if config.teachers:
            labels = distillation_targets(labels, outputs[:, classes: 2 * classes], config.distill_weight,
                                          config.distill_temperature)
        return keras.losses.categorical_crossentropy(labels, student, label_smoothing=config.label_smoothing)

    return loss


def student_accuracy(labels, outputs):
    return keras.metrics.categorical_accuracy(labels, outputs[:, : len(EMOTIONS)])


PACE_MARGIN = 1.25
# Epochs of one start of the command after which the epoch count is planned: the first two include compiling the
# step, so the pace of epochs 3–4 gives a first plan; epochs 7–12 a second, once students sharing a GPU have all
# finished compiling (on an H100 a student's epochs 3–4 took 1.7–2.0 s beside another one's compilation, and 1.2 s
# afterwards).
PLAN_AFTER = (4, 12)


class CosineWithBudget:
    """Linear warm-up to the peak, then cosine to zero over ``epochs``; with a time budget the epoch count is
    planned from the measured pace, twice after each start of the command (``PLAN_AFTER``: ``epoch_seconds`` holds the
    epochs since this start; ``started`` counts those of earlier starts too), never beyond the configured count."""

    def __init__(self, config: PortableConfig):
        self.config = config
        self.epochs = config.epochs
        self.started = time.monotonic()
        self.epoch_seconds: list[float] = []

    def learning_rate(self, epoch: int) -> float:
        peak, warmup = self.config.learning_rate, self.config.warmup_epochs
        if epoch < warmup:
            return peak * (epoch + 1) / (math.ceil(warmup) + 1)
        progress = (epoch - warmup) / max(self.epochs - warmup, 1)
        return 0.5 * peak * (1 + math.cos(math.pi * min(progress, 1.0)))

    def fit_to_budget(self, epoch: int) -> None:
        # The slowest of the latest epochs plus a margin gives the pace (on an H100 a lone student's epochs drifted
        # from 0.9 s to 1.5 s, and a run planned on its fastest overran its budget). Replanning at epoch 12 moves
        # the cosine by under 1% of the peak rate.
        measured = len(self.epoch_seconds)
        if not self.config.time_budget or measured not in PLAN_AFTER:
            return
        pace = max(self.epoch_seconds[measured // 2:]) * PACE_MARGIN
        remaining = self.config.time_budget - (time.monotonic() - self.started)
        affordable = min(self.config.epochs, max(epoch + 1, epoch + int(remaining // pace)))
        if affordable != self.epochs:
            log.info("time budget %.0f s at %.1f s/epoch: %d epochs instead of %d",
                     self.config.time_budget, pace, affordable, self.epochs)
            self.epochs = affordable


class EpochCallback(keras.callbacks.Callback):
    """Sets each epoch's learning rate, logs it, and after every epoch saves (atomically) the classifier, the
    history and the checkpoint a resumed run starts from, so that a run cut short loses one epoch at most."""

    def __init__(self, schedule: CosineWithBudget, classifier: keras.Model, out: Path, history: list[dict],
                 carried: dict):
        super().__init__()
        self.schedule, self.classifier, self.out, self.history = schedule, classifier, out, history
        self.carried = carried  # the recipe and data digest a resumed run must match, and the stretches so far
        # An epoch lasts from the end of the one before: its faces' gathering and the last epoch's saving count too.
        self.began = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self.schedule.fit_to_budget(epoch)
        self.model.optimizer.learning_rate = self.schedule.learning_rate(epoch)

    def on_epoch_end(self, epoch, logs=None):
        ended = time.monotonic()
        seconds, self.began = ended - self.began, ended
        self.schedule.epoch_seconds.append(seconds)
        entry = {"epoch": epoch + 1, "loss": float(logs["loss"]), "accuracy": float(logs["accuracy"]),
                 "learning_rate": self.schedule.learning_rate(epoch), "seconds": round(seconds, 2)}
        self.history.append(entry)
        log.info("epoch %d/%d  loss %.4f  acc %.4f  lr %.2e  %.1fs", epoch + 1, self.schedule.epochs,
                 entry["loss"], entry["accuracy"], entry["learning_rate"], seconds)
        atomic_write(self.out / MODEL_FILE, lambda temporary: self.classifier.save(temporary))
        atomic_write_json(self.out / "history.json", self.history)
        save_checkpoint(self.out / CHECKPOINT_FILE, self.model,
                        {**self.carried, "planned_epochs": self.schedule.epochs, "history": self.history})


MODEL_FILE = "model.keras"
# Everything an interrupted run needs to go on as if it had not stopped: the weights, the optimizer's moments, the
# random generators' states and the schedule. Removed once the run has finished.
CHECKPOINT_FILE = "checkpoint.npz"


def checkpointed_variables(model: keras.Model) -> dict[str, list]:
    """The training model's state, seed generators included, less the frozen teachers (read from their files);
    and the optimizer's."""
    frozen = {id(variable) for layer in model.layers if isinstance(layer, Teachers) for variable in layer.variables}
    return {"model": [variable for variable in model.variables if id(variable) not in frozen],
            "optimizer": model.optimizer.variables}


def save_checkpoint(path: Path, model: keras.Model, state: dict) -> None:
    groups = checkpointed_variables(model)
    arrays = {f"{group}/{index}": ops.convert_to_numpy(variable)
              for group, variables in groups.items() for index, variable in enumerate(variables)}
    names = {group: [variable.path for variable in variables] for group, variables in groups.items()}

    def write(temporary: Path) -> None:
        with open(temporary, "wb") as handle:
            np.savez(handle, state=np.array(json.dumps({**state, "variables": names})), **arrays)

    atomic_write(path, write)


def read_checkpoint(path: Path, recipe: dict) -> tuple[dict, dict[str, np.ndarray]]:
    """``save_checkpoint``'s state (recipe, data digest, stretches, planned epochs, history) and arrays. A checkpoint
    that does not fit this run is refused by name, since it may hold hours of training: one of another recipe here,
    before any data is read; one of other faces by ``train`` once it has read them."""
    try:
        with np.load(path) as saved:
            arrays = {name: saved[name] for name in saved.files}
        state = json.loads(str(arrays.pop("state")))
        saved_recipe = state["recipe"]
    except (OSError, EOFError, zipfile.BadZipFile, ValueError, KeyError) as problem:
        raise ValueError(f"{path}: unreadable checkpoint ({problem!r}); move it away to start this run afresh") \
            from None
    if saved_recipe != json.loads(json.dumps(recipe)):
        changed = sorted(key for key in saved_recipe.keys() | recipe.keys()
                         if saved_recipe.get(key) != recipe.get(key))
        raise ValueError(f"{path}: an unfinished run of another recipe (differs in {', '.join(changed)}); "
                         "use another --out, or move the checkpoint away to start afresh")
    return state, arrays


def restore_checkpoint(path: Path, model: keras.Model, state: dict, arrays: dict[str, np.ndarray]) -> None:
    """Load ``read_checkpoint``'s arrays into a compiled training model built as the saved one was: variable by
    variable in order, each of the saved shape (a variable's name, numbered per process, is only compared)."""
    model.optimizer.build(model.trainable_variables)
    for group, variables in checkpointed_variables(model).items():
        saved_names = state["variables"][group]
        if len(saved_names) != len(variables):
            raise ValueError(f"{path}: {len(saved_names)} {group} variables saved, {len(variables)} in this network; "
                             "the checkpoint is not of it")
        for index, variable in enumerate(variables):
            value = arrays[f"{group}/{index}"]
            if value.shape != tuple(variable.shape):
                raise ValueError(f"{path}: {group} variable {variable.path} expected shape {tuple(variable.shape)}, "
                                 f"found {value.shape} ({saved_names[index]}); the checkpoint is not of this network")
            if saved_names[index] != variable.path:
                log.warning("%s: restoring %s into %s", path, saved_names[index], variable.path)
            variable.assign(value)


def epoch_order(seed: int, epoch: int, count: int) -> np.ndarray:
    """The order of the faces in one epoch: drawn from (seed, epoch) alone, so that a resumed run sees the batches
    an uninterrupted one would have."""
    return np.random.default_rng([seed, epoch]).permutation(count)


def train(config: PortableConfig) -> Path:
    """Train the run in ``config.out`` (or find it finished there); the trained classifier's path.

    An interrupted run resumes after its last finished epoch (``CHECKPOINT_FILE``) and, on the same backend, ends
    with the weights an uninterrupted one would have: on a 2-core CPU a stage of the shipped recipe may take several
    starts."""
    from training.model import build_model
    from training.prune import start_from

    devices = data_parallel_devices(config.devices)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    recipe = config.recipe()
    if len(devices) > 1:  # N devices train with N × the batch: other weights than one device gives
        recipe["devices"] = len(devices)
    finished = _read_json(out / "run.json")
    checkpoint = out / CHECKPOINT_FILE
    remove_partial_writes(out)
    if finished and finished.get("recipe") == recipe and (out / MODEL_FILE).exists():
        checkpoint.unlink(missing_ok=True)  # left if the run stopped between writing run.json and removing it
        log.info("%s: finished earlier (%d epochs)", out, finished["config"]["epochs"])
        return out / MODEL_FILE
    resumed, saved_arrays = read_checkpoint(checkpoint, recipe) if checkpoint.exists() else (None, {})
    # A packed file is read (and decompressed) once: its faces and the LapSRN weights beside them.
    splits, extra = read_packed(config.data) if config.data.endswith(PACKED_SUFFIX) else (load_dataset(config.data), {})
    faces = pick_split(splits, config.train_split, config.data)
    data_sha256 = sha256_arrays(faces.images, faces.labels)
    if resumed and resumed["data_sha256"] != data_sha256:
        raise ValueError(f"{checkpoint}: an unfinished run on other faces than {config.data}'s {config.train_split}; "
                         "use another --out, or move the checkpoint away to start afresh")
    # Bilinear upscaling happens inside the training graph; LapSRN once, here.
    network_input = (faces.images if config.upscale == "bilinear"
                     else lapsrn.upscale(faces.images, lapsrn_weights(config, extra)))
    mixed_upscaling = config.upscale == "mixed"
    inputs = network_input[..., None]
    if mixed_upscaling:  # the 48×48 originals too, for the bilinear half
        inputs = [inputs, faces.images[..., None]]
    targets = training_targets(faces, config.ferplus_weight)
    target_classes = targets.argmax(axis=1)
    weights = class_weights(target_classes, config.class_weight_power)[target_classes]
    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    if keras.backend.backend() == "jax":  # variables replicated and each batch split over the devices
        keras.distribution.set_distribution(keras.distribution.DataParallel(devices=devices)
                                            if len(devices) > 1 else None)
    history: list[dict] = []
    classifier = build_model(96, len(EMOTIONS), width=config.width, dropout=config.dropout, weight_decay=0.0,
                             architecture=config.architecture)
    if config.init_from:
        start_from(classifier, config.init_from)
    teachers = load_teachers(config.teachers, classifier.input_shape[1], config.teacher_flip_average)
    model = training_model(classifier, config.seed, teachers, face_size=network_input.shape[1], mixup=config.mixup,
                           mixed_upscaling=mixed_upscaling, cutmix=config.cutmix,
                           photometric=photometric_steps(config.photometric), camera=config.camera,
                           occlusion=config.occlusion)
    model.compile(optimizer=make_optimizer(config), loss=training_loss(config),
                  metrics=[keras.metrics.MeanMetricWrapper(student_accuracy, name="accuracy")])
    # XLA compiles the whole step well for a GPU; on a CPU its convolution gradients run several times slower
    # than TensorFlow's op-by-op execution. JAX always compiles: op by op it compiles each operation on its own, and
    # on this 2-core CPU a tiny network's first epoch had not ended after 6 minutes.
    device = accelerator_name()
    model.jit_compile = device != "cpu" or keras.backend.backend() == "jax"
    log.info("%d faces, %s backend on %s × %d, jit %s", len(faces), keras.backend.backend(), device, len(devices),
             model.jit_compile)
    schedule = CosineWithBudget(config)
    stretches = []
    if resumed:
        restore_checkpoint(checkpoint, model, resumed, saved_arrays)
        history.extend(resumed["history"])
        stretches = resumed["stretches"]
        schedule.epochs = resumed["planned_epochs"]
        schedule.started -= sum(entry["seconds"] for entry in history)  # a time budget counts earlier starts' epochs
        log.info("resuming %s after epoch %d of %d", out, len(history), schedule.epochs)
    stretches.append({"first_epoch": len(history) + 1, "backend": keras.backend.backend(), "device": device,
                     "keras": keras.__version__})
    callback = EpochCallback(schedule, classifier, out, history,
                             {"recipe": recipe, "data_sha256": data_sha256, "stretches": stretches})
    # One fit per epoch over the faces in epoch_order (gathered into buffers made once), rather than fit's own
    # shuffling, whose state no checkpoint holds.
    parts = [*inputs, targets, weights] if mixed_upscaling else [inputs, targets, weights]
    gathered = [np.empty_like(part) for part in parts]
    (out / "run.json").unlink(missing_ok=True)  # an earlier run's, which must not vouch for this run's model.keras
    epoch = len(history)
    while epoch < schedule.epochs:  # which fit_to_budget may lower at the start of an epoch
        order = epoch_order(config.seed, epoch, len(faces))
        for part, buffer in zip(parts, gathered, strict=True):
            np.take(part, order, axis=0, out=buffer)
        # Every batch, the last one too, must split evenly over the devices: up to N − 1 faces, drawn afresh each
        # epoch, sit the epoch out.
        *epoch_inputs, epoch_targets, epoch_weights = (buffer[: len(order) - len(order) % len(devices)]
                                                       for buffer in gathered)
        model.fit(epoch_inputs if mixed_upscaling else epoch_inputs[0], epoch_targets, sample_weight=epoch_weights,
                  batch_size=config.batch_size * len(devices), initial_epoch=epoch, epochs=epoch + 1, shuffle=False,
                  verbose=0, callbacks=[callback])
        epoch += 1
    record = {
        "recipe": recipe,
        "config": {**asdict(config), "epochs": len(history)},
        "train_faces": len(faces),
        "data_sha256": data_sha256,
        "upscale": UPSCALING[config.upscale],
        "face_size": network_input.shape[1],
        "seconds": round(sum(entry["seconds"] for entry in history), 1),  # its epochs', over every start
        "history": history,
        "keras": keras.__version__,
        "backend": keras.backend.backend(),
        "device": device,
        "devices": len(devices),
        "python": platform.python_version(),
        "stretches": stretches,  # where each stretch of epochs trained, when the run was resumed
    }
    atomic_write_json(out / "run.json", record)
    checkpoint.unlink(missing_ok=True)
    log.info("%s: %d epochs in %.0f s on %s", out / MODEL_FILE, len(history), record["seconds"], record["device"])
    return out / MODEL_FILE


def training_targets(faces: FaceSet, ferplus_weight: float) -> np.ndarray:
    """(N, 7) targets: the FER2013 labels, mixed with the FER+ vote distributions by ``ferplus_weight``."""
    labels = np.eye(len(EMOTIONS), dtype=np.float32)[faces.labels]
    if not ferplus_weight:
        return labels
    if faces.votes is None:
        raise DataError(f"ferplus_weight = {ferplus_weight:g} needs FER+ votes, and these faces have none (expected "
                        "fer2013_raw.csv.gz, or a file packed from it)")
    distributions = vote_distributions(faces.votes)
    voted = distributions.sum(axis=1, keepdims=True) > 0
    return np.where(voted, (1 - ferplus_weight) * labels + ferplus_weight * distributions, labels)


LAPSRN_PREFIX = "lapsrn."


def lapsrn_weights(config: PortableConfig, packed_extra: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """LapSRN ×2's weights: those packed with the faces (``packed_extra``), or for a CSV those of --lapsrn /
    $LAPSRN_MODEL."""
    if not config.data.endswith(PACKED_SUFFIX):
        return lapsrn.read_weights(lapsrn_path(config.lapsrn))
    weights = {name.removeprefix(LAPSRN_PREFIX): array for name, array in packed_extra.items()
               if name.startswith(LAPSRN_PREFIX)}
    if not weights:
        raise DataError(f"{config.data}: holds no LapSRN weights; pack it with --lapsrn PATH/LapSRN_x2.pb, or train "
                        "with --upscale bilinear")
    return weights


def make_optimizer(config: PortableConfig):
    if config.optimizer == "sgd":
        return keras.optimizers.SGD(config.learning_rate, momentum=0.9, nesterov=True,
                                    weight_decay=config.weight_decay)
    return keras.optimizers.AdamW(config.learning_rate, weight_decay=config.weight_decay)


def _read_json(path: Path) -> dict | None:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def data_parallel_devices(requested: int) -> list[str]:
    """The devices each batch is split over: ``requested`` of the visible ones (0: all of them). One device needs
    nothing of keras.distribution, so any backend trains on one; several need the JAX backend's DataParallel."""
    if requested == 1:
        return ["default"]
    backend = keras.backend.backend()
    if backend != "jax" and requested == 0:
        log.warning("devices = 0: the %s backend trains on one device; KERAS_BACKEND=jax trains on all", backend)
        return ["default"]
    if backend != "jax":
        raise ValueError(f"devices = {requested}: training on several devices needs the JAX backend "
                         f"(KERAS_BACKEND=jax), not {backend}")
    visible = keras.distribution.list_devices()
    if requested > len(visible):
        raise ValueError(f"devices = {requested}: only {len(visible)} visible ({', '.join(visible)})")
    return visible[: requested or len(visible)]


def accelerator_name() -> str:
    """The GPU's name, or "cpu" when the backend computes on the processor."""
    backend = keras.backend.backend()
    if backend == "jax":
        import jax

        return jax.devices()[0].device_kind if jax.default_backend() != "cpu" else "cpu"
    if backend == "torch":
        import torch

        return torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        return gpus[0].name if gpus else "cpu"
    return "cpu"


def add_parsers(commands) -> None:
    """``pack`` and ``train``, for ``python -m training`` and ``python -m training.portable`` alike."""
    pack = commands.add_parser("pack", help="write splits of a dataset as one .npz.xz file (faces and LapSRN "
                               "weights, to carry to another machine)")
    pack.add_argument("--data", default=os.environ.get(DATA_ENV), help=f"FER2013 CSV (default ${DATA_ENV})")
    pack.add_argument("--splits", nargs="+", default=["Training"])
    pack.add_argument("--out", required=True, help="the .npz.xz file to write")
    pack.add_argument("--lapsrn", default=os.environ.get(LAPSRN_ENV),
                      help=f"LapSRN_x2.pb whose weights travel with the faces (default ${LAPSRN_ENV}; none: omitted)")
    pack.set_defaults(run=_pack)
    run = commands.add_parser("train", help="train (or resume) a network",
                              formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    run.add_argument("--data", default=os.environ.get(DATA_ENV),
                     help=f"FER2013 CSV (.csv or .csv.gz) or a file written by `pack` (default ${DATA_ENV})")
    run.add_argument("--out", required=True, help="run folder for model.keras and run.json; an unfinished run "
                     "there is resumed")
    run.add_argument("--teacher", dest="teachers", action="append", default=[],
                     help="a trained .keras model labelling each augmented batch too (repeat for an ensemble)")
    run.add_argument("--lapsrn", help=f"LapSRN_x2.pb when --data is a CSV (default ${LAPSRN_ENV})")
    run.add_argument("--init-from", help="a trained .keras model to start from: the same network, or a wider one "
                     "of the same architecture, pruned to --width (training.prune)")
    for name, default in asdict(PortableConfig("", "")).items():
        if name in ("data", "out", "teachers", "lapsrn", "init_from"):
            continue
        if isinstance(default, bool):
            run.add_argument(f"--{name.replace('_', '-')}", action="store_true")
        else:
            run.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    run.set_defaults(run=_train)


def _pack(args: argparse.Namespace) -> int:
    if not args.data:
        raise DataError(f"no dataset: pass --data PATH/fer2013_raw.csv.gz or set ${DATA_ENV}")
    if not args.out.endswith(PACKED_SUFFIX):
        raise ValueError(f"--out {args.out}: expected a name ending in {PACKED_SUFFIX}")
    source = load_dataset(args.data)
    extra = ({LAPSRN_PREFIX + name: array for name, array in lapsrn.read_weights(args.lapsrn).items()}
             if args.lapsrn else {})
    save_packed({name: pick_split(source, name, args.data) for name in args.splits}, args.out, extra)
    log.info("%s: %s, %.1f MB", args.out, ", ".join(args.splits), Path(args.out).stat().st_size / 1e6)
    return 0


def _train(args: argparse.Namespace) -> int:
    if not args.data:
        raise DataError(f"no dataset: pass --data PATH/fer2013_raw.csv.gz (or a packed file) or set ${DATA_ENV}")
    train(PortableConfig(**{key: value for key, value in vars(args).items() if key not in ("command", "run")}))
    return 0


def main(argv: list[str] | None = None) -> int:
    """``python -m training.portable COMMAND`` is ``python -m training COMMAND``, for the commands written before
    this became the one trainer."""
    from training.__main__ import main as training_main

    return training_main(argv)


if __name__ == "__main__":
    raise SystemExit(main())
