"""Batch analysis on a Dask cluster: ``python -m emotion_detector --cluster local:2 PATH… -o OUT`` or
``analyse(paths, output, cluster="tcp://scheduler:8786")``.

The rows are those of the single-process command line. Files are shared out among the workers one task each; a
long video is cut into segments at keyframes (``cluster_segments``), analysed in parallel and joined in frame
order. Finished work is kept in ``OUT.parts/`` (``cluster_store``), so a rerun after a crash analyses only what is
missing. A file that cannot be analysed is reported with its reason and the others go on.

Dask (``pip install emotion-recognizer[cluster]``) is imported only here, and only when a cluster is asked for.
"""

from __future__ import annotations

import io
import logging
import os
import sys
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from emotion_detector.cli import EXIT_FAILED_FILES, EXIT_SETUP, Summary, collect, default_model_dir, report
from emotion_detector.cluster_progress import JobProgress
from emotion_detector.cluster_segments import Segment, join_segments
from emotion_detector.cluster_store import OUTPUT_FORMATS, RunFolder, RunFolderError
from emotion_detector.cluster_tasks import (
    FileResult,
    SegmentResult,
    Settings,
    VideoPlan,
    analyse_file,
    analyse_segment,
    plan_video,
    row_writer,
)
from emotion_detector.media import MediaError
from emotion_detector.model_files import ModelFilesError, load_model_files

DEFAULT_SEGMENT_FRAMES = 900  # a minute of 15 fps video: long enough that seeking and model loading are small
DEFAULT_SHARD_FILES = 100
TASKS_PER_WORKER = 4  # in flight at once: keeps every worker busy without queueing a whole folder on the scheduler
INSTALL_HINT = "the cluster engine is not installed: pip install 'emotion-recognizer[cluster]' (Dask distributed)"


class ClusterSetupError(RuntimeError):
    """The cluster or the run folder cannot be used; the message says why."""


@dataclass
class ClusterSummary(Summary):
    resumed: int = 0  # files found done in OUT.parts/ and not analysed again
    segments: int = 0  # video segments analysed in this run
    workers: int = 0
    progress: JobProgress | None = None  # rates() gives images/s and frames/s over the whole job


# Dask's worker defaults that cost this workload dearly (measured on a 2-core machine: a photo took 2-3× as long in a
# worker as in one process): the statistical profiler wakes every 10 ms and takes the GIL from the task, and
# MALLOC_TRIM_THRESHOLD_ stops glibc's adaptive mmap threshold, so every large numpy array is fresh pages again.
WORKER_CONFIG = {"distributed.worker.profile.enabled": False,
                 "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}


@contextmanager
def local_cluster(workers: int):
    """A Dask LocalCluster of ``workers`` processes on this machine, one task at a time each."""
    import dask
    from distributed import LocalCluster

    with dask.config.set(WORKER_CONFIG), LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                                                      dashboard_address=":0", silence_logs=logging.ERROR) as cluster:
        yield cluster


