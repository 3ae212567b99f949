"""Files the server sends, read once at start-up into immutable in-memory assets (body, gzip body, ETag, type).

Requests then do no file reads, stat calls or JSON parsing; a changed file (a new model export, an edited
script) is picked up by restarting the server.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
from dataclasses import dataclass
from pathlib import Path

from webapp.errors import SetupError

# gzip is kept only when it saves at least this fraction: float weights barely shrink and are not worth it.
MIN_GZIP_SAVING = 0.10
GZIP_CANDIDATE_SUFFIXES = {
    ".js", ".mjs", ".json", ".wasm", ".css", ".html", ".svg", ".binarypb", ".bin", ".tflite", ".map", ".ts",
}
TEXT_PLAIN = "text/plain; charset=utf-8"

mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


@dataclass(frozen=True)
class Asset:
    body: bytes
    body_gzip: bytes | None  # None: not worth compressing, always sent as is
    etag: str  # of `body`; the gzip variant's is etag + "-gzip"
    content_type: str


def content_type_of(name: str) -> str:
    if name.endswith(".d.ts"):  # TypeScript declarations: mimetypes would say video/mp2t
        return TEXT_PLAIN
    guessed = mimetypes.guess_type(name)[0] or "application/octet-stream"
    return f"{guessed}; charset=utf-8" if guessed.startswith("text/") or guessed == "application/json" else guessed


def make_asset(body: bytes, name: str) -> Asset:
    """`name` (a file name or any path ending in one) decides the content type and whether gzip is tried."""
    body_gzip = None
    if Path(name).suffix in GZIP_CANDIDATE_SUFFIXES and body:
        compressed = gzip.compress(body, compresslevel=6, mtime=0)
        if len(compressed) <= len(body) * (1 - MIN_GZIP_SAVING):
            body_gzip = compressed
    return Asset(body, body_gzip, hashlib.sha256(body).hexdigest()[:32], content_type_of(name))


def load_asset(path: Path) -> Asset:
    try:
        return make_asset(path.read_bytes(), path.name)
    except OSError as error:
        raise SetupError(f"Cannot read {path}: {error}") from error


def load_folder(root: Path) -> dict[str, Asset]:
    """Every regular file under `root` by its "/"-separated relative name, dot-files excluded.

    `root` may itself be a symlink. A link inside it that points outside `root` is left out, as is anything
    not a regular file, so the folder's contents are exactly what is served.
    """
    root = root.resolve()
    assets = {}
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root)
        if any(part.startswith(".") for part in relative.parts) or not path.is_file():
            continue
        if not path.resolve().is_relative_to(root):
            continue
        assets[relative.as_posix()] = load_asset(path)
    return assets
