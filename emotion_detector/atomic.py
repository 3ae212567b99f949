"""Output files that appear whole or not at all: each is written as ``NAME.incomplete`` beside its final name and
renamed to it once complete, so a run that is killed leaves the previous file untouched and an ``.incomplete`` one
that says what it is — never a partial file under the final name."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TextIO

INCOMPLETE = ".incomplete"


def incomplete_path(path: Path) -> Path:
    return path.with_name(path.name + INCOMPLETE)


class PendingFile:
    """``path`` while it is being written: ``temporary`` (``path`` + ``.incomplete``) until ``finish()``."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.temporary = incomplete_path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        # A previous run's leftover is replaced. Unlinked rather than opened for writing, so that a link planted
        # under that name is never followed to truncate the file it points at.
        self.temporary.unlink(missing_ok=True)

    def open_text(self) -> TextIO:
        # surrogateescape: a file name that is not valid UTF-8 is written back as its own bytes.
        return open(self.temporary, "x", newline="", encoding="utf-8", errors="surrogateescape")  # noqa: SIM115

    def finish(self) -> None:
        """Flushes the finished temporary file to disk and renames it to ``path`` (replacing any older file)."""
        descriptor = os.open(self.temporary, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)
        os.replace(self.temporary, self.path)
