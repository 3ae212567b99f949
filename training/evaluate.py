"""Evaluate a trained model on any FER2013 CSV or image folder and split: accuracy, macro-F1, per-class precision
and recall, and the confusion matrix (JSON and PNG).

    python -m training evaluate --model runs/lapsrn_x2/best.keras --data fer2013.csv.gz --split PrivateTest
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import numpy as np

from training.data import class_weights, load_dataset, pick_split
from training.files import atomic_write, atomic_write_json
from training.labels import EMOTIONS, FER_SIZE

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


UPSCALERS = ("lapsrn", "bilinear")


def predict_probabilities(model, faces_48: np.ndarray, lapsrn: str | None, cache_dir: str,
                          upscale: str = "lapsrn") -> np.ndarray:
    """The model's probabilities for 48×48 uint8 faces, prepared as in training (LapSRN when the input is 96), or
    with ``upscale="bilinear"`` resized the way the page resizes a camera crop."""
    from training.train import make_eval_dataset, prepare_images

    input_size = int(model.input_shape[1])
    if input_size not in (FER_SIZE, 2 * FER_SIZE):
        raise ValueError(f"model input is {input_size}×{input_size}; expected {FER_SIZE} or {2 * FER_SIZE}")
    if upscale not in UPSCALERS:
        raise ValueError(f"upscale {upscale!r}: expected one of {', '.join(UPSCALERS)}")
    if upscale == "bilinear" and input_size != FER_SIZE:
        import tensorflow as tf

        resized = tf.image.resize(faces_48[..., None].astype(np.float32), (input_size, input_size), "bilinear")
        images = np.clip(np.rint(resized.numpy()[..., 0]), 0, 255).astype(np.uint8)
    else:
        images = prepare_images(faces_48, input_size == 2 * FER_SIZE, lapsrn, cache_dir)
    return model.predict(make_eval_dataset(images), verbose=0)


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


def evaluate(model_paths: list[str], data: str, split: str, out_dir: str, lapsrn: str | None, cache_dir: str,
             skip_bad: bool = False, flip_average: bool = False, upscale: str = "lapsrn",
             undo_class_weight_power: float | None = None) -> dict:
    """Metrics of one model, or of several whose probabilities are averaged (an ensemble), on one split; with
    ``undo_class_weight_power``, after undoing the class weights of a network trained with that power."""
    import keras

    from training.model import inference_model

    dataset = load_dataset(data, skip_bad=skip_bad)
    faces = pick_split(dataset, split, data)
    probabilities = np.zeros((len(faces.labels), len(EMOTIONS)), np.float64)
    for model_path in model_paths:
        model = inference_model(keras.models.load_model(model_path, compile=False), flip_average=flip_average)
        probabilities += predict_probabilities(model, faces.images, lapsrn, cache_dir, upscale)
    probabilities /= len(model_paths)
    if undo_class_weight_power is not None:
        training_labels = pick_split(dataset, "Training", data).labels
        probabilities = undo_class_weights(probabilities, training_labels, undo_class_weight_power)
    metrics = classification_metrics(faces.labels, probabilities.argmax(axis=1))
    title = Path(model_paths[0]).name if len(model_paths) == 1 else f"ensemble of {len(model_paths)}"
    metrics.update(model=[str(path) for path in model_paths], data=str(data), split=split, flip_average=flip_average,
                   upscale=upscale, undo_class_weights=undo_class_weight_power)
    out = Path(out_dir)
    name = split if upscale == "lapsrn" else f"{split}_{upscale}"
    if undo_class_weight_power is not None:
        name += f"_unweighted{undo_class_weight_power:g}"
    atomic_write_json(out / f"metrics_{name}.json", metrics)
    undone = "" if undo_class_weight_power is None else f", class weights ^{undo_class_weight_power:g} undone"
    save_confusion_png(metrics, out / f"confusion_{name}.png", f"{title} on {split} ({upscale}{undone})")
    log.info("%s on %s/%s:\n%s", title, Path(data).name, split, format_report(metrics))
    log.info("wrote %s and %s", out / f"metrics_{name}.json", out / f"confusion_{name}.png")
    return metrics


def add_parser(commands, add_data_options) -> None:
    parser = commands.add_parser("evaluate", help="accuracy, macro-F1, per-class metrics, confusion matrix",
                                 formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_options(parser)
    parser.add_argument("--model", required=True, action="append",
                        help="a .keras checkpoint, e.g. runs/lapsrn_x2/best.keras; repeat it to evaluate an ensemble "
                             "(probabilities averaged)")
    parser.add_argument("--split", default="PublicTest", help="split to evaluate (PublicTest, PrivateTest, Test…)")
    parser.add_argument("--out", default=None,
                        help="output folder (default: the checkpoint's folder; required for an ensemble)")
    parser.add_argument("--flip-average", action="store_true", help="average with the mirrored face, as exported")
    parser.add_argument("--upscale", choices=UPSCALERS, default="lapsrn",
                        help="how 48×48 faces reach a 96×96 model: LapSRN as in training, or bilinear as in the page")
    parser.add_argument("--undo-class-weights", type=float, default=None, metavar="POWER",
                        help="divide the probabilities by the class weights of a model trained with "
                             "--class-weight-power POWER (counted on the Training split), and renormalise")
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
                       args.flip_average, args.upscale, args.undo_class_weights)
    print(json.dumps({k: metrics[k] for k in ("split", "upscale", "undo_class_weights", "faces", "accuracy",
                                                 "macro_f1")}))
    return 0
