"""The wheel built from this repository works on its own: installed into a fresh venv outside the checkout (no
system site-packages, no PYTHONPATH), `python -m emotion_detector`, the `emotion-detector` command and
`EmotionDetector.load()` find the astronaut's face in a real photo with the models the wheel carries."""

from __future__ import annotations

import csv
import importlib.metadata
import io
import json
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.images import ASTRONAUT_FACE, astronaut

CLASSIFIER_FILES = {"model.tflite", "metadata.json"}
FACE_MODEL_FILES = {"face_detection_short_range.tflite", "face_detection_full_range_sparse.tflite"}
MAX_WHEEL_BYTES = 3_000_000  # the classifier (1.3 MB) and BlazeFace (0.9 MB) barely compress
LABELS = json.loads((REPO / "converted_model" / "metadata.json").read_text())["labels"]
COLUMNS = ["file", "kind", "frame", "time", "face", "x", "y", "width", "height", "score", *LABELS, "label"]
# Only PATH: nothing may lead the installed package back to the checkout.
BARE_ENV = {"PATH": "/usr/bin:/bin", "LC_ALL": "C.UTF-8"}


def run(command: list[str], cwd: Path, bare: bool = False, timeout: int = 300) -> str:
    """bare: run the installed package as a user would, with nothing in the environment but PATH."""
    completed = subprocess.run(command, capture_output=True, text=True, cwd=cwd, timeout=timeout,
                               env=BARE_ENV if bare else None)
    assert completed.returncode == 0, f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}"
    return completed.stdout


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--disable-pip-version-check", "-q", str(REPO),
         "-w", str(out)], cwd=REPO)
    [built] = out.glob("emotion_detector-*.whl")
    return built


@pytest.fixture(scope="module")
def venv_python(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv (no system site-packages) with the wheel and its declared dependencies installed by pip.

    The dependencies are held to the versions installed here, so pip takes them from its cache instead of
    downloading them again; which ones are needed still comes from the wheel's own metadata."""
    venv = tmp_path_factory.mktemp("venv")
    run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=venv.parent)
    assert "include-system-site-packages = false" in (venv / "pyvenv.cfg").read_text()
    pins = venv / "constraints.txt"
    pins.write_text("".join(f"{dist.metadata['Name']}=={dist.version}\n" for dist in importlib.metadata.distributions()
                            if dist.metadata["Name"] and not dist.metadata["Name"].startswith("emotion")))
    python = venv / "bin" / "python"
    run([sys.executable, "-m", "pip", "--python", str(python), "install", "--disable-pip-version-check", "-q",
         "-c", str(pins), str(wheel)], cwd=venv.parent, timeout=600)
    return python


@pytest.fixture(scope="module")
def photo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from PIL import Image

    folder = tmp_path_factory.mktemp("elsewhere")
    Image.fromarray(astronaut()).save(folder / "photo.jpg", quality=92)
    return folder / "photo.jpg"


def test_wheel_carries_the_models_and_their_licence_and_nothing_else(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(next(name for name in names if name.endswith(".dist-info/METADATA"))).decode()
        notice = archive.read("emotion_detector/face_models/LICENSE.txt").decode()
        packaged_metadata = archive.read("emotion_detector/converted_model/metadata.json")
    assert wheel.stat().st_size < MAX_WHEEL_BYTES, wheel.stat().st_size
    assert {name.rsplit("/", 1)[1] for name in names if name.startswith("emotion_detector/converted_model/")} \
        == CLASSIFIER_FILES
    assert {name.rsplit("/", 1)[1] for name in names if name.startswith("emotion_detector/face_models/")} \
        == FACE_MODEL_FILES | {"LICENSE.txt"}
    assert packaged_metadata == (REPO / "converted_model" / "metadata.json").read_bytes()
    assert "Apache License" in notice and "Version 2.0" in notice and "MediaPipe" in notice
    assert any(name.endswith("MediaPipe-face-detection.txt") and ".dist-info/licenses/" in name for name in names)
    assert not any(name.endswith((".keras", "model.json", ".bin")) for name in names)
    fields = [line.split(": ", 1) for line in metadata.splitlines() if ": " in line]
    assert ["Name", "emotion-detector"] in fields
    version = re.search(r'^__version__ = "(.+)"', (REPO / "emotion_detector" / "__init__.py").read_text(), re.M)[1]
    assert ["Version", version] in fields and ["License-Expression", "MIT"] in fields
    assert ["Requires-Python", ">=3.11"] in fields
    assert {value.split(">=")[0] for key, value in fields if key == "Requires-Dist" and "extra ==" not in value} \
        == {"numpy", "pillow", "ai-edge-litert", "av"}


def check_rows(text: str, photo: Path) -> None:
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == COLUMNS
    [face] = [dict(zip(COLUMNS, row, strict=True)) for row in rows[1:]]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    centre = (float(face["x"]) + float(face["width"]) / 2, float(face["y"]) + float(face["height"]) / 2)
    assert face["file"] == photo.name and face["kind"] == "image" and face["face"] == "1"
    assert x0 < centre[0] < x1 and y0 < centre[1] < y1 and face["label"] == "happy"
    assert sum(float(face[label]) for label in LABELS) == pytest.approx(1, abs=1e-3)


def test_cli_runs_from_any_folder_with_the_models_in_the_wheel(venv_python: Path, photo: Path) -> None:
    for command in ([str(venv_python), "-m", "emotion_detector"],
                    [str(venv_python.parent / "emotion-detector")]):  # the console script pip installed
        check_rows(run([*command, "-q", photo.name], cwd=photo.parent, bare=True), photo)


def test_api_loads_the_packaged_models_with_no_argument(venv_python: Path, photo: Path) -> None:
    script = ("import json, sys; import emotion_detector; from emotion_detector import EmotionDetector; "
              "detector = EmotionDetector.load(); faces = detector.detect('photo.jpg'); "
              "print(json.dumps({'package': emotion_detector.__file__, 'model': str(detector.files.model_dir), "
              "'face_models': str(detector.files.face_models), 'labels': [face.label for face in faces], "
              "'boxes': [[face.box.x, face.box.y, face.box.width, face.box.height] for face in faces], "
              "'tensorflow': [m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras')]}))")
    report = json.loads(run([str(venv_python), "-c", script], cwd=photo.parent, bare=True).strip().splitlines()[-1])
    venv = venv_python.parent.parent
    for key in ("package", "model", "face_models"):
        assert Path(report[key]).is_relative_to(venv) and not Path(report[key]).is_relative_to(REPO), report
    assert report["labels"] == ["happy"] and report["tensorflow"] == []
    x, y, width, height = report["boxes"][0]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert x0 < x + width / 2 < x1 and y0 < y + height / 2 < y1


def test_the_plain_install_leaves_out_the_cluster_engine(venv_python: Path) -> None:
    script = ("import importlib.util, json; print(json.dumps({name: importlib.util.find_spec(name) is not None "
              "for name in ('dask', 'distributed', 'pyarrow', 'tensorflow')}))")
    found = json.loads(run([str(venv_python), "-c", script], cwd=venv_python.parent, bare=True))
    assert found == {"dask": False, "distributed": False, "pyarrow": False, "tensorflow": False}, found
