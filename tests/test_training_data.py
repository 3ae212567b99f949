"""Loading FER2013 CSVs and image folders: both formats, folder aliases, FER+ votes, parts of splits, every
bad-input case."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.shared_assets import fer2013_csv
from training.data import (
    DataError,
    FaceSet,
    fer_csv_bytes,
    load_dataset,
    overlapping_faces,
    pick_split,
    read_packed,
    save_packed,
)
from training.ferplus import VOTE_COLUMNS
from training.labels import EMOTIONS


def faces(count: int, seed: int = 0) -> FaceSet:
    rng = np.random.default_rng(seed)
    return FaceSet(rng.integers(0, 256, (count, 48, 48), dtype=np.uint8), np.arange(count) % len(EMOTIONS))


def write_csv(path: Path, rows: list[str], header: str = "emotion,pixels,Usage") -> Path:
    text = "\n".join([header, *rows]) + "\n"
    if path.suffix == ".gz":
        path.write_bytes(gzip.compress(text.encode()))
    else:
        path.write_text(text)
    return path


def pixel_text(values: list[int] | None = None) -> str:
    return " ".join(map(str, values if values is not None else [128] * 2304))


def write_image(path: Path, size: tuple[int, int] = (100, 80), mode: str = "RGB") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(len(str(path)))
    channels = 3 if mode == "RGB" else 1
    array = rng.integers(0, 256, (size[1], size[0], channels), dtype=np.uint8).squeeze()
    Image.fromarray(array).save(path)


@pytest.mark.parametrize("suffix", [".csv", ".csv.gz"])
def test_fer_csv_plain_and_gzip_round_trip_by_usage(tmp_path: Path, suffix: str) -> None:
    train, public = faces(14, seed=1), faces(7, seed=2)
    text = fer_csv_bytes(train, "Training") + fer_csv_bytes(public, "PublicTest").split(b"\n", 1)[1]
    path = tmp_path / f"fer{suffix}"
    path.write_bytes(gzip.compress(text) if suffix.endswith(".gz") else text)

    splits = load_dataset(path)

    assert sorted(splits) == ["PublicTest", "Training"]
    np.testing.assert_array_equal(splits["Training"].images, train.images)
    np.testing.assert_array_equal(splits["Training"].labels, train.labels)
    np.testing.assert_array_equal(splits["PublicTest"].images, public.images)
    assert splits["Training"].images.dtype == np.uint8


def test_fer_csv_without_usage_column_is_one_split(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "no_usage.csv", [f"3,{pixel_text()}", f"5,{pixel_text()}"], header="emotion,pixels")
    splits = load_dataset(path)
    assert list(splits) == ["All"]
    assert splits["All"].labels.tolist() == [3, 5]


@pytest.mark.parametrize(
    ("row", "expected"),
    [
        (f"3,{pixel_text([1] * 2303)},Training", "2303 values, expected 2304"),
        (f"3,{pixel_text([1] * 2303 + [999])},Training", "outside 0–255"),
        (f"3,{pixel_text([1] * 2303)} x7,Training", "'x7', expected 2304 integers"),
        (f"7,{pixel_text()},Training", "'emotion' is 7, expected 0–6"),
        (f"-1,{pixel_text()},Training", "'emotion' is -1, expected 0–6"),
        (f"happy,{pixel_text()},Training", "'emotion' is 'happy', expected an integer"),
    ],
)
def test_bad_csv_row_names_file_line_field_and_expectation(tmp_path: Path, row: str, expected: str) -> None:
    path = write_csv(tmp_path / "bad.csv", [f"0,{pixel_text()},Training", row])
    with pytest.raises(DataError) as error:
        load_dataset(path)
    message = str(error.value)
    assert str(path) in message and "line 3" in message and expected in message and "--skip-bad" in message


def test_skip_bad_drops_and_counts_bad_rows(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rows = [f"0,{pixel_text()},Training", f"9,{pixel_text()},Training", f"2,{pixel_text([5] * 10)},Training",
            f"4,{pixel_text()},Training"]
    path = write_csv(tmp_path / "some_bad.csv", rows)
    with caplog.at_level(logging.WARNING):
        training = load_dataset(path, skip_bad=True)["Training"]
    assert training.labels.tolist() == [0, 4]
    assert len(training.skipped) == 2
    assert "skipped 2 bad row(s)" in caplog.text and "line 3" in caplog.text


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path / "cols.csv", ["0,Training"], header="emotion,Usage")
    with pytest.raises(DataError, match=r"missing column\(s\) pixels; expected a header 'emotion,pixels,Usage'"):
        load_dataset(path)


def test_empty_csv_and_missing_path_are_clear(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no usable faces"):
        load_dataset(write_csv(tmp_path / "empty.csv", []))
    with pytest.raises(DataError, match="no such file or folder"):
        load_dataset(tmp_path / "nowhere.csv")
    not_gzip = tmp_path / "fake.csv.gz"
    not_gzip.write_text("emotion,pixels,Usage\n")
    with pytest.raises(DataError, match=r"fake.csv.gz: cannot be read as a FER2013 CSV \(gzip\)"):
        load_dataset(not_gzip)


def test_image_folder_with_splits_and_aliases(tmp_path: Path) -> None:
    aliases = {"anger": "angry", "disgusted": "disgust", "fearful": "fear", "happiness": "happy", "sadness": "sad",
               "surprised": "surprise", "neutrality": "neutral"}
    for folder in aliases:
        write_image(tmp_path / "train" / folder / "a.jpg", size=(120, 90))
        write_image(tmp_path / "train" / folder / "b.png", size=(48, 48), mode="L")
    write_image(tmp_path / "test" / "Happy" / "c.jpg")

    splits = load_dataset(tmp_path)

    assert sorted(splits) == ["Test", "Training"]
    training = splits["Training"]
    assert training.images.shape == (14, 48, 48) and training.images.dtype == np.uint8
    expected = sorted(EMOTIONS.index(aliases[name]) for name in aliases for _ in range(2))
    assert sorted(training.labels.tolist()) == expected
    assert splits["Test"].labels.tolist() == [EMOTIONS.index("happy")]


def test_unpredicted_class_is_skipped_with_a_count(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    write_image(tmp_path / "happy" / "1.jpg")
    for index in range(3):
        write_image(tmp_path / "contempt" / f"{index}.jpg")
    with caplog.at_level(logging.WARNING):
        splits = load_dataset(tmp_path)
    assert splits["All"].labels.tolist() == [EMOTIONS.index("happy")]
    assert "contempt: 3 image(s) skipped" in caplog.text


def test_unreadable_image_names_the_path(tmp_path: Path) -> None:
    write_image(tmp_path / "sad" / "good.jpg")
    broken = tmp_path / "sad" / "broken.jpg"
    broken.write_bytes(b"not a jpeg at all")
    with pytest.raises(DataError) as error:
        load_dataset(tmp_path)
    assert str(broken) in str(error.value) and "unreadable image" in str(error.value)
    assert load_dataset(tmp_path, skip_bad=True)["All"].labels.tolist() == [EMOTIONS.index("sad")]


def test_folder_without_images_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "happy").mkdir()
    with pytest.raises(DataError, match="no images found"):
        load_dataset(tmp_path)
    with pytest.raises(DataError, match="no sub-folders"):
        load_dataset(tmp_path / "happy")


def faces_with_votes(count: int, seed: int) -> FaceSet:
    """Random faces with random FER+ votes, ten per face as FER+ has them."""
    rng = np.random.default_rng(seed)
    votes = np.stack([np.bincount(rng.integers(0, len(VOTE_COLUMNS), 10), minlength=len(VOTE_COLUMNS))
                      for _ in range(count)]).astype(np.uint8)
    return FaceSet(faces(count, seed).images, faces(count, seed).labels, votes=votes)


def test_fer_plus_votes_are_read_and_carried_through_packing_and_parts_of_splits(tmp_path: Path) -> None:
    train, public = faces_with_votes(12, seed=5), faces_with_votes(5, seed=6)
    path = tmp_path / "fer_raw.csv"
    path.write_bytes(fer_csv_bytes(train, "Training") + fer_csv_bytes(public, "PublicTest").split(b"\n", 1)[1])
    assert path.read_text().splitlines()[0] == "emotion,pixels,Usage," + ",".join(VOTE_COLUMNS)

    splits = load_dataset(path)

    for name, expected in (("Training", train), ("PublicTest", public)):
        np.testing.assert_array_equal(splits[name].votes, expected.votes)
        np.testing.assert_array_equal(splits[name].labels, expected.labels)
    packed = tmp_path / "faces.npz.xz"
    save_packed(splits, packed)
    unpacked, _ = read_packed(packed)
    np.testing.assert_array_equal(unpacked["Training"].votes, train.votes)
    np.testing.assert_array_equal(unpacked["PublicTest"].votes, public.votes)
    held_out = pick_split(unpacked, "Training[-4:]", packed)
    np.testing.assert_array_equal(held_out.votes, train.votes[-4:])
    np.testing.assert_array_equal(held_out.images, train.images[-4:])
    plain = tmp_path / "fer.csv"
    plain.write_bytes(fer_csv_bytes(faces(3), "Training"))
    assert load_dataset(plain)["Training"].votes is None, "a file without the vote columns has no votes"


@pytest.mark.parametrize(("votes", "expected"), [
    ("1,2,x,0,0,0,0,0,0,7", "field 'surprise' is 'x', expected a FER+ vote count (an integer 0–10)"),
    ("1,2,0,0,0,0,0,0,0,", "field 'NF' is '', expected a FER+ vote count"),
    ("11,0,0,0,0,0,0,0,0,0", "field 'neutral' is '11', expected a FER+ vote count"),
    ("1,2,0,0,-1,0,0,0,0,7", "field 'anger' is '-1', expected a FER+ vote count"),
])
def test_a_bad_vote_field_is_refused_naming_the_line_and_the_field(tmp_path: Path, votes: str, expected: str) -> None:
    header = "emotion,pixels,Usage," + ",".join(VOTE_COLUMNS)
    path = write_csv(tmp_path / "votes.csv", [f"0,{pixel_text()},Training,0,10,0,0,0,0,0,0,0,0",
                                              f"3,{pixel_text()},Training,{votes}"], header=header)
    with pytest.raises(DataError) as refused:
        load_dataset(path)
    assert str(refused.value).startswith(f"{path}, line 3: {expected}")


def test_real_fer2013_splits_and_class_counts() -> None:
    splits = load_dataset(fer2013_csv())
    if splits["Training"].votes is None:  # the filtered copy of FER2013, as models before raw faces were trained
        assert len(splits["Training"]) == 28709 and len(splits["PublicTest"]) == 3589
        assert splits["Training"].class_counts() == [3995, 436, 4097, 7215, 4830, 3171, 4965]
        assert splits["PublicTest"].class_counts() == [467, 56, 496, 895, 653, 415, 607]
    else:  # fer2013_raw.csv.gz: raw pixels and FER+ votes, faces with a copy in another split left out
        assert sorted(splits) == ["PublicTest", "Training"]
        assert len(splits["Training"]) == 28063 and len(splits["PublicTest"]) == 3529
        assert splits["Training"].votes.shape == (28063, len(VOTE_COLUMNS))
        assert splits["PublicTest"].votes.shape == (3529, len(VOTE_COLUMNS))


def test_command_line_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.shared_assets import REPO

    path = write_csv(tmp_path / "broken.csv", [f"0,{pixel_text()},Training", f"3,{pixel_text([1] * 10)},Training"])
    completed = subprocess.run(
        [sys.executable, "-m", "training", "train", "--data", str(path), "--upscale", "bilinear", "--out",
         str(tmp_path / "run")], cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert completed.returncode == 2
    assert f"error: {path}, line 3: field 'pixels' has 10 values, expected 2304" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_part_of_a_split_is_picked_in_file_order_and_a_bad_part_is_named(tmp_path: Path) -> None:
    train, public = faces(20, seed=3), faces(7, seed=4)
    path = tmp_path / "fer.csv"
    path.write_bytes(fer_csv_bytes(train, "Training") + fer_csv_bytes(public, "PublicTest").split(b"\n", 1)[1])
    splits = load_dataset(path)

    kept, held_out = pick_split(splits, "Training[:-6]", path), pick_split(splits, "training[-6:]", path)

    np.testing.assert_array_equal(kept.images, train.images[:14])
    np.testing.assert_array_equal(held_out.images, train.images[14:])
    np.testing.assert_array_equal(held_out.labels, train.labels[14:])
    with pytest.raises(DataError, match=r"'Training\[-3\]': expected a split name, or NAME\[START:STOP\]"):
        pick_split(splits, "Training[-3]", path)
    with pytest.raises(DataError, match=r"split 'PublicTest\[50:\]' selects none of the 7 faces of PublicTest"):
        pick_split(splits, "PublicTest[50:]", path)
    with pytest.raises(DataError, match=r"no split 'PrivateTest'; it has PublicTest, Training"):
        pick_split(splits, "PrivateTest", path)


@pytest.mark.parametrize(("first", "second", "shared"), [
    ("Training[:-3000]", "Training[-3000:]", 0),
    ("Training[:-2999]", "training[-3000:]", 1),
    ("Training[100:200]", "Training[150:]", 50),
    ("Training[200:100]", "Training", 0),  # an empty part
    ("Training", "PublicTest", 0),
    ("PublicTest", "PublicTest[-10:]", 10),
])
def test_overlapping_faces_counts_what_two_parts_share(first: str, second: str, shared: int) -> None:
    sizes = {"training": 28709, "publictest": 3589}
    assert overlapping_faces(first, second, sizes) == shared == overlapping_faces(second, first, sizes)


@pytest.mark.parametrize(("module", "options", "expected"), [
    ("training", ["--epochs", "0"], "epochs = 0: expected at least 1"),
    ("training", ["--dropout", "1"], "dropout = 1.0: expected at least 0 and less than 1"),
    ("training", ["--devices", "-1"], "devices = -1: expected 0 (every visible device) or more"),
    ("training", ["--ferplus-weight", "1.5"], "ferplus_weight = 1.5: expected from 0 to 1"),
    ("training", ["--camera", "-0.5"], "camera = -0.5: expected from 0 to 1"),
    ("training", ["--occlusion", "1.5"], "occlusion = 1.5: expected from 0 to 1"),
    ("training", ["--photometric", "sharpen"], "photometric = 'sharpen': expected one of none, "),
    ("training.portable", ["--learning-rate", "-0.001"], "learning_rate = -0.001: expected more than 0"),
    ("training.portable", ["--distill-weight", "2"], "distill_weight = 2.0: expected from 0 to 1"),
    ("training.portable", ["--mixup", "0.4", "--cutmix", "1"],
     "mixup = 0.4 and cutmix = 1.0: expected at most one of the two"),
])
def test_out_of_range_options_are_refused_by_name_before_any_data_is_read(
        tmp_path: Path, capsys: pytest.CaptureFixture, module: str, options: list[str], expected: str) -> None:
    import importlib

    main = importlib.import_module(f"{module}.__main__" if module == "training" else module).main
    missing = str(tmp_path / "absent.csv")  # never opened: the options are refused first

    assert main(["train", "--data", missing, "--out", str(tmp_path / "run"), *options]) == 2
    message = capsys.readouterr().err.strip()
    assert message.startswith(f"error: {expected}"), message
    assert not (tmp_path / "run").exists()