@contextmanager
def connect(cluster: str, threads: int | None) -> Iterator[tuple[object, int, int | None]]:
    """(Dask client, worker count, LiteRT threads per worker) for ``local``, ``local:N`` (N worker processes on
    this machine), a scheduler address (``tcp://host:8786``) or a scheduler file (``*.json``, as dask-jobqueue and
    dask-mpi write on SLURM)."""
    try:
        from distributed import Client
    except ImportError:
        raise ClusterSetupError(INSTALL_HINT) from None
    if cluster == "local" or cluster.startswith("local:"):
        count = cluster.partition(":")[2]
        if count and not (count.isdigit() and int(count) > 0):
            raise ClusterSetupError(f"--cluster {cluster}: expected local, local:N (N ≥ 1) or a scheduler address")
        workers = int(count) if count else os.cpu_count() or 1
        # One task at a time per worker process, and the machine's cores shared among them for inference.
        threads = threads or max(1, (os.cpu_count() or 1) // workers)
        with local_cluster(workers) as local, Client(local) as client:
            yield client, workers, threads
        return
    try:
        client = Client(scheduler_file=cluster) if cluster.endswith(".json") else Client(cluster, timeout=30)
    except (OSError, TimeoutError, ValueError) as error:
        raise ClusterSetupError(f"--cluster {cluster}: cannot reach the scheduler ({error})") from None
    with client:
        yield client, max(1, len(client.scheduler_info()["workers"])), threads


def output_format_of(output: Path, requested: str | None) -> str:
    if requested:
        if requested not in OUTPUT_FORMATS:
            raise ValueError(f"output format {requested!r}: expected one of {', '.join(OUTPUT_FORMATS)}")
        return requested
    suffix = output.suffix.lower()
    return "jsonl" if suffix in (".jsonl", ".json", ".ndjson") else "parquet" if suffix == ".parquet" else "csv"


class _Driver:
    """Hands out tasks, keeps at most ``window`` in flight, stores what comes back."""

    def __init__(self, client, workers: int, settings: Settings, store: RunFolder, labels: list[str],
                 summary: ClusterSummary, progress: JobProgress, shard_files: int) -> None:
        from distributed import as_completed

        self.client, self.settings, self.store, self.labels = client, settings, store, labels
        self.summary, self.progress, self.shard_files = summary, progress, shard_files
        self.window = TASKS_PER_WORKER * workers
        self.waiting: deque[tuple] = deque()
        self.running = as_completed()
        self.tasks: dict[str, tuple] = {}  # future key → (function, file, …): whose file a lost task was about
        self.in_flight = 0
        self.finished: list[FileResult] = []  # analysed, not yet in a shard
        self.videos: dict[str, list[Segment]] = {}
        self.segments_left: dict[str, int] = {}
        self.failed: set[str] = set()

    def submit(self, function, *args) -> None:
        self.waiting.append((function, *args))

    def _top_up(self) -> None:
        while self.waiting and self.in_flight < self.window:
            function, *args = self.waiting.popleft()
            future = self.client.submit(function, *args, self.settings, pure=False)
            self.tasks[future.key] = (function, *args)
            self.running.add(future)
            self.in_flight += 1

    def run(self) -> None:
        self._top_up()
        while self.in_flight:
            future = next(self.running)
            self.in_flight -= 1
            task = self.tasks.pop(future.key)
            if future.status == "error":
                self._task_failed(task, future.exception())
            else:
                self._handle(future.result())
            future.release()
            self._top_up()
        self._flush()

    def _handle(self, result: FileResult | VideoPlan | SegmentResult) -> None:
        if isinstance(result, FileResult):
            self.progress.analysed(result.images, result.frames, result.seconds)
            self._file_finished(result)
        elif isinstance(result, VideoPlan):
            self._planned(result)
        elif result.path not in self.failed:
            self.progress.analysed(0, len(result.records), result.seconds)
            if result.failure:
                self._file_failed(result.path, result.failure)
            else:
                self.store.add_segment(result.path, result.segment, result.records)
                self.summary.segments += 1
                self._segment_done(result.path)

    def _planned(self, plan: VideoPlan) -> None:
        self.progress.expect(frames=plan.frames // self.settings.every_n_frames)
        if plan.segments is None:
            self.submit(analyse_file, plan.path, "video")
            return
        self.videos[plan.path] = plan.segments
        missing = [segment for segment in plan.segments if (plan.path, segment.start) not in self.store.segments]
        self.segments_left[plan.path] = len(missing) + 1  # one more for the join, counted down right below
        for segment in missing:
            self.submit(analyse_segment, plan.path, segment)
        self._segment_done(plan.path)

    def _segment_done(self, path: str) -> None:
        self.segments_left[path] -= 1
        if self.segments_left[path]:
            return
        stream = io.StringIO()
        writer = row_writer(stream, self.labels, self.settings.block_format)
        faces = frames = 0
        records = self.store.segment_records(path, self.videos[path])
        for result in join_segments(self.labels, records, self.settings.smoothing_ms, self.settings.hysteresis):
            writer.write(path, "video", result.frame, result.time, result.faces)
            faces += len(result.faces)
            frames += 1
        self._file_finished(FileResult(path, stream.getvalue(), faces, 0, frames, 0.0))

    def _task_failed(self, task: tuple, error: BaseException) -> None:
        from distributed import KilledWorker

        if isinstance(error, KilledWorker):
            reason = "its worker process died each time it was tried (out of memory, or killed)"
        else:
            reason = f"analysis failed on the worker ({type(error).__name__}: {error})"
        self._file_failed(task[1], reason)

    def _file_failed(self, path: str, reason: str) -> None:
        if path in self.failed:
            return
        self.failed.add(path)
        self.summary.failures.append(MediaError(path, reason))
        self.progress.message(f"failed: {path}: {reason}")
        self.progress.file_done()

    def _file_finished(self, result: FileResult) -> None:
        if result.failure:
            self._file_failed(result.path, result.failure)
            return
        self.finished.append(result)
        self.progress.file_done()
        if len(self.finished) >= self.shard_files:
            self._flush()

    def _flush(self) -> None:
        if self.finished:
            self.store.add_shard(self.finished)
            self.finished = []


def analyse(paths: list[str | Path], output: str | Path, cluster: str = "local", *, output_format: str | None = None,
            every_n_frames: int = 1, smoothing_ms: float = 300, hysteresis: float = 0.1, face_model: str = "auto",
            model_dir: str | Path | None = None, face_models: str | Path | None = None, threads: int | None = None,
            segment_frames: int = DEFAULT_SEGMENT_FRAMES, shard_files: int = DEFAULT_SHARD_FILES,
            quiet: bool = True) -> ClusterSummary:
    """Every face in ``paths`` (photos, videos, folders searched recursively) into ``output`` (CSV, JSON Lines or
    Parquet, from its suffix unless ``output_format`` says), analysed on ``cluster``: 'local', 'local:N', a Dask
    scheduler address or a scheduler file. Returns the summary: files, faces, failures (MediaError each, with its
    reason), files resumed from an earlier run. Raises ModelFilesError if the models cannot be loaded,
    ClusterSetupError if the cluster or the run folder cannot be used."""
    output = Path(output)
    output_format = output_format_of(output, output_format)
    files = load_model_files(model_dir or default_model_dir(), face_models)
    labels = list(files.metadata["labels"])
    settings = Settings(str(files.model_dir.resolve()), str(files.face_models.resolve()), face_model, threads,
                        every_n_frames, smoothing_ms, hysteresis, "jsonl" if output_format == "parquet"
                        else output_format, segment_frames)
    inputs = collect([str(path) for path in paths])
    summary = ClusterSummary(skipped=inputs.skipped, failures=list(inputs.unreadable))
    jobs = inputs.jobs
    try:
        store = RunFolder(output, settings)
    except (RunFolderError, OSError) as error:
        raise ClusterSetupError(str(error)) from None
    names = list(dict.fromkeys(str(job.path) for job in jobs))  # a file named twice is analysed once
    kinds = {str(job.path): job.kind for job in jobs}
    with connect(cluster, threads) as (client, workers, worker_threads):
        progress = summary.progress = JobProgress(len(names), enabled=not quiet)  # from here: rates exclude startup
        settings = replace(settings, threads=worker_threads)
        summary.workers = workers
        driver = _Driver(client, workers, settings, store, labels, summary, progress, shard_files)
        for name in names:
            if name in store.files:
                summary.resumed += 1
                progress.file_done()
            elif kinds[name] == "video":
                driver.submit(plan_video, name)
            else:
                progress.expect(images=1 if kinds[name] == "image" else 0)
                driver.submit(analyse_file, name, kinds[name])
        driver.run()
    summary.files = len(names)
    summary.faces = sum(store.files[name].faces for name in names if name in store.files)
    store.assemble([str(job.path) for job in jobs], labels, output_format)
    if not summary.failures:
        store.remove()
    return summary


def run_from_command_line(args) -> int:
    """The command line's --cluster: the CLI's options, the same summary on stderr, the same exit status."""
    if not args.output:
        print("error: --cluster needs --output FILE (the run keeps its finished work beside it)", file=sys.stderr)
        return EXIT_SETUP
    if args.annotate:
        print("error: --annotate is not available with --cluster", file=sys.stderr)
        return EXIT_SETUP
    try:
        parquet = Path(args.output).suffix.lower() == ".parquet"
        summary = analyse(args.paths, args.output, args.cluster, output_format="parquet" if parquet else args.format,
                          every_n_frames=args.every_n_frames, smoothing_ms=args.smoothing_ms,
                          hysteresis=args.hysteresis, face_model=args.face_model, model_dir=args.model_dir,
                          face_models=args.face_models, threads=args.threads, segment_frames=args.segment_frames,
                          shard_files=args.shard_files, quiet=args.quiet)
    except (ModelFilesError, ClusterSetupError, ValueError) as error:
        print(f"error: {error}", file=sys.stderr)
        return EXIT_SETUP
    if summary.resumed:
        print(f"resumed: {summary.resumed} of {summary.files} files were done by an earlier run", file=sys.stderr)
    report(summary, summary.progress, args.quiet)
    return EXIT_FAILED_FILES if summary.failures else 0


def add_arguments(parser) -> None:
    """The command line's cluster options (the engine itself is imported only when --cluster is given)."""
    group = parser.add_argument_group("batch analysis on a Dask cluster (pip install 'emotion-recognizer[cluster]')")
    group.add_argument("--cluster", metavar="local[:N]|ADDRESS",
                       help="analyse on a Dask cluster: local (one worker per core), local:N (N worker processes "
                            "here), a scheduler address (tcp://host:8786) or a scheduler file (.json); needs "
                            "--output, which may also end in .parquet. Finished work is kept in OUTPUT.parts/ so "
                            "a rerun resumes")
    group.add_argument("--segment-frames", type=int, default=DEFAULT_SEGMENT_FRAMES, metavar="N",
                       help=f"with --cluster: cut videos longer than 2N frames at keyframes into segments of at "
                            f"least N frames, analysed in parallel (default: {DEFAULT_SEGMENT_FRAMES})")
    group.add_argument("--shard-files", type=int, default=DEFAULT_SHARD_FILES, metavar="N",
                       help=f"with --cluster: keep finished work in shards of N files (default: "
                            f"{DEFAULT_SHARD_FILES}); a crash loses at most the files not yet in a shard")
