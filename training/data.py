"""Load FER2013 (Kaggle CSV, plain or gzipped), image-folder and packed face datasets as 48×48 grey uint8 arrays.

Every loader returns ``{split_name: FaceSet}``. Bad input raises :class:`DataError` naming the file, the row or
path, and what was expected; with ``skip_bad=True`` bad rows are dropped instead and counted in the FaceSet.
"""

from __future__ import annotations

import csv
import gzip
import io
import logging
import lzma
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from training.ferplus import VOTE_COLUMNS
from training.files import atomic_write
from training.labels import EMOTIONS, FER_SIZE, FOLDER_ALIASES, KNOWN_UNPREDICTED

log = logging.getLogger(__name__)

DATA_ENV = "FER2013_CSV"  # where commands look for the dataset when --data is not given
PACKED_SUFFIX = ".npz.xz"
EXTRA_PREFIX = "extra/"  # packed arrays that are not faces
PIXELS_PER_FACE = FER_SIZE * FER_SIZE
PACKED_FILTERS = [{"id": lzma.FILTER_DELTA, "dist": 1}, {"id": lzma.FILTER_LZMA2, "preset": 9 | lzma.PRESET_EXTREME}]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".pgm"}

# Split folder names of common image-folder layouts → FER2013's split names. Kaggle's "test" folder holds
# PublicTest and PrivateTest together, so it keeps a name of its own.
SPLIT_ALIASES = {
    "train": "Training", "training": "Training",
    "val": "PublicTest", "valid": "PublicTest", "validation": "PublicTest", "publictest": "PublicTest",
    "privatetest": "PrivateTest", "test": "Test",
}


class DataError(ValueError):
    """Input that cannot be used; the message says where it is and what was expected."""


@dataclass
class FaceSet:
    images: np.ndarray  # (N, 48, 48) uint8
    labels: np.ndarray  # (N,) int64, indices into EMOTIONS
    skipped: list[str] = field(default_factory=list)  # one message per bad row dropped with skip_bad
    # (N, 10) FER+ crowd votes in training.ferplus.VOTE_COLUMNS order, where the source has them
    votes: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return np.bincount(self.labels, minlength=len(EMOTIONS)).tolist()

    def subset(self, rows: np.ndarray | slice) -> FaceSet:
        """The faces at ``rows`` (a mask, indices or a slice), with their votes."""
        votes = None if self.votes is None else self.votes[rows]
        return FaceSet(self.images[rows], self.labels[rows], self.skipped, votes)

    @staticmethod
    def concat(parts: list[FaceSet]) -> FaceSet:
        parts = [p for p in parts if len(p)]
        if not parts:
            return FaceSet(np.zeros((0, FER_SIZE, FER_SIZE), np.uint8), np.zeros((0,), np.int64))
        with_votes = all(p.votes is not None for p in parts)
        return FaceSet(
            np.concatenate([p.images for p in parts]),
            np.concatenate([p.labels for p in parts]),
            [msg for p in parts for msg in p.skipped],
            np.concatenate([p.votes for p in parts]) if with_votes else None,
        )


def load_dataset(path: str | Path, skip_bad: bool = False) -> dict[str, FaceSet]:
    """A FER2013 CSV (``.csv`` or ``.csv.gz``), a packed file (``.npz.xz``) or an image folder, by what ``path`` is."""
    path = _existing(path)
    if path.is_dir():
        return load_image_folder(path, skip_bad=skip_bad)
    if path.name.endswith(PACKED_SUFFIX):
        return load_packed(path)
    return load_fer_csv(path, skip_bad=skip_bad)


def _existing(path: str | Path) -> Path:
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder (expected a FER2013 CSV, a packed file or an image folder)")
    return path


def save_packed(splits: dict[str, FaceSet], path: str | Path, extra: dict[str, np.ndarray] | None = None) -> None:
    """Splits (and ``extra`` arrays, such as LapSRN's weights) as one xz-compressed NumPy archive: about 80% of
    the raw pixels' size (FER2013's are noisy), so that Training travels to a GPU machine in a small file.
    Neighbouring pixels are stored as differences (xz's delta filter, which any xz reader undoes), a megabyte
    less than plain xz."""

    def write(temporary: Path) -> None:
        arrays = {f"{EXTRA_PREFIX}{name}": array for name, array in (extra or {}).items()}
        for name, faces in splits.items():
            arrays[f"{name}.images"], arrays[f"{name}.labels"] = faces.images, faces.labels.astype(np.uint8)
            if faces.votes is not None:
                arrays[f"{name}.votes"] = faces.votes.astype(np.uint8)
        with lzma.open(temporary, "wb", filters=PACKED_FILTERS) as handle:
            np.savez(handle, **arrays)

    atomic_write(path, write)


