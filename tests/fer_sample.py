"""Small real FER2013 samples for tests: the first rows of each split, as a CSV or as arrays."""

from __future__ import annotations

import csv
import gzip
from pathlib import Path

import numpy as np

from tests.shared_assets import fer2013_csv


def sample_rows(per_split: dict[str, int]) -> list[list[str]]:
    """The first ``per_split[usage]`` rows of each requested split of the real FER2013 CSV."""
    wanted = dict(per_split)
    rows: list[list[str]] = []
    with gzip.open(fer2013_csv(), "rt", newline="") as handle:
        reader = csv.reader(handle)
        header = next(reader)
        usage_column = header.index("Usage")
        for row in reader:
            if wanted.get(row[usage_column], 0) > 0:
                rows.append(row)
                wanted[row[usage_column]] -= 1
                if not any(wanted.values()):
                    break
    return [header, *rows]


def write_sample_csv(path: Path, per_split: dict[str, int]) -> Path:
    with open(path, "w", newline="") as handle:
        csv.writer(handle).writerows(sample_rows(per_split))
    return path


def sample_faces(split: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """(faces (N, 48, 48) uint8, labels (N,)) of the first ``count`` rows of ``split``."""
    rows = sample_rows({split: count})[1:]
    faces = np.stack([np.array(row[1].split(), np.uint8).reshape(48, 48) for row in rows])
    return faces, np.array([int(row[0]) for row in rows])
