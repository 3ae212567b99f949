"""The simulated camera of the trainer (training.camera): its JPEG is libjpeg's on a real photo within a fraction of
a grey level; it leaves faces alone at inference and at rate 0, degrades about the share it is given, stays in
[0, 1] and repeats itself for a seed; and a run records it only when it is on. The cheap camera that evaluation
puts faces through (training.camera_faces) repeats itself for a seed and changes every face."""

from __future__ import annotations

import io

import numpy as np
import pytest

keras = pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
skimage_data = pytest.importorskip("skimage.data", reason="scikit-image's sample photos are not installed")
from PIL import Image  # noqa: E402

from training.camera import CameraDegradation, jpeg_luminance  # noqa: E402
from training.camera_faces import camera_faces  # noqa: E402
from training.portable import PortableConfig  # noqa: E402


def photo_crop() -> np.ndarray:
    """A 96×96 grey crop of a real photo (scikit-image's cameraman), as float levels 0–255."""
    return skimage_data.camera()[100:196, 200:296].astype(np.float32)


@pytest.mark.parametrize("quality", [10, 30, 60, 90])
def test_jpeg_matches_libjpeg_on_a_real_photo(quality: int) -> None:
    crop = photo_crop()
    encoded = io.BytesIO()
    Image.fromarray(crop.astype(np.uint8)).save(encoded, "JPEG", quality=quality)
    libjpeg = np.asarray(Image.open(encoded), dtype=np.float32)

    ours = np.asarray(jpeg_luminance(crop[None, :, :, None], np.array([quality], np.float32)))[0, :, :, 0]

    assert np.abs(ours - libjpeg).mean() < 0.5  # libjpeg's integer DCT rounds differently, by about a level
    assert np.abs(ours - crop).mean() == pytest.approx(np.abs(libjpeg - crop).mean(), rel=0.1)


def test_faces_pass_unchanged_at_inference_and_at_rate_zero() -> None:
    faces = np.repeat(photo_crop()[None, :, :, None] / 255, 8, axis=0)
    assert np.array_equal(np.asarray(CameraDegradation(1.0, seed=1)(faces, training=False)), faces)
    assert np.array_equal(np.asarray(CameraDegradation(0.0, seed=1)(faces, training=True)), faces)


def test_about_the_given_share_of_faces_is_degraded_within_range_and_a_seed_repeats() -> None:
    faces = np.repeat(photo_crop()[None, :, :, None] / 255, 64, axis=0).astype(np.float32)

    first = np.asarray(CameraDegradation(0.5, seed=3)(faces, training=True))
    again = np.asarray(CameraDegradation(0.5, seed=3)(faces, training=True))

    changed = np.abs(first - faces).max(axis=(1, 2, 3)) > 1e-6
    assert 16 <= changed.sum() <= 48  # Binomial(64, 1/2), outside this 1 time in 10,000
    assert first.min() >= 0 and first.max() <= 1 + 1e-6  # resampling rounds
    assert np.array_equal(first, again)
    every = np.asarray(CameraDegradation(1.0, seed=4)(faces, training=True))
    # Each effect is drawn on its own; a face escapes them all about 1 time in 130.
    assert (np.abs(every - faces).max(axis=(1, 2, 3)) > 1e-6).sum() >= 60
    # The augmentation before it may push light past [0, 1]: a power of a negative level would be NaN.
    overexposed = np.asarray(CameraDegradation(1.0, seed=5)(faces * 1.4 - 0.2, training=True))
    assert np.isfinite(overexposed).all() and overexposed.min() >= 0 and overexposed.max() <= 1 + 1e-6


def test_a_run_records_the_camera_only_when_it_is_on() -> None:
    assert "camera" not in PortableConfig("", "").recipe()  # runs recorded before it existed still match
    assert PortableConfig("", "", camera=0.5).recipe()["camera"] == 0.5


def test_the_evaluation_camera_repeats_for_a_seed_and_changes_every_face() -> None:
    faces = np.stack([skimage_data.camera()[row:row + 192:4, 200:392:4] for row in range(0, 160, 10)])  # 48×48

    first, again, other = camera_faces(faces, 0), camera_faces(faces, 0), camera_faces(faces, 1)

    assert first.shape == faces.shape and first.dtype == np.uint8
    assert np.array_equal(first, again) and not np.array_equal(first, other)
    change = np.abs(first.astype(int) - faces).mean(axis=(1, 2))
    assert (change > 1).all() and (change < 100).all()
