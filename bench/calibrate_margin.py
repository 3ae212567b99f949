"""Measures the face-crop margin that turns the detector's box into a FER2013-style crop.

FER2013 faces are already face crops. Each is upscaled to SIZE px, pasted into a neutral grey frame and given
to the page; the margin m that grows the detector box (by m×size per side) back to the pasted square is
(pasted size / box size − 1) / 2, and the shift that moves the box centre onto the square's centre is
(square centre − box centre) / box height. Prints the median and spread for a detector mode: 'auto' (the default:
photos searched at every scale), 'short' or 'full' (one pass). Their medians go into training/preprocessing.py
(FACE_MARGIN, FACE_SHIFT_Y), which `python -m training export` writes into metadata.json.

    python bench/calibrate_margin.py [--faces 60] [--model auto|short|full]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from playwright.sync_api import sync_playwright  # noqa: E402

from server import create_app  # noqa: E402
from tests.browser import CHROMIUM, CHROMIUM_ARGS, analyse_photo, serve, wait_until_loaded  # noqa: E402
from tests.images import fer_faces, paste_faces, save_png  # noqa: E402

SIZE = 200
FRAME = (640, 480)
POSITION = (220, 140)


def measure(page, faces, folder: Path) -> list[dict]:
    rows = []
    for index, face in enumerate(faces):
        frame, (square,) = paste_faces([face], FRAME, SIZE, [POSITION])
        result = analyse_photo(page, save_png(frame, folder / f"face{index}.png"))
        if len(result["faces"]) != 1:
            continue
        box = result["faces"][0]["box"]
        rows.append({
            "margin_w": (square.size / box["width"] - 1) / 2,
            "margin_h": (square.size / box["height"] - 1) / 2,
            # Where the box centre sits relative to the pasted square's centre, as a fraction of its size.
            "dx": (box["x"] + box["width"] / 2 - (square.x + square.size / 2)) / square.size,
            "dy": (box["y"] + box["height"] / 2 - (square.y + square.size / 2)) / square.size,
            # The crop rule's shift_y: what moves the box centre onto the square's, in box heights.
            "shift_y": (square.y + square.size / 2 - (box["y"] + box["height"] / 2)) / box["height"],
        })
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--faces", type=int, default=60)
    parser.add_argument("--model", choices=["auto", "short", "full"], default="auto")
    args = parser.parse_args()
    faces = [pixels for _, pixels in fer_faces(args.faces, usage="Training")]
    with serve(create_app()) as url, sync_playwright() as playwright, tempfile.TemporaryDirectory() as folder:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page()
        page.goto(url + "/")
        wait_until_loaded(page)
        page.select_option("#detector-range", args.model)
        rows = measure(page, faces, Path(folder))
        browser.close()
    margins = [(row["margin_w"] + row["margin_h"]) / 2 for row in rows]
    quartiles = statistics.quantiles(margins, n=4)
    print(f"detector model {args.model}: {len(rows)}/{len(faces)} faces detected")
    print(f"margin median {statistics.median(margins):.3f}  quartiles {quartiles[0]:.3f}–{quartiles[2]:.3f}  "
          f"mean {statistics.mean(margins):.3f}")
    print(f"box centre offset (fraction of face size): dx median {statistics.median(r['dx'] for r in rows):+.3f}, "
          f"dy median {statistics.median(r['dy'] for r in rows):+.3f}")
    print(f"face_crop for metadata.json: margin {statistics.median(margins):.3f}, "
          f"shift_y {statistics.median(r['shift_y'] for r in rows):+.3f}")


if __name__ == "__main__":
    main()
