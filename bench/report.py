"""Turns raw per-model, per-backend results into metrics, speed ratios to ours, and the Markdown table."""

from __future__ import annotations

import numpy as np

from bench.peers import Model, to_fer_order
from training.data import FaceSet
from training.evaluate import label_set_metrics
from training.labels import EMOTIONS


def accuracy(result: dict, labels: np.ndarray, votes: np.ndarray | None = None) -> tuple[dict, np.ndarray]:
    """Metrics of one model's probabilities on the faces (FER2013 labels at the top level, and under
    ``label_sets`` FER+ majority labels too where there are votes), and its scores (N, 7) in FER2013 order."""
    scores = to_fer_order(np.asarray(result["probabilities"]), result["labels"])
    if len(scores) != len(labels):
        raise ValueError(f"{result['model']}: {len(scores)} predictions for {len(labels)} faces")
    faces = FaceSet(np.zeros((len(labels), 0, 0), np.uint8), labels, votes=votes)
    label_sets = label_set_metrics(faces, scores)
    return {**label_sets["fer2013"], "label_sets": label_sets}, scores


def speed(result: dict) -> dict:
    figures = {"faces_in_frame": result.get("frame", {}).get("faces"), "load_ms": round(result["load_ms"], 1)}
    if "latency" in result:
        figures["latency_ms"] = round(result["latency"]["median_ms"], 2)
    if "end_to_end" in result:
        frame_ms = result["end_to_end"]["median_ms"]
        figures["frame_ms"] = round(frame_ms, 1)
        figures["fps"] = round(1000 / frame_ms, 2) if frame_ms > 0 else None
    figures["raw"] = {key: result[key] for key in ("latency", "end_to_end") if key in result}
    return figures


def add_ratios(models: dict[str, dict], reference_backend: str) -> None:
    """×ours: latency and fps of every model on a backend divided by ours on the same backend (Python peers:
    by ours on ``reference_backend``). Latency ×2 = twice as slow as ours; fps ×2 = twice as fast."""
    ours = models.get("ours", {}).get("speed", {})
    for entry in models.values():
        for backend, figures in entry["speed"].items():
            base = ours.get(backend if backend in ours else reference_backend, {})
            if figures.get("latency_ms") and base.get("latency_ms"):
                figures["latency_vs_ours"] = round(figures["latency_ms"] / base["latency_ms"], 2)
            if figures.get("fps") and base.get("fps"):
                figures["fps_vs_ours"] = round(figures["fps"] / base["fps"], 2)


def model_entry(model: Model) -> dict:
    return {"title": model.title, "runtime": model.runtime, "notes": model.notes,
            "classifier_bytes": model.bytes(),
            "pipeline_bytes": model.bytes(model.classifier_files + model.pipeline_files),
            "speed": {}, "errors": {}}


def _ratio(value: float | None, ratio: float | None, digits: int) -> str:
    if value is None:
        return "—"
    return f"{value:.{digits}f}" + (f" (×{ratio:.2f})" if ratio is not None else "")


def _megabytes(count: int) -> str:
    return f"{count / 1e6:.2f} MB"


def markdown(report: dict) -> str:
    data, hardware, primary = report["data"], report["hardware"], report["primary_backend"]
    lines = [
        f"### Emotion models side by side — FER2013 {data['split']} ({data['csv'].rsplit('/', 1)[-1]}), "
        f"{data['faces']} faces",
        "",
        f"{report['date']} · {hardware['cpu']} ({hardware['cores']} cores, load {hardware['load_average']}) · "
        f"Chromium {report['chromium']} headless, --disable-gpu · TF.js {report['tfjs']}",
        "",
        "Accuracy and macro-F1 against FER2013's labels; FER+ against the FER+ crowd's majority labels (faces "
        "without a majority left out). "
        f"Latency: one face, batch 1, median. End to end: detect + classify one 640×480 frame, median. Browser models "
        f"on the TF.js **{primary}** backend; fer in Python. (×ours): latency ÷ ours (above 1: slower), "
        "fps ÷ ours (above 1: faster).",
        "",
        "| Model | Runtime | Accuracy | Macro-F1 | FER+ accuracy | FER+ macro-F1 | Classifier weights "
        "| Per-face latency, ms (×ours) | End-to-end fps (×ours) | Faces found in frame "
        "| Pipeline files (with detector) |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for entry in report["models"].values():
        metrics = entry.get("accuracy") or {}
        ferplus = metrics.get("label_sets", {}).get("ferplus", {})
        figures = entry["speed"].get(primary) or entry["speed"].get("python") or {}
        runtime = f"TF.js {primary}" if entry["runtime"] == "browser" else "Python (TF CPU)"
        lines.append(
            f"| {entry['title']} | {runtime} | {metrics.get('accuracy', float('nan')):.3f} "
            f"| {metrics.get('macro_f1', float('nan')):.3f} | {ferplus.get('accuracy', float('nan')):.3f} "
            f"| {ferplus.get('macro_f1', float('nan')):.3f} | {_megabytes(entry['classifier_bytes'])} "
            f"| {_ratio(figures.get('latency_ms'), figures.get('latency_vs_ours'), 2)} "
            f"| {_ratio(figures.get('fps'), figures.get('fps_vs_ours'), 1)} | {figures.get('faces_in_frame', '—')} "
            f"| {_megabytes(entry['pipeline_bytes'])} |")
    lines += ["", "#### Speed per backend", "",
              "| Model | Backend | Per-face latency, ms (×ours) | End-to-end ms | End-to-end fps (×ours) |",
              "|---|---|---:|---:|---:|"]
    for name, entry in report["models"].items():
        for backend, figures in entry["speed"].items():
            lines.append(f"| {name} | {backend} "
                         f"| {_ratio(figures.get('latency_ms'), figures.get('latency_vs_ours'), 2)} "
                         f"| {_ratio(figures.get('frame_ms'), None, 1)} "
                         f"| {_ratio(figures.get('fps'), figures.get('fps_vs_ours'), 1)} |")
        for backend, error in entry["errors"].items():
            lines.append(f"| {name} | {backend} | unavailable: {error[:80]} | | |")
    lines += ["", "#### Recall per class", "", "| Model | " + " | ".join(EMOTIONS) + " |",
              "|---|" + "---:|" * len(EMOTIONS)]
    for name, entry in report["models"].items():
        per_class = (entry.get("accuracy") or {}).get("per_class", {})
        lines.append(f"| {name} | " + " | ".join(f"{per_class.get(label, {}).get('recall', float('nan')):.2f}"
                                                 for label in EMOTIONS) + " |")
    lines += ["", f"Confusion matrices (rows: true class, FER2013 order) are in results.json. Command: "
              f"`{report['command']}`", ""]
    return "\n".join(lines)
