"""``python -m emotion_detector PATH…``: every face in photos, folders (recursively) and videos, one row per face."""

from __future__ import annotations

import argparse
import os
import signal
import stat
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from emotion_detector.atomic import INCOMPLETE, PendingFile
from emotion_detector.detector import FACE_MODELS, EmotionDetector
from emotion_detector.inputs import Job, OutputError, annotated_names, check_outputs, collect
from emotion_detector.media import IMAGE_SUFFIXES, VIDEO_SUFFIXES, MediaError, read_image
from emotion_detector.model_files import FACE_MODELS_ENV, REPO, ModelFilesError
from emotion_detector.output import FORMATS, RowWriter
from emotion_detector.photo import PictureSizeError
from emotion_detector.progress import Progress
from emotion_detector.terminal import say
from emotion_detector.tracking import FaceTimeline

MODEL_DIR_ENV = "EMOTION_MODEL_DIR"
EXIT_FAILED_FILES = 1
EXIT_SETUP = 2
EXIT_SIGNAL_BASE = 128  # interrupted by signal N: 128 + N, as the shell reports a command a signal ended
INTERRUPT_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, name))

DESCRIPTION = ("Every face in photos, folders and videos, with its box and emotion probabilities: one row per face, "
               "CSV or JSON Lines. Runs the page's detector and classifier with LiteRT; no TensorFlow.")
EPILOG = f"""\
output columns: file, kind (image|video), frame (0 for photos), time (seconds), face (photos: number left to right
from 1; videos: track ID), x, y, width, height (the detector's box in pixels), score (detector confidence), one
column per label in metadata.json's order (videos: smoothed as on the page; photos: as classified), label.

Folders are searched recursively, in name order, for images and videos by suffix; other files in them are
skipped. Links to files and folders are followed; a link that loops back to a folder it is in, a link to itself,
a broken link and a folder that cannot be listed are reported as failures. A folder reached twice is searched
once, and a file given twice analysed once.
  images: {' '.join(sorted(IMAGE_SUFFIXES))}
  videos: {' '.join(sorted(VIDEO_SUFFIXES))}
A file named on the command line is tried as an image, then as a video, whatever its name. A file that cannot be
read (missing, corrupt, not an image, unreadable video, unsupported codec) is reported with its path and the reason,
and the others go on; a summary at the end lists the failures. A video that decodes to fewer frames than its
container declares (its frame count, else its duration × frame rate), or holds packets that do not decode (they
are skipped), is truncated or damaged: it is reported as partial, with frames decoded against frames expected, and
its rows cover the frames that decoded. (MPEG-TS and raw streams declare neither, so only damage shows there.)

Inputs are never written: an --output that is an input file or lies inside an input folder, and an --annotate
folder that is an input, lies inside an input folder or holds an input, are refused before anything is read or
written (links resolved). --output and each annotated copy are written as NAME{INCOMPLETE} and renamed to NAME once
whole: a run that is interrupted (Ctrl-C, SIGTERM, SIGHUP) or killed leaves any previous NAME as it was and the
rows so far in NAME{INCOMPLETE}. An annotated copy keeps the input's path relative to the folder (or the file's
folder) given, with the suffix .png or .mp4; where two inputs would get the same name (x.jpg and x.png, or a/x.jpg
and b/x.jpg given together; compared ignoring case), the first in processing order keeps it and each later one is
named x-2, x-3… (the first name no other input has), with a note on the terminal. A file of that name already in
DIR, from an earlier run, is replaced.

File names printed on the terminal (progress, warnings, failures, summary) have their non-printable characters
escaped (\\n, \\x1b, \\u202e…); the CSV and JSON Lines rows keep the real names.

Exit status: {EXIT_FAILED_FILES} if any file or folder entry failed, or (with --strict) a video was only partly
read; {EXIT_SETUP} if the models could not be loaded or an output would overwrite an input; {EXIT_SIGNAL_BASE} + the
signal's number when interrupted (130 for Ctrl-C, 143 for SIGTERM); 0 otherwise.

examples:
  python -m emotion_detector photos/ --output faces.csv
  python -m emotion_detector clip.mp4 --every-n-frames 3 --format jsonl --annotate annotated/
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m emotion_detector", description=DESCRIPTION,
                                     epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("paths", nargs="+", metavar="PATH", help="image, video or folder (searched recursively)")
    parser.add_argument("-o", "--output", metavar="FILE",
                        help="write rows to FILE instead of standard output: as FILE.incomplete, renamed to FILE "
                             "at the end; FILE must not be an input or lie in an input folder")
    parser.add_argument("--format", choices=FORMATS,
                        help="csv or jsonl (JSON Lines); default: from --output's suffix (.jsonl/.json → jsonl), "
                             "else csv")
    parser.add_argument("--annotate", metavar="DIR",
                        help="also write copies with boxes and labels into DIR: PNG for images, MP4 for videos, "
                             "at the input's path relative to the folder or file given (two inputs that would share "
                             "a name get distinct ones: see below); DIR must not be, lie in or hold an input")
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
    parser.add_argument("--strict", action="store_true",
                        help="exit with status 1 when a video was only partly read (truncated or damaged), as for a "
                             "file that failed; without it such a video is reported as partial and the exit status "
                             "is 0")
    parser.add_argument("-q", "--quiet", action="store_true",
                        help="no progress display (failures, partial files and notes still reported)")
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


@dataclass
class Summary:
    files: int = 0
    faces: int = 0
    skipped: int = 0
    failures: list[MediaError] = field(default_factory=list)
    partial: list[MediaError] = field(default_factory=list)  # videos truncated or damaged (VideoReader.shortfall)


class Interrupted(Exception):
    """SIGINT, SIGTERM or SIGHUP arrived: stop, leaving the outputs being written as .incomplete."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _interrupt(signum: int, _frame) -> None:
    raise Interrupted(signum)


