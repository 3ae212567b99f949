"""Static file responses with content-hash ETags, cache lifetimes and gzip where it pays off.

Hashes and compressed bodies are kept in memory, keyed by the file's size and mtime, so a replaced file
(a newly exported model, say) is picked up without a restart.
"""

from __future__ import annotations

import gzip
import hashlib
import mimetypes
import threading
from dataclasses import dataclass
from pathlib import Path

from flask import Request, Response

IMMUTABLE = "public, max-age=31536000, immutable"  # for URLs that carry a version or content hash
REVALIDATE = "no-cache"  # may be stored, but asked about (cheaply, via ETag) on every use

# gzip is kept only when it saves at least this fraction: float weights barely shrink and are not worth it.
MIN_GZIP_SAVING = 0.10
GZIP_CANDIDATE_SUFFIXES = {
    ".js", ".mjs", ".json", ".wasm", ".css", ".html", ".svg", ".binarypb", ".bin", ".tflite", ".map",
}

mimetypes.add_type("application/wasm", ".wasm")
mimetypes.add_type("text/javascript", ".js")
mimetypes.add_type("text/javascript", ".mjs")


@dataclass(frozen=True)
class _Variant:
    etag: str
    body_gzip: bytes | None  # None: serve the file as is


class FileResponder:
    def __init__(self) -> None:
        self._variants: dict[tuple[str, int, int], _Variant] = {}
        self._lock = threading.Lock()

    def _variant(self, path: Path) -> _Variant:
        stat = path.stat()
        key = (str(path), stat.st_size, stat.st_mtime_ns)
        with self._lock:
            cached = self._variants.get(key)
        if cached is not None:
            return cached
        data = path.read_bytes()
        etag = hashlib.sha256(data).hexdigest()[:32]
        body_gzip = None
        if path.suffix in GZIP_CANDIDATE_SUFFIXES and data:
            compressed = gzip.compress(data, compresslevel=6, mtime=0)
            if len(compressed) <= len(data) * (1 - MIN_GZIP_SAVING):
                body_gzip = compressed
        variant = _Variant(etag, body_gzip)
        with self._lock:
            self._variants[key] = variant
        return variant

    def etag_of(self, path: Path) -> str:
        return self._variant(path).etag

    def respond(self, request: Request, path: Path, cache_control: str) -> Response:
        variant = self._variant(path)
        mimetype = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        wants_gzip = variant.body_gzip is not None and "gzip" in request.headers.get("Accept-Encoding", "")
        if wants_gzip:
            response = Response(variant.body_gzip, mimetype=mimetype)
            response.headers["Content-Encoding"] = "gzip"
            response.set_etag(variant.etag + "-gzip")
        else:
            response = Response(path.read_bytes(), mimetype=mimetype)
            response.set_etag(variant.etag)
        if variant.body_gzip is not None:
            response.headers["Vary"] = "Accept-Encoding"
        response.headers["Cache-Control"] = cache_control
        return response.make_conditional(request)
