"""Speed of the Python package (emotion_detector, LiteRT, no TensorFlow) against the `fer` package, in one run on
the same inputs: images/s on 1080p photos and frames/s on a 640×480 video, decoding included.

    .venv/bin/python bench/python_speed.py            # fer runs in .venv-bench (--fer-python to change)

Inputs are made here from real faces: the astronaut photo (scikit-image) and FER2013 PublicTest faces, pasted on
a 1920×1080 photo background (JPEG, quality 90), and the astronaut drifting across a 640×480 H.264 video.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from emotion_detector import EmotionDetector  # noqa: E402
from tests.images import astronaut, astronaut_video_frames, fer_faces  # noqa: E402

PHOTO_SIZE = (1920, 1080)
VIDEO_FPS = 15


def make_photos(folder: Path, count: int) -> list[Path]:
    """1080p JPEGs: a real photo background (scikit-image's coffee, enlarged), the astronaut at a different place
    and size in each, and three FER2013 faces."""
    from skimage import data

    background = Image.fromarray(data.coffee()).resize(PHOTO_SIZE, Image.Resampling.BILINEAR)
    faces = [pixels for _, pixels in fer_faces(3 * count)]
    paths = []
    for index in range(count):
        photo = background.copy()
        side = 420 + 60 * (index % 4)
        photo.paste(Image.fromarray(astronaut()).resize((side, side)), (100 + 150 * index, 1080 - side - 40))
        for slot in range(3):
            face = Image.fromarray(faces[3 * index + slot]).resize((200, 200), Image.Resampling.BICUBIC)
            photo.paste(face.convert("RGB"), (1050 + 260 * slot, 120 + 90 * slot))
        paths.append(folder / f"photo{index}.jpg")
        photo.save(paths[-1], quality=90)
    return paths


def make_video(path: Path, frames: int) -> Path:
    import av

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=VIDEO_FPS)
        stream.width, stream.height, stream.pix_fmt = 640, 480, "yuv420p"
        for rgb in astronaut_video_frames(frames):
            container.mux(stream.encode(av.VideoFrame.from_ndarray(rgb, format="rgb24")))
        container.mux(stream.encode())
    return path


def time_ours(photos: list[Path], video: Path, rounds: int, model_dir: Path, threads: int | None,
              face_model: str = "auto") -> dict:
    detector = EmotionDetector.load(model_dir, threads=threads, face_model=face_model)
    detector.detect(photos[0])  # warm-up
    faces, started = 0, time.perf_counter()
    for _ in range(rounds):
        for path in photos:
            faces += len(detector.detect(path))
    photo_seconds = time.perf_counter() - started
    frames = video_faces = 0
    started = time.perf_counter()
    for frame in detector.analyse_video(video):
        frames += 1
        video_faces += len(frame.faces)
    name = ("emotion_detector (LiteRT; photos: BlazeFace at every scale, as the page; video: one pass)"
            if face_model == "auto" else f"emotion_detector, face_model={face_model!r} (one pass everywhere)")
    return {"name": name,
            "images": rounds * len(photos), "photo_seconds": photo_seconds, "photo_faces": faces / rounds,
            "frames": frames, "video_seconds": time.perf_counter() - started, "video_faces": video_faces}


def time_fer(fer_python: str, photos: list[Path], video: Path, rounds: int, folder: Path) -> dict | None:
    if not Path(fer_python).exists():
        print(f"fer left out: {fer_python} not found (bash scripts/test.sh makes .venv-bench)", file=sys.stderr)
        return None
    out = folder / "fer.json"
    command = [fer_python, str(REPO / "bench" / "fer_speed.py"), "--photos", *map(str, photos), "--video", str(video),
               "--rounds", str(rounds), "--out", str(out)]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        print(f"fer failed:\n{completed.stderr[-2000:]}", file=sys.stderr)
        return None
    return json.loads(out.read_text())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=8, help="number of 1080p photos")
    parser.add_argument("--rounds", type=int, default=2, help="passes over the photos")
    parser.add_argument("--frames", type=int, default=150, help="video length in frames (15 fps)")
    parser.add_argument("--model-dir", type=Path, default=REPO / "converted_model")
    parser.add_argument("--threads", type=int, default=None, help="LiteRT threads (default: its own choice)")
    parser.add_argument("--fer-python", default=os.environ.get("BENCH_PYTHON", str(REPO / ".venv-bench/bin/python")))
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="python-speed-") as scratch:
        folder = Path(scratch)
        photos = make_photos(folder, args.photos)
        video = make_video(folder / "drift.mp4", args.frames)
        results = [time_ours(photos, video, args.rounds, args.model_dir, args.threads),
                   time_ours(photos, video, args.rounds, args.model_dir, args.threads, face_model="short")]
        peer = time_fer(args.fer_python, photos, video, args.rounds, folder)
        if peer:
            results.append(peer)

    load = os.getloadavg()[0]
    print(f"{platform.machine()}, {os.cpu_count()} cores, load {load:.2f}; {args.photos} photos 1920×1080 JPEG "
          f"× {args.rounds} rounds; video 640×480 H.264, {args.frames} frames")
    print("| pipeline | 1080p photos: images/s | faces per photo | 640×480 video: frames/s | faces per frame |")
    print("|---|---:|---:|---:|---:|")
    for result in results:
        images_per_s = result["images"] / result["photo_seconds"]
        frames_per_s = result["frames"] / result["video_seconds"]
        print(f"| {result['name']} | {images_per_s:.2f} | {result['photo_faces'] / args.photos:.2f} | "
              f"{frames_per_s:.1f} | {result['video_faces'] / max(result['frames'], 1):.2f} |")
    if args.json:
        args.json.write_text(json.dumps({"load": load, "results": results}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
