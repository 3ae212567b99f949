"""Atomic writes and content hashes: whatever a run computed survives an interruption intact or not at all."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """Call ``write`` on a temporary file beside ``path``, then rename it into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.stem}.part.", suffix=path.suffix)
    os.close(handle)
    try:
        write(Path(temporary))
        with open(temporary, "rb") as handle:  # on disk before the rename, so that a machine's crash leaves no stub
            os.fsync(handle.fileno())
        os.chmod(temporary, 0o644)  # mkstemp makes files private; these are shared outputs
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def remove_partial_writes(folder: str | Path) -> list[Path]:
    """Delete the temporaries of ``atomic_write`` calls that an interruption cut short; the paths removed."""
    leftovers = sorted(Path(folder).glob(".*.part.*"))
    for leftover in leftovers:
        leftover.unlink()
    return leftovers


def atomic_save_npy(path: str | Path, array: np.ndarray) -> None:
    atomic_write(path, lambda temporary: np.save(temporary, array))


def atomic_write_json(path: str | Path, data: object) -> None:
    atomic_write(path, lambda temporary: temporary.write_text(json.dumps(data, indent=2) + "\n"))


def sha256_file(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def sha256_arrays(*arrays: np.ndarray) -> str:
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()
