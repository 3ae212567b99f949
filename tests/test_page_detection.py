"""Photo mode finds every face without the visitor choosing a range, under a CSP without 'unsafe-eval'.

A generated group photo (real FER2013 faces and the astronaut pasted at known places onto scikit-image's rocket
launch photo) and grids of the astronaut photo go through the page's own file input in headless Chromium."""

from __future__ import annotations

import pytest

from tests.browser import analyse_photo, wait_until_loaded
from tests.group_photo import astronaut_grid, group_photo, match
from tests.images import save_png

# 20 faces from 40 to 200 px (the pasted square's side), spread evenly.
GROUP_SIZES = [round(40 + 160 * index / 19) for index in range(20)]
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => window.__violations.push(
  `${event.violatedDirective} blocked ${event.blockedURI || '(inline)'} at ${event.sourceFile}:${event.lineNumber}`));
"""


@pytest.fixture(scope="module")
def watched_page(browser, live_server):
    """The page, loaded with the detector's defaults, recording every CSP violation from its first script on."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.add_init_script(WATCH_VIOLATIONS)
    response = page.goto(live_server + "/")
    assert wait_until_loaded(page) == "ready"
    page.csp_header = response.headers["content-security-policy"]
    yield page
    context.close()


def boxes_of(result: dict) -> list[dict]:
    return [face["box"] | {"score": face["score"]} for face in result["faces"]]


def test_the_page_runs_under_a_csp_without_unsafe_eval(watched_page, tmp_path):
    directives = {part.split()[0]: part.split()[1:] for part in watched_page.csp_header.split(";") if part.strip()}
    assert directives["script-src"] == ["'self'", "'wasm-unsafe-eval'"], watched_page.csp_header
    picture, faces = astronaut_grid(2, side=320)  # needs no FER2013: this check runs everywhere
    result = analyse_photo(watched_page, save_png(picture, tmp_path / "four.png"))
    assert len(match(boxes_of(result), faces)[0]) == len(faces)  # the detector ran, and found them
    watched_page.wait_for_timeout(200)
    assert watched_page.evaluate("window.__violations") == []


def test_default_settings_find_the_faces_of_a_group_photo(watched_page, tmp_path):
    try:
        picture, faces = group_photo(GROUP_SIZES, 1024, 768)
    except FileNotFoundError as missing:
        pytest.skip(f"needs FER2013 faces: {missing}")
    assert watched_page.input_value("#detector-range") == "auto"
    result = analyse_photo(watched_page, save_png(picture, tmp_path / "group.png"), timeout_s=120)
    found, false = match(boxes_of(result), faces)
    missed = [face for face in faces if face not in found]
    assert len(found) >= 0.95 * len(faces), f"missed {missed}"
    assert len(false) <= 1, f"false detections {false}"
    assert watched_page.evaluate("window.__violations") == []


@pytest.mark.parametrize("count", [4, 6])
def test_astronaut_grids_have_every_face_found(watched_page, tmp_path, count):
    picture, faces = astronaut_grid(count)  # 2048² and 3072² (the page scales the latter to 2048²)
    result = analyse_photo(watched_page, save_png(picture, tmp_path / f"grid{count}.png"), timeout_s=120)
    scale = result["width"] / picture.shape[1]
    boxes = [{key: value / scale if key != "score" else value for key, value in box.items()}
             for box in boxes_of(result)]
    found, false = match(boxes, faces)
    assert len(found) == len(faces), f"found {len(found)} of {len(faces)}"
    assert false == []


# The detector's own modules, imported next to the page's app.js (whatever URL prefix the server gives it).
DETECTION_MODULES = """async () => {
  const base = document.querySelector('script[type=module]').src;
  const load = (name) => import(new URL(name, base).href);
  const [blazeface, tiling, nms, detector] = await Promise.all([
    load('detection/blazeface.js'), load('detection/tiling.js'), load('detection/nms.js'), load('detector.js')]);
  const anchors = Object.fromEntries(Object.entries(blazeface.MODELS).map(
    ([name, spec]) => [name, Array.from(blazeface.anchorCentres(spec))]));
  const plan = (width, height) => tiling.planWindows(width, height, { inputSize: 128, ...detector.PHOTO_DEFAULTS });
  const merged = nms.weightedNms([
    { x: 0, y: 0, width: 100, height: 100, score: 0.9 }, { x: 10, y: 0, width: 100, height: 100, score: 0.3 },
    { x: 500, y: 500, width: 50, height: 50, score: 0.6 }], 0.3);
  return { anchors, defaults: detector.PHOTO_DEFAULTS, group: plan(1024, 768), large: plan(4000, 3000), merged };
}"""


def test_anchors_window_plan_and_suppression(watched_page):
    out = watched_page.evaluate(DETECTION_MODULES)
    short, full = out["anchors"]["short"], out["anchors"]["full"]
    # MediaPipe's SSD anchors: 16×16 cells × 2 then 8×8 cells × 6 (short, 128 px); 48×48 × 1 (full, 192 px).
    assert len(short) == 2 * 896 and len(full) == 2 * 2304
    assert short[:4] == [0.5 / 16, 0.5 / 16] * 2 and short[2 * 512:2 * 512 + 2] == [0.5 / 8, 0.5 / 8]
    assert full[-2:] == pytest.approx([47.5 / 48, 47.5 / 48])

    defaults = out["defaults"]
    for windows, (width, height) in ((out["group"], (1024, 768)), (out["large"], (4000, 3000))):
        assert len(windows) <= defaults["maxWindows"]
        assert windows[0]["level"] == 0 and windows[0]["size"] == max(width, height)
        finest = [w for w in windows if w["level"] == max(w["level"] for w in windows)]
        # The finest level's windows cover the whole picture, overlapping by `overlap` model pixels.
        for x in range(0, width, 37):
            for y in range(0, height, 37):
                assert any(w["x"] <= x < w["x"] + w["size"] and w["y"] <= y < w["y"] + w["size"] for w in finest)
    group_finest = max(w["level"] for w in out["group"])
    window_side = next(w["size"] for w in out["group"] if w["level"] == group_finest)
    # 1024×768 is searched down to the default smallest face: 28-px faces in the model at the finest scale.
    assert window_side * defaults["detectable"] / 128 <= defaults["smallestFace"] + 1e-6

    best, other = out["merged"]
    assert other == {"x": 500, "y": 500, "width": 50, "height": 50, "score": 0.6}
    assert best["score"] == 0.9 and abs(best["x"] - (0 * 0.9 + 10 * 0.3) / 1.2) < 1e-9


def test_far_choice_loads_the_full_range_network_on_demand(watched_page, pictures):
    """"Far" is the one-pass full-range detector: its graph is fetched only when chosen, and it finds the face."""
    fetched: list[str] = []
    watched_page.on("request", lambda request: fetched.append(request.url))
    watched_page.select_option("#detector-range", "full")
    try:
        result = analyse_photo(watched_page, pictures / "astronaut.png")
    finally:
        watched_page.select_option("#detector-range", "auto")
    assert any(url.endswith("/face_detection_full_range_sparse.bin") for url in fetched), fetched
    found, false = match(boxes_of(result), astronaut_grid(1)[1])
    assert len(found) == 1 and false == []
    assert watched_page.evaluate("window.__violations") == []
