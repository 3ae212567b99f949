"""How fast the page is in headless Chromium, per TF.js backend: load time, then per-frame latency and fps at
640×480 from a fake camera playing a face video.

    python bench/page_speed.py [--seconds 10] [--backends webgl wasm cpu]

Chromium runs with --disable-gpu, so "webgl" means SwiftShader (software) when it is available at all.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from server import create_app  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, fake_camera_args, serve, wait_for, wait_until_loaded  # noqa: E402
from tests.images import astronaut_video_frames, write_y4m  # noqa: E402

COLLECT_TIMINGS = """() => { window.benchTimings = [];
  document.addEventListener('emotions', (event) => window.benchTimings.push({...event.detail.timings,
    at: performance.now(), faces: event.detail.faces.length})); }"""


def bench_backend(browser, url: str, backend: str, seconds: float) -> dict:
    page = browser.new_page()
    started = time.perf_counter()
    page.goto(f"{url}/?backend={backend}")
    state = wait_until_loaded(page)
    load_s = time.perf_counter() - started
    used = page.evaluate("window.emotionDetector.backend")
    if state != "ready":
        page.close()
        return {"backend": backend, "used": used, "error": state}
    page.evaluate(COLLECT_TIMINGS)
    page.click("#camera-toggle")
    wait_for(page, "window.benchTimings.length >= 10", 120)  # warm-up frames are not counted
    page.evaluate("window.benchTimings = []")
    page.wait_for_timeout(seconds * 1000)
    timings = page.evaluate("window.benchTimings")
    page.close()
    span_s = (timings[-1]["at"] - timings[0]["at"]) / 1000 if len(timings) > 1 else float("nan")
    return {
        "backend": backend, "used": used, "load_s": load_s, "frames": len(timings),
        "fps": (len(timings) - 1) / span_s if len(timings) > 1 else 0.0,
        "detect_ms": statistics.median(t["detectMs"] for t in timings),
        "classify_ms": statistics.median(t["classifyMs"] for t in timings),
        "faces": statistics.median(t["faces"] for t in timings),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--backends", nargs="+", default=["webgl", "wasm", "cpu"])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder, serve(create_app()) as url, sync_playwright() as playwright:
        video = write_y4m(astronaut_video_frames(30), Path(folder) / "face.y4m")
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *fake_camera_args(video)])
        print(f"{'asked':6} {'used':6} {'load s':>7} {'frames':>6} {'fps':>6} {'detect ms':>9} {'classify ms':>11}")
        for backend in args.backends:
            row = bench_backend(browser, url, backend, args.seconds)
            if "error" in row:
                print(f"{row['backend']:6} {row['used'] or '-':6} failed: {row['error']}")
                continue
            print(f"{row['backend']:6} {row['used']:6} {row['load_s']:7.2f} {row['frames']:6d} {row['fps']:6.1f} "
                  f"{row['detect_ms']:9.1f} {row['classify_ms']:11.1f}")
        browser.close()


if __name__ == "__main__":
    main()
