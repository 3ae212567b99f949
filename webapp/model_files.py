"""The converted model directory: what the browser may fetch from it, held in memory, and a digest for its URLs."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from webapp.assets import Asset, load_asset
from webapp.errors import SetupError

METADATA_FILE = "metadata.json"
REQUIRED_METADATA_KEYS = ("labels", "input", "preprocessing", "model")


class ModelDirectory:
    """Reads metadata.json, the topology it names and every weight shard that names, once: nothing else is served."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        hint = ("Export a model into it (python -m training export ...) or point the server at one with "
                "--model-dir / EMOTION_MODEL_DIR.")
        if not directory.is_dir():
            raise SetupError(f"Model directory {directory} does not exist. {hint}")
        names = self._file_names()
        missing = [name for name in names if not (directory / name).is_file()]
        if missing:
            raise SetupError(f"Model files missing in {directory}: {', '.join(missing)}. {hint}")
        self.assets: dict[str, Asset] = {name: load_asset(directory / name) for name in names}
        combined = hashlib.sha256()
        for name, asset in self.assets.items():
            combined.update(f"{name}:{asset.etag};".encode())
        # Changes whenever any served model file changes, so versioned model URLs can be cached for good.
        self.digest = combined.hexdigest()[:16]

    def _read_json(self, name: str) -> dict:
        try:
            return json.loads((self.directory / name).read_text(encoding="utf-8"))
        except (OSError, ValueError) as error:
            raise SetupError(f"Cannot read {self.directory / name}: {error}") from error

    def _file_names(self) -> list[str]:
        if not (self.directory / METADATA_FILE).is_file():
            return [METADATA_FILE]
        metadata = self._read_json(METADATA_FILE)
        absent_keys = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
        if absent_keys:
            raise SetupError(f"{self.directory / METADATA_FILE} lacks {', '.join(absent_keys)}")
        topology = metadata["model"]["path"]
        if not (self.directory / topology).is_file():
            return [METADATA_FILE, topology]
        manifest = self._read_json(topology).get("weightsManifest", [])
        return [METADATA_FILE, topology, *(path for group in manifest for path in group["paths"])]
