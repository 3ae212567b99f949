"""TF.js in Chromium against the Keras model it was converted from, on real FER2013 faces."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from tests.fer_sample import sample_faces
from tests.tfjs_runner import require_browser_stack, tfjs_predict

PARITY_FACES = 32
TOLERANCE = 0.01


def model_inputs(model_dir: Path, cache_dir: Path) -> tuple[np.ndarray, np.ndarray]:
    """(inputs as the model expects them per metadata.json, labels) for the first real PublicTest faces, resized
    as the page resizes a crop."""
    from training.evaluate import model_faces

    metadata = json.loads((model_dir / "metadata.json").read_text())
    faces, labels = sample_faces("PublicTest", PARITY_FACES)
    spec = metadata["preprocessing"]
    levels = model_faces(faces, metadata["input"]["height"], "bilinear", None, str(cache_dir),
                         spec.get("photometric", []))
    return levels.astype(np.float32) * spec["scale"] + spec["offset"], labels


def assert_tfjs_matches_keras(browser, model_dir: Path, backend: str, cache_dir: Path) -> None:
    import keras

    require_browser_stack()
    metadata = json.loads((model_dir / "metadata.json").read_text())
    inputs, _ = model_inputs(model_dir, cache_dir)
    reference = keras.models.load_model(model_dir / metadata["reference_keras"]["path"], compile=False)
    expected = reference.predict(inputs, verbose=0)
    actual = tfjs_predict(browser, model_dir, inputs, backend=backend)
    assert actual.shape == (PARITY_FACES, len(metadata["labels"]))
    np.testing.assert_allclose(actual.sum(axis=1), 1.0, atol=1e-3)
    worst = float(np.abs(actual - expected).max())
    assert worst < TOLERANCE, f"TF.js ({backend}) differs from Keras by up to {worst:.4f} on {PARITY_FACES} faces"
