"""Batch analysis on a local Dask cluster of 2 worker processes: the rows equal the single-process command line's
(videos cut into keyframe segments and joined), a worker or the driver killed mid-run loses and repeats no row,
bad files are each reported with their reason, and the plain package does not depend on the engine."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import threading
import time
import tomllib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import MODEL_DIR, REPO
from tests.images import (
    ASTRONAUT_FACE,
    astronaut,
        astronaut_video_frames,
    exif_rotated_jpeg,
    save_png,
)

pytest.importorskip("ai_edge_litert", reason="the Python package's runtime (requirements.txt) is not installed")
distributed = pytest.importorskip("distributed", reason="the cluster extra (requirements.txt) is not installed")

from emotion_detector.cluster import analyse, local_cluster  # noqa: E402
from emotion_detector.cluster_segments import plan_segments  # noqa: E402

KEYFRAME_EVERY = 10
SEGMENT_FRAMES = 10  # the test videos (20 and 30 frames) are cut into 2 and 3 segments


def write_keyframed_video(frames: list[np.ndarray], path: Path, fps: int = 15,
                          keyframe_every: int = KEYFRAME_EVERY) -> Path:
    """H.264 MP4 with a keyframe every ``keyframe_every`` frames (as a camera or an encoder's GOP setting makes)."""
    import av

    height, width = frames[0].shape[:2]
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"crf": "18", "g": str(keyframe_every), "keyint_min": str(keyframe_every),
                          "sc_threshold": "0"}
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


def zoom_with_newcomer_frames(count: int = 30) -> list[np.ndarray]:
    """The astronaut growing from 320 to 420 px (a zoom), and from frame 14 on a second face beside her (her own
    head, mirrored): a track that starts inside the second segment and must keep its ID across the later cuts."""
    x0, y0, x1, y1 = ASTRONAUT_FACE
    head = astronaut()[max(0, y0 - 40):y1 + 40, x0 - 40:x1 + 40, :][:, ::-1]
    newcomer = np.asarray(Image.fromarray(head).resize((200, 200), Image.Resampling.BILINEAR))
    photo = astronaut()[:400, 56:456]
    frames = []
    for index in range(count):
        side = 320 + int(100 * index / (count - 1))
        frame = np.full((480, 640, 3), 90, np.uint8)
        frame[20:20 + side, 0:side] = np.asarray(Image.fromarray(photo).resize((side, side)))
        if index >= 14:
            frame[140:340, 432:632] = newcomer
        frames.append(frame)
    return frames


def make_inputs(folder: Path) -> Path:
    (folder / "videos").mkdir(parents=True)
    save_png(astronaut(), folder / "astronaut.png")
    exif_rotated_jpeg(folder / "rotated.jpg")
    write_keyframed_video(astronaut_video_frames(20), folder / "videos" / "drift.mp4")
    write_keyframed_video(zoom_with_newcomer_frames(30), folder / "videos" / "zoom.mp4")
    return folder


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "emotion_detector", "--model-dir", str(MODEL_DIR), *args],
                          capture_output=True, text=True, cwd=REPO, timeout=300)


def cli_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "emotion_detector", "--model-dir", str(MODEL_DIR), *args]


@pytest.fixture(scope="module")
def inputs(tmp_path_factory) -> Path:
    return make_inputs(tmp_path_factory.mktemp("inputs"))


@pytest.fixture(scope="module")
def reference(inputs, tmp_path_factory) -> list[list[str]]:
    """The single-process command line's rows (header first) for the inputs."""
    output = tmp_path_factory.mktemp("reference") / "faces.csv"
    completed = run_cli(str(inputs), "-o", str(output), "-q")
    assert completed.returncode == 0, completed.stderr
    return list(csv.reader(output.open()))


@pytest.fixture(scope="module")
def dask_cluster():
    """A local cluster of 2 worker processes, shared by the tests (each run connects to it by address)."""
    from distributed import Client

    with local_cluster(2) as cluster, Client(cluster) as client:
        yield cluster.scheduler_address, client


def as_text(rows: list[dict]) -> list[list[str]]:
    """Typed rows (JSON Lines, Parquet) as the CSV writer prints them: str() of each value."""
    return [[str(value) for value in row.values()] for row in rows]


def manifest_entries(output: Path) -> list[dict]:
    manifest = output.with_name(output.name + ".parts") / "manifest.jsonl"
    if not manifest.is_file():
        return []
    entries = []
    for line in manifest.read_text().splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:  # a line being appended right now
            break
    return entries


