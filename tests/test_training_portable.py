"""The trainer (`python -m training train`, Keras 3 on any backend): packed faces round-trip exactly; the
augmentation's affine map moves pixels where it should; the photometric steps in the training graph are the
package's; a run trains, records itself, teaches the next, is not retrained when finished and resumes when
interrupted, ending as an uninterrupted run; teachers label the very augmented faces the student sees; mixup blends
faces and CutMix pastes boxes, each reporting the share the labels get; the simulated camera trains; one and two
devices train alike; the device script trains its named students side by side."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pytest

from tests.shared_assets import REPO
from training.data import DataError, FaceSet, load_dataset, read_packed, save_packed
from training.files import sha256_file

keras = pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")

from training.labels import EMOTIONS  # noqa: E402
from training.model import build_model  # noqa: E402
from training.portable import (  # noqa: E402
    CosineWithBudget,
    Cutmix,
    Mixup,
    Photometric,
    PickUpscaling,
    PortableConfig,
    RandomAffine,
    training_loss,
    training_model,
)


def random_packed_faces(path: Path, count: int, rng: np.random.Generator) -> Path:
    """A packed Training split of random 48×48 faces, every class in turn: enough for a run to start and finish."""
    faces = FaceSet(rng.integers(0, 256, (count, 48, 48), dtype=np.uint8), np.arange(count) % len(EMOTIONS))
    save_packed({"Training": faces}, path)
    return path


def test_packed_faces_round_trip_exactly_and_a_bad_file_is_named(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    splits = {"Training": FaceSet(rng.integers(0, 256, (50, 48, 48), dtype=np.uint8), rng.integers(0, 7, 50)),
              "PublicTest": FaceSet(rng.integers(0, 256, (9, 48, 48), dtype=np.uint8), rng.integers(0, 7, 9))}
    path = tmp_path / "faces.npz.xz"
    weights = {"lapsrn.0_0f": rng.normal(size=(3, 3, 1, 64)).astype(np.float32)}
    save_packed(splits, path, extra=weights)
    loaded = load_dataset(path)
    assert sorted(loaded) == ["PublicTest", "Training"]
    for name, faces in splits.items():
        assert np.array_equal(loaded[name].images, faces.images)
        assert np.array_equal(loaded[name].labels, faces.labels)
    extra = read_packed(path)[1]
    assert list(extra) == ["lapsrn.0_0f"] and np.array_equal(extra["lapsrn.0_0f"], weights["lapsrn.0_0f"])

    broken = tmp_path / "broken.npz.xz"
    broken.write_bytes(b"not xz at all")
    with pytest.raises(DataError, match=rf"{broken}: not a packed face file"):
        load_dataset(broken)


def test_the_random_affine_map_mirrors_rotates_and_shifts_about_the_centre() -> None:
    faces = np.zeros((64, 9, 9, 1), np.float32)
    faces[:, 4, 6, 0] = 1.0  # one bright pixel right of the centre
    still = RandomAffine(degrees=0.0, zoom=0.0, shift=0.0, seed=3)
    assert np.array_equal(np.asarray(still(faces, training=False)), faces), "inference leaves faces alone"
    moved = np.asarray(still(faces, training=True))
    mirrored = faces[:, :, ::-1]
    is_same = [np.allclose(out, face, atol=1e-5) for out, face in zip(moved, faces, strict=True)]
    is_mirror = [np.allclose(out, face, atol=1e-5) for out, face in zip(moved, mirrored, strict=True)]
    assert all(same or mirror for same, mirror in zip(is_same, is_mirror, strict=True))
    assert 16 < sum(is_mirror) < 48, "about half the faces are mirrored"

    quarter_turn = RandomAffine(degrees=90.0, zoom=0.0, shift=0.0, seed=5)(faces, training=True)
    brightest = [np.unravel_index(np.argmax(out[..., 0]), (9, 9)) for out in np.asarray(quarter_turn)]
    distances = [np.hypot(row - 4, col - 4) for row, col in brightest]
    assert max(distances) <= 2.5 and min(distances) >= 1.0, "a rotation keeps the pixel about 2 px from the centre"
    assert len(set(brightest)) > 3, "each face gets its own angle"


@pytest.mark.parametrize("name", ["equalize", "fer2013-filter"])
def test_the_photometric_layer_does_exactly_what_the_package_does_to_a_crop(name: str) -> None:
    from emotion_detector.photometric import apply_steps
    from training.preprocessing import photometric_steps

    if keras.backend.backend() != "tensorflow":
        pytest.skip("held exact on the TensorFlow backend, the one export and evaluation run on")
    rng = np.random.default_rng(11)
    faces = np.concatenate([
        rng.random((6, 96, 96, 1), dtype=np.float32),  # augmented faces: levels between whole ones
        rng.integers(0, 256, (3, 96, 96, 1)).astype(np.float32) / 255,
        rng.integers(90, 110, (2, 96, 96, 1)).astype(np.float32) / 255,  # low contrast, as a dim camera gives
        np.full((1, 96, 96, 1), 0.5, np.float32),  # one grey level: left as it is
    ])
    steps = photometric_steps(name)

    ours = keras.ops.convert_to_numpy(Photometric(steps)(faces))

    expected = apply_steps(faces * np.float32(255), steps) / np.float32(255)
    np.testing.assert_array_equal(ours, expected)
    assert not np.array_equal(ours, faces), "the steps change the faces, so the comparison bites"


def test_the_schedule_warms_up_anneals_to_zero_and_fits_its_time_budget() -> None:
    schedule = CosineWithBudget(PortableConfig("", "", learning_rate=1e-2, warmup_epochs=1, epochs=11))
    rates = [schedule.learning_rate(epoch) for epoch in range(11)]
    assert rates[0] == pytest.approx(5e-3) and rates[1] == pytest.approx(1e-2)
    assert all(later < earlier for earlier, later in zip(rates[1:], rates[2:], strict=False))
    assert rates[-1] < 0.03 * 1e-2, "the last epoch runs at a few per cent of the peak"

    budgeted = CosineWithBudget(PortableConfig("", "", epochs=300, time_budget=60.0))
    budgeted.epoch_seconds = [20.0, 9.0, 5.0, 6.0]  # compiling, then 5–6 s per epoch
    budgeted.started -= 40.0  # 40 s spent: 20 left, 2 more epochs at 6 s plus the 25% margin (7.5 s)
    budgeted.fit_to_budget(4)
    assert budgeted.epochs == 6
    budgeted.epoch_seconds.append(1.0)
    budgeted.fit_to_budget(5)
    assert budgeted.epochs == 6, "planned after epochs 4 and 12 only"

    shared = CosineWithBudget(PortableConfig("", "", epochs=100, time_budget=100.0))
    shared.epoch_seconds = [9.0, 9.0, 2.0, 2.0]  # a neighbour on the GPU still compiling: slow epochs 3-4
    shared.started -= 22.0  # 78 s left at 2.5 s: 31 more
    shared.fit_to_budget(4)
    assert shared.epochs == 35
    shared.epoch_seconds += [0.8] * 8  # then 0.8 s: 1.0 s with the margin
    shared.started -= 6.4
    shared.fit_to_budget(12)
    assert shared.epochs == 12 + 71, "the second plan uses the time the first one left unused"
    shared.epoch_seconds = shared.epoch_seconds[:4] + [0.1] * 8
    shared.epochs = 35
    shared.fit_to_budget(12)
    assert shared.epochs == 100, "never beyond the configured epochs"


def test_a_run_trains_records_itself_and_teaches_the_next(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    faces = random_packed_faces(tmp_path / "faces.npz.xz", 96, rng)
    out = tmp_path / "teacher"
    command = [sys.executable, "-m", "training", "train", "--data", str(faces), "--out", str(out),
               "--width", "4", "--epochs", "2", "--batch-size", "32", "--precision", "float32", "--upscale", "bilinear"]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    first = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stderr[-4000:]

    record = json.loads((out / "run.json").read_text())
    assert [entry["epoch"] for entry in record["history"]] == [1, 2]
    assert record["train_faces"] == 96 and record["recipe"]["width"] == 4 and record["device"] == "cpu"
    assert json.loads((out / "history.json").read_text()) == record["history"]

    from training.model import inference_model

    teacher = inference_model(keras.models.load_model(out / "model.keras", compile=False), flip_average=True)
    probabilities = teacher.predict(rng.random((3, 96, 96, 1), dtype=np.float32), verbose=0)
    assert probabilities.shape == (3, 7) and np.allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)

    digest = sha256_file(out / "model.keras")
    again = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0 and "finished earlier (2 epochs)" in again.stderr, again.stderr[-4000:]
    assert sha256_file(out / "model.keras") == digest, "a finished run is not retrained"

    student = tmp_path / "student"
    taught = subprocess.run([*command[:7], str(student), "--architecture", "pyramid", "--width", "4", "--epochs", "1",
                             "--batch-size", "32", "--precision", "mixed_bfloat16", "--upscale", "bilinear",
                             "--teacher", str(out / "model.keras"), "--mixup", "0.4", "--camera", "0.5",
                             "--occlusion", "0.3"],
                            cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert taught.returncode == 0, taught.stderr[-4000:]
    record = json.loads((student / "run.json").read_text())
    assert record["recipe"]["teachers_sha256"] == [digest]
    assert record["config"]["teachers"] == [str(out / "model.keras")]
    assert record["recipe"]["distill_weight"] == 0.5 and np.isfinite(record["history"][0]["loss"])
    assert record["recipe"]["mixup"] == 0.4 and record["recipe"]["camera"] == 0.5
    assert record["recipe"]["occlusion"] == 0.3
    assert 0 <= record["history"][0]["accuracy"] <= 1 and record["face_size"] == 48

    pruned = tmp_path / "pruned"
    started = subprocess.run([*command[:7], str(pruned), "--width", "2", "--epochs", "1", "--batch-size", "32",
                              "--precision", "float32", "--upscale", "bilinear",
                              "--init-from", str(out / "model.keras"), "--teacher", str(out / "model.keras"),
                              "--teacher-flip-average", "--cutmix", "1.0"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert started.returncode == 0, started.stderr[-4000:]
    assert f"starting from {out / 'model.keras'} pruned" in started.stderr
    record = json.loads((pruned / "run.json").read_text())
    assert record["recipe"]["init_from_sha256"] == digest and record["config"]["init_from"] == str(out / "model.keras")
    assert record["recipe"]["teacher_flip_average"] is True and record["recipe"]["teachers_sha256"] == [digest]
    assert "teacher_flip_average" not in json.loads((student / "run.json").read_text())["recipe"], \
        "off, it is left out of the recipe, so that runs recorded before it existed still match"
    assert not {"mixup", "camera", "occlusion"} & set(record["recipe"]), "so are mixup, the camera and occluders"
    assert record["recipe"]["cutmix"] == 1.0 and np.isfinite(record["history"][0]["loss"])
    assert "cutmix" not in json.loads((student / "run.json").read_text())["recipe"], "and CutMix"


def classifier_weights(run: Path) -> list[np.ndarray]:
    return [keras.ops.convert_to_numpy(weight) for weight in
            keras.models.load_model(run / "model.keras", compile=False).weights]


def test_an_interrupted_run_resumes_after_its_last_epoch_and_ends_as_an_uninterrupted_one(tmp_path: Path) -> None:
    # TensorFlow here; on JAX, the lent GPUs' backend, the same held (147 s: JAX runs op by op on a CPU).
    epochs = 4
    faces = random_packed_faces(tmp_path / "faces.npz.xz", 256, np.random.default_rng(4))
    teacher = tmp_path / "teacher.keras"
    build_model(96, len(EMOTIONS), width=2, architecture="pyramid").save(teacher)
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "tensorflow"}

    def command(out: Path, *extra: str) -> list[str]:
        # Dropout, augmentation, mixup and a teacher: every random generator a checkpoint has to carry.
        return [sys.executable, "-m", "training", "train", "--data", str(faces), "--out", str(out),
                "--architecture", "pyramid", "--width", "4", "--dropout", "0.3", "--epochs", str(epochs),
                "--batch-size", "32", "--precision", "float32", "--upscale", "bilinear", "--teacher", str(teacher),
                "--mixup", "0.4", *extra]

    whole = subprocess.run(command(tmp_path / "whole"), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert whole.returncode == 0, whole.stderr[-4000:]
    assert not (tmp_path / "whole" / "checkpoint.npz").exists(), "a finished run drops its checkpoint"

    cut = tmp_path / "cut"
    running = subprocess.Popen(command(cut), cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not (cut / "checkpoint.npz").exists() and running.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        running.kill()  # as a machine shutting down or a job's time limit does: no chance to tidy up
        running.wait()
    assert not (cut / "run.json").exists(), "killed before it finished"
    done_before = len(json.loads((cut / "history.json").read_text()))
    assert 1 <= done_before < epochs

    refused = subprocess.run(command(cut, "--seed", "9"), cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 2 and f"{cut / 'checkpoint.npz'}: an unfinished run of another recipe (differs " \
        "in seed)" in refused.stderr, refused.stderr[-2000:]
    assert (cut / "checkpoint.npz").exists(), "the refused run left the checkpoint alone"
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "checkpoint.npz").write_bytes(b"")  # as a machine's crash can leave a file
    refused = subprocess.run(command(broken), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert refused.returncode == 2 and f"{broken / 'checkpoint.npz'}: unreadable checkpoint" in refused.stderr, \
        refused.stderr[-2000:]

    resumed = subprocess.run(command(cut), cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-4000:]
    assert f"resuming {cut} after epoch {done_before} of {epochs}" in resumed.stderr
    record, reference = (json.loads((run / "run.json").read_text()) for run in (cut, tmp_path / "whole"))
    assert [entry["epoch"] for entry in record["history"]] == list(range(1, epochs + 1))
    assert [stretch["first_epoch"] for stretch in record["stretches"]] == [1, done_before + 1]
    for ours, theirs in zip(record["history"], reference["history"], strict=True):
        assert ours["loss"] == pytest.approx(theirs["loss"], rel=1e-5), "the same batches, augmented alike"
        assert ours["learning_rate"] == theirs["learning_rate"]
    for ours, theirs in zip(classifier_weights(cut), classifier_weights(tmp_path / "whole"), strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-4, atol=1e-6)
    assert not list(cut.glob(".*.part.*")) and not (cut / "checkpoint.npz").exists()


def linear_classifier(weights: np.ndarray) -> keras.Model:
    """96×96 faces → softmax of one dense layer: no batch statistics, so training and inference agree."""
    faces = keras.Input((96, 96, 1))
    probabilities = keras.layers.Dense(len(EMOTIONS), activation="softmax")(keras.layers.Flatten()(faces))
    model = keras.Model(faces, probabilities)
    model.layers[-1].set_weights([weights, np.zeros(len(EMOTIONS), np.float32)])
    return model


def test_teachers_see_the_same_augmented_faces_as_the_student() -> None:
    weights = np.random.default_rng(2).normal(0, 0.01, (96 * 96, len(EMOTIONS))).astype(np.float32)
    faces = np.random.default_rng(3).integers(0, 256, (8, 48, 48, 1)).astype(np.float32)
    teacher = linear_classifier(weights)
    model = training_model(linear_classifier(weights), seed=5, teachers=[teacher])

    outputs = keras.ops.convert_to_numpy(model(faces, training=True))

    student, taught = outputs[:, : len(EMOTIONS)], outputs[:, len(EMOTIONS):]
    np.testing.assert_allclose(student, taught, atol=1e-5)
    unaugmented = keras.ops.convert_to_numpy(teacher(keras.ops.image.resize(faces / 255, (96, 96))))
    assert np.abs(taught - unaugmented).max() > 1e-3, "the teacher saw augmented faces, not the originals"


def test_the_distillation_loss_is_cross_entropy_against_labels_mixed_with_softened_teachers() -> None:
    config = PortableConfig("", "", teachers=["t.keras"], label_smoothing=0.0, distill_weight=0.25,
                            distill_temperature=2.0)
    labels = np.eye(len(EMOTIONS), dtype=np.float32)[[0, 3]]
    teacher = np.array([[0.5, 0.5, 0, 0, 0, 0, 0], [0, 0, 0, 0.64, 0.36, 0, 0]], np.float32)

    confident = np.where(labels > 0, 0.9, 0.1 / 6).astype(np.float32)
    sharp = keras.ops.convert_to_numpy(training_loss(config)(labels, np.concatenate([confident, teacher], 1)))
    softened = np.sqrt(teacher) / np.sqrt(teacher).sum(axis=1, keepdims=True)
    expected = -(((0.75 * labels) + 0.25 * softened) * np.log(confident)).sum(axis=1)
    np.testing.assert_allclose(sharp, expected, rtol=1e-5)

    mixed = PortableConfig("", "", teachers=["t.keras"], mixup=0.4, label_smoothing=0.0, distill_weight=0.25,
                           distill_temperature=2.0)
    weight = np.array([[0.9], [0.6]], np.float32)  # face 0 blended with face 1 (the batch rolled by one), and back
    blended = weight * labels + (1 - weight) * labels[[1, 0]]
    outputs = np.concatenate([confident, teacher, weight], 1)
    expected = -(((0.75 * blended) + 0.25 * softened) * np.log(confident)).sum(axis=1)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(training_loss(mixed)(labels, outputs)), expected, rtol=1e-5)
    cut = PortableConfig("", "", teachers=["t.keras"], cutmix=1.0, label_smoothing=0.0, distill_weight=0.25,
                         distill_temperature=2.0)
    np.testing.assert_allclose(keras.ops.convert_to_numpy(training_loss(cut)(labels, outputs)), expected, rtol=1e-5)


def test_mixup_blends_each_face_with_the_next_by_a_weight_of_at_least_half_and_reports_it() -> None:
    faces = np.random.default_rng(4).random((16, 8, 8, 1), dtype=np.float32)
    layer = Mixup(0.4, seed=3)

    blended, weight = (keras.ops.convert_to_numpy(value) for value in layer(faces, training=True))

    assert weight.shape == (16, 1) and 0.5 <= weight.min() and weight.max() <= 1 and weight.std() > 0.05
    w = weight[:, :, None, None]
    np.testing.assert_allclose(blended, w * faces + (1 - w) * np.roll(faces, 1, axis=0), atol=1e-6)
    unchanged, ones = (keras.ops.convert_to_numpy(value) for value in layer(faces, training=False))
    np.testing.assert_array_equal(unchanged, faces)
    np.testing.assert_array_equal(ones, 1.0)


def test_cutmix_pastes_one_box_of_the_next_face_and_reports_the_share_still_its_own() -> None:
    # Face i is filled with the value i, so every pixel tells which face it came from.
    faces = np.broadcast_to(np.arange(1, 65, dtype=np.float32)[:, None, None, None], (64, 96, 96, 1)).copy()
    layer = Cutmix(1.0, seed=3)

    pasted, own = (keras.ops.convert_to_numpy(value) for value in layer(faces, training=True))

    boxes = []
    for index, face in enumerate(pasted[..., 0]):
        box = face != faces[index, 0, 0, 0]
        assert np.isin(face[box], faces[index - 1, 0, 0, 0]).all(), "the box comes from the next face (rolled by one)"
        rows, columns = box.any(axis=1), box.any(axis=0)
        np.testing.assert_array_equal(box, rows[:, None] & columns[None, :])  # one axis-aligned rectangle
        assert abs(rows.sum() - columns.sum()) <= 1, "and a square one, up to a pixel"
        assert own[index, 0] == pytest.approx(1 - box.mean(), abs=1e-6), "the share is counted in whole pixels"
        boxes.append((rows.argmax(), columns.argmax(), rows.sum()))
    assert own.min() >= 0.5 - 2 * 96 / 96**2 and own.max() <= 1, "the face's own pixels keep at least half"
    assert len(set(boxes)) > 50 and 0.70 < own.mean() < 0.80, "each face draws its own box; w ~ U(0.5, 1)"
    again, _ = layer(faces, training=True)
    assert (keras.ops.convert_to_numpy(again) != pasted).any(), "and draws afresh at every step"
    unchanged, ones = (keras.ops.convert_to_numpy(value) for value in layer(faces, training=False))
    np.testing.assert_array_equal(unchanged, faces)
    np.testing.assert_array_equal(ones, 1.0)


def test_mixed_upscaling_gives_each_face_as_one_of_its_two_upscalings_about_half_each() -> None:
    rng = np.random.default_rng(7)
    lapsrn_faces, bilinear_faces = (rng.random((400, 4, 4, 1), dtype=np.float32) for _ in range(2))
    layer = PickUpscaling(seed=2)

    picked = keras.ops.convert_to_numpy(layer([lapsrn_faces, bilinear_faces], training=True))

    from_lapsrn = (picked == lapsrn_faces).all(axis=(1, 2, 3))
    from_bilinear = (picked == bilinear_faces).all(axis=(1, 2, 3))
    assert (from_lapsrn ^ from_bilinear).all(), "every face is one of its two versions, whole"
    assert 160 < from_bilinear.sum() < 240
    again = keras.ops.convert_to_numpy(layer([lapsrn_faces, bilinear_faces], training=True))
    assert (again != picked).any(), "the pick is drawn afresh at every step"
    np.testing.assert_array_equal(layer([lapsrn_faces, bilinear_faces], training=False), lapsrn_faces)


@pytest.mark.parametrize("alpha", [0.4, 1.0])
def test_mixup_weights_follow_the_beta_distribution(alpha: float) -> None:
    many = np.zeros((20000, 1, 1, 1), np.float32)
    _, weight = (keras.ops.convert_to_numpy(value) for value in Mixup(alpha, seed=5)(many, training=True))
    reference = np.random.default_rng(6).beta(alpha, alpha, 200000)
    reference = np.maximum(reference, 1 - reference)
    # Quantiles of max(w, 1 − w) for w ~ Beta(alpha, alpha): Beta(1, 1) gives a uniform weight on [0.5, 1].
    quantiles = [0.1, 0.25, 0.5, 0.75, 0.9]
    np.testing.assert_allclose(np.quantile(weight, quantiles), np.quantile(reference, quantiles), atol=0.01)
    assert len(np.unique(weight)) > 3000, "each face draws its own weight"


@pytest.mark.parametrize("module", ["training", "training.portable"])  # the second as commands written before
def test_a_bad_data_file_is_refused_naming_it(tmp_path: Path, module: str) -> None:
    missing = tmp_path / "nowhere.npz.xz"
    completed = subprocess.run(
        [sys.executable, "-m", module, "train", "--data", str(missing), "--out", str(tmp_path / "o")],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 2 and f"error: {missing}: no such file or folder" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_lapsrn_weights_travel_with_the_faces_and_upscale_them_for_lapsrn_and_mixed_runs(tmp_path: Path) -> None:
    from tests.fer_sample import write_sample_csv
    from tests.shared_assets import lapsrn_model

    pytest.importorskip("tensorflow", reason="pack reads LapSRN's .pb with TensorFlow")
    csv_path = write_sample_csv(tmp_path / "fer.csv", {"Training": 64})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    faces, bare = tmp_path / "faces.npz.xz", tmp_path / "bare.npz.xz"
    for out, lapsrn in ((faces, str(lapsrn_model())), (bare, "")):
        packed = subprocess.run([sys.executable, "-m", "training", "pack", "--data", str(csv_path),
                                 "--out", str(out), "--lapsrn", lapsrn], cwd=REPO, env=env, capture_output=True,
                                text=True, timeout=300)
        assert packed.returncode == 0, packed.stderr[-4000:]
    train = [sys.executable, "-m", "training", "train", "--width", "4", "--epochs", "1",
             "--batch-size", "32", "--precision", "float32"]

    trained = subprocess.run([*train, "--data", str(faces), "--out", str(tmp_path / "run")], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=600)

    assert trained.returncode == 0, trained.stderr[-4000:]
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["recipe"]["upscale"] == "lapsrn" and record["upscale"].startswith("LapSRN ×2")
    assert record["face_size"] == 96, "the network trained on LapSRN's 96×96 faces, not the packed 48×48 ones"
    mixed = subprocess.run([*train, "--data", str(faces), "--out", str(tmp_path / "mixed"), "--upscale", "mixed"],
                           cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert mixed.returncode == 0, mixed.stderr[-4000:]
    record = json.loads((tmp_path / "mixed" / "run.json").read_text())
    assert record["recipe"]["upscale"] == "mixed" and "LapSRN ×2" in record["upscale"] and record["face_size"] == 96
    refused = subprocess.run([*train, "--data", str(bare), "--out", str(tmp_path / "bare_run")], cwd=REPO, env=env,
                             capture_output=True, text=True, timeout=300)
    assert refused.returncode == 2 and f"error: {bare}: holds no LapSRN weights" in refused.stderr


def test_a_run_exports_as_the_browser_model_from_its_own_record(tmp_path: Path) -> None:
    from tests.fer_sample import write_sample_csv
    from tests.shared_assets import lapsrn_model

    pytest.importorskip("tensorflow", reason="export converts with TensorFlow")
    csv_path = write_sample_csv(tmp_path / "fer.csv", {"Training": 64, "PublicTest": 32})
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    run = tmp_path / "run"
    trained = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(csv_path),
                              "--lapsrn", str(lapsrn_model()), "--out", str(run), "--architecture", "pyramid",
                              "--width", "4", "--epochs", "1", "--batch-size", "32", "--precision", "float32"],
                             cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert trained.returncode == 0, trained.stderr[-4000:]
    export = [sys.executable, "-m", "training", "export", "--run-dir", str(run), "--lapsrn", str(lapsrn_model()),
              "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "converted")]

    exported = subprocess.run([*export, "--data", str(csv_path)], cwd=REPO, env=env, capture_output=True, text=True,
                              timeout=600)

    assert exported.returncode == 0, exported.stderr[-4000:]
    metadata = json.loads((tmp_path / "converted" / "metadata.json").read_text())
    training = metadata["training"]
    assert training["trainer"] == "training.portable" and training["superres"].startswith("LapSRN ×2")
    assert training["checkpoint_sha256"] == sha256_file(run / "model.keras")
    assert training["recipe"]["epochs"] == training["epochs_run"] == 1 and training["recipe"]["width"] == 4
    assert sum(training["train_class_counts"]) == training["train_faces"] == 64
    assert metadata["metrics"]["validation"]["faces"] == 32

    other = write_sample_csv(tmp_path / "other.csv", {"Training": 48, "PublicTest": 32})
    refused = subprocess.run([*export, "--data", str(other)], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=600)
    assert refused.returncode == 2, refused.stderr[-4000:]
    assert f"error: {run / 'run.json'}: trained on other faces than {other}'s Training" in refused.stderr


def test_a_taught_mixup_student_trains_on_jax_the_backend_of_the_lent_gpus(tmp_path: Path) -> None:
    pytest.importorskip("jax", reason="JAX is not installed")
    faces = random_packed_faces(tmp_path / "faces.npz.xz", 64, np.random.default_rng(3))
    teacher = tmp_path / "teacher.keras"  # saved by this process's backend: a .keras file is backend-neutral
    build_model(96, len(EMOTIONS), width=4).save(teacher)
    student = tmp_path / "student"
    completed = subprocess.run(
        [sys.executable, "-m", "training", "train", "--data", str(faces), "--out", str(student),
         "--architecture", "pyramid", "--width", "4", "--epochs", "1", "--batch-size", "32", "--upscale", "bilinear",
         "--precision", "mixed_bfloat16", "--teacher", str(teacher), "--mixup", "0.4"],
        cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "jax"}, capture_output=True, text=True,
        timeout=600)
    assert completed.returncode == 0, completed.stderr[-4000:]
    assert "jax backend" in completed.stderr
    record = json.loads((student / "run.json").read_text())
    assert record["recipe"]["mixup"] == 0.4 and np.isfinite(record["history"][0]["loss"])


def test_one_and_two_devices_train_the_same_weights_from_the_same_global_batch(tmp_path: Path) -> None:
    """Data parallelism (keras.distribution, JAX) on two virtual CPU devices: each step's 16 faces split 8 and 8
    give the weights one device gives from all 16, dropout, augmentation and mixup included, since every random
    draw is made for the whole batch."""
    pytest.importorskip("jax", reason="JAX is not installed")
    faces = random_packed_faces(tmp_path / "faces.npz.xz", 64, np.random.default_rng(6))
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "jax",
           "XLA_FLAGS": "--xla_force_host_platform_device_count=2"}
    common = [sys.executable, "-m", "training", "train", "--data", str(faces), "--architecture", "pyramid",
              "--width", "2", "--dropout", "0.3", "--epochs", "2", "--precision", "float32", "--upscale", "bilinear",
              "--mixup", "0.4"]
    runs = {}
    for devices, batch in ((1, 16), (2, 8)):
        out = tmp_path / f"devices{devices}"
        completed = subprocess.run([*common, "--out", str(out), "--devices", str(devices), "--batch-size", str(batch)],
                                   cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
        assert completed.returncode == 0, completed.stderr[-4000:]
        assert f"on cpu × {devices}" in completed.stderr
        runs[devices] = json.loads((out / "run.json").read_text())

    assert runs[2]["devices"] == runs[2]["recipe"]["devices"] == 2
    assert runs[1]["devices"] == 1 and "devices" not in runs[1]["recipe"], "one device: as runs recorded before"
    for one, two in zip(runs[1]["history"], runs[2]["history"], strict=True):
        assert two["loss"] == pytest.approx(one["loss"], rel=1e-4)
    for one, two in zip(classifier_weights(tmp_path / "devices1"), classifier_weights(tmp_path / "devices2"),
                        strict=True):
        np.testing.assert_allclose(two, one, rtol=1e-4, atol=1e-5)


def test_several_devices_need_the_jax_backend_and_as_many_devices(tmp_path: Path,
                                                                    capsys: pytest.CaptureFixture) -> None:
    from training.__main__ import main

    backend = keras.backend.backend()
    expected = (f"devices = 64: training on several devices needs the JAX backend (KERAS_BACKEND=jax), not {backend}"
                if backend != "jax" else "devices = 64: only")
    assert main(["train", "--data", str(tmp_path / "absent.csv"), "--out", str(tmp_path / "run"),
                 "--devices", "64"]) == 2
    assert capsys.readouterr().err.startswith(f"error: {expected}")
    assert not (tmp_path / "run").exists(), "refused before anything is written"


def test_the_gpu_script_trains_each_named_student_side_by_side_and_leaves_few_files(tmp_path: Path) -> None:
    faces = random_packed_faces(tmp_path / "faces.npz.xz", 64, np.random.default_rng(2))
    env = {**os.environ, "PYTHONPATH": str(REPO), "KERAS_BACKEND": "tensorflow"}
    tiny = ["--width", "4", "--epochs", "1", "--batch-size", "32", "--precision", "float32", "--upscale", "bilinear"]
    carried = tmp_path / ".gpu-data"  # the script finds copied teachers there
    teacher = subprocess.run([sys.executable, "-m", "training", "train", "--data", str(faces), "--out",
                              str(tmp_path / "teacher"), *tiny], cwd=REPO, env=env, capture_output=True, text=True,
                             timeout=600)
    assert teacher.returncode == 0, teacher.stderr[-4000:]
    carried.mkdir()
    (tmp_path / "teacher" / "model.keras").rename(carried / "teacher.keras")
    options = " ".join(["--architecture", "pyramid", *tiny])
    out = tmp_path / "out"

    completed = subprocess.run(
        ["bash", str(REPO / "scripts" / "gpu_train.sh")], cwd=tmp_path, capture_output=True, text=True, timeout=900,
        env={**env, "PATH": f"{Path(sys.executable).parent}:{env['PATH']}", "OUT": str(out), "DATA": str(faces),
             "TEACHER_SECONDS": "0", "STUDENTS": f"mixed {options}; teachers-only {options} --distill-weight 1.0"})

    assert completed.returncode == 0, completed.stderr[-4000:]
    files = sorted(str(path.relative_to(out)) for path in out.rglob("*") if path.is_file())
    assert files == ["mixed.tar", "runs.log", "teachers-only.tar"], "one log and one archive per run"
    for name in ("mixed", "teachers-only"):
        with tarfile.open(out / f"{name}.tar") as archive:
            archive.extractall(out, filter="data")
    digest = sha256_file(carried / "teacher.keras")
    weights = {}
    for name in ("mixed", "teachers-only"):
        record = json.loads((out / name / "run.json").read_text())
        assert record["recipe"]["teachers_sha256"] == [digest] and record["recipe"]["width"] == 4
        weights[name] = record["recipe"]["distill_weight"]
    assert weights == {"mixed": 0.5, "teachers-only": 1.0}
    log = (out / "runs.log").read_text()
    assert all(f"{name}/model.keras: 1 epochs" in log for name in weights), "each student's log is kept"


def test_the_gpu_script_refuses_more_runs_than_it_packs(tmp_path: Path) -> None:
    students = "; ".join(f"s{number}" for number in range(7))
    completed = subprocess.run(["bash", str(REPO / "scripts" / "gpu_train.sh")], cwd=tmp_path, capture_output=True,
                               text=True, timeout=120,
                               env={**os.environ, "OUT": str(tmp_path / "out"), "STUDENTS": students})
    assert completed.returncode == 2 and "that is 8 runs" in completed.stderr, completed.stderr[-2000:]
    assert not (tmp_path / "out" / "teacher").exists(), "refused before training anything"
