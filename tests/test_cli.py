"""`python -m emotion_detector`: a folder of good and bad files gives rows for the good ones, names each bad one
with its reason and exits non-zero; a generated video gives per-frame rows with one stable track ID."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import MODEL_DIR, REPO
from tests.images import astronaut, astronaut_video_frames, save_png

pytest.importorskip("ai_edge_litert", reason="the Python package's runtime (requirements.txt) is not installed")
from tests.test_python_api import write_video  # noqa: E402

LABELS = json.loads((MODEL_DIR / "metadata.json").read_text())["labels"]


def run_cli(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_detector", "--model-dir", str(MODEL_DIR), *args],
                          capture_output=True, text=True, cwd=cwd, timeout=300)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """Good files, and bad ones with (a fragment of) the reason the CLI must give for each."""
    folder = tmp_path_factory.mktemp("mixed")
    (folder / "nested" / "deeper").mkdir(parents=True)
    save_png(astronaut(), folder / "astronaut.png")
    save_png(astronaut()[:, ::-1].copy(), folder / "nested" / "deeper" / "mirrored.png")
    clip = write_video(astronaut_video_frames(8), folder / "nested" / "clip.mp4", fps=8)
    (folder / "notes.txt").write_text("not a picture, and not named like one: skipped")
    png = (folder / "astronaut.png").read_bytes()
    video = clip.read_bytes()
    bad = {
        "text.jpg": "not an image",
        "empty.png": "not an image",
        "nested/truncated.png": "corrupt or truncated image",
        "random.mp4": "not a readable video",
        "nested/cut.mp4": "not a readable video",
        "unknown-codec.mp4": "unsupported video codec",
        "tiny.png": "image is 4×4 pixels: too small to hold a face",
    }
    save_png(np.full((4, 4, 3), 128, np.uint8), folder / "tiny.png")
    (folder / "text.jpg").write_text("This is a text file that only claims to be a JPEG.\n")
    (folder / "empty.png").write_bytes(b"")
    (folder / "nested" / "truncated.png").write_bytes(png[: len(png) // 3])
    (folder / "random.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    (folder / "nested" / "cut.mp4").write_bytes(video[: len(video) // 2])  # the index (moov) is at the end
    assert video.count(b"avc1") >= 1
    (folder / "unknown-codec.mp4").write_bytes(video.replace(b"avc1", b"zzz1"))  # a codec FFmpeg does not know
    return folder, bad


def test_folder_with_bad_files_reports_each_and_processes_the_rest(mixed_folder, tmp_path) -> None:
    folder, bad = mixed_folder
    completed = run_cli(str(folder), "--output", str(tmp_path / "faces.csv"), "--annotate", str(tmp_path / "ann"))
    assert completed.returncode == 1, completed.stderr
    rows = list(csv.DictReader((tmp_path / "faces.csv").open()))
    files = {Path(row["file"]).relative_to(folder).as_posix() for row in rows}
    assert files == {"astronaut.png", "nested/deeper/mirrored.png", "nested/clip.mp4"}
    for image in ("astronaut.png", "nested/deeper/mirrored.png"):  # her face is the largest box in each
        faces = [row for row in rows if row["file"] == str(folder / image)]
        assert max(faces, key=lambda row: float(row["width"]))["label"] == "happy"
    assert len([row for row in rows if row["kind"] == "video"]) == 8
    summary = completed.stderr[completed.stderr.index("done:"):]
    assert f"{len(bad)} failed" in summary and "1 other files in folders skipped" in summary
    for name, reason in bad.items():
        assert f"{folder / name}: {reason}" in summary, (name, summary)
    assert "images/s" in summary and "frames/s" in summary
    assert (tmp_path / "ann" / "astronaut.png").is_file()
    assert (tmp_path / "ann" / "nested" / "deeper" / "mirrored.png").is_file()
    assert (tmp_path / "ann" / "nested" / "clip.mp4").stat().st_size > 1000


def test_all_good_files_exit_zero_and_a_missing_path_fails(mixed_folder, tmp_path) -> None:
    folder, _ = mixed_folder
    good = run_cli(str(folder / "astronaut.png"), "-q")
    assert good.returncode == 0, good.stderr
    rows = list(csv.DictReader(io.StringIO(good.stdout)))
    assert len(rows) == 1 and rows[0]["file"] == str(folder / "astronaut.png")
    assert list(rows[0]) == ["file", "kind", "frame", "time", "face", "x", "y", "width", "height", "score", *LABELS,
                             "label"]
    assert sum(float(rows[0][label]) for label in LABELS) == pytest.approx(1, abs=1e-3)
    missing = run_cli(str(tmp_path / "nowhere.jpg"), "-q")
    assert missing.returncode == 1
    assert f"{tmp_path / 'nowhere.jpg'}: file not found" in missing.stderr


def test_video_gives_per_frame_rows_with_a_stable_track_id(tmp_path) -> None:
    video = write_video(astronaut_video_frames(30), tmp_path / "drift.mp4", fps=15)
    completed = run_cli(str(video), "--format", "jsonl", "-q")
    assert completed.returncode == 0, completed.stderr
    rows = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [row["frame"] for row in rows] == list(range(30))
    assert [row["time"] for row in rows] == pytest.approx([index / 15 for index in range(30)], abs=1e-3)
    assert {row["face"] for row in rows} == {1}
    assert all(row["kind"] == "video" and row["label"] in LABELS for row in rows)
    xs = [row["x"] for row in rows]
    assert xs[-1] - xs[0] == pytest.approx(100 * 360 / 400 * 0.9, rel=0.35)  # the face drifts right, as drawn
    every_fifth = run_cli(str(video), "--format", "jsonl", "--every-n-frames", "5", "-q")
    assert [json.loads(line)["frame"] for line in every_fifth.stdout.splitlines()] == list(range(0, 30, 5))


def test_help_documents_every_option() -> None:
    from emotion_detector.cli import build_parser

    completed = run_cli("--help")
    assert completed.returncode == 0
    actions = [action for action in build_parser()._actions if action.option_strings]
    assert len(actions) > 10
    for action in actions:
        assert action.help, action.option_strings
        for option in action.option_strings:
            assert option in completed.stdout, option
    for topic in ("exit status", "csv", "json lines", "track id", "frames", "skipped"):
        assert topic in completed.stdout.lower(), topic


def test_missing_model_folder_is_a_setup_error(tmp_path) -> None:
    completed = subprocess.run([sys.executable, "-m", "emotion_detector", "--model-dir", str(tmp_path), "x.png"],
                               capture_output=True, text=True, cwd=REPO, timeout=120)
    assert completed.returncode == 2
    assert f"{tmp_path / 'metadata.json'} not found" in completed.stderr
