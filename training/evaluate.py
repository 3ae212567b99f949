"""Evaluate a trained model on any FER2013 CSV or image folder and split: accuracy, macro-F1, per-class precision
and recall, and the confusion matrix (JSON and PNG).

    python -m training evaluate --model runs/w16/model.keras --data fer2013.csv.gz --split PrivateTest
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
from pathlib import Path

import numpy as np

from emotion_detector.geometry import Box
from training.calibration import expected_calibration_error, with_temperature
from training.data import FaceSet, class_weights, load_dataset, pick_split
from training.ferplus import NO_LABEL, majority_labels
from training.files import atomic_write, atomic_write_json
from training.labels import EMOTIONS, FER_SIZE
from training.preprocessing import PHOTOMETRIC, PIXEL_OFFSET, PIXEL_SCALE, photometric_steps

log = logging.getLogger(__name__)


def classification_metrics(true: np.ndarray, predicted: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix (rows: true class)."""
    classes = len(EMOTIONS)
    confusion = np.zeros((classes, classes), np.int64)
    np.add.at(confusion, (true, predicted), 1)
    hits = np.diag(confusion).astype(np.float64)
    support = confusion.sum(axis=1)
    predicted_counts = confusion.sum(axis=0)
    precision = np.divide(hits, predicted_counts, out=np.zeros(classes), where=predicted_counts > 0)
    recall = np.divide(hits, support, out=np.zeros(classes), where=support > 0)
    f1 = np.divide(2 * precision * recall, precision + recall, out=np.zeros(classes), where=(precision + recall) > 0)
    present = support > 0
    return {
        "faces": int(len(true)),
        "accuracy": round(float(hits.sum() / max(len(true), 1)), 4),
        "macro_f1": round(float(f1[present].mean()) if present.any() else 0.0, 4),
        "per_class": {
            name: {"precision": round(float(precision[i]), 4), "recall": round(float(recall[i]), 4),
                   "f1": round(float(f1[i]), 4), "support": int(support[i])}
            for i, name in enumerate(EMOTIONS)
        },
        "labels": list(EMOTIONS),
        "confusion_matrix": confusion.tolist(),
    }


UPSCALERS = ("bilinear", "lapsrn")


def model_faces(faces_48: np.ndarray, input_size: int, upscale: str, lapsrn: str | None, cache_dir: str,
                photometric: list[dict]) -> np.ndarray:
    """(N, size, size, 1) grey levels a network sees for 48×48 uint8 faces: ``bilinear`` resizes each face as the
    page resizes a crop (emotion_detector.sampling, the Python twin of its cropAndResize), ``lapsrn`` upscales it
    with LapSRN ×2 as older networks were trained; then the declared photometric steps."""
    from emotion_detector.photometric import apply_steps
    from emotion_detector.sampling import sample_region
    from training.superres import lapsrn_path, upscale_cached

    if input_size not in (FER_SIZE, 2 * FER_SIZE):
        raise ValueError(f"model input is {input_size}×{input_size}; expected {FER_SIZE} or {2 * FER_SIZE}")
    if upscale not in UPSCALERS:
        raise ValueError(f"upscale {upscale!r}: expected one of {', '.join(UPSCALERS)}")
    if input_size == FER_SIZE:
        levels = faces_48.astype(np.float32)
    elif upscale == "lapsrn":
        levels = upscale_cached(faces_48, lapsrn_path(lapsrn), cache_dir).astype(np.float32)
    else:  # the faces as channels of one image: one call resizes them all alike
        whole = Box(0.0, 0.0, float(FER_SIZE), float(FER_SIZE))
        stacked = sample_region(np.moveaxis(faces_48, 0, -1), whole, input_size, input_size)
        levels = np.moveaxis(stacked, -1, 0)
    return apply_steps(levels, photometric)[..., None]


def predict_probabilities(model, faces_48: np.ndarray, lapsrn: str | None, cache_dir: str, upscale: str = "bilinear",
                          photometric: list[dict] = (), batch_size: int = 256) -> np.ndarray:
    """The model's probabilities (uncalibrated) for 48×48 uint8 faces, prepared by ``model_faces``."""
    levels = model_faces(faces_48, int(model.input_shape[1]), upscale, lapsrn, cache_dir, list(photometric))
    return model.predict(levels * np.float32(PIXEL_SCALE) + np.float32(PIXEL_OFFSET), batch_size=batch_size,
                         verbose=0)


def undo_class_weights(probabilities: np.ndarray, training_labels: np.ndarray, power: float) -> np.ndarray:
    """The probabilities a network trained with ``class_weights(…, power)`` would give under the training faces'
    own class frequencies: a weighted loss scales each class's optimal probability by its weight, so divide it back
    out (Menon et al. 2021, "Long-tail learning via logit adjustment")."""
    unweighted = probabilities / class_weights(training_labels, power)
    return unweighted / unweighted.sum(axis=1, keepdims=True)


