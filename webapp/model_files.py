"""The converted model directory: what the browser may fetch from it, and a digest that versions its URLs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from webapp.errors import SetupError
from webapp.file_responses import FileResponder

METADATA_FILE = "metadata.json"
REQUIRED_METADATA_KEYS = ("labels", "input", "preprocessing", "model")


class ModelDirectory:
    def __init__(self, directory: Path, responder: FileResponder) -> None:
        self.directory = directory
        self._responder = responder
        self.check()

    def check(self) -> None:
        """Raise SetupError naming whatever the browser would fail to load."""
        hint = ("Export a model into it (python -m training export ...) or point the server at one with "
                "--model-dir / EMOTION_MODEL_DIR.")
        if not self.directory.is_dir():
            raise SetupError(f"Model directory {self.directory} does not exist. {hint}")
        missing = [name for name in self.file_names(strict=False) if not (self.directory / name).is_file()]
        if missing:
            raise SetupError(f"Model files missing in {self.directory}: {', '.join(missing)}. {hint}")

    def _read_json(self, name: str) -> dict:
        try:
            return json.loads((self.directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SetupError(f"Cannot read {self.directory / name}: {error}") from error

    def file_names(self, strict: bool = True) -> list[str]:
        """metadata.json, the model topology it names and every weight shard that names: nothing else is served."""
        if not (self.directory / METADATA_FILE).is_file():
            return [METADATA_FILE]
        metadata = self._read_json(METADATA_FILE)
        absent_keys = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
        if absent_keys:
            raise SetupError(f"{self.directory / METADATA_FILE} lacks {', '.join(absent_keys)}")
        topology = metadata["model"]["path"]
        names = [METADATA_FILE, topology]
        if (self.directory / topology).is_file():
            manifest = self._read_json(topology).get("weightsManifest", [])
            names += [path for group in manifest for path in group["paths"]]
        elif strict:
            raise SetupError(f"Model file missing in {self.directory}: {topology}")
        return names

    def path_of(self, name: str) -> Path | None:
        return self.directory / name if name in self.file_names() else None

    def digest(self) -> str:
        """Changes whenever any served model file changes, so versioned model URLs can be cached for good."""
        combined = hashlib.sha256()
        for name in self.file_names():
            combined.update(f"{name}:{self._responder.etag_of(self.directory / name)};".encode())
        return combined.hexdigest()[:16]
