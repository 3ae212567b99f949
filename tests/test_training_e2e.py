"""A tiny real run of the whole pipeline on real FER2013 faces with the real LapSRN: train (interrupted and
resumed) → evaluate → export to TF.js. The browser half of the check is in test_tfjs_parity.py."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")

import numpy as np  # noqa: E402

from tests.fer_sample import write_sample_csv  # noqa: E402
from tests.shared_assets import REPO, lapsrn_model  # noqa: E402
from training.evaluate import undo_class_weights  # noqa: E402
from training.files import sha256_file  # noqa: E402
from training.labels import EMOTIONS  # noqa: E402

EPOCHS = 6


def training_command(csv_path: Path, run_dir: Path, cache_dir: Path) -> list[str]:
    return [sys.executable, "-m", "training", "train", "--data", str(csv_path), "--lapsrn", str(lapsrn_model()),
            "--cache-dir", str(cache_dir), "--run-dir", str(run_dir), "--epochs", str(EPOCHS), "--width", "8",
            "--batch-size", "32", "--patience", "100"]


def run_cli(*args: str, timeout: float = 600, returncode: int = 0) -> subprocess.CompletedProcess:
    completed = subprocess.run([sys.executable, "-m", "training", *args], cwd=REPO, capture_output=True, text=True,
                               timeout=timeout, env={**os.environ, "PYTHONPATH": str(REPO)})
    assert completed.returncode == returncode, completed.stderr[-4000:]
    return completed


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Train on 320 real faces; kill the process after its first checkpoint, then resume it to the end."""
    root = tmp_path_factory.mktemp("tiny_run")
    csv_path = write_sample_csv(root / "fer_sample.csv", {"Training": 320, "PublicTest": 64})
    run_dir, cache_dir = root / "run", root / "cache"
    command = training_command(csv_path, run_dir, cache_dir)
    env = {**os.environ, "PYTHONPATH": str(REPO)}

    first = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and first.poll() is None:
        state_file = run_dir / "state.json"
        if state_file.exists() and json.loads(state_file.read_text())["completed_epochs"] >= 1:
            first.send_signal(signal.SIGKILL)  # a crash, not a polite stop
            break
        time.sleep(0.1)
    first.wait(timeout=60)
    interrupted_after = json.loads((run_dir / "state.json").read_text())["completed_epochs"]

    resumed = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    return {"root": root, "csv": csv_path, "run": run_dir, "cache": cache_dir, "log": resumed.stderr,
            "interrupted_after": interrupted_after}


def test_training_resumes_after_a_crash_and_finishes(tiny_run: dict) -> None:
    run = tiny_run["run"]
    assert 1 <= tiny_run["interrupted_after"] < EPOCHS
    assert f"resuming {run} after epoch {tiny_run['interrupted_after']}" in tiny_run["log"]
    assert "read from cache" in tiny_run["log"], "the resumed run must reuse the LapSRN cache"
    state = json.loads((run / "state.json").read_text())
    assert [entry["epoch"] for entry in state["history"]] == list(range(1, EPOCHS + 1))
    assert all({"loss", "accuracy", "val_loss", "val_accuracy"} <= set(entry) for entry in state["history"])
    for name in ("best.keras", "last.keras", "config.json", "learning_curves.png"):
        assert (run / name).stat().st_size > 0
    config = json.loads((run / "config.json").read_text())
    assert config["input_size"] == 96 and config["train_faces"] == 320
    assert not list(run.glob(".*part*")), "no half-written checkpoint may be left behind"


