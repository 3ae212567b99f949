"""The networks and the distillation targets: shapes, costs and the mix of labels and teacher probabilities."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")
import keras  # noqa: E402

from training.distill import load_teachers  # noqa: E402
from training.labels import EMOTIONS  # noqa: E402
from training.model import ARCHITECTURES, build_model, inference_model, multiply_adds  # noqa: E402
from training.train import PreparedData, TrainConfig, make_train_dataset, teacher_targets  # noqa: E402


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


def random_faces_and_saved_teacher(tmp_path, count: int, size: int, seed: int):
    """Random faces with labels, and a small untrained 96×96 teacher saved to disk."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (count, size, size), dtype=np.uint8)
    labels = rng.integers(0, len(EMOTIONS), count)
    teacher = build_model(96, len(EMOTIONS), width=8, architecture="pyramid")
    teacher.save(tmp_path / "teacher.keras")
    return PreparedData(images, labels, images[:2], labels[:2], "sha"), teacher, str(tmp_path / "teacher.keras")


def test_teacher_targets_mix_labels_with_softened_teacher_probabilities(tmp_path) -> None:
    data, teacher, teacher_path = random_faces_and_saved_teacher(tmp_path, count=10, size=96, seed=1)
    images, labels = data.train_images, data.train_labels
    config = TrainConfig(data="", teachers=[teacher_path], distill_weight=0.25, distill_temperature=2.0)

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


def test_a_48_pixel_student_distils_from_the_96_pixel_teacher_seeing_lapsrn_faces(tmp_path) -> None:
    from tests.shared_assets import lapsrn_model
    from training.superres import upscale_cached

    lapsrn = lapsrn_model()
    data, teacher, teacher_path = random_faces_and_saved_teacher(tmp_path, count=4, size=48, seed=2)
    faces = data.train_images
    config = TrainConfig(data="", teachers=[teacher_path], distill_weight=1.0, distill_temperature=1.0,
                         superres=False, lapsrn=str(lapsrn), cache_dir=str(tmp_path / "cache"))

    targets = teacher_targets(config, data, tmp_path)

    upscaled = upscale_cached(faces, lapsrn, str(tmp_path / "cache"))
    expected = inference_model(teacher).predict(upscaled[..., None] / 255.0, verbose=0)
    np.testing.assert_allclose(targets, expected, atol=1e-5)


def test_an_ensemble_of_flip_averaged_teachers_gives_their_mean_probabilities(tmp_path) -> None:
    data, first, first_path = random_faces_and_saved_teacher(tmp_path, count=6, size=96, seed=3)
    second = build_model(96, len(EMOTIONS), width=8, architecture="pyramid")
    second.save(tmp_path / "second.keras")
    config = TrainConfig(data="", teachers=[first_path, str(tmp_path / "second.keras")], teacher_flip_average=True,
                         distill_weight=1.0, distill_temperature=1.0)

    targets = teacher_targets(config, data, tmp_path)

    faces = data.train_images[..., None] / 255.0
    expected = np.mean([inference_model(teacher, flip_average=True).predict(faces, verbose=0)
                        for teacher in (first, second)], axis=0)
    np.testing.assert_allclose(targets, expected, atol=1e-5)
    assert len(list(tmp_path.glob("teacher-*-flip.npy"))) == 2, "each teacher's probabilities are cached"
    assert "teacher_flip_average" in config.recipe() and "teacher_flip_average" not in TrainConfig(data="").recipe()


def decisive_teacher(path, seed: int):
    """An untrained teacher whose output layer is scaled up, so that its probabilities differ from face to face."""
    keras.utils.set_random_seed(seed)
    teacher = build_model(96, len(EMOTIONS), width=8, architecture="pyramid")
    kernel, bias = teacher.get_layer("emotion").get_weights()
    teacher.get_layer("emotion").set_weights([kernel * 300, bias])
    teacher.save(path)
    return teacher


def test_online_teachers_label_the_augmented_batch_the_student_sees(tmp_path) -> None:
    keras.mixed_precision.set_global_policy("float32")  # an earlier test may have left another policy
    data, _, _ = random_faces_and_saved_teacher(tmp_path, count=64, size=96, seed=4)
    first, second = (decisive_teacher(tmp_path / f"{name}.keras", seed) for name, seed in (("a", 1), ("b", 2)))
    config = TrainConfig(data="", teachers=[str(tmp_path / "a.keras"), str(tmp_path / "b.keras")], teacher_online=True,
                         distill_weight=0.25, distill_temperature=2.0, batch_size=16, epochs=2)

    assert teacher_targets(config, data, tmp_path) is None, "online teachers need no precomputed targets"
    teachers = load_teachers(config.teachers, 96)
    dataset, _ = make_train_dataset(data, config, first_epoch=0, teachers=teachers)
    augmented, targets, _ = (tensor.numpy() for tensor in next(iter(dataset)))

    np.testing.assert_allclose(targets.sum(axis=1), 1.0, atol=1e-5)
    labels = targets.argmax(axis=1)  # the label keeps 0.75, the teachers share the other 0.25
    probabilities = np.mean([inference_model(teacher).predict(augmented, verbose=0) for teacher in (first, second)],
                            axis=0)
    assert probabilities.std(axis=0).max() > 0.02, "the teachers tell these faces apart, so the checks below bite"
    softened = probabilities**0.5 / (probabilities**0.5).sum(axis=1, keepdims=True)
    np.testing.assert_allclose((targets - 0.75 * np.eye(len(EMOTIONS))[labels]) / 0.25, softened, atol=1e-4)
    unaugmented = np.mean([inference_model(teacher).predict(data.train_images[..., None] / 255.0, verbose=0)
                           for teacher in (first, second)], axis=0)
    nearest = np.abs(probabilities[:, None] - unaugmented[None]).max(axis=2).min(axis=1)
    assert nearest.min() > 1e-3, "each target comes from an augmented face, not from any original face"
    assert config.recipe()["teacher_online"] and "teacher_online" not in TrainConfig(data="").recipe()
