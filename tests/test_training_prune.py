"""Structured pruning: a narrower network started from a wider one keeps the channels that matter."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("tensorflow", reason="the training stack (training/requirements.txt) is not installed")
import keras  # noqa: E402
from keras import layers  # noqa: E402

from training.labels import EMOTIONS  # noqa: E402
from training.model import build_model, inference_model  # noqa: E402
from training.prune import prune_into, start_from  # noqa: E402


def _trained_looking(width: int, seed: int) -> keras.Model:
    """A pyramid network with random, non-trivial batch-normalisation statistics."""
    model = build_model(96, len(EMOTIONS), width=width, architecture="pyramid")
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization):
            channels = layer.gamma.shape[0]
            layer.set_weights([rng.uniform(0.5, 1.5, channels), rng.normal(0, 0.1, channels),
                               rng.normal(0, 0.1, channels), rng.uniform(0.5, 2.0, channels)])
    return model


def _silence_channels(wide: keras.Model, narrow: keras.Model, seed: int) -> None:
    """Zero the scale and shift of as many channels per layer as the narrow network lacks: they output 0."""
    rng = np.random.default_rng(seed)
    narrow_norms = [layer for layer in narrow.layers if isinstance(layer, layers.BatchNormalization)]
    wide_norms = [layer for layer in wide.layers if isinstance(layer, layers.BatchNormalization)]
    for wide_norm, narrow_norm in zip(wide_norms, narrow_norms, strict=True):
        gamma, beta, mean, variance = wide_norm.get_weights()
        silenced = rng.choice(gamma.shape[0], gamma.shape[0] - narrow_norm.gamma.shape[0], replace=False)
        gamma[silenced] = 0.0
        beta[silenced] = 0.0
        wide_norm.set_weights([gamma, beta, mean, variance])


def test_pruning_drops_exactly_the_channels_that_contribute_nothing() -> None:
    wide = _trained_looking(16, seed=0)
    narrow = build_model(96, len(EMOTIONS), width=12, architecture="pyramid")
    _silence_channels(wide, narrow, seed=1)
    prune_into(wide, narrow)
    faces = np.random.default_rng(2).random((4, 96, 96, 1), np.float32)
    expected = inference_model(wide).predict(faces, verbose=0)
    np.testing.assert_allclose(inference_model(narrow).predict(faces, verbose=0), expected, atol=1e-5)
    assert not np.allclose(expected, expected.mean(axis=0))  # the faces are told apart: the check has teeth


def test_pruning_to_the_same_width_copies_the_network() -> None:
    wide = _trained_looking(8, seed=3)
    copy = build_model(96, len(EMOTIONS), width=8, architecture="pyramid")
    prune_into(wide, copy)
    for original, copied in zip(wide.get_weights(), copy.get_weights(), strict=True):
        np.testing.assert_array_equal(original, copied)


def test_start_from_prunes_only_when_the_widths_differ(tmp_path) -> None:
    wide = _trained_looking(12, seed=4)
    wide.save(tmp_path / "wide.keras")
    same = build_model(96, len(EMOTIONS), width=12, architecture="pyramid")
    start_from(same, str(tmp_path / "wide.keras"))
    np.testing.assert_array_equal(same.get_weights()[0], wide.get_weights()[0])
    narrow = build_model(96, len(EMOTIONS), width=8, architecture="pyramid")
    start_from(narrow, str(tmp_path / "wide.keras"))
    stem, wide_stem = narrow.get_weights()[0], wide.get_weights()[0]
    assert stem.shape == (3, 3, 1, 8) and all(
        any(np.array_equal(stem[..., k], wide_stem[..., j]) for j in range(12)) for k in range(8))


@pytest.mark.parametrize(("source", "target", "message"), [
    (("pyramid", 8), ("pyramid", 12), "more than the"),
    (("pyramid", 8), ("vgg96", 8), "differ in their layers"),
    (("separable", 8), ("separable", 4), "not depthwise"),
])
def test_pruning_refuses_what_it_cannot_do(source, target, message) -> None:
    wide = build_model(96, len(EMOTIONS), width=source[1], architecture=source[0])
    narrow = build_model(96, len(EMOTIONS), width=target[1], architecture=target[0])
    with pytest.raises(ValueError, match=message):
        prune_into(wide, narrow)
