"""What photo search's second look (docs/detection.md) costs the page: the 12-megapixel group photo of
bench/page_speed.py, scaled to 2048 px as the page does, searched by the page's own detector in headless Chromium
(WASM), with the second look and without it (secondLookThreshold 0), interleaved so that a busy machine slows both
alike; and what each finds.

    python bench/second_look_speed.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PIL import Image  # noqa: E402
from playwright.sync_api import sync_playwright  # noqa: E402

from bench.page_speed import PHOTO_FACES, PHOTO_SIZE, descendants_cpu_s  # noqa: E402
from server import create_app  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve, wait_until_loaded  # noqa: E402
from tests.group_photo import group_photo, match  # noqa: E402

# The page's detector module, given the picture as the page's photo mode gives it: decoded, scaled to 2048 px.
SEARCH = """async ({ url, threshold }) => {
  const base = document.querySelector('script[type=module]').src;
  const { createFaceDetector } = await import(new URL('detector.js', base).href);
  window.benchDetector ??= await createFaceDetector({ modelsPath: document.body.dataset.faceModelsPath });
  if (!window.benchPicture) {
    const bitmap = await createImageBitmap(await (await fetch(url)).blob());
    const scale = Math.min(1, 2048 / Math.max(bitmap.width, bitmap.height));
    const canvas = document.createElement('canvas');
    canvas.width = Math.round(bitmap.width * scale);
    canvas.height = Math.round(bitmap.height * scale);
    canvas.getContext('2d').drawImage(bitmap, 0, 0, canvas.width, canvas.height);
    window.benchPicture = canvas;
  }
  window.benchDetector.photo.secondLookThreshold = threshold;
  const started = performance.now();
  const faces = await window.benchDetector.detect(window.benchPicture);
  return { ms: performance.now() - started, faces, windows: window.benchDetector.lastPlan.length,
           width: window.benchPicture.width };
}"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    picture, faces = group_photo(PHOTO_FACES, *PHOTO_SIZE)
    print(f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start")
    with contextlib.ExitStack() as stack:
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        Image.fromarray(picture).save(folder / "group-12mp.jpg", quality=90)
        url = stack.enter_context(serve(create_app()))
        browser = stack.enter_context(sync_playwright()).chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.route("**/bench-photo.jpg", lambda route: route.fulfill(path=str(folder / "group-12mp.jpg"),
                                                                      content_type="image/jpeg"))
        page.goto(f"{url}/?backend=wasm")
        assert wait_until_loaded(page) == "ready"
        times: dict[float, list[float]] = {0.65: [], 0.0: []}
        cpu: dict[float, list[float]] = {0.65: [], 0.0: []}  # Chromium's CPU seconds per search, all processes
        found = {}
        for round_ in range(args.rounds + 1):  # the first round warms up
            for threshold in times:
                cpu_started = descendants_cpu_s()
                result = page.evaluate(SEARCH, {"url": f"{url}/bench-photo.jpg", "threshold": threshold})
                if round_:
                    times[threshold].append(result["ms"])
                    cpu[threshold].append(descendants_cpu_s() - cpu_started)
                scale = result["width"] / PHOTO_SIZE[0]
                boxes = [{key: value / scale for key, value in face.items() if key != "score"}
                         for face in result["faces"]]
                hits, false = match(boxes, faces)
                found[threshold] = (len(hits), len(false), result["windows"])
        browser.close()
    for threshold, label in ((0.0, "without the second look"), (0.65, "with the second look   ")):
        hits, false, windows = found[threshold]
        print(f"{label}: detection {statistics.median(times[threshold]):.0f} ms (median of {args.rounds}; "
              f"{', '.join(f'{t:.0f}' for t in times[threshold])}), Chromium CPU "
              f"{statistics.median(cpu[threshold]):.2f} s; {windows} search windows, found {hits}/{len(faces)}, "
              f"{false} false")
    for name, values in (("detection time", times), ("Chromium CPU time", cpu)):
        ratio = statistics.median(a / b for a, b in zip(values[0.65], values[0.0], strict=True))
        print(f"{name}, with / without, median of the rounds' ratios: ×{ratio:.3f}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
