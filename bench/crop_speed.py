"""Classifier input preparation in the page, per 640×480 frame: the whole frame made into a float tensor then
cropped (the way the page once did it) against only each face's pixels read and converted (now).

    .venv/bin/python bench/crop_speed.py [--backend wasm] [--repeats 40]

Prints the median milliseconds per frame for 1 and 4 faces. Loopback only; stops by itself.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

MEASURE = """async ({ repeats }) => {
  const { load } = await import('/static/js/classifier.js');
  const classifier = await load({ modelUrl: document.body.dataset.modelUrl });
  const canvas = document.createElement('canvas');
  canvas.width = 640;
  canvas.height = 480;
  const context = canvas.getContext('2d');
  for (let i = 0; i < 200; i++) {  // something to read: coloured squares
    context.fillStyle = `hsl(${i * 7}, 60%, 50%)`;
    context.fillRect((i * 97) % 600, (i * 61) % 440, 60, 60);
  }
  const faces = [{ x: 40, y: 60, width: 150, height: 150 }, { x: 300, y: 40, width: 120, height: 120 },
                 { x: 100, y: 300, width: 130, height: 130 }, { x: 450, y: 300, width: 140, height: 140 }];
  const { height: outH, width: outW } = classifier.input;
  const { grey_weights: grey, scale, offset } = classifier.preprocessing;
  const ends = (start, size, out) => [start + (0.5 * size) / out - 0.5, start + ((out - 0.5) * size) / out - 0.5];
  const wholeFrame = (rects) => tf.tidy(() => {
    const boxes = rects.map((r) => {
      const [x1, x2] = ends(r.x, r.width, outW);
      const [y1, y2] = ends(r.y, r.height, outH);
      return [y1 / 479, x1 / 639, y2 / 479, x2 / 639];
    });
    const pixels = tf.browser.fromPixels(canvas, 3).toFloat().expandDims(0);
    const crops = tf.image.cropAndResize(pixels, boxes, rects.map(() => 0), [outH, outW], 'bilinear', 0);
    return crops.mul(tf.tensor1d(grey)).sum(-1, true).mul(scale).add(offset);
  });
  const facesOnly = (rects) => classifier.inputTensor(canvas, rects);
  // The two ways take turns, so a busy machine slows both alike; medians resist the odd slow frame.
  const once = async (prepare, rects) => {
    const started = performance.now();
    const input = prepare(rects);
    await input.data();
    input.dispose();
    return performance.now() - started;
  };
  const median = (values) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)];
  const rows = [];
  for (const count of [1, 4]) {
    const rects = faces.slice(0, count);
    const times = { whole: [], faces: [] };
    for (let i = 0; i < 5; i++) await once(wholeFrame, rects), await once(facesOnly, rects);
    for (let i = 0; i < repeats; i++) {
      times.whole.push(await once(wholeFrame, rects));
      times.faces.push(await once(facesOnly, rects));
    }
    rows.push({ faces: count, wholeFrameMs: median(times.whole), facesOnlyMs: median(times.faces) });
  }
  return { backend: tf.getBackend(), rows };
}"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", default="wasm", choices=["wasm", "webgl", "cpu"])
    parser.add_argument("--repeats", type=int, default=40)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    from server import create_app
    from tests.browser import CHROMIUM, CHROMIUM_ARGS, serve, wait_until_loaded

    with serve(create_app()) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(f"{url}/?backend={args.backend}")
        if wait_until_loaded(page) != "ready":
            print(f"the page did not load: {page.inner_text('#status')}", file=sys.stderr)
            return 1
        outcome = page.evaluate(MEASURE, {"repeats": args.repeats})
        browser.close()
    print(f"classifier input per 640x480 frame, backend {outcome['backend']} ({args.repeats} repeats)")
    print("faces | whole frame, then crop (median ms) | only the faces' pixels (median ms)")
    for row in outcome["rows"]:
        print(f"{row['faces']:>5} | {row['wholeFrameMs']:>34.2f} | {row['facesOnlyMs']:>34.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
