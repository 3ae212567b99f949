"""The trainer's occluders (training.occlusion): a hand, glasses or hair drawn over about the share of faces it is
given, each where it belongs in FER2013's framing, staying in [0, 1], repeating itself for a seed, and leaving
faces alone at inference and at rate 0."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image's sample photos are not installed")

from training.occlusion import Occlusion  # noqa: E402

SIZE = 96


def faces(count: int) -> np.ndarray:
    """``count`` copies of a 96×96 grey crop of a real photo, in [0, 1]."""
    crop = skimage_data.camera()[100:196, 200:296].astype(np.float32) / 255
    return np.repeat(crop[None, :, :, None], count, axis=0)


def occluder_masks(layer: Occlusion, kind: str, count: int = 32) -> np.ndarray:
    """Where ``kind`` covers each of ``count`` faces, from 0 (bare) to 1 (covered)."""
    grid = (np.arange(SIZE, dtype=np.float32) + 0.5) / SIZE
    y, x = grid.reshape(1, SIZE, 1, 1), grid.reshape(1, 1, SIZE, 1)
    return np.asarray(getattr(layer, kind)(count, keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)))


def test_faces_pass_unchanged_at_inference_and_at_rate_zero() -> None:
    batch = faces(8)
    assert np.array_equal(np.asarray(Occlusion(1.0, seed=1)(batch, training=False)), batch)
    assert np.array_equal(np.asarray(Occlusion(0.0, seed=1)(batch, training=True)), batch)


def test_about_the_given_share_is_occluded_within_range_and_a_seed_repeats() -> None:
    batch = faces(64)
    first = np.asarray(Occlusion(0.5, seed=3)(batch, training=True))
    again = np.asarray(Occlusion(0.5, seed=3)(batch, training=True))
    changed = np.abs(first - batch).max(axis=(1, 2, 3)) > 0.05
    assert 16 <= changed.sum() <= 48  # Binomial(64, 1/2), outside this 1 time in 10,000
    assert first.min() >= 0 and first.max() <= 1
    assert np.array_equal(first, again)
    # An occluder hides part of a face, never the whole of it.
    covered = (np.abs(first - batch) > 0.05).mean(axis=(1, 2, 3))[changed]
    assert covered.max() < 0.7


def test_a_hand_rises_from_the_bottom_or_a_side_below_the_brow() -> None:
    hands = occluder_masks(Occlusion(1.0, seed=5), "hand")[..., 0]
    edges = np.stack([hands[:, -1, :].max(axis=1), hands[:, :, 0].max(axis=1), hands[:, :, -1].max(axis=1)])
    assert (edges.max(axis=0) > 0.5).all(), "every hand comes in from the frame's bottom or a side"
    assert (edges[0] > 0.5).sum() >= 8 and (edges[1:].max(axis=0) > 0.5).sum() >= 4, "both kinds are drawn"
    assert hands[:, : int(0.1 * SIZE)].max() < 0.5, "none covers the top of the head"


def test_glasses_lie_across_the_eyes() -> None:
    glasses = occluder_masks(Occlusion(1.0, seed=5), "glasses")[..., 0]
    total = glasses.sum(axis=(1, 2))
    assert (total > 20).all()
    eyes = glasses[:, int(0.2 * SIZE): int(0.58 * SIZE)].sum(axis=(1, 2))
    assert (eyes >= 0.98 * total).all()
    # Left and right of the face's middle alike: two lenses.
    left, right = glasses[:, :, : SIZE // 2].sum(axis=(1, 2)), glasses[:, :, SIZE // 2:].sum(axis=(1, 2))
    assert np.allclose(left, right, rtol=0.1)


def test_hair_hangs_from_the_top() -> None:
    hair = occluder_masks(Occlusion(1.0, seed=5), "hair")[..., 0]
    assert (hair[:, 0].mean(axis=1) > 0.9).all(), "from the top of the frame"
    assert hair[:, int(0.6 * SIZE):].max() < 0.5, "never below the eyes"
    assert (hair.sum(axis=(1, 2)) > 0.05 * SIZE * SIZE).all()
