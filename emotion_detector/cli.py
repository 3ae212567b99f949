"""``python -m emotion_detector PATH…``: every face in photos, folders (recursively) and videos, one row per face."""

from __future__ import annotations

import argparse
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from emotion_detector.detector import FACE_MODELS, EmotionDetector
from emotion_detector.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, MediaError, kind_of, read_image, video_info
from emotion_detector.model_files import FACE_MODELS_ENV, REPO, ModelFilesError
from emotion_detector.output import FORMATS, RowWriter
from emotion_detector.photo import PictureSizeError
from emotion_detector.progress import Progress
from emotion_detector.tracking import FaceTimeline

MODEL_DIR_ENV = "EMOTION_MODEL_DIR"
EXIT_FAILED_FILES = 1
EXIT_SETUP = 2

DESCRIPTION = ("Every face in photos, folders and videos, with its box and emotion probabilities: one row per face, "
               "CSV or JSON Lines. Runs the page's detector and classifier with LiteRT; no TensorFlow.")
EPILOG = f"""\
output columns: file, kind (image|video), frame (0 for photos), time (seconds), face (photos: number left to right
from 1; videos: track ID), x, y, width, height (the detector's box in pixels), score (detector confidence), one
column per label in metadata.json's order (videos: smoothed as on the page; photos: as classified), label.

Folders are searched recursively for images and videos by suffix; other files in them are skipped.
  images: {' '.join(sorted(IMAGE_SUFFIXES))}
  videos: {' '.join(sorted(VIDEO_SUFFIXES))}
A file named on the command line is tried as an image, then as a video, whatever its name. A file that cannot be
read (missing, corrupt, not an image, unreadable video, unsupported codec) is reported with its path and the reason,
and the others go on; a summary at the end lists the failures. Exit status: {EXIT_FAILED_FILES} if any file failed,
{EXIT_SETUP} if the models could not be loaded, 0 otherwise.

examples:
  python -m emotion_detector photos/ --output faces.csv
  python -m emotion_detector clip.mp4 --every-n-frames 3 --format jsonl --annotate annotated/
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emotion_detector", description=DESCRIPTION,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder (searched recursively)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write rows to FILE instead of standard output")
    parser.add_argument("--format", choices=FORMATS,
                        help="csv or jsonl (JSON Lines); default: from --output's suffix (.jsonl/.json → jsonl), "
                             "else csv")
    parser.add_argument("--annotate", metavar="DIR",
                        help="also write copies with boxes and labels into DIR: PNG for images, MP4 for videos, "
                             "at the input's path relative to the folder or file given")
    parser.add_argument("--every-n-frames", type=int, default=1, metavar="N",
                        help="videos: analyse every N-th frame (default: 1, every frame)")
    parser.add_argument("--smoothing-ms", type=float, default=300, metavar="MS",
                        help="videos: time constant of the moving average of each face's probabilities, as the "
                             "page's (default: 300; 0 gives each frame's own)")
    parser.add_argument("--hysteresis", type=float, default=0.1,
                        help="videos: how far another class must lead before a face's label changes (default: 0.1)")
    parser.add_argument("--face-model", choices=FACE_MODELS, default="auto",
                        help="BlazeFace model, as the page's Face distance: auto (default: photos searched at every "
                             "scale as on the page, video frames one short-range pass), short (faces within ~2 m) "
                             "or full (up to ~5 m), one pass")
    parser.add_argument("--model-dir", default=None, metavar="DIR",
                        help=f"exported model folder (metadata.json + model.tflite); default: ${MODEL_DIR_ENV}, "
                             f"else ./converted_model, else this repository's converted_model")
    parser.add_argument("--face-models", default=None, metavar="DIR",
                        help=f"folder of MediaPipe's BlazeFace .tflite files; default: ${FACE_MODELS_ENV}, else "
                             f"node_modules/@mediapipe/face_detection (npm ci)")
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="CPU threads for inference (default: every core)")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress display (failures still reported)")
    from emotion_detector.cluster import add_arguments  # here, not at the top: it imports this module

    add_arguments(parser)
    return parser


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.every_n_frames < 1:
        parser.error(f"--every-n-frames must be 1 or more, not {args.every_n_frames}")
    if args.format is None:
        suffix = Path(args.output).suffix.lower() if args.output else ""
        args.format = "jsonl" if suffix in (".jsonl", ".json", ".ndjson") else "csv"
    return args


@dataclass(frozen=True)
class Job:
    path: Path
    root: Path  # what was named on the command line: annotated copies keep the path relative to it
    kind: str | None  # image, video, or None: unknown suffix, try both


@dataclass
class Summary:
    files: int = 0
    faces: int = 0
    skipped: int = 0
    failures: list[MediaError] = field(default_factory=list)


def collect(paths: list[str], summary: Summary) -> list[Job]:
    jobs = []
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for child in sorted(p for p in path.rglob("*") if p.is_file()):
                if kind_of(child):
                    jobs.append(Job(child, path, kind_of(child)))
                else:
                    summary.skipped += 1
        else:
            jobs.append(Job(path, path.parent, kind_of(path)))  # a missing file fails when it is read
    return jobs


def default_model_dir() -> Path:
    if os.environ.get(MODEL_DIR_ENV):
        return Path(os.environ[MODEL_DIR_ENV])
    return Path("converted_model") if Path("converted_model", "metadata.json").is_file() else REPO / "converted_model"


class Runner:
    def __init__(self, detector: EmotionDetector, writer: RowWriter, progress: Progress, args: argparse.Namespace,
                 summary: Summary) -> None:
        self.detector, self.writer, self.progress, self.args, self.summary = detector, writer, progress, args, summary

    def annotated_path(self, job: Job, suffix: str) -> Path:
        return Path(self.args.annotate) / job.path.relative_to(job.root).with_suffix(suffix)

    def run(self, job: Job) -> None:
        self.progress.file_started(str(job.path))
        try:
            if job.kind == "image":
                self.image(job)
            elif job.kind == "video":
                self.video(job)
            else:
                self.unknown(job)
        except MediaError as failure:
            self.summary.failures.append(failure)
            self.progress.message(f"failed: {failure.path}: {failure.reason}")
        self.summary.files += 1
        self.progress.file_done()

    def unknown(self, job: Job) -> None:
        try:
            self.image(job)
        except MediaError as as_image:
            if not job.path.is_file():
                raise
            try:
                self.video(job)
            except MediaError as as_video:
                raise MediaError(job.path, f"neither an image ({as_image.reason}) nor a video ({as_video.reason})"
                                 ) from None

    def image(self, job: Job) -> None:
        started = time.perf_counter()
        rgb = read_image(job.path)
        try:
            faces = self.detector.detect(rgb)
        except PictureSizeError as error:
            raise MediaError(job.path, str(error).replace("The picture ", "image ", 1)) from None
        self.progress.image_done(time.perf_counter() - started)
        self.writer.write(str(job.path), "image", 0, 0.0, faces)
        self.summary.faces += len(faces)
        if self.args.annotate:
            from emotion_detector.annotate import save_image

            save_image(rgb, faces, self.annotated_path(job, ".png"))

    def video(self, job: Job) -> None:
        from emotion_detector.media import read_video

        info = video_info(job.path)
        writer = None
        if self.args.annotate:
            from emotion_detector.annotate import VideoWriter

            writer = VideoWriter(self.annotated_path(job, ".mp4"), info.fps and info.fps / self.args.every_n_frames)
        timeline = FaceTimeline(self.args.smoothing_ms, self.args.hysteresis)
        try:
            started = time.perf_counter()
            for frame in read_video(job.path, self.args.every_n_frames):
                result = self.detector.analyse_frame(frame.rgb, frame.index, frame.time, timeline)
                self.progress.frame_done(time.perf_counter() - started)
                self.writer.write(str(job.path), "video", result.frame, result.time, result.faces)
                self.summary.faces += len(result.faces)
                if writer:
                    writer.write(frame.rgb, result.faces)
                started = time.perf_counter()
        finally:
            if writer:
                writer.close()


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.cluster:
        from emotion_detector.cluster import run_from_command_line

        return run_from_command_line(args)
    summary = Summary()
    jobs = collect(args.paths, summary)
    try:
        detector = EmotionDetector.load(args.model_dir or default_model_dir(), args.face_models, args.face_model,
                                        args.threads)
    except (ModelFilesError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SETUP
    stream = open(args.output, "w", newline="", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
    progress = Progress(len(jobs), enabled=not args.quiet)
    try:
        writer = RowWriter(stream, detector.labels, args.format)
        runner = Runner(detector, writer, progress, args, summary)
        for job in jobs:
            runner.run(job)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED_FILES
    finally:
        if args.output:
            stream.close()
    report(summary, progress, args.quiet)
    return EXIT_FAILED_FILES if summary.failures else 0


def report(summary: Summary, progress: Progress, quiet: bool) -> None:
    lines = [f"done: {summary.files} files, {summary.faces} faces, {len(summary.failures)} failed"
             + (f", {summary.skipped} other files in folders skipped" if summary.skipped else "")]
    if not quiet:
        lines.append(progress.rates())
    if summary.failures:
        lines.append("failed files:")
        lines += [f"  {failure.path}: {failure.reason}" for failure in summary.failures]
    print("\n".join(lines), file=sys.stderr)
