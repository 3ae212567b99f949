"""One preprocessing contract: metadata.json declares how a face becomes model input (crop, bilinear resize,
photometric steps, scaling) and how the output becomes probabilities (calibration temperature). On raw FER2013
faces, the page's classifier (in Chromium, through bench/'s harness, which is also how bench/run.py measures our
model), the Python package (LiteRT) and `training evaluate` (the float32 Keras model) must agree within 0.01."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from emotion_detector.photometric import STEPS, apply_steps
from tests.fer_sample import sample_faces
from tests.shared_assets import REPO
from tests.tfjs_runner import require_browser_stack

MODEL_DIR = REPO / "converted_model"
FACES = 24
TOLERANCE = 0.01


@pytest.fixture(scope="module")
def metadata() -> dict:
    return json.loads((MODEL_DIR / "metadata.json").read_text())


@pytest.fixture(scope="module")
def raw_faces() -> np.ndarray:
    faces, _ = sample_faces("PublicTest", FACES)
    return faces


def python_package_probabilities(faces: np.ndarray) -> np.ndarray:
    """The Python package's classifier on each face, through a detector box whose crop (metadata's margin and
    shift) is exactly the 48×48 face."""
    from emotion_detector.classifier import EmotionClassifier
    from emotion_detector.geometry import Box
    from emotion_detector.model_files import ModelFiles

    metadata = json.loads((MODEL_DIR / "metadata.json").read_text())
    crop = metadata["preprocessing"]["face_crop"]
    side = 48 / (1 + 2 * crop["margin"])
    box = Box(24 - side / 2, 24 - side / 2 - crop["shift_y"] * side, side, side)
    classifier = EmotionClassifier(ModelFiles(MODEL_DIR, metadata, MODEL_DIR / metadata["litert"]["path"], MODEL_DIR))
    return np.concatenate([classifier.classify(np.repeat(face[..., None], 3, axis=-1), [box]) for face in faces])


def test_metadata_declares_the_photometric_steps_and_temperature(metadata: dict) -> None:
    steps = metadata["preprocessing"]["photometric"]
    assert isinstance(steps, list) and all(step["op"] in STEPS for step in steps)
    assert metadata["output"]["temperature"] > 0


def test_photometric_steps_match_opencv_on_raw_faces(raw_faces: np.ndarray) -> None:
    cv2 = pytest.importorskip("cv2", reason="OpenCV comes with the training stack (training/requirements.txt)")
    steps = [{"op": "contrast", "gain": 1.2}, {"op": "equalize_histogram"}]
    expected = np.stack([cv2.equalizeHist(cv2.convertScaleAbs(face, alpha=1.2, beta=0)) for face in raw_faces])
    np.testing.assert_array_equal(apply_steps(raw_faces, steps), expected)
    assert not np.array_equal(apply_steps(raw_faces, steps), raw_faces)


def test_training_evaluate_matches_the_python_package(raw_faces: np.ndarray, metadata: dict) -> None:
    keras = pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
    from training.calibration import with_temperature
    from training.evaluate import model_records, predict_probabilities

    reference_path = MODEL_DIR / metadata["reference_keras"]["path"]
    records = model_records(reference_path)
    assert records == {"photometric": metadata["preprocessing"]["photometric"],
                       "temperature": metadata["output"]["temperature"]}
    reference = keras.models.load_model(reference_path, compile=False)
    training = with_temperature(predict_probabilities(reference, raw_faces, None, "", "bilinear",
                                                      records["photometric"]), records["temperature"])
    package = python_package_probabilities(raw_faces)
    worst = float(np.abs(training - package).max())
    print(f"training evaluate vs Python package: largest probability gap {worst:.4f} on {FACES} raw faces")
    assert worst < TOLERANCE


def test_page_and_bench_match_the_python_package(raw_faces: np.ndarray, tmp_path) -> None:
    require_browser_stack()
    from bench.browser import Job, run_jobs
    from bench.inputs import Faces, write_inputs

    write_inputs(tmp_path, Faces("PublicTest", raw_faces, np.zeros(FACES, np.int64), None),
                 np.zeros((8, 8, 3), np.uint8))
    # The bench drives its own Playwright, whose sync API refuses a thread where the tests' browser fixture already
    # runs an event loop: it gets a thread of its own, as it has a process of its own when run as `bench/run.py`.
    with ThreadPoolExecutor(max_workers=1) as bench_thread:
        [result], _ = bench_thread.submit(run_jobs, [Job("ours", "wasm", True, 0, 0)], MODEL_DIR, tmp_path,
                                          warmup=1).result()
    assert "error" not in result, result
    page = np.asarray(result["probabilities"], np.float32)
    package = python_package_probabilities(raw_faces)
    worst = float(np.abs(page - package).max())
    print(f"page (TF.js WASM) vs Python package: largest probability gap {worst:.4f} on {FACES} raw faces")
    assert page.shape == package.shape and worst < TOLERANCE


CLASSIFY_ON_THE_PAGE = """async ({faces, size}) => {
  // The page's own modules, loaded by the page: its classifier (main thread) and its classifier worker.
  const { load } = await import('/static/js/classifier.js');
  const { ClassifierThread } = await import('/static/js/classifier-thread.js');
  const { wasmPath, modelUrl } = document.body.dataset;
  const classifier = await load({ modelUrl });
  const thread = await ClassifierThread.start({ wasmPath, modelUrl });
  const rows = { main: [], worker: [] };
  const scores = (entries) => entries.map((entry) => entry.probability);
  try {
    for (const face of faces) {
      const canvas = new OffscreenCanvas(size, size);
      const context = canvas.getContext('2d');
      const image = context.createImageData(size, size);
      face.forEach((grey, i) => image.data.set([grey, grey, grey, 255], i * 4));
      context.putImageData(image, 0, 0);
      const whole = [{ x: 0, y: 0, width: size, height: size }];
      rows.main.push(scores((await classifier.classifyRegions(canvas, whole))[0]));
      rows.worker.push(scores((await thread.classifyRegions(await createImageBitmap(canvas), whole))[0]));
    }
  } finally {
    thread.terminate();
    classifier.dispose();
  }
  return rows;
}"""


def test_page_main_thread_and_worker_match_the_python_package(loaded_page, raw_faces: np.ndarray) -> None:
    rows = loaded_page.evaluate(CLASSIFY_ON_THE_PAGE, {"faces": raw_faces.reshape(FACES, -1).tolist(), "size": 48})
    package = python_package_probabilities(raw_faces)
    for where in ("main", "worker"):
        worst = float(np.abs(np.asarray(rows[where], np.float32) - package).max())
        print(f"page ({where}) vs Python package: largest probability gap {worst:.4f} on {FACES} raw faces")
        assert worst < TOLERANCE, where
