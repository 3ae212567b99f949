"""Augmentation: shapes, dtype, value range, determinism under a seed, and each transform doing its job."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")

from training.augment import NO_AUGMENTATION, AugmentConfig, augment_batch  # noqa: E402


def batch(size: int = 96, count: int = 16) -> tf.Tensor:
    rng = np.random.default_rng(0)
    ramp = np.linspace(0, 1, size, dtype=np.float32)[None, None, :, None]
    gradient = ramp * np.ones((count, size, size, 1), np.float32)
    noise = rng.uniform(-0.1, 0.1, (count, size, size, 1)).astype(np.float32)
    return tf.constant(np.clip(gradient + noise, 0, 1))


@pytest.mark.parametrize("size", [48, 96])
def test_shape_dtype_and_range_are_kept(size: int) -> None:
    images = batch(size)
    out = augment_batch(images, tf.constant([3, 4]))
    assert out.shape == images.shape and out.dtype == tf.float32
    assert float(tf.reduce_min(out)) >= 0.0 and float(tf.reduce_max(out)) <= 1.0
    assert not np.allclose(out.numpy(), images.numpy())


def test_same_seed_same_batch_other_seed_other_batch() -> None:
    images = batch()
    first = augment_batch(images, tf.constant([7, 1])).numpy()
    again = augment_batch(images, tf.constant([7, 1])).numpy()
    other = augment_batch(images, tf.constant([7, 2])).numpy()
    np.testing.assert_array_equal(first, again)
    assert np.abs(first - other).mean() > 0.01


def test_no_augmentation_is_identity() -> None:
    images = batch()
    np.testing.assert_allclose(augment_batch(images, tf.constant([1, 1]), NO_AUGMENTATION).numpy(), images.numpy())


def test_flip_alone_mirrors_about_half_the_faces() -> None:
    images = batch(count=64)
    flipped = augment_batch(images, tf.constant([5, 5]), dataclasses.replace(NO_AUGMENTATION, flip=True)).numpy()
    mirrored = [np.array_equal(f, i[:, ::-1]) for f, i in zip(flipped, images.numpy(), strict=True)]
    unchanged = [np.array_equal(f, i) for f, i in zip(flipped, images.numpy(), strict=True)]
    assert all(m or u for m, u in zip(mirrored, unchanged, strict=True))
    assert 16 < sum(mirrored) < 48


def test_brightness_alone_shifts_means_within_its_bound() -> None:
    images = batch(count=64) * 0.5 + 0.25  # away from the clip limits
    config = dataclasses.replace(NO_AUGMENTATION, brightness=0.1)
    shifted = augment_batch(images, tf.constant([9, 9]), config).numpy()
    deltas = shifted.mean(axis=(1, 2, 3)) - images.numpy().mean(axis=(1, 2, 3))
    assert np.all(np.abs(deltas) <= 0.1 + 1e-6) and deltas.std() > 0.02


def test_erasing_alone_changes_one_rectangle_per_chosen_face() -> None:
    images = batch(count=32)
    config = dataclasses.replace(NO_AUGMENTATION, erase_probability=1.0)
    erased = augment_batch(images, tf.constant([2, 3]), config).numpy()
    changed = np.any(erased != images.numpy(), axis=3)
    for mask in changed:
        rows, cols = np.nonzero(mask)
        assert len(rows) > 0
        area = (rows.max() - rows.min() + 1) * (cols.max() - cols.min() + 1)
        assert area <= AugmentConfig().erase_area[1] * 96 * 96 * 1.3


def test_resampling_alone_blurs_the_whole_batch_like_a_bilinear_resize() -> None:
    images = batch(count=8)
    config = dataclasses.replace(NO_AUGMENTATION, resample_probability=1.0)
    resampled = augment_batch(images, tf.constant([4, 4]), config).numpy()
    # Detail is lost: neighbouring pixels differ less than in the sharp input, in every face of the batch.
    def roughness(x):
        return np.abs(np.diff(x, axis=2)).mean(axis=(1, 2, 3))

    assert np.all(roughness(resampled) < roughness(images.numpy()) * 0.9)
    assert float(resampled.min()) >= 0.0 and float(resampled.max()) <= 1.0


def test_gamma_and_noise_change_faces_within_range() -> None:
    images = batch(count=32) * 0.5 + 0.25
    gamma = augment_batch(images, tf.constant([6, 1]), dataclasses.replace(NO_AUGMENTATION, gamma=0.3)).numpy()
    # x ** g keeps the order of pixel values within a face: a monotonic lighting change, not noise.
    for before, after in zip(images.numpy()[:4], gamma[:4], strict=True):
        order = np.argsort(before.ravel())
        assert np.all(np.diff(after.ravel()[order]) >= -1e-6)
    assert np.abs(gamma - images.numpy()).mean() > 0.01
    noisy = augment_batch(images, tf.constant([6, 2]), dataclasses.replace(NO_AUGMENTATION, noise=0.05)).numpy()
    residual = (noisy - images.numpy()).std(axis=(1, 2, 3))
    assert residual.max() <= 0.05 * 1.2 and residual.mean() > 0.005
