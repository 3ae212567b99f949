"""Train the emotion CNN: FER2013 (+ auxiliary faces) → optional LapSRN ×2 → augmented batches → Keras.

A run lives in one folder: ``config.json`` (every hyperparameter and the data hashes), ``last.keras`` (model and
optimizer after the latest epoch), ``best.keras`` (best validation accuracy), ``state.json``, ``history.json`` and
``learning_curves.png``. Run the same command again and it resumes from ``last.keras``.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from training.augment import AugmentConfig, augment_batch
from training.data import DataError, FaceSet, class_weights, load_auxiliary, load_dataset, overlapping_faces, pick_split
from training.distill import averaged_probabilities, distillation_targets, load_teachers
from training.files import (
    atomic_save_npy,
    atomic_write,
    atomic_write_json,
    remove_partial_writes,
    sha256_arrays,
    sha256_file,
)
from training.labels import EMOTIONS
from training.options import check_ranges
from training.superres import lapsrn_path, upscale_cached

log = logging.getLogger(__name__)


@dataclass
class TrainConfig:
    data: str
    run_dir: str = "runs/latest"
    train_split: str = "Training"
    val_split: str = "PublicTest"
    aux: list[str] = field(default_factory=list)
    aux_classes: list[str] = field(default_factory=list)
    superres: bool = True
    lapsrn: str | None = None
    cache_dir: str = ".cache"
    limit: int = 0  # keep only the first N faces of each split (smoke tests)
    skip_bad: bool = False
    epochs: int = 30
    batch_size: int = 64
    learning_rate: float = 2e-3
    warmup_epochs: float = 1.0
    weight_decay: float = 1e-2
    label_smoothing: float = 0.1
    class_weight_power: float = 0.5  # 0: none, 1: fully balanced, 0.5: square root of balanced
    architecture: str = "vgg96"  # see training/model.py
    width: int = 20
    dropout: float = 0.4
    patience: int = 8
    seed: int = 1337
    init_from: str | None = None  # start from this checkpoint's weights (a second, fine-tuning stage)
    teachers: list[str] = field(default_factory=list)  # distil from these models' averaged probabilities too
    teacher_flip_average: bool = False  # each teacher averages its output with that of the mirrored face
    # The teachers see each augmented batch the student sees ("consistent" distillation: Beyer et al. 2022),
    # rather than each face once, unaugmented; costs a teacher pass per step.
    teacher_online: bool = False
    distill_weight: float = 0.5  # share of the target taken from the teachers, when there are any
    distill_temperature: float = 2.0  # softens the teacher's probabilities
    precision: str = "mixed_bfloat16"  # bf16 compute runs ~30% faster on CPUs with AVX512-BF16; export is float32
    augment: AugmentConfig = field(default_factory=AugmentConfig)

    def __post_init__(self) -> None:
        check_ranges(self)
        if self.warmup_epochs >= self.epochs:  # Keras's cosine decay needs steps after the warm-up
            raise ValueError(f"warmup_epochs = {self.warmup_epochs!r}: expected fewer than epochs ({self.epochs!r})")

    @property
    def input_size(self) -> int:
        return 96 if self.superres else 48

    def recipe(self) -> dict:
        """What determines the trained weights (paths and run bookkeeping left out): a resume must match it."""
        fields = asdict(self)
        for key in ("run_dir", "lapsrn", "cache_dir", "data", "aux", "init_from", "teachers"):
            fields.pop(key)
        for recent in ("teacher_flip_average", "teacher_online"):
            if not fields[recent]:
                # Left out when off, so that runs and models recorded before the option existed still match.
                fields.pop(recent)
        return fields


@dataclass
class PreparedData:
    train_images: np.ndarray  # uint8 (N, S, S)
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    data_sha256: str


def load_training_data(config: TrainConfig) -> tuple[FaceSet, FaceSet]:
    splits = load_dataset(config.data, skip_bad=config.skip_bad)
    shared = overlapping_faces(config.train_split, config.val_split, {key.lower(): len(faces)
                                                                      for key, faces in splits.items()})
    if shared:
        raise DataError(f"{config.data}: --train-split {config.train_split!r} and --val-split {config.val_split!r} "
                        f"share {shared} faces; model selection needs faces the network never trained on")
    train = pick_split(splits, config.train_split, config.data)
    val = pick_split(splits, config.val_split, config.data)
    if config.aux:
        classes = set(config.aux_classes) or None
        aux = [load_auxiliary(root, classes, skip_bad=config.skip_bad) for root in config.aux]
        for root, faces in zip(config.aux, aux, strict=True):
            log.info("auxiliary %s: %d faces added to training, per class %s", root, len(faces), faces.class_counts())
        train = FaceSet.concat([train, *aux])
    if config.limit:
        train = FaceSet(train.images[: config.limit], train.labels[: config.limit])
        val = FaceSet(val.images[: config.limit], val.labels[: config.limit])
    return train, val


def prepare_images(faces: np.ndarray, superres: bool, lapsrn: str | None, cache_dir: str) -> np.ndarray:
    """48×48 uint8 faces → the model's input size, uint8 (LapSRN ×2 when ``superres``)."""
    if not superres:
        return faces
    return upscale_cached(faces, lapsrn_path(lapsrn), cache_dir)


