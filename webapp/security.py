"""Response headers that make "no image leaves the browser" hold by construction, not just by our code's habits."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

from flask import Response

READ_ONLY_METHODS = ("GET", "HEAD")
# Kept for two years by browsers once seen over HTTPS. No includeSubDomains: other hosts under the same domain are
# not ours to vouch for (a proxy in front may add it, and preload).
HSTS = "max-age=63072000"


@lru_cache(maxsize=16)  # a handful of distinct policies per app: built once, not on every response
def content_security_policy(frame_ancestors: tuple[str, ...], document: bool = False) -> str:
    """`document`: an HTML page, which also gets Trusted Types (they only govern DOM sinks, so only documents)."""
    directives = {
        "default-src": "'self'",
        # Scripts only from this server, never inline, never built from strings (no 'unsafe-eval'). 'wasm-unsafe-eval'
        # compiles TF.js's WebAssembly backend, which also runs the face detector; it does not let anything leave the
        # page: where data may go is fixed by connect-src, img-src, form-action...
        "script-src": "'self' 'wasm-unsafe-eval'",
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
    if document:
        # DOM sinks that load script (script.src, importScripts…) take only what the page's policy named 'default'
        # (static/js/trusted-types.js: same-origin URLs) returns; no other policy may be created. Browsers report
        # violations on the page's console (and as `securitypolicyviolation` events); nothing is sent anywhere.
        directives["require-trusted-types-for"] = "'script'"
        directives["trusted-types"] = "default"
    return "; ".join(f"{name} {value}" for name, value in directives.items())


def security_headers(frame_ancestors: tuple[str, ...], document: bool, secure: bool) -> dict[str, str]:
    """The headers every response carries. `document`: an HTML page. `secure`: the visitor reached us over HTTPS
    (directly, or through a trusted proxy that says so)."""
    headers = {"Content-Security-Policy": content_security_policy(frame_ancestors, document)}
    if document:
        # A page opened from another site gets its own browsing context group: no window handle to or from it.
        # The embed widget talks to its parent frame only, never to an opener, so it loses nothing either.
        headers["Cross-Origin-Opener-Policy"] = "same-origin"
    if secure:
        headers["Strict-Transport-Security"] = HSTS  # ignored by browsers over plain HTTP anyway
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=()"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    return headers


def add_common_headers(response: Response, frame_ancestors: Iterable[str], secure: bool) -> Response:
    headers = security_headers(tuple(frame_ancestors), response.mimetype == "text/html", secure)
    if "Cross-Origin-Resource-Policy" in response.headers:  # a file other sites load (embed.js) keeps its own
        del headers["Cross-Origin-Resource-Policy"]
    response.headers.update(headers)
    return response
