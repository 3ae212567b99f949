"""Every photometric step a model may declare gives the same levels in the three places that apply it: NumPy
(emotion_detector.photometric: the Python package and `training evaluate`), the Keras layer the trainer puts in its
graph, and the page's static/js/photometric.js."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from emotion_detector.photometric import STEPS, apply_steps, check_steps
from training.preprocessing import PHOTOMETRIC

SIZE = 96


@pytest.fixture(scope="module")
def faces() -> np.ndarray:
    """Real photographs' grey crops, bilinearly resized to the network's input as the page resizes a face: the
    resize leaves quarter levels, which the whole-level steps must round alike everywhere."""
    from skimage import data

    pictures = [data.camera(), data.astronaut()[:, :, 1], data.coffee()[:, :, 0], data.chelsea()[:, :, 2],
                np.full((64, 64), 77, np.uint8)]  # a face of one level
    crops = [Image.fromarray(np.ascontiguousarray(picture[:240, 100:340])).resize((SIZE // 2, SIZE // 2))
             for picture in pictures]
    small = np.stack([np.asarray(crop, np.float32) for crop in crops])
    return np.stack([np.asarray(Image.fromarray(face).resize((SIZE, SIZE), Image.BILINEAR)) for face in small])


def test_every_step_has_a_preset() -> None:
    declared = {step["op"] for steps in PHOTOMETRIC.values() for step in steps}
    assert declared == set(STEPS)


def test_standardize_gives_the_declared_mean_and_spread(faces: np.ndarray) -> None:
    out = apply_steps(faces[:4], [{"op": "standardize", "mean": 127.5, "std": 73.6}])
    np.testing.assert_allclose(out.mean(axis=(1, 2)), 127.5, atol=1e-3)
    np.testing.assert_allclose(out.std(axis=(1, 2)), 73.6, rtol=1e-4)
    flat = apply_steps(faces[4:], [{"op": "standardize", "mean": 127.5, "std": 73.6}])
    np.testing.assert_allclose(flat, 127.5)  # a face of one level has no spread to scale


def test_clahe_of_one_unclipped_tile_is_the_cumulative_histogram(faces: np.ndarray) -> None:
    levels = np.rint(faces[0]).astype(np.uint8)
    cdf = np.cumsum(np.bincount(levels.ravel(), minlength=256)) / levels.size
    out = apply_steps(levels.astype(np.float32), [{"op": "clahe", "tiles": 1, "clip": 256}])
    np.testing.assert_allclose(out, 255 * cdf[levels], atol=1e-3)


def test_clahe_limits_contrast_and_stays_within_levels(faces: np.ndarray) -> None:
    steps = [{"op": "clahe", "tiles": 4, "clip": 2.0}]
    out = apply_steps(faces, steps)
    assert out.min() >= 0 and out.max() <= 255
    equalised = apply_steps(faces, [{"op": "equalize_histogram"}])
    # Clipping keeps the mapping's slope near 2 at most: a real face's spread grows less than equalisation's.
    assert out[:4].std() < equalised[:4].std()
    with pytest.raises(ValueError, match="does not divide into 5 tiles"):
        apply_steps(faces, [{"op": "clahe", "tiles": 5, "clip": 2.0}])


@pytest.mark.parametrize("step, expected", [
    ({"op": "clahe", "tiles": 0, "clip": 2.0}, "step 1 \\(clahe\\) needs whole tiles >= 1 and a clip >= 1"),
    ({"op": "clahe", "tiles": 4}, "step 1 \\(clahe\\) needs whole tiles"),
    ({"op": "standardize", "mean": 127.5, "std": 0}, "step 1 \\(standardize\\) needs a mean and a std > 0"),
    ({"op": "sharpen"}, "step 1 is .*expected an op of contrast, equalize_histogram, clahe, standardize"),
])
def test_bad_steps_are_refused_by_name(step: dict, expected: str) -> None:
    with pytest.raises(ValueError, match=f"metadata.json: preprocessing.photometric {expected}"):
        check_steps([step], "metadata.json")


@pytest.mark.parametrize("preset", sorted(PHOTOMETRIC))
def test_the_trainers_keras_layer_matches_numpy(preset: str, faces: np.ndarray) -> None:
    pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
    from training.portable import Photometric

    steps = PHOTOMETRIC[preset]
    in_graph = np.asarray(Photometric(steps)(faces[..., None] / 255))[..., 0] * 255
    np.testing.assert_allclose(in_graph, apply_steps(faces, steps), atol=2e-3)


APPLY_ON_THE_PAGE = """async ({faces, presets}) => {
  const { applySteps, checkSteps } = await import('/static/js/photometric.js');
  return Object.fromEntries(Object.entries(presets).map(([name, steps]) => {
    checkSteps(steps);
    return [name, faces.map((face) => Array.from(applySteps(Float32Array.from(face), steps)))];
  }));
}"""


def test_the_page_matches_numpy(loaded_page, faces: np.ndarray) -> None:
    on_page = loaded_page.evaluate(APPLY_ON_THE_PAGE, {"faces": faces.reshape(len(faces), -1).tolist(),
                                                       "presets": PHOTOMETRIC})
    for preset, steps in PHOTOMETRIC.items():
        page = np.asarray(on_page[preset], np.float32).reshape(faces.shape)
        worst = float(np.abs(page - apply_steps(faces, steps)).max())
        print(f"{preset}: page vs NumPy, largest gap {worst:.5f} levels")
        assert worst < 2e-3, preset