def read_packed(path: str | Path) -> tuple[dict[str, FaceSet], dict[str, np.ndarray]]:
    """The splits of a file written by ``save_packed``, and its extra arrays by name."""
    path = _existing(path)
    try:
        with lzma.open(path, "rb") as handle, np.load(io.BytesIO(handle.read())) as archive:
            arrays = dict(archive)
    except (lzma.LZMAError, OSError, ValueError, EOFError) as problem:
        raise DataError(f"{path}: not a packed face file ({problem}); expected one written by "
                        "`python -m training pack`") from None
    extra = {key.removeprefix(EXTRA_PREFIX): arrays.pop(key) for key in list(arrays) if key.startswith(EXTRA_PREFIX)}
    splits = {}
    for key in arrays:
        name, _, kind = key.rpartition(".")
        if kind != "images":
            continue
        images, labels = arrays[key], arrays.get(f"{name}.labels")
        if labels is None or images.shape[1:] != (FER_SIZE, FER_SIZE) or len(labels) != len(images):
            raise DataError(f"{path}: split {name!r} is not {FER_SIZE}×{FER_SIZE} faces with one label each")
        votes = arrays.get(f"{name}.votes")
        if votes is not None and votes.shape != (len(images), len(VOTE_COLUMNS)):
            raise DataError(f"{path}: split {name!r} has votes of shape {votes.shape}, expected "
                            f"({len(images)}, {len(VOTE_COLUMNS)})")
        splits[name] = FaceSet(images.astype(np.uint8), labels.astype(np.int64), votes=votes)
    if not splits:
        raise DataError(f"{path}: holds no split (expected NAME.images and NAME.labels arrays)")
    return splits, extra


def load_packed(path: str | Path) -> dict[str, FaceSet]:
    """The splits of a packed file, as every other loader returns them."""
    return read_packed(path)[0]


def class_weights(labels: np.ndarray, power: float) -> np.ndarray:
    """Per-class loss weights (N / (K · n_c)) ** power, scaled so the average training face weighs 1."""
    counts = np.bincount(labels, minlength=len(EMOTIONS)).astype(np.float64)
    balanced = np.where(counts > 0, counts.sum() / (len(EMOTIONS) * np.maximum(counts, 1)), 0.0)
    weights = balanced**power
    return (weights / (weights[labels].mean())).astype(np.float32)


