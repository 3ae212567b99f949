"""A tiny real run of the whole pipeline on real FER2013 faces: train (the one trainer, with the declared
photometric steps and, where the data has FER+ votes, their distributions in the targets) → evaluate → export with
a calibration temperature → the exported model in TF.js in Chromium, as the page runs it."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")

import numpy as np  # noqa: E402

from tests.fer_sample import write_sample_csv  # noqa: E402
from tests.shared_assets import REPO, fer2013_csv  # noqa: E402
from training.calibration import negative_log_likelihood, with_temperature  # noqa: E402
from training.evaluate import undo_class_weights  # noqa: E402
from training.ferplus import VOTE_COLUMNS  # noqa: E402
from training.files import sha256_file  # noqa: E402
from training.labels import EMOTIONS  # noqa: E402
from training.preprocessing import photometric_steps  # noqa: E402

EPOCHS = 2
PHOTOMETRIC = "fer2013-filter"


def run_cli(*args: str, timeout: float = 600, returncode: int = 0) -> subprocess.CompletedProcess:
    completed = subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO, capture_output=True, text=True,
                               timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert completed.returncode == returncode, completed.stderr[-4000:]
    return completed


def has_votes() -> bool:
    with gzip.open(fer2013_csv(), "rt") as handle:
        header = handle.readline().strip().split(",")
    return all(column in header for column in VOTE_COLUMNS)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Train a small network on 160 real faces for two epochs, faces resized bilinearly as the page resizes them."""
    root = tmp_path_factory.mktemp("tiny_run")
    csv_path = write_sample_csv(root / "fer_sample.csv", {"Training": 160, "PublicTest": 64})
    run_dir = root / "run"
    targets = ["--ferplus-weight", "0.5"] if has_votes() else []
    run_cli("train", "--data", str(csv_path), "--out", str(run_dir), "--upscale", "bilinear", "--architecture",
            "pyramid", "--width", "4", "--epochs", str(EPOCHS), "--batch-size", "32", "--precision", "float32",
            "--photometric", PHOTOMETRIC, *targets)
    return {"root": root, "csv": csv_path, "run": run_dir, "model": run_dir / "model.keras",
            "cache": root / "cache", "votes": bool(targets)}


def test_a_tiny_run_on_real_faces_records_what_it_trained(tiny_run: dict) -> None:
    record = json.loads((tiny_run["run"] / "run.json").read_text())
    assert [entry["epoch"] for entry in record["history"]] == list(range(1, EPOCHS + 1))
    assert all(np.isfinite(entry["loss"]) and 0 <= entry["accuracy"] <= 1 for entry in record["history"])
    assert record["train_faces"] == 160 and record["face_size"] == 48 and record["devices"] == 1
    assert record["recipe"]["photometric"] == PHOTOMETRIC
    assert record["recipe"].get("ferplus_weight", 0.0) == (0.5 if tiny_run["votes"] else 0.0)
    assert not (tiny_run["run"] / "checkpoint.npz").exists(), "a finished run drops its checkpoint"
    assert not list(tiny_run["run"].glob(".*part*")), "no half-written file may be left behind"