def prepare(config: TrainConfig) -> PreparedData:
    train, val = load_training_data(config)
    log.info("training faces %d per class %s; validation (%s) %d", len(train), train.class_counts(),
             config.val_split, len(val))
    data_sha = sha256_arrays(train.images, train.labels, val.images, val.labels)
    return PreparedData(
        prepare_images(train.images, config.superres, config.lapsrn, config.cache_dir), train.labels,
        prepare_images(val.images, config.superres, config.lapsrn, config.cache_dir), val.labels, data_sha,
    )


def teacher_targets(config: TrainConfig, data: PreparedData, run_dir: Path) -> np.ndarray | None:
    """Training targets mixing the one-hot labels with the teachers' averaged, softened probabilities.

    Each teacher sees each face once, unaugmented (offline distillation: minutes, not a second network per step);
    its probabilities are cached in the run folder, keyed by the teacher's hash.
    """
    if not config.teachers or config.teacher_online:
        return None
    probabilities = np.mean([teacher_probabilities(teacher, config, data, run_dir) for teacher in config.teachers],
                            axis=0)
    one_hot = np.eye(len(EMOTIONS), dtype=np.float32)[data.train_labels]
    return np.asarray(distillation_targets(one_hot, probabilities, config.distill_weight, config.distill_temperature))


def teacher_probabilities(teacher_path: str, config: TrainConfig, data: PreparedData, run_dir: Path) -> np.ndarray:
    flip = config.teacher_flip_average
    cache = run_dir / f"teacher-{sha256_file(teacher_path)[:16]}{'-flip' if flip else ''}.npy"
    if cache.exists():
        return np.load(cache)
    import keras

    from training.model import inference_model

    teacher = inference_model(keras.models.load_model(teacher_path, compile=False), flip_average=flip)
    faces = data.train_images
    if teacher.input_shape[1] == 96 and faces.shape[1] == 48:
        # A 48×48 student (the LapSRN ablation's other arm) learns from the same targets as a 96×96 one:
        # the teacher sees its own input, the LapSRN-upscaled faces.
        faces = prepare_images(faces, True, config.lapsrn, config.cache_dir)
    if teacher.input_shape[1] != faces.shape[1]:
        raise ValueError(f"{teacher_path}: teacher input {teacher.input_shape[1:3]} differs from the "
                         f"training faces {data.train_images.shape[1:]}")
    log.info("teacher %s: predicting %d training faces%s", teacher_path, len(faces), " and their mirror images" * flip)
    probabilities = teacher.predict(make_eval_dataset(faces), verbose=0).astype(np.float32)
    atomic_save_npy(cache, probabilities)
    return probabilities


