"""Browser/Python parity: on FER2013 faces pasted into larger frames, the page's label matches the Python
pipeline's (NumPy crop from the page's box per metadata.json, then the float32 Keras model it was exported from)."""

from __future__ import annotations

import numpy as np
import pytest

from tests.browser import analyse_photo
from tests.conftest import MODEL_DIR
from tests.images import fer_faces, paste_faces, save_png
from training.preprocessing import face_input

FACES = 32  # some FER2013 faces (profiles, hands over faces) are not detected: at least 20 must be
PER_FRAME = 4
POSITIONS = [(40, 40), (440, 60), (60, 330), (460, 320)]
MIN_AGREEMENT = 0.95


def test_page_labels_match_python_pipeline(loaded_page, tmp_path, metadata):
    keras = pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
    try:
        faces = [pixels for _, pixels in fer_faces(FACES)]
    except FileNotFoundError as missing:
        pytest.skip(str(missing))

    page_labels, inputs, crop_gaps = [], [], []
    for start in range(0, FACES, PER_FRAME):
        frame, placed = paste_faces(faces[start:start + PER_FRAME], (720, 560), 200, POSITIONS)
        result = analyse_photo(loaded_page, save_png(frame, tmp_path / f"frame{start}.png"))
        assert len(result["faces"]) <= len(placed)
        for index, face in enumerate(result["faces"]):
            box = face["box"]
            page_labels.append(face["top"]["label"])
            inputs.append(face_input(frame, (box["x"], box["y"], box["width"], box["height"]), metadata))
            page_probabilities = [entry["probability"] for entry in face["probabilities"]]
            page_crop = np.array(loaded_page.evaluate(f"window.emotionDetector.modelInput({index})"), np.float32)
            crop_gaps.append(np.abs(page_crop - inputs[-1]).mean())
            inputs[-1] = (inputs[-1], page_probabilities)

    batch = np.stack([crop for crop, _ in inputs]).astype(np.float32)
    reference = keras.models.load_model(MODEL_DIR / metadata["reference_keras"]["path"], compile=False)
    python_probabilities = reference.predict(batch, verbose=0)
    python_labels = [metadata["labels"][index] for index in python_probabilities.argmax(axis=1)]

    agreement = np.mean([a == b for a, b in zip(page_labels, python_labels, strict=True)])
    largest_gap = np.abs(python_probabilities - np.array([p for _, p in inputs])).max()
    print(f"label agreement {agreement:.3f} on {len(page_labels)} faces; largest probability gap {largest_gap:.4f}")
    print(f"crop: mean absolute difference browser vs NumPy {np.mean(crop_gaps):.5f} (worst face {max(crop_gaps):.5f})")
    assert len(page_labels) >= 20
    assert max(crop_gaps) < 0.01  # in model-input units (pixels × scale): the same crop, up to float rounding
    assert agreement >= MIN_AGREEMENT, list(zip(page_labels, python_labels, strict=True))
