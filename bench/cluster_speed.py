"""Batch analysis speed: one process (the command line) against a local Dask cluster of 1 and 2 workers, in one
run on the same inputs: photos/s on 1080p photos and frames/s on a 640×480 video cut at keyframes.

    .venv/bin/python bench/cluster_speed.py                    # 8 photos, a 300-frame video: about a minute
    .venv/bin/python bench/cluster_speed.py --photos 32 --frames 1200 --workers 1 2

Each cluster rate is the wall time of a whole job on a started cluster whose workers have loaded the models (both
printed apart: a real job pays them once, whatever its size); the one-process rate includes its model loading (a
fraction of a second). Photos and video are timed as separate jobs so each rate is clean. The machine's load
average is printed with the figures: on a shared machine they move with it.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.python_speed import make_photos  # noqa: E402
from emotion_detector.cli import main as command_line  # noqa: E402
from emotion_detector.cluster import analyse, local_cluster  # noqa: E402
from emotion_detector.cluster_tasks import Settings  # noqa: E402
from tests.images import astronaut_video_frames  # noqa: E402
from tests.test_cluster import write_keyframed_video  # noqa: E402

KEYFRAME_EVERY = 30  # two seconds at 15 fps, as cameras and streaming encoders commonly set


def one_process(folder: Path, output: Path, model_dir: Path) -> float:
    started = time.perf_counter()
    status = command_line([str(folder), "-o", str(output), "-q", "--model-dir", str(model_dir)])
    assert status == 0, f"the command line failed on {folder}"
    return time.perf_counter() - started


def on_cluster(workers: int, jobs: dict[str, Path], outputs: Path, model_dir: Path, segment_frames: int
               ) -> tuple[float, float, dict[str, float]]:
    """(seconds to start the cluster, seconds until every worker has its models, seconds per job)."""
    from distributed import Client

    started = time.perf_counter()
    with local_cluster(workers) as cluster, Client(cluster) as client:
        startup = time.perf_counter() - started
        started = time.perf_counter()
        client.run(warm_up, str(model_dir), max(1, (os.cpu_count() or 1) // workers))
        warm = time.perf_counter() - started
        seconds = {}
        for name, folder in jobs.items():
            started = time.perf_counter()
            summary = analyse([folder], outputs / f"{name}-{workers}.csv", cluster.scheduler_address,
                              model_dir=model_dir, threads=max(1, (os.cpu_count() or 1) // workers),
                              segment_frames=segment_frames)
            seconds[name] = time.perf_counter() - started
            assert not summary.failures, summary.failures
    return startup, warm, seconds


def warm_up(model_dir: str, threads: int) -> None:
    """On each worker: import the package and load the models, as the first task of any job does."""
    from emotion_detector.cluster_tasks import detector_for
    from emotion_detector.model_files import load_model_files

    files = load_model_files(model_dir)
    detector_for(Settings(str(files.model_dir.resolve()), str(files.face_models.resolve()), "auto", threads, 1, 300,
                          0.1, "csv", 0))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--photos", type=int, default=8, help="number of 1920×1080 photos (default: 8)")
    parser.add_argument("--frames", type=int, default=300, help="video length in frames, 15 fps (default: 300)")
    parser.add_argument("--segment-frames", type=int, default=60,
                        help=f"cut the video into segments of this many frames (keyframes every {KEYFRAME_EVERY})")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2], help="cluster sizes (default: 1 2)")
    parser.add_argument("--model-dir", type=Path, default=REPO / "converted_model")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="cluster-speed-") as scratch:
        scratch = Path(scratch)
        jobs = {"photos": scratch / "photos", "video": scratch / "video"}
        for folder in jobs.values():
            folder.mkdir()
        make_photos(jobs["photos"], args.photos)
        write_keyframed_video(astronaut_video_frames(args.frames), jobs["video"] / "drift.mp4",
                              keyframe_every=KEYFRAME_EVERY)
        counts = {"photos": args.photos, "video": args.frames}
        alone = {name: one_process(folder, scratch / f"{name}-0.csv", args.model_dir) for name, folder in jobs.items()}
        rows = [("one process (command line)", None, alone)]
        for workers in args.workers:
            startup, warm, seconds = on_cluster(workers, jobs, scratch, args.model_dir, args.segment_frames)
            rows.append((f"Dask, {workers} worker{'s' if workers > 1 else ''}", (startup, warm), seconds))
        same = all(filecmp.cmp(scratch / f"{name}-0.csv", scratch / f"{name}-{workers}.csv", shallow=False)
                   for name in jobs for workers in args.workers)

    load = " ".join(f"{value:.2f}" for value in os.getloadavg())
    print(f"{platform.machine()}, {os.cpu_count()} cores, load average {load}; {args.photos} photos 1920×1080 JPEG; "
          f"video 640×480 H.264, {args.frames} frames, keyframe every {KEYFRAME_EVERY}, segments of "
          f"≥{args.segment_frames} frames; rows identical to the command line's: {'yes' if same else 'NO'}")
    print("| run | cluster start (s) | workers' models loaded (s) | photos/s | frames/s |")
    print("|---|---:|---:|---:|---:|")
    for name, start, seconds in rows:
        print(f"| {name} | {'– | –' if start is None else f'{start[0]:.1f} | {start[1]:.1f}'} | "
              f"{counts['photos'] / seconds['photos']:.2f} | {counts['video'] / seconds['video']:.1f} |")
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
