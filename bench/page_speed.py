"""How fast the page is in headless Chromium, per TF.js backend: load time, then per-frame latency and fps at
640×480 from a fake camera playing a video with one face and one with four; and how long photo mode takes to find
every face in a 12-megapixel photo (WASM).

    python bench/page_speed.py [--seconds 10] [--backends webgl wasm cpu] [--faces 1 4] [--no-photo]
    python bench/page_speed.py --faces        # only the 12-megapixel photo
    python bench/page_speed.py --backends wasm --variants main worker threads --repeats 3 --no-photo

--variants compares ways of running the camera loop, interleaved (`--repeats` rounds, one browser per video) so that
a busy machine slows them alike: compare them by their same-run ratios to "main".
  main     the page's default: detection, then classification, on the page's thread, one frame after the other
  worker   the page's opt-in ?pipeline=worker: faces classified in a worker while the page detects the next frame
  threads  TF.js's threaded-SIMD WebAssembly build (XNNPACK's thread pool) on a cross-origin-isolated page. The page
           does not ship this: it needs COEP, 'blob:' in script-src and no Trusted Types (TF.js's pthread workers are
           blob: scripts that call importScripts), all set here by a bench-only wrapper around the app; and TF.js
           uses half of navigator.hardwareConcurrency as threads, so the page is told there are 4 (2 threads).
"latency ms" is from a frame's capture to its published result; "CPU ms" is the CPU time Chromium spent (all its
threads and processes) per analysed frame.

Chromium runs with --disable-gpu, so "webgl" means SwiftShader (software) when it is available at all.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

import webapp.vendor_files  # noqa: E402
from server import create_app  # noqa: E402
from tests.browser import (  # noqa: E402
    CHROMIUM,
    CHROMIUM_ARGS,
    analyse_photo,
    fake_camera_args,
    serve,
    wait_for,
    wait_until_loaded,
)
from tests.group_photo import faces_video_frames, group_photo, match  # noqa: E402
from tests.images import write_y4m  # noqa: E402

COLLECT_TIMINGS = """() => { window.benchTimings = [];
  document.addEventListener('emotions', (event) => window.benchTimings.push({...event.detail.timings,
    at: performance.now(), faces: event.detail.faces.length})); }"""
VARIANT_PARAMS = {None: "", "main": "&pipeline=main", "worker": "&pipeline=worker", "threads": "&pipeline=main"}
# TF.js sizes its thread pool to half of navigator.hardwareConcurrency (this machine says 2: one thread).
FOUR_CORES = "Object.defineProperty(Navigator.prototype, 'hardwareConcurrency', {get: () => 4})"
THREADED_WASM = "tfjs-backend-wasm-threaded-simd.wasm"
PHOTO_SIZE = (4000, 3000)  # 12 megapixels
PHOTO_FACES = [round(100 + 300 * index / 15) for index in range(16)]  # 100–400 px: 51–205 px once scaled to 2048


def bench_backend(browser, url: str, backend: str, seconds: float, variant: str | None = None) -> dict:
    page = browser.new_page()
    if variant == "threads":
        page.add_init_script(FOUR_CORES)
    started = time.perf_counter()
    page.goto(f"{url}/?backend={backend}{VARIANT_PARAMS[variant]}")
    state = wait_until_loaded(page)
    load_s = time.perf_counter() - started
    used = page.evaluate("window.emotionDetector.backend")
    if state != "ready":
        page.close()
        return {"backend": backend, "used": used, "error": state}
    if variant == "threads" and backend == "wasm":
        threads = page.evaluate("tf.wasm.getThreadsCount()")
        if threads < 2:
            page.close()
            return {"backend": backend, "used": used, "error": f"TF.js runs {threads} thread(s), not 2"}
    page.evaluate(COLLECT_TIMINGS)
    page.click("#camera-toggle")
    wait_for(page, "window.benchTimings.length >= 10", 180)  # warm-up frames are not counted
    if variant == "worker" and backend == "wasm":  # the worker loads in the background: measure it once it runs
        wait_for(page, "window.emotionDetector.pipeline === 'worker'", 60)
        wait_for(page, "window.benchTimings.length >= 20", 60)
    page.evaluate("window.benchTimings = []")
    cpu_started = descendants_cpu_s()
    page.wait_for_timeout(seconds * 1000)
    timings = page.evaluate("window.benchTimings")
    cpu_s = descendants_cpu_s() - cpu_started
    in_use = page.evaluate("window.emotionDetector.pipeline")
    page.close()
    span_s = (timings[-1]["at"] - timings[0]["at"]) / 1000 if len(timings) > 1 else float("nan")
    return {
        "backend": backend, "used": used, "variant": variant or in_use, "pipeline": in_use, "load_s": load_s,
        "frames": len(timings),
        "fps": (len(timings) - 1) / span_s if len(timings) > 1 else 0.0,
        "detect_ms": statistics.median(t["detectMs"] for t in timings),
        "classify_ms": statistics.median(t["classifyMs"] for t in timings),
        "latency_ms": statistics.median(t["latencyMs"] for t in timings),
        "cpu_ms": 1000 * cpu_s / max(len(timings), 1),  # Chromium's CPU time (all threads) per analysed frame
        "faces": statistics.median(t["faces"] for t in timings),
    }


def isolated_app():
    """The app as the threaded WebAssembly build needs it (bench only, see --variants threads): cross-origin
    isolated, its threaded .wasm served, blob: scripts allowed and Trusted Types off."""
    wasm = webapp.vendor_files.PACKAGES["tfjs-backend-wasm"]
    webapp.vendor_files.PACKAGES["tfjs-backend-wasm"] = dataclasses.replace(wasm, files=(*wasm.files, THREADED_WASM))
    try:
        app = create_app()
    finally:
        webapp.vendor_files.PACKAGES["tfjs-backend-wasm"] = wasm
    inner = app.wsgi_app

    def isolated(environ, start_response):
        def start(status, headers, exc_info=None):
            changed = [(name, value.replace("script-src 'self'", "script-src 'self' blob:")
                        .replace("; require-trusted-types-for 'script'; trusted-types default", ""))
                       if name.lower() == "content-security-policy" else (name, value) for name, value in headers]
            return start_response(status, [*changed, ("Cross-Origin-Embedder-Policy", "require-corp")], exc_info)
        return inner(environ, start)

    app.wsgi_app = isolated
    return app


def descendants_cpu_s() -> float:
    """CPU seconds used so far by this process's descendants (Playwright's driver and the Chromium it started).

    On a machine shared with other work, wall-clock time says more about the neighbours than about the page; the
    CPU time the browser spends is what a quiet machine would have to spend too."""
    parents: dict[int, int] = {}
    times: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # the process ended meanwhile
        pid = int(entry.name)
        parents[pid] = int(fields[1])
        times[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime
    ours, frontier = set(), {os.getpid()}
    while frontier:
        frontier = {pid for pid, parent in parents.items() if parent in frontier} - ours
        ours |= frontier
    return sum(times[pid] for pid in ours)


def bench_photo(browser, url: str, folder: Path, runs: int = 3) -> dict:
    """Photo mode ('auto', WASM) on a 12-MP JPEG group photo: time from choosing the file to the published result."""
    picture, faces = group_photo(PHOTO_FACES, *PHOTO_SIZE)
    path = folder / "group-12mp.jpg"
    Image.fromarray(picture).save(path, quality=90)
    page = browser.new_page()
    page.goto(f"{url}/?backend=wasm")
    wait_until_loaded(page)
    totals, cpu, detects, found = [], [], [], []
    for _ in range(runs + 1):  # the first run warms up
        started, cpu_started = time.perf_counter(), descendants_cpu_s()
        result = analyse_photo(page, path, timeout_s=120)
        totals.append(time.perf_counter() - started)
        cpu.append(descendants_cpu_s() - cpu_started)
        detects.append(result["timings"]["detectMs"] / 1000)
        scale = result["width"] / PHOTO_SIZE[0]
        boxes = [{key: value / scale for key, value in face["box"].items() if key != "score"}
                 for face in result["faces"]]
        hits, false = match(boxes, faces)
        found.append((len(hits), len(false)))
    page.close()
    return {"total_s": statistics.median(totals[1:]), "detect_s": statistics.median(detects[1:]),
            "cpu_s": statistics.median(cpu[1:]),
            "found": found[-1], "faces": len(faces), "analysed": (result["width"], result["height"])}


def print_ratios(count: int, backend: str, rows: dict[str | None, list[dict]], repeats: int) -> None:
    """Each variant against "main", as ratios of medians over the rounds of this one run."""
    if "main" not in rows:
        return

    def ratio(variant: str | None, key: str) -> float:
        medians = [statistics.median(row[key] for row in rows[name]) for name in (variant, "main")]
        return medians[0] / medians[1]

    for variant in rows:
        if variant != "main":
            print(f"{count} face(s), {backend}: {variant} / main: fps ×{ratio(variant, 'fps'):.2f}, "
                  f"latency ×{ratio(variant, 'latency_ms'):.2f}, CPU per frame ×{ratio(variant, 'cpu_ms'):.2f} "
                  f"(medians of {repeats} round(s))")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--backends", nargs="+", default=["webgl", "wasm", "cpu"])
    parser.add_argument("--faces", nargs="*", type=int, default=[1, 4], choices=[1, 4],
                        help="faces in the camera video: 1, 4 or both; none: only the photo")
    parser.add_argument("--no-photo", action="store_true", help="skip the 12-megapixel photo")
    parser.add_argument("--variants", nargs="+", choices=["main", "worker", "threads"], default=[None],
                        help="camera loop variants to compare (default: the page as it is)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved rounds of every variant")
    args = parser.parse_args()
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        url = stack.enter_context(serve(create_app()))
        urls = {variant: url for variant in args.variants}
        if "threads" in args.variants:
            urls["threads"] = stack.enter_context(serve(isolated_app()))
        playwright = stack.enter_context(sync_playwright())
        if args.faces:
            print(f"{'faces':>5} {'asked':6} {'used':6} {'variant':8} {'load s':>7} {'frames':>6} {'fps':>6} "
                  f"{'detect ms':>9} {'classify ms':>11} {'latency ms':>10} {'CPU ms':>6} {'found':>5}")
        for count in args.faces:
            video = write_y4m(faces_video_frames(count, 30), folder / f"faces{count}.y4m")
            browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                 args=[*CHROMIUM_ARGS, *fake_camera_args(video)])
            rows: dict[tuple[str, str | None], list[dict]] = {}
            for _ in range(args.repeats):
                for backend in args.backends:
                    for variant in args.variants:
                        row = bench_backend(browser, urls[variant], backend, args.seconds, variant)
                        if "error" in row:
                            print(f"{count:5d} {row['backend']:6} {row['used'] or '-':6} {variant or '':8} "
                                  f"failed: {row['error']}")
                            continue
                        rows.setdefault((backend, variant), []).append(row)
                        print(f"{count:5d} {row['backend']:6} {row['used']:6} {row['variant']:8} "
                              f"{row['load_s']:7.2f} {row['frames']:6d} {row['fps']:6.1f} {row['detect_ms']:9.1f} "
                              f"{row['classify_ms']:11.1f} {row['latency_ms']:10.1f} {row['cpu_ms']:6.1f} "
                              f"{row['faces']:5.0f}", flush=True)
            browser.close()
            for backend in args.backends:
                print_ratios(count, backend, {variant: rows[backend, variant] for variant in args.variants
                                              if (backend, variant) in rows}, args.repeats)
        if not args.no_photo:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            photo = bench_photo(browser, url, folder)
            browser.close()
            width, height = PHOTO_SIZE
            analysed = "×".join(str(side) for side in photo["analysed"])
            print(f"12-MP photo ({width}×{height} JPEG, {photo['faces']} faces of {PHOTO_FACES[0]}–{PHOTO_FACES[-1]} "
                  f"px, analysed at {analysed}), WASM, photo mode 'auto': {photo['total_s']:.2f} s from choosing the "
                  f"file to the result (detection {photo['detect_s']:.2f} s; Chromium used {photo['cpu_s']:.2f} CPU-s "
                  f"in all); "
                  f"found {photo['found'][0]}/{photo['faces']}, {photo['found'][1]} false")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