def make_train_dataset(data: PreparedData, config: TrainConfig, first_epoch: int, targets: np.ndarray | None = None,
                       teachers: list | None = None):
    """Batches for epochs first_epoch… with a per-epoch seeded order and per-batch seeded augmentation; the targets
    are the labels, or ``targets`` per face, or the labels mixed with ``teachers``' output on each augmented batch."""
    import tensorflow as tf

    steps = len(data.train_labels) // config.batch_size
    faces_per_epoch = steps * config.batch_size
    orders = [np.random.default_rng([config.seed, epoch]).permutation(len(data.train_labels))[:faces_per_epoch]
              for epoch in range(first_epoch, config.epochs)]
    order = np.concatenate(orders)
    weights = class_weights(data.train_labels, config.class_weight_power)
    images = tf.constant(data.train_images)
    labels = tf.one_hot(data.train_labels, len(EMOTIONS)) if targets is None else tf.constant(targets)
    sample_weights = tf.constant(weights[data.train_labels])
    first_step = first_epoch * steps

    def load_batch(step, indices):
        batch = tf.cast(tf.gather(images, indices)[..., None], tf.float32) / 255.0
        seed = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(step, tf.int64) + first_step])
        augmented = augment_batch(batch, seed, config.augment)
        batch_labels = tf.gather(labels, indices)
        if teachers:
            probabilities = averaged_probabilities(teachers, augmented)
            batch_labels = distillation_targets(batch_labels, probabilities, config.distill_weight,
                                                config.distill_temperature)
        return augmented, batch_labels, tf.gather(sample_weights, indices)

    return (
        tf.data.Dataset.from_tensor_slices(order)
        .batch(config.batch_size, drop_remainder=True)
        .enumerate()
        .map(load_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        .prefetch(2)
    ), steps


def make_eval_dataset(images: np.ndarray, batch_size: int = 256, labels: np.ndarray | None = None):
    import tensorflow as tf

    def scale(x, *rest):
        return (tf.cast(x[..., None], tf.float32) / 255.0, *rest)

    parts = (images,) if labels is None else (images, tf.one_hot(labels, len(EMOTIONS)))
    return tf.data.Dataset.from_tensor_slices(parts).batch(batch_size).map(scale).prefetch(2)


def build_compiled_model(config: TrainConfig, steps_per_epoch: int):
    import keras

    from training.model import build_model

    keras.utils.set_random_seed(config.seed)
    keras.mixed_precision.set_global_policy(config.precision)
    model = build_model(config.input_size, len(EMOTIONS), width=config.width, dropout=config.dropout,
                        weight_decay=0.0, architecture=config.architecture)
    warmup = int(config.warmup_epochs * steps_per_epoch)
    schedule = keras.optimizers.schedules.CosineDecay(
        initial_learning_rate=config.learning_rate / 10, decay_steps=config.epochs * steps_per_epoch - warmup,
        alpha=0.0, warmup_target=config.learning_rate, warmup_steps=warmup,
    )
    model.compile(
        optimizer=keras.optimizers.AdamW(schedule, weight_decay=config.weight_decay),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=config.label_smoothing),
        metrics=["accuracy"],
        jit_compile=False,  # XLA on CPU trains 2–3× slower here
    )
    return model


