"""Page fault tolerance (issue 9): degenerate sizes, hung detection, photos chosen in quick succession, and the
bad-image set. Each failure must say what happened and leave the page able to analyse the next photo."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import wait_for
from tests.images import ASTRONAUT_FACE, astronaut, astronaut_portrait, bad_images, save_png

ERROR_STATES = ("decode-error", "size-error", "timeout", "analysis-error", "error")


def give_photo(page, path: Path, timeout_s: float = 90) -> dict:
    """Chooses a photo; waits until the page shows its outcome. Returns {state, status, result}."""
    before = page.evaluate("window.emotionDetector.pictures")
    page.set_input_files("#photo-input", str(path))
    wait_for(page, f"window.emotionDetector.pictures > {before}", timeout_s)
    return page.evaluate("""({state: window.emotionDetector.state, status: document.querySelector('#status').innerText,
                            result: window.emotionDetector.lastResult})""")


def assert_astronaut_found(page, pictures: Path) -> None:
    outcome = give_photo(page, pictures / "astronaut.png")
    assert outcome["state"] == "faces", outcome["status"]
    faces = outcome["result"]["faces"]
    assert len(faces) == 1
    box = faces[0]["box"]
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert x0 < box["x"] + box["width"] / 2 < x1 and y0 < box["y"] + box["height"] / 2 < y1


@pytest.fixture(scope="module")
def bad(tmp_path_factory) -> dict[str, Path]:
    return bad_images(tmp_path_factory.mktemp("bad-images"))


@pytest.mark.parametrize("name", ["wide", "tall"])
def test_degenerate_size_says_so_and_the_next_photo_is_analysed(loaded_page, bad, pictures, name):
    outcome = give_photo(loaded_page, bad[name])
    assert outcome["state"] == "size-error"
    assert f"{bad[name].name} is {'61440×1' if name == 'wide' else '1×61440'} pixels" in outcome["status"]
    assert "too narrow" in outcome["status"]
    assert loaded_page.locator("#status").evaluate("element => element.classList.contains('is-error')")
    assert loaded_page.locator("#overlay .face-box").count() == 0
    assert_astronaut_found(loaded_page, pictures)


def test_reading_past_its_deadline_is_reported_and_the_page_recovers(loaded_page, pictures, tmp_path):
    photo = tmp_path / "large.jpg"
    Image.fromarray(astronaut()).resize((4000, 3000), Image.Resampling.BILINEAR).save(photo, quality=90)
    loaded_page.evaluate("window.emotionDetector.timeouts.decodeMs = 1")  # decoding 12 megapixels takes longer
    try:
        outcome = give_photo(loaded_page, photo)
    finally:
        loaded_page.evaluate("window.emotionDetector.timeouts.decodeMs = 30000")
    assert outcome["state"] == "timeout"
    assert "took too long" in outcome["status"] and "Reading the picture took longer than" in outcome["status"]
    assert "detector was restarted" not in outcome["status"]  # decoding is not the detector's fault
    assert loaded_page.locator("#status").evaluate("element => element.classList.contains('is-error')")
    assert_astronaut_found(loaded_page, pictures)


def test_a_failing_detector_is_rebuilt_through_create_face_detector(loaded_page, pictures):
    """The real detector behind the page's SupervisedDetector, made to fail for real by a call it cannot serve
    (no picture at all). The failing call must end with an error, and the next call must work on a detector built
    afresh through createFaceDetector."""
    assert_astronaut_found(loaded_page, pictures)  # leaves the astronaut in #photo-canvas
    outcome = loaded_page.evaluate("""async () => {
        const { SupervisedDetector } = await import('/static/js/supervised-detector.js');
        const { createFaceDetector } = await import('/static/js/detector.js');
        const built = [];
        const create = async (modelName) => {
          const detector = await createFaceDetector({ modelsPath: document.body.dataset.faceModelsPath, modelName });
          built.push(detector);
          return detector;
        };
        const timeouts = { analysisMs: 5000, loadMs: 60000 };
        const detector = new SupervisedDetector(create, { modelName: 'auto', timeouts });
        const photo = document.querySelector('#photo-canvas');
        const before = (await detector.detect(photo)).length;
        let failure = null;
        try {
          await detector.detect(null);
        } catch (error) {
          failure = `${error.name}: ${error.message}`;
        }
        const after = (await detector.detect(photo)).length;
        return { before, failure, after, restarts: detector.recreated, built: built.length,
                 distinct: built[0] !== built[built.length - 1] };
    }""")
    print("failing detector:", outcome)
    assert outcome["before"] == 1
    assert outcome["failure"], "detect(null) must fail, not answer"
    assert outcome["restarts"] == 1 and outcome["built"] == 2 and outcome["distinct"]
    assert outcome["after"] == 1


def test_two_photos_in_quick_succession_end_on_the_second(loaded_page, pictures, tmp_path):
    # The first photo is larger (slower to decode and detect) and holds no face; the second is the astronaut.
    big = Image.fromarray(astronaut()).resize((4000, 3000), Image.Resampling.BILINEAR).rotate(180)
    first = tmp_path / "first.jpg"
    big.save(first, quality=90)
    second = save_png(astronaut_portrait(), tmp_path / "second.png")
    page = loaded_page
    results, stale = page.evaluate("[window.emotionDetector.results, window.emotionDetector.staleResults]")
    # Both chosen in the same moment: Playwright's own set_input_files waits while the page is busy analysing.
    page.evaluate('''(photos) => {
        const input = document.querySelector('#photo-input');
        for (const { name, type, base64 } of photos) {
          const bytes = Uint8Array.from(atob(base64), (char) => char.charCodeAt(0));
          const chosen = new DataTransfer();
          chosen.items.add(new File([bytes], name, { type }));
          input.files = chosen.files;
          input.dispatchEvent(new Event('change'));
        }
    }''', [{"name": path.name, "type": kind, "base64": base64.b64encode(path.read_bytes()).decode()}
           for path, kind in ((first, "image/jpeg"), (second, "image/png"))])
    # Both analyses end: the second's result shown, the first's dropped (it may finish before or after).
    try:
        wait_for(page, f"window.emotionDetector.results > {results} && window.emotionDetector.staleResults > {stale}",
                 90)
    except TimeoutError as error:
        raise AssertionError(f"{error}; page says: {page.inner_text('#status')}") from None
    page.wait_for_timeout(300)
    final = page.evaluate("(({results, staleResults, lastResult, state}) => "
                          "({results, staleResults, lastResult, state}))(window.emotionDetector)")
    assert final["results"] == results + 1  # the first photo's result was never published
    assert final["staleResults"] == stale + 1
    assert (final["lastResult"]["width"], final["lastResult"]["height"]) == (384, 512)
    assert final["state"] == "faces"
    assert page.evaluate("[document.querySelector('#photo-canvas').width, "
                         "document.querySelector('#photo-canvas').height]") == [384, 512]


# Each entry of the bad-image set: the states allowed, and whether the astronaut's face must be found.
EXPECTED = {
    "empty": ({"decode-error"}, False),
    "text": ({"decode-error"}, False),
    "truncated": ({"decode-error", "faces", "no-face"}, False),  # browsers may show what arrived
    "script": ({"decode-error", "no-face"}, False),
    "bomb": ({"decode-error", "size-error"}, False),
    "huge": ({"faces"}, True),  # 12000×12000: scaled down to 2048, then the astronaut is found
    "wide": ({"size-error"}, False),
    "tall": ({"size-error"}, False),
    "animated": ({"faces"}, True),  # its first frame
    "deep": ({"faces"}, True),  # 16-bit greyscale
    "cmyk": ({"faces"}, True),
    "rotated": ({"faces"}, True),  # upright only if EXIF orientation is honoured
    "transparent": ({"faces"}, True),
    "tiny": ({"size-error"}, False),
}


def holds_astronaut_face(result: dict, name: str) -> bool:
    """Whether a box centre lies on the astronaut's face, wherever this entry of the set puts it."""
    x0, y0, x1, y1 = ASTRONAUT_FACE
    if name == "rotated":  # astronaut_portrait(): columns 64:448 of the original
        x0, x1 = x0 - 64, x1 - 64
    scale = result["height"] / 512
    return any(x0 * scale < face["box"]["x"] + face["box"]["width"] / 2 < x1 * scale
               and y0 * scale < face["box"]["y"] + face["box"]["height"] / 2 < y1 * scale for face in result["faces"])