def files_in_shards(entries: list[dict]) -> list[str]:
    return [path for entry in entries if "shard" in entry for path, *_ in entry["files"]]


def test_videos_are_cut_at_keyframes(inputs) -> None:
    drift, zoom = inputs / "videos" / "drift.mp4", inputs / "videos" / "zoom.mp4"
    assert [(s.start, s.end) for s in plan_segments(zoom, SEGMENT_FRAMES)] == [(0, 10), (10, 20), (20, 30)]
    assert [(s.start, s.end) for s in plan_segments(drift, 7)] == [(0, 10), (10, 20)]  # cuts only at keyframes
    assert plan_segments(drift, 11) is None  # no keyframe leaves two segments of 11 frames: read in one pass


def test_rows_equal_the_single_process_command_line(inputs, reference, dask_cluster, tmp_path) -> None:
    address, _ = dask_cluster
    output = tmp_path / "faces.csv"
    summary = analyse([inputs], output, address, model_dir=MODEL_DIR, segment_frames=SEGMENT_FRAMES)
    assert not summary.failures and summary.files == 4
    assert summary.segments == 2 + 3  # both videos were cut and analysed in parallel
    rows = list(csv.reader(output.open()))
    assert rows == reference
    video_rows = [row for row in rows[1:] if row[1] == "video"]
    assert len(video_rows) == 20 + 30 + 16  # her face in every frame, and the newcomer's from frame 14
    zoom = [row for row in video_rows if row[0].endswith("zoom.mp4")]
    newcomer = [row for row in zoom if float(row[5]) > 400]  # the face entering at frame 14, in segment 2
    assert [int(row[2]) for row in newcomer] == list(range(14, 30))
    assert {row[4] for row in newcomer} == {"2"}  # one track ID across the cut at frame 20
    assert not output.with_name("faces.csv.parts").exists()  # the run's working folder is gone once all is done


def test_worker_killed_mid_run_loses_and_repeats_nothing(inputs, reference, dask_cluster, tmp_path) -> None:
    """A worker process is killed while the run is under way: Dask restarts it and runs its task again; the
    Parquet output still has every row exactly once."""
    import pyarrow.parquet as pq

    address, client = dask_cluster
    output = tmp_path / "faces.parquet"
    pids = set(client.run(os.getpid).values())
    result: dict = {}
    run = threading.Thread(target=lambda: result.update(summary=analyse(
        [inputs], output, address, model_dir=MODEL_DIR, segment_frames=SEGMENT_FRAMES, shard_files=1)))
    run.start()
    deadline = time.monotonic() + 120
    while not manifest_entries(output)[1:] and run.is_alive() and time.monotonic() < deadline:
        time.sleep(0.02)
    entries = manifest_entries(output)
    assert run.is_alive() and len(files_in_shards(entries)) < 4, "the run ended before a worker could be killed"
    os.kill(next(iter(pids)), signal.SIGKILL)
    run.join(timeout=180)
    assert not run.is_alive()
    assert not result["summary"].failures
    assert as_text(pq.read_table(output).to_pylist()) == reference[1:]
    assert set(client.run(os.getpid).values()) != pids  # the killed worker was replaced


def test_driver_killed_mid_run_then_rerun_completes(inputs, reference, dask_cluster, tmp_path) -> None:
    """The command line is killed once some files are done; the rerun analyses only the others and the JSON
    Lines output has every row once."""
    address, _ = dask_cluster
    output = tmp_path / "faces.jsonl"
    options = ["--cluster", address, "-o", str(output), "--segment-frames", str(SEGMENT_FRAMES),
               "--shard-files", "1", "-q"]
    driver = subprocess.Popen(cli_command(str(inputs), *options), cwd=REPO, stderr=subprocess.PIPE,
                              start_new_session=True)
    deadline = time.monotonic() + 120
    while not files_in_shards(manifest_entries(output)) and driver.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert driver.poll() is None, "the run ended before it could be killed"
    driver.send_signal(signal.SIGKILL)
    driver.wait(timeout=30)
    driver.stderr.close()
    done_before = set(files_in_shards(manifest_entries(output)))
    assert 1 <= len(done_before) < 4 and not output.exists()

    rerun = run_cli(str(inputs), *options)
    assert rerun.returncode == 0, rerun.stderr
    assert f"resumed: {len(done_before)} of 4 files" in rerun.stderr
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert as_text(rows) == reference[1:]


