"""`python -m emotion_detector` cannot destroy or misrepresent files: an output among the inputs is refused before
anything is touched, annotated copies that would share a name get distinct ones, a killed run leaves no
complete-looking file, a truncated video is reported as partial (and fails with --strict), a symbolic link loop in
a folder is reported, and file names are escaped on the terminal while the CSV keeps them. Each test runs the real
CLI on real photos and real videos."""

from __future__ import annotations

import csv
import io
import json
import os
import pty
import select
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.conftest import MODEL_DIR, REPO
from tests.images import astronaut, astronaut_video_frames, save_png

pytest.importorskip("ai_edge_litert", reason="the Python package's runtime (requirements.txt) is not installed")
from tests.test_cli import run_cli  # noqa: E402

CLI = [sys.executable, "-m", "emotion_detector", "--model-dir", str(MODEL_DIR)]


def snapshot(folder: Path) -> dict[str, bytes]:
    return {path.relative_to(folder).as_posix(): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file()}


def test_outputs_among_the_inputs_are_refused_before_anything_is_touched(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    save_png(astronaut(), photos / "astronaut.png")
    save_png(astronaut()[:, ::-1].copy(), photos / "mirrored.png")
    (tmp_path / "link.png").symlink_to(photos / "astronaut.png")
    before = snapshot(photos)
    refusals = [
        (["--output", str(photos / "astronaut.png"), str(photos / "astronaut.png")],
         f"--output {photos / 'astronaut.png'} would overwrite the input {photos / 'astronaut.png'}"),
        (["--output", str(tmp_path / "link.png"), str(photos)],  # a link to an input, inside a folder named
         f"--output {tmp_path / 'link.png'} would overwrite the input {photos / 'astronaut.png'}"),
        (["--output", str(photos / "faces.csv"), str(photos)],
         f"--output {photos / 'faces.csv'} lies inside the input folder {photos}"),
        (["--annotate", str(photos), str(photos)], f"--annotate {photos} lies inside the input folder {photos}"),
        (["--annotate", str(tmp_path), str(photos / "mirrored.png")],
         f"--annotate {tmp_path} holds the input {photos / 'mirrored.png'}"),
    ]
    for arguments, message in refusals:
        completed = run_cli(*arguments)
        assert completed.returncode == 2, (arguments, completed.stderr)
        assert f"error: {message}" in completed.stderr, (arguments, completed.stderr)
        assert snapshot(photos) == before, arguments
    assert sorted(path.name for path in tmp_path.iterdir()) == ["link.png", "photos"]  # nothing created


def test_inputs_that_would_share_an_annotated_name_get_distinct_ones(tmp_path: Path) -> None:
    """a/x.jpg and a/x.png (same folder, same stem) and b/x.jpg (same relative path under another folder)."""
    photo = astronaut()
    pictures = {"a/x.jpg": photo, "a/x.png": photo[:, ::-1].copy(), "b/x.jpg": np.roll(photo, 100, axis=1)}
    for name, rgb in pictures.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        Image.fromarray(rgb).save(tmp_path / name, quality=95)
    annotated = tmp_path / "annotated"
    completed = run_cli(str(tmp_path / "a"), str(tmp_path / "b"), str(tmp_path / "a/x.jpg"), "--annotate",
                        str(annotated), "-q")
    assert completed.returncode == 0, completed.stderr
    assert f"note: {tmp_path / 'a/x.jpg'}: given twice, analysed once" in completed.stderr
    rows = list(csv.DictReader(io.StringIO(completed.stdout)))
    assert sorted({row["file"] for row in rows}) == sorted(str(tmp_path / name) for name in pictures)
    faces = [(row["file"], row["face"]) for row in rows]
    assert len(set(faces)) == len(faces)  # each file analysed once: no face listed twice
    expected = {"a/x.jpg": "x.png", "a/x.png": "x-2.png", "b/x.jpg": "x-3.png"}  # processing order, documented
    assert sorted(path.name for path in annotated.iterdir()) == sorted(expected.values())
    for name, copy in expected.items():
        if copy != "x.png":
            assert (f"note: annotated copy of {tmp_path / name}: {annotated / copy}, as {annotated / 'x.png'} is "
                    f"the copy of {tmp_path / 'a/x.jpg'}") in completed.stderr
        # Each copy is its own input with boxes drawn on it: closer to it than to either other input.
        drawn = np.asarray(Image.open(annotated / copy).convert("RGB"), np.float32)
        distances = {other: np.abs(drawn - rgb).mean() for other, rgb in pictures.items()}
        assert min(distances, key=distances.get) == name, (copy, distances)


def rows_in(path: Path) -> int:
    return max(0, len(path.read_text().splitlines()) - 1) if path.exists() else 0


def test_a_killed_run_leaves_the_previous_output_and_an_incomplete_file(tmp_path: Path) -> None:
    photos = tmp_path / "photos"
    photos.mkdir()
    small = np.asarray(Image.fromarray(astronaut()).resize((256, 256)))
    for index in range(60):
        save_png(np.roll(small, index, axis=1), photos / f"{index:02}.png")
    output = tmp_path / "faces.csv"
    output.write_text("previous results\n")
    partial = tmp_path / "faces.csv.incomplete"
    for kill, code in ((signal.SIGTERM, 128 + signal.SIGTERM), (signal.SIGKILL, -signal.SIGKILL)):
        process = subprocess.Popen([*CLI, str(photos), "--output", str(output), "--face-model", "short"],
                                   cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 120
        while rows_in(partial) < 2 and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        process.send_signal(kill)
        _, stderr = process.communicate(timeout=60)
        assert process.returncode == code, stderr
        assert output.read_text() == "previous results\n", kill  # never replaced by the partial rows
        assert 2 <= rows_in(partial) < 60, kill
        files = list(dict.fromkeys(Path(row["file"]).name for row in csv.DictReader(partial.open())))
        assert files == [f"{index:02}.png" for index in range(len(files))]  # the first files, in order
        if kill == signal.SIGTERM:
            done = int(stderr.split("interrupted by SIGTERM after ", 1)[1].split(" ", 1)[0])
            assert done <= len(files) <= done + 1  # the signal may come between a file's rows and its count
            assert f"after {done} of 60 files: {output} was not written" in stderr
            assert f"the rows so far are in {partial}" in stderr
        partial.unlink()
    completed = run_cli(str(photos / "00.png"), "--output", str(output), "--face-model", "short", "-q")
    assert completed.returncode == 0, completed.stderr
    assert rows_in(output) == 1 and not partial.exists()  # a finished run renames its file into place


def write_faststart_video(frames: list[np.ndarray], path: Path, fps: int = 12) -> Path:
    """H.264 with its index first (MP4 "faststart", as streaming sites serve them) or Matroska, by suffix, with a
    key frame every 4 frames: a file cut short still opens, and decodes up to the cut."""
    import av

    options = {"movflags": "faststart"} if path.suffix == ".mp4" else {}
    with av.open(str(path), "w", options=options) as container:
        stream = container.add_stream("libx264", rate=fps, options={"g": "4", "keyint_min": "4"})
        stream.width, stream.height, stream.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for rgb in frames:
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


@pytest.mark.parametrize("suffix", [".mp4", ".mkv"])
def test_a_truncated_video_is_reported_as_partial_and_fails_with_strict(tmp_path: Path, suffix: str) -> None:
    whole = write_faststart_video(astronaut_video_frames(24), tmp_path / f"whole{suffix}")
    data = whole.read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(data[: len(data) * 6 // 10])
    blank = tmp_path / f"blank{suffix}"  # its header intact, every frame's bytes zeroed: nothing decodes
    header = len(data) // 20
    blank.write_bytes(data[:header] + bytes(len(data) - header))
    annotated = tmp_path / "annotated"
    completed = run_cli(str(whole), str(cut), str(blank), "--every-n-frames", "4", "--format", "jsonl", "-q",
                        "--annotate", str(annotated))
    assert completed.returncode == 1, completed.stderr  # the blank video failed
    summary = completed.stderr[completed.stderr.index("done:"):]
    assert summary.startswith("done: 3 files") and ", 1 failed, 1 partial" in summary
    assert f"partial: {whole}" not in completed.stderr and f"partial: {blank}" not in completed.stderr
    assert f"{blank}: not a readable video" in summary
    decoded = completed.stderr.split(f"partial: {cut}: only ", 1)[1].split(" ", 1)[0]
    assert 0 < int(decoded) < 24
    assert f"only {decoded} of 24 frames decoded" in summary[summary.index("partly read files:"):]
    frames = [row["frame"] for row in map(json.loads, completed.stdout.splitlines()) if row["file"] == str(cut)]
    assert frames == list(range(0, int(decoded), 4))  # the rows cover what decoded
    assert sorted(path.name for path in annotated.iterdir()) == ["cut.mp4", "whole.mp4"]  # no file for no frame
    strict = run_cli(str(cut), "--strict", "--every-n-frames", "12", "-q")
    assert strict.returncode == 1, strict.stderr
    assert "1 partial" in strict.stderr


def test_the_python_api_warns_of_a_truncated_video(tmp_path: Path) -> None:
    from emotion_detector.media import PartialVideoWarning, read_video

    whole = write_faststart_video(astronaut_video_frames(12), tmp_path / "whole.mp4")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    with pytest.warns(PartialVideoWarning, match=r"cut\.mp4: only \d+ of 12 frames decoded") as caught:
        frames = list(read_video(cut))
    assert 0 < len(frames) < 12 and len(caught) == 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(list(read_video(whole))) == 12


def test_symbolic_link_loops_in_a_folder_are_reported(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    (folder / "album").mkdir(parents=True)
    save_png(astronaut(), folder / "album" / "astronaut.png")
    (folder / "album" / "back-up").symlink_to("..")  # a loop through the tree
    (folder / "itself.jpg").symlink_to("itself.jpg")  # a link to itself
    (folder / "gone.png").symlink_to("deleted.png")  # a broken link
    completed = run_cli(str(folder), "--face-model", "short", "-q")
    assert completed.returncode == 1, completed.stderr
    rows = list(csv.DictReader(io.StringIO(completed.stdout)))
    assert [row["file"] for row in rows] == [str(folder / "album" / "astronaut.png")]  # searched once
    failures = completed.stderr[completed.stderr.index("failed files:"):]
    for line in (f"{folder / 'album' / 'back-up'}: symbolic link loop: leads back to {folder}, which contains it",
                 f"{folder / 'gone.png'}: broken symbolic link: its target deleted.png does not exist",
                 f"{folder / 'itself.jpg'}: symbolic link loop: the link leads back to itself"):
        assert f"failed: {line}" in completed.stderr and line in failures, line
    assert "done: 1 files, 1 faces, 3 failed" in completed.stderr


def run_on_a_terminal(arguments: list[str]) -> tuple[int, bytes, str]:
    """Runs the CLI with stderr on a pseudo-terminal (its live progress line on) and stdout on a pipe: exit status,
    stdout's bytes, and what the terminal received."""
    controller, terminal = pty.openpty()
    process = subprocess.Popen([*CLI, *arguments], cwd=REPO, stdout=subprocess.PIPE, stderr=terminal)
    os.close(terminal)
    received = b""
    while True:
        ready, _, _ = select.select([controller], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # EIO: the terminal's other end is closed
            break
        if not chunk:
            break
        received += chunk
    os.close(controller)
    stdout = process.stdout.read()
    return process.wait(timeout=60), stdout, received.decode("utf-8", "replace")


def test_control_characters_in_names_are_escaped_on_the_terminal_and_kept_in_the_csv(tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    forged = "x\ndone: 2 files, 2 faces, 0 failed\n\x1b[8m.jpg"  # a fake summary, then hide what follows
    (folder / forged).write_text("not a picture")
    good = "\u202egnp.evil\r.png"  # a bidi override and a carriage return
    save_png(astronaut(), folder / good)
    undecodable = os.fsdecode(b"caf\xe9.png")  # Latin-1, not UTF-8
    save_png(astronaut()[:, ::-1].copy(), folder / undecodable)
    (folder / os.fsdecode(b"broken\xff.png")).write_bytes(b"")
    status, stdout, terminal = run_on_a_terminal([str(folder), "--face-model", "short"])
    assert status == 1, terminal
    lines = [line.split("\x1b[K")[-1] for line in terminal.replace("\r\n", "\n").split("\n")]
    assert [line for line in lines if line.startswith("done:")] == ["done: 4 files, 2 faces, 2 failed"]
    assert "\x1b[8m" not in terminal and "\u202e" not in terminal and "\r." not in terminal
    shown_forged = f"{folder}/x\\ndone: 2 files, 2 faces, 0 failed\\n\\x1b[8m.jpg"
    for shown in (shown_forged, f"{folder}/broken\\xff.png"):
        assert any(line.startswith(f"failed: {shown}: not an image") for line in lines), (shown, lines)
        assert any(line.startswith(f"  {shown}: not an image") for line in lines), (shown, lines)
    # The live progress line names the file being analysed: at the end, the last one.
    assert lines[lines.index("done: 4 files, 2 faces, 2 failed") - 1].endswith("/\\u202egnp.evil\\r.png")
    rows = list(csv.DictReader(io.StringIO(stdout.decode("utf-8", "surrogateescape"), newline="")))
    assert sorted(row["file"] for row in rows) == sorted([str(folder / good), str(folder / undecodable)])
