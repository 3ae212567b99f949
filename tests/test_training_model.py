"""The networks and the distillation targets: shapes, costs and the mix of labels and teacher probabilities."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")
import keras  # noqa: E402

from training.distill import averaged_probabilities, distillation_targets, load_teachers  # noqa: E402
from training.labels import EMOTIONS  # noqa: E402
from training.model import ARCHITECTURES, build_model, inference_model, multiply_adds  # noqa: E402


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


def test_multiply_adds_count_every_convolution_at_its_output_size() -> None:
    # pyramid width 16 by hand: output positions × 3·3 × channels in × channels out, block by block
    stem = 48 * 48 * 9 * (1 * 16 + 16 * 24)
    blocks = sum(size * size * 9 * (c_in * c_out + c_out * c_out)
                 for size, c_in, c_out in ((24, 24, 48), (12, 48, 96), (6, 96, 192)))
    assert multiply_adds(build_model(96, len(EMOTIONS), width=16, architecture="pyramid")) == stem + blocks
    separable = build_model(96, len(EMOTIONS), width=16, architecture="separable")
    separable_blocks = sum(size * size * (9 * c_in + c_in * c_out + 9 * c_out + c_out * c_out)
                           for size, c_in, c_out in ((24, 24, 48), (12, 48, 96), (6, 96, 192)))
    assert multiply_adds(separable) == stem + separable_blocks


def test_unknown_architecture_is_named_in_the_error() -> None:
    with pytest.raises(ValueError, match="'resnet'.*vgg96, pyramid, separable"):
        build_model(96, len(EMOTIONS), architecture="resnet")


def test_an_ensemble_of_flip_averaged_teachers_gives_their_mean_probabilities(tmp_path) -> None:
    keras.mixed_precision.set_global_policy("float32")  # an earlier test may have left another policy
    paths = []
    for seed in (3, 4):
        keras.utils.set_random_seed(seed)
        build_model(96, len(EMOTIONS), width=8, architecture="pyramid").save(tmp_path / f"t{seed}.keras")
        paths.append(str(tmp_path / f"t{seed}.keras"))
    faces = np.random.default_rng(3).random((6, 96, 96, 1), dtype=np.float32)

    taught = keras.ops.convert_to_numpy(averaged_probabilities(load_teachers(paths, 96, flip_average=True), faces))

    expected = np.mean([inference_model(keras.models.load_model(path, compile=False), flip_average=True)
                        .predict(faces, verbose=0) for path in paths], axis=0)
    np.testing.assert_allclose(taught, expected, atol=1e-5)
    with pytest.raises(ValueError, match=r"teacher input \(96, 96\) differs from the faces it would label \(48×48\)"):
        load_teachers(paths[:1], 48)


def test_distillation_targets_mix_labels_with_softened_teacher_probabilities() -> None:
    labels = np.eye(len(EMOTIONS), dtype=np.float32)[[0, 3]]
    probabilities = np.array([[0.5, 0.1, 0.1, 0.1, 0.1, 0.05, 0.05], [0.01, 0.01, 0.01, 0.9, 0.03, 0.02, 0.02]],
                             np.float32)

    targets = keras.ops.convert_to_numpy(distillation_targets(labels, probabilities, 0.25, 2.0))

    softened = probabilities**0.5 / (probabilities**0.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(targets, 0.75 * labels + 0.25 * softened, atol=1e-6)
    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-6)
