"""Shared by the tests and the bench scripts: serving the app on a free port and driving headless Chromium."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import waitress
from flask import Flask

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--no-first-run", "--disable-sync", "--disable-quic",
]
PAGE_LOAD_TIMEOUT_S = 180  # two cores shared with training jobs: loading can be slow


def fake_camera_args(y4m: Path | None, grant: bool = True) -> list[str]:
    """Chromium flags for a fake camera playing `y4m`; grant=False leaves the permission to the context."""
    args = ["--use-fake-device-for-media-stream"]
    if grant:
        args.append("--use-fake-ui-for-media-stream")
    if y4m is not None:
        args.append(f"--use-file-for-fake-video-capture={y4m}")
    return args


@contextmanager
def serve(app: Flask) -> Iterator[str]:
    """Serves `app` with waitress on a free port in a thread; yields its base URL (no trailing slash)."""
    server = waitress.create_server(app, host="127.0.0.1", port=0, threads=8)
    closing = threading.Event()

    def run() -> None:
        try:
            server.run()
        except OSError:
            if not closing.is_set():  # closing the socket under select() is how waitress stops here
                raise

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}"
    finally:
        closing.set()
        server.close()


def wait_for(page, expression: str, timeout_s: float = 60, interval_s: float = 0.1):
    """Polls a JS expression until truthy. (page.wait_for_function evaluates strings, which the page's CSP blocks.)"""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"{expression!r} stayed falsy for {timeout_s} s; last value {value!r}")
        time.sleep(interval_s)


def wait_until_loaded(page, timeout_s: float = PAGE_LOAD_TIMEOUT_S) -> str:
    """Starts the models loading as a visitor's first gesture would (the main page loads them on demand; the embed
    at once), waits for them; returns the state the page settled in (e.g. 'ready')."""
    wait_for(page, "window.emotionDetector && (window.emotionDetector.load || window.emotionDetector.state !== "
                   "'loading')", timeout_s)
    page.evaluate("window.emotionDetector.load && void window.emotionDetector.load()")
    return wait_for(page, "window.emotionDetector && !['idle', 'loading'].includes(window.emotionDetector.state) "
                          "&& window.emotionDetector.state", timeout_s)


def start_camera(page, url: str) -> None:
    """Opens the page at `url` (in a browser with a fake camera), waits for its models, and turns the camera on."""
    page.goto(url)
    assert wait_until_loaded(page) == "ready"
    page.click("#camera-toggle")


def analyse_photo(page, image_path: Path, timeout_s: float = 60) -> dict:
    """Gives the page a photo through its file input and returns the result it published."""
    before = page.evaluate("window.emotionDetector.results")
    page.set_input_files("#photo-input", str(image_path))
    wait_for(page, f"window.emotionDetector.results > {before} || "
                   "['decode-error', 'error'].includes(window.emotionDetector.state)", timeout_s)
    return page.evaluate("window.emotionDetector.lastResult")
