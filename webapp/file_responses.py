"""HTTP responses for in-memory assets: gzip negotiation, ETag preconditions (RFC 9110 §13) and byte ranges."""

from __future__ import annotations

import io

from flask import Request, Response
from werkzeug.http import parse_accept_header

from webapp.assets import Asset

IMMUTABLE = "public, max-age=31536000, immutable"  # for URLs that carry a version or content hash
REVALIDATE = "no-cache"  # may be stored, but asked about (cheaply, via ETag) on every use

# Bodies at least this big, whole or a byte range of them, go to waitress as a file wrapper around the shared bytes
# (SharedBody): it sends straight from them, where a plain body is first copied into a per-connection buffer (spilled
# to a temporary file past 1 MB, one descriptor per pending response: how 90 non-reading clients once pushed the
# server past 1,024 descriptors, and how 200 slow readers of `Range: bytes=1-` once held 700 MB of copies).
ZERO_COPY_MIN_BYTES = 64 * 1024


def accepts_gzip(accept_encoding: str) -> bool:
    """True when gzip has a non-zero quality: an explicit gzip;q=0 wins over a wildcard (RFC 9110 §12.5.3)."""
    qualities = {value.lower(): quality for value, quality in parse_accept_header(accept_encoding)}
    for name in ("gzip", "x-gzip", "*"):
        if name in qualities:
            return qualities[name] > 0
    return False


def respond(request: Request, asset: Asset, cache_control: str) -> Response:
    """200, 206, 304, 412 or 416 for a GET/HEAD of `asset`, with the headers a cache needs."""
    byte_range = request.range
    # Ranges count bytes of the body as stored: a range request always gets the identity encoding.
    use_gzip = asset.body_gzip is not None and byte_range is None and accepts_gzip(
        request.headers.get("Accept-Encoding", ""))
    body = asset.body_gzip if use_gzip else asset.body
    etag = asset.etag + "-gzip" if use_gzip else asset.etag

    def headed(response: Response) -> Response:
        response.set_etag(etag)
        response.headers["Cache-Control"] = cache_control
        response.headers["Accept-Ranges"] = "bytes"
        if asset.body_gzip is not None:
            response.headers["Vary"] = "Accept-Encoding"
        return response

    # Either encoding's ETag names this asset: a client may hold the other one.
    if request.if_match and not any(request.if_match.contains(tag) for tag in (asset.etag, asset.etag + "-gzip")):
        return headed(_empty(412))
    if request.if_none_match.contains_weak(etag):
        return headed(_empty(304))
    if byte_range is not None and _if_range_holds(request, etag):
        if byte_range.units == "bytes" and len(byte_range.ranges) == 1:  # several ranges: the whole body instead
            span = byte_range.range_for_length(len(body))
            if span is None:
                response = _empty(416)
                response.headers["Content-Range"] = f"bytes */{len(body)}"
                return headed(response)
            start, stop = span
            response = _body_response(request, body, asset.content_type, 206, start, stop)
            response.headers["Content-Range"] = f"bytes {start}-{stop - 1}/{len(body)}"
            return headed(response)
    response = _body_response(request, body, asset.content_type, 200, 0, len(body))
    if use_gzip:
        response.headers["Content-Encoding"] = "gzip"
    return headed(response)


def _if_range_holds(request: Request, etag: str) -> bool:
    """No If-Range, or one naming the current ETag. A date never matches: assets carry no Last-Modified."""
    if "If-Range" not in request.headers:
        return True
    return request.if_range.etag == etag


def _empty(status: int) -> Response:
    response = Response(b"", status)
    response.headers.pop("Content-Type", None)
    return response


def _body_response(request: Request, body: bytes, content_type: str, status: int, start: int, stop: int) -> Response:
    """A response carrying body[start:stop], sent from the shared bytes (no copy) when it is large."""
    file_wrapper = request.environ.get("wsgi.file_wrapper")
    if file_wrapper is None or stop - start < ZERO_COPY_MIN_BYTES:
        part = body if (start, stop) == (0, len(body)) else body[start:stop]  # small: a copy is cheaper than a file
        return Response(part, status, content_type=content_type)
    # A memoryview slice, not body[start:stop]: slicing bytes copies them, once per request.
    response = Response(file_wrapper(SharedBody(memoryview(body)[start:stop])), status, content_type=content_type,
                        direct_passthrough=True)
    response.content_length = stop - start
    return response


class SharedBody(io.RawIOBase):
    """A read-only file over bytes shared by every connection (or a view of part of them), whose reads are
    memoryview slices of them: waitress hands those to socket.send() as they are, so a 1.4 MB response is never
    copied in Python."""

    def __init__(self, data: bytes | memoryview) -> None:
        super().__init__()
        self._view = memoryview(data)
        self._position = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def read(self, size: int = -1) -> memoryview:
        end = len(self._view) if size is None or size < 0 else min(len(self._view), self._position + size)
        chunk = self._view[self._position:end]
        self._position = max(self._position, end)
        return chunk

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._position, io.SEEK_END: len(self._view)}[whence]
        self._position = max(0, base + offset)
        return self._position

    def tell(self) -> int:
        return self._position