def save_confusion_png(metrics: dict, path: Path, title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confusion = np.asarray(metrics["confusion_matrix"], np.float64)
    rates = confusion / np.maximum(confusion.sum(axis=1, keepdims=True), 1)
    figure, axis = plt.subplots(figsize=(6.5, 5.5))
    image = axis.imshow(rates, cmap="Blues", vmin=0, vmax=1)
    axis.set_xticks(range(len(EMOTIONS)), EMOTIONS, rotation=45, ha="right")
    axis.set_yticks(range(len(EMOTIONS)), EMOTIONS)
    axis.set_xlabel("predicted")
    axis.set_ylabel("true")
    for (row, col), count in np.ndenumerate(confusion):
        axis.text(col, row, f"{int(count)}\n{rates[row, col]:.0%}", ha="center", va="center", fontsize=7,
                  color="white" if rates[row, col] > 0.5 else "black")
    axis.set_title(f"{title}\naccuracy {metrics['accuracy']:.2%}, macro-F1 {metrics['macro_f1']:.3f}")
    figure.colorbar(image, ax=axis, fraction=0.046)
    figure.tight_layout()
    atomic_write(path, lambda p: figure.savefig(p, format="png", dpi=100))
    plt.close(figure)


def format_report(metrics: dict) -> str:
    lines = [f"faces {metrics['faces']}  accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}",
             f"{'class':<10}{'precision':>10}{'recall':>10}{'f1':>10}{'support':>10}"]
    for name, row in metrics["per_class"].items():
        lines.append(f"{name:<10}{row['precision']:>10.4f}{row['recall']:>10.4f}{row['f1']:>10.4f}{row['support']:>10}")
    return "\n".join(lines)


def label_set_metrics(faces: FaceSet, probabilities: np.ndarray) -> dict[str, dict]:
    """``classification_metrics`` and the calibration error against FER2013's labels and, where the faces carry
    FER+ votes, against FER+ majority labels (faces without a majority of our classes left out)."""
    label_sets = {"fer2013": (faces.labels, np.ones(len(faces), bool))}
    if faces.votes is not None:
        majority = majority_labels(faces.votes)
        label_sets["ferplus"] = (majority, majority != NO_LABEL)
    results = {}
    for name, (labels, kept) in label_sets.items():
        results[name] = {**classification_metrics(labels[kept], probabilities[kept].argmax(axis=1)),
                         "ece": round(expected_calibration_error(probabilities[kept], labels[kept]), 4)}
    return results


def model_records(model_path: str | Path) -> dict:
    """How a network expects its faces, from the records beside it: an exported folder's metadata.json, or a
    training run's run.json. Empty when there are none."""
    folder = Path(model_path).parent
    for name in ("metadata.json", "run.json"):
        try:
            record = json.loads((folder / name).read_text())
        except (OSError, ValueError):
            continue
        if name == "metadata.json":
            return {"photometric": record["preprocessing"].get("photometric", []),
                    "temperature": record.get("output", {}).get("temperature", 1.0)}
        return {"photometric": photometric_steps(record["config"].get("photometric", "none")), "temperature": 1.0}
    return {}


def evaluate(model_paths: list[str], data: str, split: str, out_dir: str, lapsrn: str | None, cache_dir: str,
             skip_bad: bool = False, flip_average: bool = False, upscale: str = "bilinear",
             photometric: str | None = None, temperature: float | None = None,
             undo_class_weight_power: float | None = None, camera_seed: int | None = None) -> dict:
    """Metrics of one model, or of several whose probabilities are averaged (an ensemble), on one split, against
    each label set the data has. Each network gets its faces as its records say (``model_records``) unless
    ``photometric`` names steps for all; probabilities are calibrated by the recorded temperature unless
    ``temperature`` is given. With ``undo_class_weight_power``, after undoing the class weights of a network
    trained with that power. With ``camera_seed``, on the faces as a cheap camera would give them
    (``training.camera_faces``)."""
    import keras

    from training.model import inference_model

    dataset = load_dataset(data, skip_bad=skip_bad)
    faces = pick_split(dataset, split, data)
    if camera_seed is not None:
        from training.camera_faces import camera_faces

        faces = dataclasses.replace(faces, images=camera_faces(faces.images, camera_seed))
    probabilities = np.zeros((len(faces.labels), len(EMOTIONS)), np.float64)
    temperatures = []
    for model_path in model_paths:
        records = model_records(model_path)
        steps = photometric_steps(photometric) if photometric is not None else records.get("photometric", [])
        temperatures.append(temperature if temperature is not None else records.get("temperature", 1.0))
        model = inference_model(keras.models.load_model(model_path, compile=False), flip_average=flip_average)
        probabilities += predict_probabilities(model, faces.images, lapsrn, cache_dir, upscale, steps)
    probabilities /= len(model_paths)
    if undo_class_weight_power is not None:
        training_labels = pick_split(dataset, "Training", data).labels
        probabilities = undo_class_weights(probabilities, training_labels, undo_class_weight_power)
    probabilities = with_temperature(probabilities, float(np.mean(temperatures)))
    label_sets = label_set_metrics(faces, probabilities)
    metrics = {**label_sets["fer2013"], "label_sets": label_sets}
    title = Path(model_paths[0]).name if len(model_paths) == 1 else f"ensemble of {len(model_paths)}"
    metrics.update(model=[str(path) for path in model_paths], data=str(data), split=split, flip_average=flip_average,
                   upscale=upscale, photometric=photometric, temperature=float(np.mean(temperatures)),
                   undo_class_weights=undo_class_weight_power, camera_seed=camera_seed)
    out = Path(out_dir)
    name = split if upscale == "bilinear" else f"{split}_{upscale}"
    if photometric is not None:
        name += f"_{photometric}"
    if undo_class_weight_power is not None:
        name += f"_unweighted{undo_class_weight_power:g}"
    if camera_seed is not None:
        name += f"_camera{camera_seed}"
    atomic_write_json(out / f"metrics_{name}.json", metrics)
    undone = "" if undo_class_weight_power is None else f", class weights ^{undo_class_weight_power:g} undone"
    save_confusion_png(metrics, out / f"confusion_{name}.png", f"{title} on {split} ({upscale}{undone})")
    for label_set, result in label_sets.items():
        log.info("%s on %s/%s, %s labels:\n%s", title, Path(data).name, split, label_set, format_report(result))
    log.info("wrote %s and %s", out / f"metrics_{name}.json", out / f"confusion_{name}.png")
    return metrics


def add_parser(commands, add_data_options) -> None:
    parser = commands.add_parser("evaluate", help="accuracy, macro-F1, per-class metrics, confusion matrix",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    parser.add_argument("--model", required=True, action="append",
                        help="a .keras checkpoint, e.g. runs/w16/model.keras; repeat it to evaluate an ensemble "
                             "(probabilities averaged)")
    parser.add_argument("--split", default="PublicTest", help="split to evaluate (PublicTest, PrivateTest, Test…)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: the checkpoint's folder; required for an ensemble)")
    parser.add_argument("--flip-average", action="store_true", help="average with the mirrored face, as exported")
    parser.add_argument("--upscale", choices=UPSCALERS, default="bilinear",
                        help="how 48×48 faces reach a 96×96 model: bilinear as the page resizes a crop, or LapSRN "
                             "×2 as older networks were trained")
    parser.add_argument("--photometric", choices=sorted(PHOTOMETRIC), default=None,
                        help="photometric steps for every model (default: each model's own, from the metadata.json "
                             "or run.json beside it)")
    parser.add_argument("--temperature", type=float, default=None,
                        help="calibration temperature (default: the recorded one, or 1)")
    parser.add_argument("--undo-class-weights", type=float, default=None, metavar="POWER",
                        help="divide the probabilities by the class weights of a model trained with "
                             "--class-weight-power POWER (counted on the Training split), and renormalise")
    parser.add_argument("--camera-seed", type=int, default=None, metavar="SEED",
                        help="measure on the faces as a cheap camera would give them (dim light, blur, sensor noise, "
                             "low-quality JPEG, small faces), drawn per face from SEED")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    if not args.data:
        raise ValueError("no dataset: pass --data PATH/fer2013.csv(.gz) or set $FER2013_CSV")
    if len(args.model) > 1 and not args.out:
        raise ValueError("--model given more than once (an ensemble): pass --out FOLDER for its metrics, so that no "
                         "single checkpoint's metrics are overwritten")
    if args.undo_class_weights is not None and args.undo_class_weights < 0:
        raise ValueError(f"--undo-class-weights {args.undo_class_weights:g}: expected 0 or more, the training's "
                         "--class-weight-power")
    out = args.out or str(Path(args.model[0]).parent)
    metrics = evaluate(args.model, args.data, args.split, out, args.lapsrn, args.cache_dir, args.skip_bad,
                       args.flip_average, args.upscale, args.photometric, args.temperature, args.undo_class_weights,
                       args.camera_seed)
    summary = {k: metrics[k] for k in ("split", "upscale", "photometric", "temperature", "undo_class_weights",
                                        "camera_seed", "faces", "accuracy", "macro_f1", "ece")}
    summary["label_sets"] = {name: {k: result[k] for k in ("faces", "accuracy", "macro_f1", "ece")}
                             for name, result in metrics["label_sets"].items()}
    print(json.dumps(summary))
    return 0
