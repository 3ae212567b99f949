"""LapSRN ×2 with the real model: 96×96 output, better than bicubic on real faces, and an atomic, keyed cache."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

cv2 = pytest.importorskip("cv2", reason="opencv-contrib-python-headless (training/requirements.txt) is not installed")

from tests.shared_assets import lapsrn_model  # noqa: E402
from training.superres import LapSRN, SuperResolutionError, lapsrn_path, upscale_cached  # noqa: E402


def real_faces_96() -> np.ndarray:
    """96×96 grey crops of a real face photo (skimage's astronaut): 27 framings in which the face fills the crop."""
    from skimage import data

    grey = cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2GRAY)
    crops = [grey[top: top + side, left: left + side]
             for side in (150, 190, 230) for top in (10, 40, 70) for left in (130, 160, 190)]
    return np.stack([cv2.resize(crop, (96, 96), interpolation=cv2.INTER_AREA) for crop in crops])


def psnr(reference: np.ndarray, estimate: np.ndarray) -> float:
    error = np.mean((reference.astype(np.float64) - estimate.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0**2 / error)


def test_upscales_48_to_96_uint8() -> None:
    face = np.random.default_rng(0).integers(0, 256, (48, 48), dtype=np.uint8)
    out = LapSRN(lapsrn_model()).upscale(face)
    assert out.shape == (96, 96) and out.dtype == np.uint8


def test_beats_bicubic_on_faces_downscaled_from_96_to_48() -> None:
    model = LapSRN(lapsrn_model())
    gains = []
    for face in real_faces_96():
        small = cv2.resize(face, (48, 48), interpolation=cv2.INTER_CUBIC)
        bicubic = cv2.resize(small, (96, 96), interpolation=cv2.INTER_CUBIC)
        gains.append(psnr(face, model.upscale(small)) - psnr(face, bicubic))
    # LapSRN's gain on these real faces is modest (about +0.3 dB on average) and not uniform across framings.
    assert np.mean(gains) > 0.1, f"PSNR gain over bicubic per face: {np.round(gains, 2)}"
    assert np.mean(np.asarray(gains) > 0) > 0.5


def test_cache_is_keyed_atomic_and_reused(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    faces = np.random.default_rng(1).integers(0, 256, (6, 48, 48), dtype=np.uint8)
    with caplog.at_level(logging.INFO):
        first = upscale_cached(faces, lapsrn_model(), tmp_path, progress=False)
        cached_files = sorted(tmp_path.iterdir())
        second = upscale_cached(faces, lapsrn_model(), tmp_path, progress=False)
    assert first.shape == (6, 96, 96)
    np.testing.assert_array_equal(first, second)
    assert len(cached_files) == 1 and cached_files[0].suffix == ".npy"
    assert "read from cache" in caplog.text

    upscale_cached(faces[:3], lapsrn_model(), tmp_path, progress=False)
    assert len(list(tmp_path.iterdir())) == 2, "other faces must get their own cache entry"

    cached_files[0].write_bytes(b"truncated")
    np.testing.assert_array_equal(upscale_cached(faces, lapsrn_model(), tmp_path, progress=False), first)
    assert not [p for p in tmp_path.iterdir() if ".part" in p.name]


def test_missing_or_bad_model_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("LAPSRN_MODEL", raising=False)
    with pytest.raises(SuperResolutionError, match="--lapsrn"):
        lapsrn_path(None)
    with pytest.raises(SuperResolutionError, match="LapSRN model not found"):
        lapsrn_path(tmp_path / "nope.pb")
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\x00" * 64)
    with pytest.raises(SuperResolutionError, match="not a LapSRN model"):
        LapSRN(junk)


def test_the_keras_port_reproduces_opencv_lapsrn_within_one_grey_level(tmp_path: Path) -> None:
    pytest.importorskip("tensorflow", reason="reading the .pb's weights needs TensorFlow")
    from tests.fer_sample import sample_faces
    from training import lapsrn

    faces = np.concatenate([sample_faces("PublicTest", 24)[0],
                            np.stack([cv2.resize(face, (48, 48), interpolation=cv2.INTER_AREA)
                                      for face in real_faces_96()[:8]])])
    weights = lapsrn.read_weights(lapsrn_model())

    ported = lapsrn.upscale(faces, weights, batch_size=16)

    reference = LapSRN(lapsrn_model()).upscale_all(faces, progress=False)
    difference = np.abs(ported.astype(int) - reference.astype(int))
    assert ported.shape == reference.shape == (32, 96, 96) and ported.dtype == np.uint8
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3, "float rounding only"
    junk = tmp_path / "junk.pb"
    junk.write_bytes(b"\x08\x01" * 16)
    with pytest.raises(ValueError, match=f"{junk}: not"):
        lapsrn.read_weights(junk)
