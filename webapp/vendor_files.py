"""The allow-list of npm files the page needs, served from node_modules under versioned URLs.

Only files named here are reachable: node_modules as a whole is never exposed. The BlazeFace face detectors are
made from MediaPipe's .tflite files the first time the server starts after `npm ci` (webapp/blazeface_graphs.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from webapp import blazeface_graphs
from webapp.errors import SetupError


@dataclass(frozen=True)
class VendorPackage:
    npm_name: str
    folder: str  # inside the package
    files: tuple[str, ...]
    # True: the files are TF.js graphs converted from the package's .tflite files, kept in node_modules/.cache.
    converted: bool = False


PACKAGES: dict[str, VendorPackage] = {
    # The ES2017 builds: the ES5 ones evaluate a polyfill from a string, which the page's CSP forbids.
    "tfjs": VendorPackage("@tensorflow/tfjs", "dist", ("tf.es2017.min.js",)),
    "tfjs-backend-wasm": VendorPackage(
        "@tensorflow/tfjs-backend-wasm", "dist",
        # No threaded build: it needs cross-origin isolation, which this page does not ask for.
        ("tf-backend-wasm.es2017.min.js", "tfjs-backend-wasm.wasm", "tfjs-backend-wasm-simd.wasm"),
    ),
    # MediaPipe's BlazeFace face detectors (face_detection_short_range.tflite and
    # face_detection_full_range_sparse.tflite, which the Python package runs), converted to TF.js graph models; run by
    # static/js/detector.js.
    "blazeface": VendorPackage(
        "@mediapipe/face_detection", "",
        tuple(f"{stem}.{suffix}" for stem in blazeface_graphs.SOURCE_FILES for suffix in ("json", "bin")),
        converted=True,
    ),
}


class VendorFiles:
    def __init__(self, node_modules: Path) -> None:
        self.node_modules = node_modules
        self.versions = {alias: self._version(package) for alias, package in PACKAGES.items()}
        for alias, package in PACKAGES.items():
            if package.converted:
                try:
                    blazeface_graphs.ensure_graphs(self.node_modules / package.npm_name, self.folder(alias))
                except (blazeface_graphs.ConversionError, OSError) as error:
                    raise SetupError(f"Cannot make the page's face detector from {package.npm_name}: {error}. "
                                     f"Run `npm ci` in {node_modules.parent} to reinstall it.") from error
        missing = [str(self._path(alias, name)) for alias, package in PACKAGES.items() for name in package.files
                   if not self._path(alias, name).is_file()]
        if missing:
            raise SetupError(f"JavaScript dependency files missing: {', '.join(missing)}. "
                             f"Run `npm ci` in {node_modules.parent} to install them from package-lock.json.")

    def _version(self, package: VendorPackage) -> str:
        manifest = self.node_modules / package.npm_name / "package.json"
        try:
            version = json.loads(manifest.read_text(encoding="utf-8"))["version"]
        except (OSError, ValueError, KeyError) as error:
            raise SetupError(f"JavaScript dependency {package.npm_name} is not installed ({manifest}: {error}). "
                             f"Run `npm ci` in {self.node_modules.parent}.") from error
        # A converted file changes with the converter too: its version is in the URL, which caches keep for good.
        return f"{version}-tfjs{blazeface_graphs.CONVERTER_VERSION}" if package.converted else version

    def folder(self, alias: str) -> Path:
        package = PACKAGES[alias]
        if package.converted:
            return self.node_modules / ".cache" / f"{alias}-tfjs" / self.versions[alias]
        return self.node_modules / package.npm_name / package.folder

    def _path(self, alias: str, name: str) -> Path:
        return self.folder(alias) / name

    def prefix(self, alias: str) -> str:
        """URL folder of a package, e.g. /vendor/tfjs@4.22.0/ (the version makes it safe to cache for good)."""
        return f"/vendor/{alias}@{self.versions[alias]}/"

    def path_of(self, versioned_alias: str, name: str) -> Path | None:
        alias, _, version = versioned_alias.partition("@")
        if alias not in PACKAGES or self.versions[alias] != version or name not in PACKAGES[alias].files:
            return None
        return self._path(alias, name)
