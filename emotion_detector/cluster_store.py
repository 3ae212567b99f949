"""The resumable state of a batch run, in a folder beside the output (``OUT.parts/``), and the output assembled from
it.

- ``manifest.jsonl``: the settings, then one line per shard of finished files and per finished video segment,
  appended only after the file it names is in place;
- ``shard-N.csv|jsonl``: the rows of a group of finished files, each written whole under a temporary name and then
  renamed, so a crash leaves either the whole shard or none of it;
- ``segment-*.json``: a finished segment's detections, until its video is joined.

A rerun reads the manifest and analyses only the files (and segments) it does not name; a file's rows are taken
from exactly one shard, so no row is written twice. The output itself is written under a temporary name and
renamed, in the order the files were named, as the single-process command line orders them; the folder is
removed once every file is done.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

from emotion_detector.cluster_segments import FrameRecord, Segment
from emotion_detector.cluster_tasks import FileResult, Settings
from emotion_detector.output import RowWriter

OUTPUT_FORMATS = ("csv", "jsonl", "parquet")
MANIFEST = "manifest.jsonl"
PARQUET_ROWS_PER_GROUP = 65536


class RunFolderError(ValueError):
    """The run folder cannot be used (other settings, unreadable): the message says which and what to do."""


@dataclass(frozen=True)
class Stored:
    shard: str
    offset: int
    length: int
    faces: int
    images: int
    frames: int


def write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(temporary, path)


class RunFolder:
    def __init__(self, output: Path, settings: Settings) -> None:
        self.output = output
        self.folder = output.with_name(output.name + ".parts")
        self.settings = asdict(settings)
        self.block_suffix = "." + settings.block_format
        self.files: dict[str, Stored] = {}
        self.segments: dict[tuple[str, int], str] = {}
        self.shards = 0
        self.folder.mkdir(parents=True, exist_ok=True)
        self.manifest = self.folder / MANIFEST
        if self.manifest.is_file():
            self._read_manifest()
        else:
            self._append({"settings": self.settings})

    def _read_manifest(self) -> None:
        text = self.manifest.read_bytes()
        complete = text[:text.rfind(b"\n") + 1]
        if len(complete) < len(text):  # a line cut short by a crash while appending: not a record; drop it so the
            with open(self.manifest, "r+b") as handle:  # next line appended starts a line of its own
                handle.truncate(len(complete))
        entries = []
        for number, line in enumerate(complete.decode("utf-8").splitlines(), 1):
            try:
                entries.append(json.loads(line))
            except ValueError:
                raise RunFolderError(f"{self.manifest}, line {number}: not JSON; delete {self.folder} to start "
                                     f"again") from None
        stored = entries[0].get("settings") if entries else None
        if stored != self.settings:
            changed = sorted(key for key in self.settings if (stored or {}).get(key) != self.settings[key])
            raise RunFolderError(f"{self.folder} holds a run with other settings ({', '.join(changed)}): rerun with "
                                 f"the same options, or delete the folder to start again")
        for entry in entries[1:]:
            if "shard" in entry:
                self.shards = max(self.shards, entry["number"] + 1)
                for path, offset, length, faces, images, frames in entry["files"]:
                    self.files[path] = Stored(entry["shard"], offset, length, faces, images, frames)
            elif "segment" in entry:
                self.segments[(entry["segment"], entry["start"])] = entry["record"]

    def _append(self, entry: dict) -> None:
        with open(self.manifest, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry) + "\n")
            handle.flush()
            os.fsync(handle.fileno())

    def add_shard(self, results: list[FileResult]) -> None:
        """The rows of finished files, as one shard; they count as done from here on."""
        name = f"shard-{self.shards:06d}{self.block_suffix}"
        blocks, offset, entries = [], 0, []
        for result in results:
            data = result.rows.encode()
            blocks.append(data)
            entries.append([result.path, offset, len(data), result.faces, result.images, result.frames])
            offset += len(data)
        write_atomically(self.folder / name, b"".join(blocks))
        self._append({"shard": name, "number": self.shards, "files": entries})
        self.shards += 1
        for path, offset, length, faces, images, frames in entries:
            self.files[path] = Stored(name, offset, length, faces, images, frames)

    def record_name(self, path: str, segment: Segment) -> str:
        return f"segment-{hashlib.sha1(path.encode()).hexdigest()[:16]}-{segment.start}.json"

    def add_segment(self, path: str, segment: Segment, records: list[FrameRecord]) -> None:
        name = self.record_name(path, segment)
        write_atomically(self.folder / name, json.dumps(records).encode())
        self._append({"segment": path, "start": segment.start, "record": name})
        self.segments[(path, segment.start)] = name

    def segment_records(self, path: str, segments: list[Segment]) -> Iterator[FrameRecord]:
        for segment in segments:
            yield from json.loads((self.folder / self.segments[(path, segment.start)]).read_text())

    def rows_of(self, path: str) -> bytes:
        stored = self.files[path]
        with open(self.folder / stored.shard, "rb") as handle:
            handle.seek(stored.offset)
            return handle.read(stored.length)

    def assemble(self, paths: Iterable[str], labels: list[str], output_format: str) -> None:
        """The output, from the shards, in the order of ``paths`` (files not done are left out)."""
        temporary = self.output.with_name(f".{self.output.name}.{os.getpid()}.tmp")
        done = [path for path in paths if path in self.files]
        if output_format == "parquet":
            write_parquet(temporary, labels, (self.rows_of(path) for path in done))
        else:
            with open(temporary, "wb") as handle:
                if output_format == "csv":
                    header = io.StringIO()
                    RowWriter(header, labels, "csv")
                    handle.write(header.getvalue().encode())
                for path in done:
                    handle.write(self.rows_of(path))
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(temporary, self.output)

    def remove(self) -> None:
        shutil.rmtree(self.folder)


def parquet_schema(labels: list[str]):
    import pyarrow as pa

    return pa.schema([("file", pa.string()), ("kind", pa.string()), ("frame", pa.int64()), ("time", pa.float64()),
                      ("face", pa.int64()), *((name, pa.float64()) for name in ("x", "y", "width", "height", "score")),
                      *((label, pa.float64()) for label in labels), ("label", pa.string())])


def write_parquet(path: Path, labels: list[str], blocks: Iterable[bytes]) -> None:
    """JSON Lines blocks as one Parquet file, a row group at a time (memory stays bounded for large jobs)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = parquet_schema(labels)
    with pq.ParquetWriter(path, schema) as writer:
        rows: list[dict] = []
        for block in blocks:
            rows += [json.loads(line) for line in block.splitlines()]
            if len(rows) >= PARQUET_ROWS_PER_GROUP:
                writer.write_table(pa.Table.from_pylist(rows, schema))
                rows = []
        writer.write_table(pa.Table.from_pylist(rows, schema))
