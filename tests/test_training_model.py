"""The networks and the distillation targets: shapes, costs and the mix of labels and teacher probabilities."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")

from training.labels import EMOTIONS  # noqa: E402
from training.model import ARCHITECTURES, build_model, inference_model  # noqa: E402
from training.train import PreparedData, TrainConfig, teacher_targets  # noqa: E402


def multiply_adds(model) -> int:
    total = 0
    for layer in model.layers:
        if layer.__class__.__name__ == "Conv2D":
            _, height, width, _ = layer.output.shape
            total += height * width * int(np.prod(layer.kernel.shape))
    return total


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_each_architecture_maps_faces_to_probabilities(architecture: str) -> None:
    model = inference_model(build_model(96, len(EMOTIONS), width=8, architecture=architecture))
    probabilities = model.predict(np.random.default_rng(0).random((3, 96, 96, 1), np.float32), verbose=0)
    assert probabilities.shape == (3, len(EMOTIONS))
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)


def test_pyramid_costs_less_than_half_of_vgg96_at_the_same_parameter_budget() -> None:
    vgg = build_model(96, len(EMOTIONS), width=20, architecture="vgg96")
    pyramid = build_model(96, len(EMOTIONS), width=16, architecture="pyramid")
    assert pyramid.count_params() <= vgg.count_params()
    assert multiply_adds(pyramid) < 0.5 * multiply_adds(vgg)


def test_unknown_architecture_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'resnet'.*vgg96, pyramid"):
        build_model(96, len(EMOTIONS), architecture="resnet")


def test_teacher_targets_mix_labels_with_softened_teacher_probabilities(tmp_path) -> None:
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (10, 96, 96), dtype=np.uint8)
    labels = rng.integers(0, len(EMOTIONS), 10)
    data = PreparedData(images, labels, images[:2], labels[:2], "sha")
    teacher = build_model(96, len(EMOTIONS), width=8, architecture="pyramid")
    teacher_path = tmp_path / "teacher.keras"
    teacher.save(teacher_path)
    config = TrainConfig(data="", teacher=str(teacher_path), distill_weight=0.25, distill_temperature=2.0)

    targets = teacher_targets(config, data, tmp_path)

    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    assert np.all(targets[np.arange(10), labels] >= 0.75)  # the label keeps 1 − distill_weight
    teacher_part = (targets - 0.75 * np.eye(len(EMOTIONS))[labels]) / 0.25
    probabilities = inference_model(teacher).predict(images[..., None] / 255.0, verbose=0)
    softened = probabilities**0.5 / (probabilities**0.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(teacher_part, softened, atol=1e-4)
    assert list(tmp_path.glob("teacher-*.npy")), "the teacher's probabilities are cached in the run folder"
    np.testing.assert_allclose(teacher_targets(config, data, tmp_path), targets, atol=1e-6)
    assert teacher_targets(TrainConfig(data=""), data, tmp_path) is None