def load_fer_csv(path: str | Path, skip_bad: bool = False) -> dict[str, FaceSet]:
    """FER2013 in Kaggle's ``emotion,pixels,Usage`` format, split by ``Usage`` (``All`` when the column is absent).
    When the header also names FER+'s ten vote columns (``fer2013_raw.csv.gz``), each face keeps its votes."""
    path = Path(path)
    opener = gzip.open if path.suffix == ".gz" else open
    images: dict[str, list[np.ndarray]] = {}
    labels: dict[str, list[int]] = {}
    votes: dict[str, list[list[int]]] = {}
    skipped: list[str] = []
    try:
        with opener(path, "rt", newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            columns = [c.strip() for c in (reader.fieldnames or [])]
            missing = [c for c in ("emotion", "pixels") if c not in columns]
            if missing:
                raise DataError(
                    f"{path}: missing column(s) {', '.join(missing)}; expected a header 'emotion,pixels,Usage' "
                    f"and found {columns or 'no header'}"
                )
            reader.fieldnames = columns
            has_votes = all(column in columns for column in VOTE_COLUMNS)
            for line_number, row in enumerate(reader, start=2):
                try:
                    label, pixels = _parse_fer_row(row)
                    face_votes = _parse_votes(row) if has_votes else None
                except DataError as problem:
                    message = f"{path}, line {line_number}: {problem}"
                    if not skip_bad:
                        raise DataError(message + " (pass --skip-bad to drop such rows)") from None
                    skipped.append(message)
                    continue
                split = (row.get("Usage") or "All").strip() or "All"
                images.setdefault(split, []).append(pixels)
                labels.setdefault(split, []).append(label)
                if face_votes is not None:
                    votes.setdefault(split, []).append(face_votes)
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as problem:
        raise DataError(f"{path}: cannot be read as a FER2013 CSV{' (gzip)' if opener is gzip.open else ''}: "
                        f"{problem}") from problem
    if not labels:
        raise DataError(f"{path}: no usable faces (expected rows of 'emotion,pixels,Usage')")
    _warn_skipped(path, skipped)
    return {
        split: FaceSet(np.stack(images[split]), np.asarray(labels[split], np.int64), skipped,
                       np.asarray(votes[split], np.uint8) if split in votes else None)
        for split in labels
    }


def _parse_votes(row: dict[str, str]) -> list[int]:
    counts = []
    for column in VOTE_COLUMNS:
        text = (row.get(column) or "").strip()
        if not text.isdigit() or int(text) > 10:
            raise DataError(f"field {column!r} is {text!r}, expected a FER+ vote count (an integer 0–10)")
        counts.append(int(text))
    return counts


def _parse_fer_row(row: dict[str, str]) -> tuple[int, np.ndarray]:
    raw_label = (row.get("emotion") or "").strip()
    try:
        label = int(raw_label)
    except ValueError:
        raise DataError(f"field 'emotion' is {raw_label!r}, expected an integer 0–{len(EMOTIONS) - 1}") from None
    if not 0 <= label < len(EMOTIONS):
        raise DataError(f"field 'emotion' is {label}, expected 0–{len(EMOTIONS) - 1} ({', '.join(EMOTIONS)})")
    text = row.get("pixels") or ""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # a partial parse is diagnosed below
        values = np.fromstring(text, dtype=np.int64, sep=" ")
    tokens = text.split()
    if values.size != len(tokens):
        bad = next(t for t in tokens if not t.lstrip("-").isdigit())
        raise DataError(f"field 'pixels' holds {bad!r}, expected {PIXELS_PER_FACE} integers 0–255")
    if values.size != PIXELS_PER_FACE:
        raise DataError(f"field 'pixels' has {values.size} values, expected {PIXELS_PER_FACE} (48×48)")
    if values.min() < 0 or values.max() > 255:
        raise DataError(f"field 'pixels' has a value outside 0–255 ({values.min()}…{values.max()})")
    return label, values.astype(np.uint8).reshape(FER_SIZE, FER_SIZE)


def emotion_for_folder(name: str) -> str | None:
    """Our class name for an emotion folder, or None for a class we do not predict."""
    return FOLDER_ALIASES.get(name.strip().lower())


def load_image_folder(root: str | Path, skip_bad: bool = False) -> dict[str, FaceSet]:
    """``root/<split>/<emotion>/*`` (split names mapped to FER2013's) or a flat ``root/<emotion>/*`` (split ``All``)."""
    root = Path(root)
    subfolders = sorted(p for p in root.iterdir() if p.is_dir())
    if not subfolders:
        raise DataError(f"{root}: no sub-folders; expected <emotion>/ or <split>/<emotion>/ folders of images")
    is_flat = any(_is_emotion_folder(p.name) for p in subfolders)
    if is_flat:
        splits = {"All": root}
    else:
        splits = {SPLIT_ALIASES.get(p.name.lower(), p.name): p for p in subfolders}
    result = {name: _load_emotion_folders(folder, skip_bad) for name, folder in splits.items()}
    if not any(len(faces) for faces in result.values()):
        raise DataError(f"{root}: no images found under emotion folders ({', '.join(EMOTIONS)} or an alias)")
    return result


def _is_emotion_folder(name: str) -> bool:
    return emotion_for_folder(name) is not None or name.strip().lower() in KNOWN_UNPREDICTED


def _load_emotion_folders(folder: Path, skip_bad: bool) -> FaceSet:
    images: list[np.ndarray] = []
    labels: list[int] = []
    skipped: list[str] = []
    ignored: Counter[str] = Counter()
    for class_folder in sorted(p for p in folder.iterdir() if p.is_dir()):
        files = sorted(p for p in class_folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        emotion = emotion_for_folder(class_folder.name)
        if emotion is None:
            ignored[class_folder.name] += len(files)
            continue
        for file in files:
            try:
                images.append(read_face_image(file))
            except DataError as problem:
                if not skip_bad:
                    raise DataError(f"{problem} (pass --skip-bad to drop such files)") from None
                skipped.append(str(problem))
                continue
            labels.append(EMOTIONS.index(emotion))
    for name, count in ignored.items():
        log.warning("%s/%s: %d image(s) skipped: %r is not one of our classes (%s)",
                    folder, name, count, name, ", ".join(EMOTIONS))
    _warn_skipped(folder, skipped)
    if not images:
        return FaceSet.concat([])
    return FaceSet(np.stack(images), np.asarray(labels, np.int64), skipped)


def read_face_image(path: Path) -> np.ndarray:
    """Any image file as a 48×48 grey uint8 face, converted the way FER2013 was made (grey, then resized)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(path) as image:
            grey = image.convert("L")
            if grey.size != (FER_SIZE, FER_SIZE):
                grey = grey.resize((FER_SIZE, FER_SIZE), Image.Resampling.LANCZOS)
            return np.asarray(grey, dtype=np.uint8)
    except (UnidentifiedImageError, OSError, ValueError) as problem:
        raise DataError(f"{path}: unreadable image, expected a JPEG/PNG/BMP face ({problem})") from None


def _warn_skipped(source: Path, skipped: list[str]) -> None:
    if skipped:
        log.warning("%s: skipped %d bad row(s)/file(s); first: %s", source, len(skipped), skipped[0])


SPLIT_PART = re.compile(r"^(?P<name>[^\[\]]+)\[(?P<start>-?\d*):(?P<stop>-?\d*)\]$")


def parse_split(name: str) -> tuple[str, slice | None]:
    """``"Training"`` → ("Training", None); ``"Training[-3000:]"`` → ("Training", slice(-3000, None)): a part of a
    split in file order, so that model selection can use faces held out of Training instead of PublicTest."""
    if "[" not in name and "]" not in name:
        return name, None
    match = SPLIT_PART.match(name)
    if not match:
        raise DataError(f"split {name!r}: expected a split name, or NAME[START:STOP] for part of one (Python "
                        "slice bounds over its faces in file order), e.g. Training[:-3000] and Training[-3000:]")
    start, stop = (int(text) if text else None for text in (match["start"], match["stop"]))
    return match["name"], slice(start, stop)


def pick_split(splits: dict[str, FaceSet], name: str, source: str | Path) -> FaceSet:
    """The split called ``name`` (case-insensitive) or a part of it (``Training[-3000:]``), or a DataError listing
    the splits there are."""
    base, part = parse_split(name)
    for key, faces in splits.items():
        if key.lower() == base.lower():
            if part is None:
                return faces
            picked = faces.subset(part)
            if not len(picked):
                raise DataError(f"{source}: split {name!r} selects none of the {len(faces)} faces of {key}")
            return picked
    raise DataError(f"{source}: no split {base!r}; it has {', '.join(sorted(splits))}")


def overlapping_faces(split_a: str, split_b: str, sizes: dict[str, int]) -> int:
    """How many faces two split names (parts allowed) share, given each split's size by lower-case name."""
    (base_a, part_a), (base_b, part_b) = parse_split(split_a), parse_split(split_b)
    if base_a.lower() != base_b.lower() or base_a.lower() not in sizes:
        return 0
    indices = range(sizes[base_a.lower()])
    a, b = indices[part_a or slice(None)], indices[part_b or slice(None)]  # step-1 ranges: parts take no step
    return max(0, min(a.stop, b.stop) - max(a.start, b.start))


def fer_csv_bytes(faces: FaceSet, usage: str) -> bytes:
    """FaceSet rows in FER2013's CSV format, with FER+'s vote columns when the faces have votes (used to make small
    datasets for tests and demos)."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["emotion", "pixels", "Usage", *(VOTE_COLUMNS if faces.votes is not None else ())])
    for index, (image, label) in enumerate(zip(faces.images, faces.labels, strict=True)):
        votes = faces.votes[index].tolist() if faces.votes is not None else []
        writer.writerow([int(label), " ".join(map(str, image.reshape(-1).tolist())), usage, *votes])
    return out.getvalue().encode()