def test_evaluate_writes_metrics_for_each_label_set_and_a_confusion_matrix(tiny_run: dict) -> None:
    out = tiny_run["root"] / "eval"
    completed = run_cli("evaluate", "--model", str(tiny_run["model"]), "--data", str(tiny_run["csv"]),
                        "--split", "PublicTest", "--cache-dir", str(tiny_run["cache"]), "--out", str(out))
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    metrics = json.loads((out / "metrics_PublicTest.json").read_text())
    assert summary["faces"] == 64 and metrics["accuracy"] == summary["accuracy"]
    confusion = metrics["confusion_matrix"]
    assert len(confusion) == len(EMOTIONS) and sum(map(sum, confusion)) == 64
    assert metrics["accuracy"] == pytest.approx(sum(confusion[i][i] for i in range(len(EMOTIONS))) / 64, abs=1e-4)
    assert set(metrics["per_class"]) == set(EMOTIONS)
    assert (out / "confusion_PublicTest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert summary["photometric"] is None, "each model's own steps, read from its run.json"
    assert set(summary["label_sets"]) == ({"fer2013", "ferplus"} if tiny_run["votes"] else {"fer2013"})
    if tiny_run["votes"]:
        ferplus = metrics["label_sets"]["ferplus"]
        assert 0 < ferplus["faces"] <= 64 and sum(map(sum, ferplus["confusion_matrix"])) == ferplus["faces"]
        assert 0 <= ferplus["ece"] <= 1


def test_evaluate_averages_an_ensemble_and_needs_its_own_folder(tiny_run: dict) -> None:
    common = ["--data", str(tiny_run["csv"]), "--split", "PublicTest", "--cache-dir", str(tiny_run["cache"])]
    model = ["--model", str(tiny_run["model"])]
    refused = run_cli("evaluate", *model, *model, *common, returncode=2)
    assert "--out" in refused.stderr

    single = json.loads(run_cli("evaluate", *model, *common, "--out", str(tiny_run["root"] / "eval_single"))
                        .stdout.strip().splitlines()[-1])
    twice = json.loads(run_cli("evaluate", *model, *model, *common, "--out", str(tiny_run["root"] / "eval_twice"))
                       .stdout.strip().splitlines()[-1])
    assert twice["accuracy"] == single["accuracy"] and twice["macro_f1"] == single["macro_f1"]
    metrics = json.loads((tiny_run["root"] / "eval_twice" / "metrics_PublicTest.json").read_text())
    assert metrics["model"] == [str(tiny_run["model"])] * 2


def test_undoing_class_weights_gives_back_the_training_prior() -> None:
    labels = np.repeat(np.arange(len(EMOTIONS)), [70, 20, 10, 5, 5, 5, 5])
    frequencies = np.bincount(labels) / len(labels)
    uniform = np.full((2, len(EMOTIONS)), 1 / len(EMOTIONS))
    # A network trained with fully balanced weights (power 1) that is unsure says "uniform"; without the weights
    # the same network would have said "as often as in training".
    np.testing.assert_allclose(undo_class_weights(uniform, labels, 1.0), [frequencies] * 2, rtol=1e-6)
    confident = np.array([[0.05, 0.1, 0.05, 0.1, 0.1, 0.1, 0.5]])
    np.testing.assert_allclose(undo_class_weights(confident, labels, 0.0), confident, rtol=1e-6)
    halfway = undo_class_weights(confident, labels, 0.5)
    # The most frequent class gains, the rarest loses.
    assert halfway.sum() == pytest.approx(1.0) and halfway[0, 0] > confident[0, 0] and halfway[0, 6] < confident[0, 6]


def test_evaluate_can_undo_class_weights_and_says_so(tiny_run: dict) -> None:
    common = ["--model", str(tiny_run["model"]), "--data", str(tiny_run["csv"]), "--split", "PublicTest",
              "--cache-dir", str(tiny_run["cache"]), "--out", str(tiny_run["root"] / "eval_unweighted")]
    refused = run_cli("evaluate", *common, "--undo-class-weights", "-1", returncode=2)
    assert "--undo-class-weights -1: expected 0 or more" in refused.stderr
    summary = json.loads(run_cli("evaluate", *common, "--undo-class-weights", "1").stdout.strip().splitlines()[-1])
    metrics = json.loads((tiny_run["root"] / "eval_unweighted" / "metrics_PublicTest_unweighted1.json").read_text())
    assert summary["undo_class_weights"] == metrics["undo_class_weights"] == 1.0
    assert summary["accuracy"] == metrics["accuracy"] and sum(map(sum, metrics["confusion_matrix"])) == 64


def test_evaluate_measures_the_faces_through_a_cheap_camera_when_asked(tiny_run: dict) -> None:
    common = ["--model", str(tiny_run["model"]), "--data", str(tiny_run["csv"]), "--split", "PublicTest",
              "--cache-dir", str(tiny_run["cache"]), "--out", str(tiny_run["root"] / "eval_camera")]
    runs = [json.loads(run_cli("evaluate", *common, *extra).stdout.strip().splitlines()[-1])
            for extra in ([], ["--camera-seed", "3"], ["--camera-seed", "3"])]
    clean, camera, again = runs
    metrics = json.loads((tiny_run["root"] / "eval_camera" / "metrics_PublicTest_camera3.json").read_text())
    assert clean["camera_seed"] is None and camera["camera_seed"] == metrics["camera_seed"] == 3
    assert camera == again, "the same seed, the same faces"
    assert sum(map(sum, metrics["confusion_matrix"])) == 64


@pytest.fixture(scope="module")
def tiny_export(tiny_run: dict) -> Path:
    out = tiny_run["root"] / "converted"
    run_cli("export", "--run-dir", str(tiny_run["run"]), "--data", str(tiny_run["csv"]), "--cache-dir",
            str(tiny_run["cache"]), "--calibration-split", "Training[-100:]", "--out", str(out))
    return out


def test_export_writes_graph_model_and_metadata(tiny_run: dict, tiny_export: Path) -> None:
    out = tiny_export
    metadata = json.loads((out / "metadata.json").read_text())
    graph = json.loads((out / "model.json").read_text())
    assert graph["format"] == "graph-model"
    assert metadata["labels"] == list(EMOTIONS)
    assert metadata["input"] == {"name": "face", "height": 96, "width": 96, "channels": 1, "dtype": "float32"}
    assert metadata["preprocessing"]["scale"] == pytest.approx(1 / 255)
    assert metadata["preprocessing"]["photometric"] == photometric_steps(PHOTOMETRIC)
    assert metadata["metrics"]["validation"]["faces"] == 64
    record = json.loads((tiny_run["run"] / "run.json").read_text())
    assert metadata["training"]["data_sha256"] == record["data_sha256"]
    assert metadata["training"]["checkpoint_sha256"] == sha256_file(tiny_run["model"])
    for name, digest in metadata["model"]["files"].items():
        assert sha256_file(out / name) == digest
    assert metadata["model"]["bytes"] < 5_000_000
    assert sha256_file(out / metadata["reference_keras"]["path"]) == metadata["reference_keras"]["sha256"]


def test_export_records_the_temperature_that_calibrates_the_held_out_faces(tiny_run: dict,
                                                                           tiny_export: Path) -> None:
    import keras

    from training.data import load_dataset, pick_split
    from training.evaluate import predict_probabilities
    from training.ferplus import NO_LABEL, majority_labels

    metadata = json.loads((tiny_export / "metadata.json").read_text())
    calibration = metadata["metrics"]["calibration"]
    temperature = metadata["output"]["temperature"]
    assert calibration["temperature"] == temperature > 0 and calibration["split"] == "Training[-100:]"
    assert calibration["labels"] == ("ferplus" if tiny_run["votes"] else "fer2013")
    faces = pick_split(load_dataset(tiny_run["csv"]), "Training[-100:]", tiny_run["csv"])
    model = keras.models.load_model(tiny_export / metadata["reference_keras"]["path"], compile=False)
    probabilities = predict_probabilities(model, faces.images, None, str(tiny_run["cache"]), "bilinear",
                                          metadata["preprocessing"]["photometric"])
    labels = majority_labels(faces.votes) if tiny_run["votes"] else faces.labels
    probabilities, labels = probabilities[labels != NO_LABEL], labels[labels != NO_LABEL]
    assert calibration["faces"] == len(labels)

    def nll(t: float) -> float:
        return negative_log_likelihood(with_temperature(probabilities, t), labels)

    # The recorded temperature minimises the held-out faces' negative log-likelihood over the range it is sought in.
    others = [t for t in (temperature * 1.2, temperature / 1.2, 1.0) if 1 / 8 <= t <= 8]
    assert others and nll(temperature) <= min(map(nll, others)) + 1e-6
    validation = metadata["metrics"]["validation"]
    assert 0 <= validation["label_sets"]["fer2013"]["ece"] <= 1 and validation["ece_bins"] == 15


def test_exported_model_predicts_in_chromium_like_keras(browser, tiny_run: dict, tiny_export: Path) -> None:
    from tests.model_parity import assert_tfjs_matches_keras

    assert_tfjs_matches_keras(browser, tiny_export, backend="cpu", cache_dir=tiny_run["cache"])