@pytest.mark.parametrize("name", list(EXPECTED))
def test_bad_image_gets_a_message_or_a_result_and_the_page_stays_usable(loaded_page, bad, pictures, name):
    path = bad[name]
    allowed, face_expected = EXPECTED[name]
    dialogs = []
    on_dialog = lambda dialog: (dialogs.append(dialog.message), dialog.dismiss())  # noqa: E731
    loaded_page.on("dialog", on_dialog)
    try:
        outcome = give_photo(loaded_page, path, timeout_s=120)
    finally:
        loaded_page.remove_listener("dialog", on_dialog)
    print(f"{name}: {outcome['state']}: {outcome['status']}")
    assert outcome["state"] in allowed, outcome["status"]
    if outcome["state"] in ERROR_STATES:
        assert path.name in outcome["status"]  # the message names the file
        assert loaded_page.locator("#overlay .face-box").count() == 0
    elif face_expected:
        assert holds_astronaut_face(outcome["result"], name), outcome["result"]["faces"]
    if name == "rotated":
        assert (outcome["result"]["width"], outcome["result"]["height"]) == (384, 512)
    if name == "huge":
        assert max(outcome["result"]["width"], outcome["result"]["height"]) == 2048
    assert dialogs == []  # no script in the file ever ran
    assert_astronaut_found(loaded_page, pictures)