def _training_callback(run_dir: Path, state: dict, config: TrainConfig, steps: int):
    """Per epoch: a log line, history, learning curves, atomic last/best checkpoints, early stopping."""
    import keras

    class RunKeeper(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.time()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.time() - self.started
            lr = float(keras.ops.convert_to_numpy(self.model.optimizer.learning_rate))
            entry = {"epoch": epoch + 1, "seconds": round(seconds, 1),
                     "train_images_per_second": round(steps * config.batch_size / seconds, 1), "learning_rate": lr,
                     **{k: round(float(v), 5) for k, v in (logs or {}).items() if k != "learning_rate"}}
            state["history"].append(entry)
            improved = entry["val_accuracy"] > state["best_val_accuracy"]
            if improved:
                state.update(best_val_accuracy=entry["val_accuracy"], best_epoch=epoch + 1)
                atomic_write(run_dir / "best.keras", lambda p: self.model.save(p))
            atomic_write(run_dir / "last.keras", lambda p: self.model.save(p))
            state["completed_epochs"] = epoch + 1
            atomic_write_json(run_dir / "state.json", state)
            save_learning_curves(state["history"], run_dir / "learning_curves.png")
            log.info("epoch %d/%d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  lr %.2e  %.0fs (%.0f img/s)%s",
                     epoch + 1, config.epochs, entry["loss"], entry["accuracy"], entry["val_loss"],
                     entry["val_accuracy"], lr, seconds, entry["train_images_per_second"],
                     "  ← best" if improved else "")
            if epoch + 1 - state["best_epoch"] >= config.patience:
                log.info("no improvement for %d epochs: stopping early", config.patience)
                self.model.stop_training = True
                state["stopped_early"] = True
                atomic_write_json(run_dir / "state.json", state)

    return RunKeeper()


def save_learning_curves(history: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    epochs = [h["epoch"] for h in history]
    figure, (loss_axis, acc_axis) = plt.subplots(1, 2, figsize=(10, 4))
    for key, axis in (("loss", loss_axis), ("accuracy", acc_axis)):
        axis.plot(epochs, [h[key] for h in history], label="training (augmented)")
        axis.plot(epochs, [h[f"val_{key}"] for h in history], label="validation")
        axis.set_xlabel("epoch")
        axis.set_title(key)
        axis.legend()
    figure.tight_layout()
    atomic_write(path, lambda p: figure.savefig(p, format="png", dpi=90))
    plt.close(figure)


def train(config: TrainConfig) -> Path:
    """Train (or resume) the run in ``config.run_dir``; returns the path of the best checkpoint."""
    import keras

    from training.model import ARCHITECTURES
    from training.prune import start_from

    if config.architecture not in ARCHITECTURES:
        raise ValueError(f"--architecture {config.architecture!r}: expected one of {', '.join(ARCHITECTURES)}")
    run_dir = Path(config.run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    for leftover in remove_partial_writes(run_dir):
        log.info("removed %s, left by an interrupted run", leftover)
    started = time.time()
    data = prepare(config)
    prepared_seconds = time.time() - started
    steps = len(data.train_labels) // config.batch_size
    if steps == 0:
        raise ValueError(f"{len(data.train_labels)} training faces are fewer than one batch of {config.batch_size}")

    state_file = run_dir / "state.json"
    if state_file.exists() and (run_dir / "last.keras").exists():
        state = json.loads(state_file.read_text())
        saved = json.loads((run_dir / "config.json").read_text())
        if saved["recipe"] != json.loads(json.dumps(config.recipe())) or saved["data_sha256"] != data.data_sha256:
            raise ValueError(f"{run_dir} holds a run with another recipe or data; use a new --run-dir")
        keras.mixed_precision.set_global_policy(config.precision)
        model = keras.models.load_model(run_dir / "last.keras")
        log.info("resuming %s after epoch %d", run_dir, state["completed_epochs"])
    else:
        state = {"completed_epochs": 0, "best_val_accuracy": -1.0, "best_epoch": 0, "history": [],
                 "stopped_early": False}
        model = build_compiled_model(config, steps)
        init_sha256 = None
        if config.init_from:
            start_from(model, config.init_from)
            init_sha256 = sha256_file(config.init_from)
        atomic_write_json(run_dir / "config.json", {
            "init_from": config.init_from, "init_from_sha256": init_sha256, "teachers": config.teachers,
            "teachers_sha256": [sha256_file(teacher) for teacher in config.teachers],
            "recipe": config.recipe(), "data": config.data, "aux": config.aux, "data_sha256": data.data_sha256,
            "train_faces": len(data.train_labels), "val_faces": len(data.val_labels),
            "train_class_counts": np.bincount(data.train_labels, minlength=len(EMOTIONS)).tolist(),
            "parameters": model.count_params(), "input_size": config.input_size,
        })
    if state["completed_epochs"] >= config.epochs or state.get("stopped_early"):
        log.info("%s is already complete", run_dir)
        return run_dir / "best.keras"

    targets = teacher_targets(config, data, run_dir)
    teachers = (load_teachers(config.teachers, config.input_size, config.teacher_flip_average)
                if config.teacher_online else None)
    dataset, steps = make_train_dataset(data, config, state["completed_epochs"], targets, teachers)
    validation = make_eval_dataset(data.val_images, labels=data.val_labels)
    log.info("model %s: %d parameters, input %d×%d, %d steps per epoch", model.name, model.count_params(),
             config.input_size, config.input_size, steps)
    fit_started = time.time()
    model.fit(dataset, validation_data=validation, epochs=config.epochs, initial_epoch=state["completed_epochs"],
              steps_per_epoch=steps, callbacks=[_training_callback(run_dir, state, config, steps)], verbose=0)
    state["prepare_seconds"] = round(prepared_seconds, 1)
    state["train_seconds"] = round(sum(h["seconds"] for h in state["history"]), 1)
    state["last_session_seconds"] = round(time.time() - fit_started, 1)
    atomic_write_json(state_file, state)
    log.info("best validation accuracy %.4f at epoch %d; %s", state["best_val_accuracy"], state["best_epoch"],
             run_dir / "best.keras")
    return run_dir / "best.keras"
