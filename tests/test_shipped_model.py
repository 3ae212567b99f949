"""The shipped model in converted_model/: its metadata is true, its accuracy is re-measured, and TF.js in
Chromium gives the Keras model's probabilities on real FER2013 faces."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.shared_assets import REPO, fer2013_csv
from training.files import sha256_file
from training.labels import EMOTIONS

MODEL_DIR = REPO / "converted_model"
# On raw PublicTest faces through the page's path (bilinear resize, the declared photometric steps, calibrated):
# above the best peer's 64.6% on FER2013's labels, and calibrated to within 5 points against the labels the
# temperature was fitted to (FER+'s ten-annotator majority; FER2013's single labels disagree with it on a third of
# the faces, so no one temperature is calibrated to both).
REQUIRED_ACCURACY = 0.65
REQUIRED_MACRO_F1 = 0.62
REQUIRED_ECE = 0.05


@pytest.fixture(scope="module")
def metadata() -> dict:
    return json.loads((MODEL_DIR / "metadata.json").read_text())


def test_metadata_describes_the_files(metadata: dict) -> None:
    assert metadata["labels"] == list(EMOTIONS)
    assert metadata["model"]["format"] == "tfjs-graph-model"
    assert json.loads((MODEL_DIR / metadata["model"]["path"]).read_text())["format"] == "graph-model"
    for name, digest in metadata["model"]["files"].items():
        assert sha256_file(MODEL_DIR / name) == digest, f"{name} changed since export"
    assert metadata["model"]["bytes"] == sum((MODEL_DIR / name).stat().st_size for name in metadata["model"]["files"])
    assert metadata["model"]["bytes"] < 5_000_000, "the browser download must stay under 5 MB"
    assert metadata["metrics"]["validation"]["split"] == "PublicTest"
    assert metadata["metrics"]["validation"]["data"] == "fer2013_raw.csv.gz", "measured on raw faces"
    assert metadata["metrics"]["calibration"]["split"].startswith("Training"), "calibrated on faces of Training"


def test_recorded_publictest_accuracy_is_reproduced(metadata: dict, tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")
    import keras

    from training.calibration import with_temperature
    from training.data import load_dataset
    from training.evaluate import label_set_metrics, model_records, predict_probabilities

    public = load_dataset(fer2013_csv())["PublicTest"]
    if public.votes is None:
        pytest.skip(f"{fer2013_csv()} has no FER+ votes: the shipped model is measured on fer2013_raw.csv.gz")
    reference_path = MODEL_DIR / metadata["reference_keras"]["path"]
    reference = keras.models.load_model(reference_path, compile=False)
    records = model_records(reference_path)
    probabilities = with_temperature(predict_probabilities(reference, public.images, None, "", "bilinear",
                                                           records["photometric"]), records["temperature"])
    measured = label_set_metrics(public, probabilities)
    recorded = metadata["metrics"]["validation"]["label_sets"]
    assert measured["fer2013"]["faces"] == 3529 and measured["ferplus"]["faces"] == 3140
    for label_set in ("fer2013", "ferplus"):
        for key in ("accuracy", "macro_f1", "ece"):
            assert measured[label_set][key] == pytest.approx(recorded[label_set][key], abs=0.002), (label_set, key)
    fer2013 = measured["fer2013"]
    assert fer2013["accuracy"] >= REQUIRED_ACCURACY and fer2013["macro_f1"] >= REQUIRED_MACRO_F1
    assert measured[metadata["metrics"]["calibration"]["labels"]]["ece"] <= REQUIRED_ECE


@pytest.mark.parametrize("backend", ["cpu", "wasm"])
def test_tfjs_in_chromium_matches_keras_on_real_faces(browser, backend: str) -> None:
    pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")
    from tests.model_parity import assert_tfjs_matches_keras

    assert_tfjs_matches_keras(browser, MODEL_DIR, backend=backend, cache_dir=REPO / ".cache")