def default_model_dir() -> Path:
    if os.environ.get(MODEL_DIR_ENV):
        return Path(os.environ[MODEL_DIR_ENV])
    return Path("converted_model") if Path("converted_model", "metadata.json").is_file() else REPO / "converted_model"


class Runner:
    def __init__(self, detector: EmotionDetector, writer: RowWriter, progress: Progress, args: argparse.Namespace,
                 summary: Summary, annotated: dict[Job, Path]) -> None:
        self.detector, self.writer, self.progress, self.args, self.summary = detector, writer, progress, args, summary
        self.annotated = annotated  # each job's annotated copy, relative to --annotate and without its suffix

    def annotated_path(self, job: Job, suffix: str) -> Path:
        base = self.annotated[job]
        return Path(self.args.annotate) / base.with_name(base.name + suffix)

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
        from emotion_detector.media import VideoReader

        with VideoReader(job.path, self.args.every_n_frames) as reader:
            writer = None
            if self.args.annotate:
                from emotion_detector.annotate import VideoWriter

                fps = reader.info.fps
                writer = VideoWriter(self.annotated_path(job, ".mp4"), fps and fps / self.args.every_n_frames)
            timeline = FaceTimeline(self.args.smoothing_ms, self.args.hysteresis)
            ended = False  # the video's frames ran out, or one failed to decode: not interrupted
            try:
                started = time.perf_counter()
                for frame in reader.frames():
                    result = self.detector.analyse_frame(frame.rgb, frame.index, frame.time, timeline)
                    self.progress.frame_done(time.perf_counter() - started)
                    self.writer.write(str(job.path), "video", result.frame, result.time, result.faces)
                    self.summary.faces += len(result.faces)
                    if writer:
                        writer.write(frame.rgb, result.faces)
                    started = time.perf_counter()
                ended = True
            except MediaError:
                ended = True  # the frames before the failure make a whole video of their own
                raise
            finally:
                if writer:
                    writer.close(finished=ended)
            shortfall = reader.shortfall()
        if shortfall:
            self.summary.partial.append(MediaError(job.path, shortfall))
            self.progress.message(f"partial: {job.path}: {shortfall}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    inputs = collect(args.paths)
    output = Path(args.output) if args.output else None
    annotate = Path(args.annotate) if args.annotate else None
    try:
        check_outputs(inputs, output, annotate)
    except OutputError as error:
        say(f"error: {error}")
        return EXIT_SETUP
    if args.cluster:
        from emotion_detector.cluster import run_from_command_line

        return run_from_command_line(args)
    annotated, renamed = annotated_names(inputs.jobs, annotate, output) if annotate else ({}, [])
    for failure in inputs.unreadable:
        say(f"failed: {failure.path}: {failure.reason}")
    for note in inputs.notes + renamed:
        say(f"note: {note}")
    summary = Summary(skipped=inputs.skipped, failures=list(inputs.unreadable))
    try:
        detector = EmotionDetector.load(args.model_dir or default_model_dir(), args.face_models, args.face_model,
                                        args.threads)
    except (ModelFilesError, ValueError) as error:
        say(f"error: {error}")
        return EXIT_SETUP
    return run(inputs.jobs, detector, args, summary, annotated)


def open_output(output: str | None) -> tuple[PendingFile | None, TextIO]:
    """Where rows go: a file written as FILE.incomplete, renamed at the end; else standard output, or a device or
    pipe named by --output (/dev/stdout, a FIFO), written directly: there is nothing there to replace."""
    if output is not None and not _is_device(output):
        pending = PendingFile(Path(output))
        return pending, pending.open_text()
    if output is not None:
        return None, open(output, "w", newline="", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="surrogateescape")  # a name that is not UTF-8 goes out as its own bytes
    return None, sys.stdout


def _is_device(path: str) -> bool:
    try:
        return not stat.S_ISREG(os.stat(path).st_mode)
    except FileNotFoundError:
        return False


def run(jobs: list[Job], detector: EmotionDetector, args: argparse.Namespace, summary: Summary,
        annotated: dict[Job, Path]) -> int:
    """Analyses every job, writing rows to --output's .incomplete file (renamed at the end) or standard output."""
    try:
        pending, stream = open_output(args.output)
    except OSError as error:
        say(f"error: cannot write --output {args.output}: {os.strerror(error.errno or 0)}")
        return EXIT_SETUP
    progress = Progress(len(jobs), enabled=not args.quiet)
    previous_handlers = {signum: signal.signal(signum, _interrupt) for signum in INTERRUPT_SIGNALS}
    try:
        writer = RowWriter(stream, detector.labels, args.format)
        runner = Runner(detector, writer, progress, args, summary, annotated)
        for job in jobs:
            runner.run(job)
    except BrokenPipeError:  # the reader went away (`| head`): stop quietly, as other command-line tools do
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_FAILED_FILES
    except Interrupted as interruption:
        for signum in INTERRUPT_SIGNALS:  # a second signal ends the run at once
            signal.signal(signum, signal.SIG_DFL)
        if stream is not sys.stdout:
            stream.close()
        progress.stop()
        report(summary, progress, args.quiet, "so far")
        where = (f"{pending.path} was not written (any earlier file of that name is unchanged); the rows so far are "
                 f"in {pending.temporary}") if pending else "the rows written so far are incomplete"
        say(f"interrupted by {interruption} after {summary.files} of {len(jobs)} files: {where}")
        return EXIT_SIGNAL_BASE + interruption.signum
    finally:
        for signum, handler in previous_handlers.items():
            signal.signal(signum, handler)
        if stream is not sys.stdout and not stream.closed:
            stream.close()
    if pending:
        pending.finish()
    report(summary, progress, args.quiet)
    if summary.failures or (args.strict and summary.partial):
        return EXIT_FAILED_FILES
    return 0


def report(summary: Summary, progress: Progress, quiet: bool, heading: str = "done") -> None:
    lines = [f"{heading}: {summary.files} files, {summary.faces} faces, {len(summary.failures)} failed"
             + (f", {len(summary.partial)} partial" if summary.partial else "")
             + (f", {summary.skipped} other files in folders skipped" if summary.skipped else "")]
    if not quiet:
        lines.append(progress.rates())
    if summary.failures:
        lines.append("failed files:")
        lines += [f"  {failure.path}: {failure.reason}" for failure in summary.failures]
    if summary.partial:
        lines.append("partly read files:")
        lines += [f"  {partial.path}: {partial.reason}" for partial in summary.partial]
    say(*lines)