def test_evaluate_writes_metrics_and_confusion_matrix(tiny_run: dict) -> None:
    out = tiny_run["root"] / "eval"
    completed = run_cli("evaluate", "--model", str(tiny_run["run"] / "best.keras"), "--data", str(tiny_run["csv"]),
                        "--split", "PublicTest", "--lapsrn", str(lapsrn_model()), "--cache-dir", str(tiny_run["cache"]),
                        "--out", str(out))
    summary = json.loads(completed.stdout.strip().splitlines()[-1])
    metrics = json.loads((out / "metrics_PublicTest.json").read_text())
    assert summary["faces"] == 64 and metrics["accuracy"] == summary["accuracy"]
    confusion = metrics["confusion_matrix"]
    assert len(confusion) == len(EMOTIONS) and sum(map(sum, confusion)) == 64
    assert metrics["accuracy"] == pytest.approx(sum(confusion[i][i] for i in range(len(EMOTIONS))) / 64, abs=1e-4)
    assert set(metrics["per_class"]) == set(EMOTIONS)
    assert (out / "confusion_PublicTest.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_evaluate_averages_an_ensemble_and_needs_its_own_folder(tiny_run: dict) -> None:
    common = ["--data", str(tiny_run["csv"]), "--split", "PublicTest", "--lapsrn", str(lapsrn_model()),
              "--cache-dir", str(tiny_run["cache"])]
    models = ["--model", str(tiny_run["run"] / "best.keras"), "--model", str(tiny_run["run"] / "last.keras")]
    refused = run_cli("evaluate", *models, *common, returncode=2)
    assert "--out" in refused.stderr

    single = json.loads(run_cli("evaluate", "--model", str(tiny_run["run"] / "best.keras"), *common, "--out",
                                str(tiny_run["root"] / "eval_single")).stdout.strip().splitlines()[-1])
    twice = json.loads(run_cli("evaluate", "--model", str(tiny_run["run"] / "best.keras"), "--model",
                               str(tiny_run["run"] / "best.keras"), *common, "--out",
                               str(tiny_run["root"] / "eval_twice")).stdout.strip().splitlines()[-1])
    assert twice["accuracy"] == single["accuracy"] and twice["macro_f1"] == single["macro_f1"]
    run_cli("evaluate", *models, *common, "--out", str(tiny_run["root"] / "eval_pair"))
    metrics = json.loads((tiny_run["root"] / "eval_pair" / "metrics_PublicTest.json").read_text())
    assert metrics["model"] == [str(tiny_run["run"] / "best.keras"), str(tiny_run["run"] / "last.keras")]
    assert sum(map(sum, metrics["confusion_matrix"])) == 64


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
    common = ["--model", str(tiny_run["run"] / "best.keras"), "--data", str(tiny_run["csv"]), "--split", "PublicTest",
              "--lapsrn", str(lapsrn_model()), "--cache-dir", str(tiny_run["cache"]), "--out",
              str(tiny_run["root"] / "eval_unweighted")]
    refused = run_cli("evaluate", *common, "--undo-class-weights", "-1", returncode=2)
    assert "--undo-class-weights -1: expected 0 or more" in refused.stderr
    summary = json.loads(run_cli("evaluate", *common, "--undo-class-weights", "1").stdout.strip().splitlines()[-1])
    metrics = json.loads((tiny_run["root"] / "eval_unweighted" / "metrics_PublicTest_unweighted1.json").read_text())
    assert summary["undo_class_weights"] == metrics["undo_class_weights"] == 1.0
    assert summary["accuracy"] == metrics["accuracy"] and sum(map(sum, metrics["confusion_matrix"])) == 64


@pytest.fixture(scope="module")
def tiny_export(tiny_run: dict) -> Path:
    out = tiny_run["root"] / "converted"
    run_cli("export", "--run-dir", str(tiny_run["run"]), "--data", str(tiny_run["csv"]), "--lapsrn",
            str(lapsrn_model()), "--cache-dir", str(tiny_run["cache"]), "--out", str(out))
    return out


def test_export_writes_graph_model_and_metadata(tiny_run: dict, tiny_export: Path) -> None:
    out = tiny_export
    metadata = json.loads((out / "metadata.json").read_text())
    graph = json.loads((out / "model.json").read_text())
    assert graph["format"] == "graph-model"
    assert metadata["labels"] == list(EMOTIONS)
    assert metadata["input"] == {"name": "face", "height": 96, "width": 96, "channels": 1, "dtype": "float32"}
    assert metadata["preprocessing"]["scale"] == pytest.approx(1 / 255)
    assert metadata["metrics"]["validation"]["faces"] == 64
    run_config = json.loads((tiny_run["run"] / "config.json").read_text())
    assert metadata["training"]["data_sha256"] == run_config["data_sha256"]
    for name, digest in metadata["model"]["files"].items():
        assert sha256_file(out / name) == digest
    assert metadata["model"]["bytes"] < 5_000_000
    assert sha256_file(out / metadata["reference_keras"]["path"]) == metadata["reference_keras"]["sha256"]


def test_exported_model_predicts_in_chromium_like_keras(browser, tiny_run: dict, tiny_export: Path) -> None:
    from tests.model_parity import assert_tfjs_matches_keras

    assert_tfjs_matches_keras(browser, tiny_export, backend="cpu", cache_dir=tiny_run["cache"])
