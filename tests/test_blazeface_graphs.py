"""The page's face detectors, converted from MediaPipe's .tflite files (webapp/blazeface_graphs.py), compute in TF.js
(Chromium) what LiteRT computes from the .tflite files, on the astronaut photo and noise, several pictures at once."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import REPO
from tests.images import astronaut
from tests.tfjs_runner import tfjs_predict

pytest.importorskip("ai_edge_litert", reason="LiteRT (requirements-page.txt) is not installed")
NPM_FOLDER = REPO / "node_modules" / "@mediapipe" / "face_detection"
SIZES = {"face_detection_short_range": 128, "face_detection_full_range_sparse": 192}


def litert_outputs(tflite: Path, inputs: np.ndarray) -> np.ndarray:
    """[N, anchors, 17]: MediaPipe's score logits, then its 16 box and keypoint values, one picture at a time."""
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(tflite))
    interpreter.allocate_tensors()
    rows = []
    for picture in inputs:
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], picture[None])
        interpreter.invoke()
        outputs = {int(d["shape"][-1]): interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
        rows.append(np.concatenate([outputs[1], outputs[16]], axis=2)[0])
    return np.stack(rows)


@pytest.mark.parametrize("stem", SIZES)
def test_converted_graph_matches_litert(stem: str, browser, tmp_path: Path) -> None:
    from webapp.blazeface_graphs import SOURCE_FILES, write_graph

    if not NPM_FOLDER.is_dir():
        pytest.fail(f"{NPM_FOLDER} not found: run `npm ci`")
    write_graph(NPM_FOLDER / SOURCE_FILES[stem], tmp_path, stem)
    shutil.copyfile(tmp_path / f"{stem}.json", tmp_path / "model.json")  # the name tfjs_predict loads
    size = SIZES[stem]
    photo = np.asarray(Image.fromarray(astronaut()).resize((size, size), Image.BILINEAR), np.float32) / 127.5 - 1
    noise = np.random.default_rng(0).uniform(-1, 1, photo.shape).astype(np.float32)
    inputs = np.stack([photo, noise])

    expected = litert_outputs(NPM_FOLDER / SOURCE_FILES[stem], inputs)
    got = tfjs_predict(browser, tmp_path, inputs)

    assert got.shape == expected.shape == (2, expected.shape[1], 17)
    # Boxes are in input pixels (up to a few hundred): float32 rounding in another order of operations.
    np.testing.assert_allclose(got, expected, atol=2e-3, rtol=1e-4)
    # The astronaut's face is found, by the same anchor, in both.
    assert expected[0, :, 0].max() > 0 and got[0, :, 0].argmax() == expected[0, :, 0].argmax()
    weights = json.loads((tmp_path / "model.json").read_text())["weightsManifest"][0]["weights"]
    # MediaPipe's float16 weights are kept as float16: the graph is no bigger than the .tflite file needs.
    assert any(entry.get("quantization", {}).get("dtype") == "float16" for entry in weights)
