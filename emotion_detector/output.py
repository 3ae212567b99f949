"""One row per face, as CSV or JSON Lines: file, frame, time, face (number or track ID), box, detector score, the
probabilities in metadata.json's label order, and the label."""

from __future__ import annotations

import csv
import io
import json
from typing import TextIO

from emotion_detector.detector import Face

FORMATS = ("csv", "jsonl")


class RowWriter:
    def __init__(self, stream: TextIO, labels: list[str], output_format: str) -> None:
        if output_format not in FORMATS:
            raise ValueError(f"output format {output_format!r}: expected one of {', '.join(FORMATS)}")
        self.stream = stream
        self.labels = labels
        self.format = output_format
        self.columns = ["file", "kind", "frame", "time", "face", "x", "y", "width", "height", "score", *labels,
                        "label"]
        # Rows end in \n, but a field holding \r (a file name may) must be quoted all the same: Python 3.11's writer
        # quotes only the characters of its line terminator, so each row is made with \r\n and written with \n.
        self.row = io.StringIO()
        self.csv = csv.writer(self.row, lineterminator="\r\n") if output_format == "csv" else None
        if self.csv:
            self.write_csv(self.columns)

    def write_csv(self, values: list) -> None:
        self.csv.writerow(values)
        self.stream.write(self.row.getvalue()[:-2] + "\n")
        self.row.seek(0)
        self.row.truncate()

    def write(self, file: str, kind: str, frame: int, time: float, faces: list[Face]) -> None:
        for face in faces:
            box = face.box
            values = [file, kind, frame, round(time, 4), face.id, round(box.x, 2), round(box.y, 2),
                      round(box.width, 2), round(box.height, 2), round(face.score, 4),
                      *(round(face.smoothed[label], 5) for label in self.labels), face.label]
            if self.csv:
                self.write_csv(values)
            else:
                self.stream.write(json.dumps(dict(zip(self.columns, values, strict=True))) + "\n")
        self.stream.flush()
