"""Where the models are: the classifier's files in an exported model folder (metadata.json names them) and the
BlazeFace face detector's ``.tflite`` files from the npm package ``@mediapipe/face_detection``.

An installed wheel carries both inside the package (``converted_model/`` and ``face_models/``, copied there when the
wheel is built: see setup.py), so it needs nothing else. In a checkout, the classifier is the repository's
``converted_model/`` and the detector files, MediaPipe's (Apache-2.0) rather than ours, are in ``node_modules/``
after ``npm ci``. Other models: pass their folders (``model_dir=`` / ``--model-dir``, ``face_models=`` /
``--face-models``) or set ``$EMOTION_FACE_MODELS``.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path

FACE_MODELS_ENV = "EMOTION_FACE_MODELS"
FACE_MODELS_NPM = Path("node_modules") / "@mediapipe" / "face_detection"
REQUIRED_METADATA_KEYS = ("labels", "input", "preprocessing")
PACKAGE = Path(__file__).resolve().parent
PACKAGED_FACE_MODELS = PACKAGE / "face_models"  # in an installed wheel only
# The folder whose converted_model/ is the default classifier (cli.py's default too): the package itself once
# installed from a wheel, which carries a copy, else the checkout the package sits in.
REPO = PACKAGE if (PACKAGE / "converted_model" / "metadata.json").is_file() else PACKAGE.parent


def default_model_dir() -> Path:
    """./converted_model when the working directory has one (a model being trained or exported), else the shipped
    classifier: the installed package's copy or the checkout's converted_model/."""
    local = Path("converted_model")
    return local if (local / "metadata.json").is_file() else REPO / "converted_model"


class ModelFilesError(ValueError):
    """A model file is missing, unreadable or does not match metadata.json; the message says which and why."""


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@dataclass(frozen=True)
class ModelFiles:
    model_dir: Path
    metadata: dict
    classifier_path: Path
    face_models: Path

    @property
    def metadata_path(self) -> Path:
        return self.model_dir / "metadata.json"

    def face_model(self, name: str) -> Path:
        path = self.face_models / name
        if not path.is_file():
            raise ModelFilesError(f"face detector model {path} not found ({_face_models_hint()})")
        return path


def _face_models_hint() -> str:
    return (f"install the package from a wheel, which carries them; in a checkout, run `npm ci` for "
            f"node_modules/{FACE_MODELS_NPM.relative_to('node_modules')}; or pass the folder holding "
            f"face_detection_short_range.tflite with --face-models / face_models= / ${FACE_MODELS_ENV}")


def find_face_models(model_dir: Path, face_models: str | Path | None) -> Path:
    if face_models is None and os.environ.get(FACE_MODELS_ENV):
        face_models = os.environ[FACE_MODELS_ENV]
    if face_models is not None:
        folder = Path(face_models)
        if not folder.is_dir():
            raise ModelFilesError(f"face detector folder {folder} does not exist ({_face_models_hint()})")
        return folder
    if (PACKAGED_FACE_MODELS / "face_detection_short_range.tflite").is_file():
        return PACKAGED_FACE_MODELS
    # The repository this package sits in, then the model folder's and the working directory's surroundings.
    for base in (PACKAGE.parent, model_dir.resolve().parent, Path.cwd()):
        if (base / FACE_MODELS_NPM).is_dir():
            return base / FACE_MODELS_NPM
    raise ModelFilesError(f"face detector files not found ({_face_models_hint()})")


def load_model_files(model_dir: str | Path | None = None, face_models: str | Path | None = None) -> ModelFiles:
    """model_dir None: default_model_dir()."""
    model_dir = default_model_dir() if model_dir is None else Path(model_dir)
    metadata_path = model_dir / "metadata.json"
    if not metadata_path.is_file():
        raise ModelFilesError(f"{metadata_path} not found: pass the folder `python -m training export` wrote "
                              f"(e.g. converted_model)")
    try:
        metadata = json.loads(metadata_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ModelFilesError(f"{metadata_path}: not readable JSON ({error})") from error
    missing = [key for key in REQUIRED_METADATA_KEYS if key not in metadata]
    if missing:
        raise ModelFilesError(f"{metadata_path} lacks {', '.join(missing)}")
    rerun = f"run `python -m training export-litert --model-dir {model_dir}`"
    litert = metadata.get("litert")
    if not litert:
        raise ModelFilesError(f"{metadata_path} names no LiteRT classifier (key 'litert'): {rerun}")
    classifier = model_dir / litert["path"]
    if not classifier.is_file():
        raise ModelFilesError(f"classifier {classifier} not found: {rerun}")
    if _sha256(classifier) != litert["sha256"]:
        raise ModelFilesError(f"{classifier} does not match the sha256 in {metadata_path}: {rerun}")
    reference = model_dir / litert.get("converted_from", "")
    if litert.get("converted_from") and reference.is_file() and _sha256(reference) != litert["converted_from_sha256"]:
        raise ModelFilesError(f"{classifier} was converted from another {reference.name} than the one in "
                              f"{model_dir} (a newer export?): {rerun}")
    return ModelFiles(model_dir, metadata, classifier, find_face_models(model_dir, face_models))
