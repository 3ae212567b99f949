"""Response headers that make "no image leaves the browser" hold by construction, not just by our code's habits."""

from __future__ import annotations

from collections.abc import Iterable

from flask import Response

READ_ONLY_METHODS = ("GET", "HEAD")


def content_security_policy(frame_ancestors: Iterable[str]) -> str:
    directives = {
        "default-src": "'self'",
        # Scripts only from this server, never inline. 'wasm-unsafe-eval' compiles the WebAssembly (TF.js, MediaPipe);
        # 'unsafe-eval' is for MediaPipe's Emscripten glue, which builds its function wrappers with new Function().
        # Neither lets anything leave the page: where data may go is fixed by connect-src, img-src, form-action...
        "script-src": "'self' 'wasm-unsafe-eval' 'unsafe-eval'",
        "style-src": "'self'",
        "img-src": "'self' blob: data:",
        "media-src": "'self' blob: mediastream:",
        # The only place fetch/XHR may go: this server, which accepts GET only.
        "connect-src": "'self'",
        "worker-src": "'self' blob:",
        "object-src": "'none'",
        "base-uri": "'none'",
        "form-action": "'none'",
        "frame-ancestors": " ".join(frame_ancestors),
    }
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def add_common_headers(response: Response, frame_ancestors: Iterable[str]) -> Response:
    response.headers["Content-Security-Policy"] = content_security_policy(frame_ancestors)
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "no-referrer"
    response.headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    response.headers.setdefault("Cross-Origin-Resource-Policy", "same-origin")
    return response