def test_bad_files_are_each_reported_and_the_run_exits_non_zero(dask_cluster, tmp_path) -> None:
    address, _ = dask_cluster
    folder = tmp_path / "mixed"
    folder.mkdir()
    save_png(astronaut(), folder / "astronaut.png")
    video = write_keyframed_video(astronaut_video_frames(20), folder / "clip.mp4").read_bytes()
    png = (folder / "astronaut.png").read_bytes()
    bad = {
        "text.jpg": "not an image",
        "truncated.png": "corrupt or truncated image",
        "random.mp4": "not a readable video",
        "cut.mp4": "not a readable video",
        "tiny.png": "image is 4×4 pixels: too small to hold a face",
    }
    (folder / "text.jpg").write_text("This is a text file that only claims to be a JPEG.\n")
    (folder / "truncated.png").write_bytes(png[: len(png) // 3])
    (folder / "random.mp4").write_bytes(np.random.default_rng(0).bytes(4000))
    (folder / "cut.mp4").write_bytes(video[: len(video) // 2])
    save_png(np.full((4, 4, 3), 128, np.uint8), folder / "tiny.png")
    output = tmp_path / "faces.csv"

    completed = run_cli(str(folder), "--cluster", address, "-o", str(output), "--segment-frames", "10")
    assert completed.returncode == 1, completed.stderr
    summary = completed.stderr[completed.stderr.index("done:"):]
    assert f"{len(bad)} failed" in summary and "images/s" in summary and "frames/s" in summary
    for name, reason in bad.items():
        assert f"{folder / name}: {reason}" in summary, (name, summary)
    rows = list(csv.DictReader(output.open()))
    assert {Path(row["file"]).name for row in rows} == {"astronaut.png", "clip.mp4"}
    assert len([row for row in rows if row["kind"] == "video"]) == 20

    rerun = analyse([folder], output, address, model_dir=MODEL_DIR, segment_frames=10)
    assert (rerun.resumed, rerun.files, len(rerun.failures)) == (2, 7, 5)  # only the failed ones again
    assert list(csv.DictReader(output.open())) == rows


def test_a_manifest_line_cut_by_a_crash_is_dropped_and_other_settings_are_refused(tmp_path) -> None:
    from dataclasses import replace

    from emotion_detector.cluster_store import RunFolder, RunFolderError
    from emotion_detector.cluster_tasks import FileResult, Settings

    settings = Settings(str(MODEL_DIR), None, "auto", None, 1, 300, 0.1, "jsonl", SEGMENT_FRAMES)
    output = tmp_path / "faces.jsonl"
    RunFolder(output, settings).add_shard([FileResult("a.png", '{"file": "a.png"}\n', 1, 1, 0, 0.5)])
    manifest = tmp_path / "faces.jsonl.parts" / "manifest.jsonl"
    with manifest.open("a") as handle:
        handle.write('{"shard": "shard-000001.jsonl", "number": 1, "fi')  # the driver killed mid-write
    resumed = RunFolder(output, settings)
    assert list(resumed.files) == ["a.png"]
    resumed.add_shard([FileResult("b.png", '{"file": "b.png"}\n', 1, 1, 0, 0.5)])
    again = RunFolder(output, settings)
    assert list(again.files) == ["a.png", "b.png"] and again.rows_of("b.png") == b'{"file": "b.png"}\n'
    with pytest.raises(RunFolderError, match="other settings \\(every_n_frames\\)"):
        RunFolder(output, replace(settings, every_n_frames=2))


def test_the_plain_package_does_not_pull_in_the_engine() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    engines = ("dask", "distributed", "pyarrow", "ray")
    plain = [requirement.lower() for requirement in project["dependencies"]]
    assert not [requirement for requirement in plain if requirement.startswith(engines)]
    cluster = " ".join(project["optional-dependencies"]["cluster"]).lower()
    assert "dask[distributed]" in cluster and "pyarrow" in cluster
    imported = subprocess.run(
        [sys.executable, "-c", "import sys; from emotion_detector.cli import build_parser; build_parser(); "
                               "print(sorted({m.split('.')[0] for m in sys.modules} & {'dask', 'distributed', "
                               "'pyarrow', 'ray'}))"], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert imported.returncode == 0 and imported.stdout.strip() == "[]", imported.stderr
