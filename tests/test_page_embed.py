"""Embedding: a page on another origin uses <emotion-detector> and receives the predictions as events; the widget
API (properties, detect(), headless mode, two widgets on one page); a bad ?origin= gets a clear error state."""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from flask import Flask, send_file

from tests.browser import serve, wait_for
from tests.conftest import REPO

PARENT_PAGE = """<!doctype html><html><head><title>Partner site</title>
<script src="{server}/static/js/embed.js"></script></head><body>
<h1>Partner site</h1>
<emotion-detector style="height: 900px"></emotion-detector>
<script>
  window.received = [];
  window.states = [];
  const detector = document.querySelector('emotion-detector');
  detector.addEventListener('emotions', (event) => window.received.push(event.detail));
  detector.addEventListener('emotion-state', (event) => window.states.push(event.detail.state));
</script></body></html>"""

# embed.js as an ES module (no document.currentScript), two widgets, one of them headless.
TWO_WIDGETS_PAGE = """<!doctype html><html><head><title>Partner site, two widgets</title>
<script type="module" src="{server}/static/js/embed.js"></script>
<style>
  #shown {{ --emotion-detector-accent: rgb(200, 0, 0); --emotion-detector-font: Georgia, serif;
           --emotion-detector-paper: url(https://tracker.example/pixel.png); }}
  #shown::part(frame) {{ outline: 3px solid rgb(0, 0, 200); }}
</style></head><body>
<emotion-detector id="shown" smoothing="250" style="height: 700px"></emotion-detector>
<emotion-detector id="hidden" headless></emotion-detector>
<img id="photo" src="/astronaut.png" alt="">
<script>
  window.log = {{shown: [], hidden: []}};
  for (const id of ['shown', 'hidden']) {{
    for (const type of ['ready', 'error', 'result', 'state', 'face-enter', 'face-leave', 'emotion-change']) {{
      const log = window.log[id];
      document.getElementById(id).addEventListener(type, (event) => log.push({{type, detail: event.detail}}));
    }}
  }}
</script></body></html>"""


def partner_app(server: str, page: str = PARENT_PAGE, pictures: Path | None = None) -> Flask:
    app = Flask("partner")
    app.add_url_rule("/", "page", lambda: page.format(server=server))
    if pictures is not None:
        app.add_url_rule("/astronaut.png", "photo", lambda: send_file(pictures / "astronaut.png"))
    return app


def embed_and_analyse(browser, partner: str, picture: Path):
    """Opens the partner page, waits for its widget, gives the widget a photo; returns the page and the frame once
    the partner has received a result."""
    page = browser.new_page()
    page.goto(partner + "/")
    wait_for(page, "window.states.includes('ready')", 180)
    frame = page.frame_locator("emotion-detector iframe")
    frame.locator("#photo-input").set_input_files(str(picture))
    wait_for(page, "window.received.length > 0", 60)
    return page, frame


def test_other_origin_embeds_the_detector_and_gets_predictions(browser, live_server, pictures, metadata):
    with serve(partner_app(live_server)) as partner:
        assert partner != live_server  # another port: another origin
        page, frame = embed_and_analyse(browser, partner, pictures / "astronaut.png")
        detail = page.evaluate("window.received[0]")
        assert detail["source"] == "photo"
        assert len(detail["faces"]) == 1
        assert [entry["label"] for entry in detail["faces"][0]["probabilities"]] == metadata["labels"]
        iframe = page.locator("emotion-detector iframe")
        assert iframe.get_attribute("allow") == "camera"
        assert iframe.get_attribute("src").startswith(live_server + "/embed?origin=")
        # The visitor is told, inside the widget, that this site receives the boxes and scores (not images).
        notice = frame.locator("#receiver")
        assert notice.is_visible()
        assert partner in notice.inner_text() and "emotion scores" in notice.inner_text()
        assert "never the picture" in notice.inner_text()
        page.close()


@pytest.mark.parametrize("origin", ["javascript:alert(1)", "not a url", "https://example.com/path"])
def test_invalid_origin_parameter_gives_a_clear_error_state(browser, live_server, origin):
    page = browser.new_page()
    dialogs = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    page.goto(f"{live_server}/embed?origin={origin}")
    state = wait_for(page, "window.emotionDetector && window.emotionDetector.state !== 'loading' "
                           "&& window.emotionDetector.state", 30)
    assert state == "origin-error"
    status = page.inner_text("#status")
    assert "misconfigured" in status and origin in status and "expected its own origin" in status
    assert page.locator("#status").evaluate("element => element.classList.contains('is-error')")
    assert page.is_disabled("#photo-input") and page.is_disabled("#camera-toggle")
    assert dialogs == []
    page.close()


@pytest.fixture(scope="module")
def two_widgets(browser, live_server, pictures):
    with serve(partner_app(live_server, TWO_WIDGETS_PAGE, pictures)) as partner:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(partner + "/")
        wait_for(page, "['shown', 'hidden'].every((id) => document.getElementById(id).ready)", 240)
        yield page, partner
        page.close()


def test_module_script_frames_the_server_it_came_from(two_widgets, live_server):
    page, partner = two_widgets
    for widget in ("shown", "hidden"):
        src = page.locator(f"#{widget} iframe").get_attribute("src")
        assert src.startswith(live_server + "/embed?origin="), src  # not the partner's own /embed
        assert page.evaluate(f"window.log.{widget}.filter((entry) => entry.type === 'ready').length") == 1
    assert page.evaluate("window.log.shown.concat(window.log.hidden).filter((e) => e.type === 'error')") == []


def test_attributes_are_mirrored_as_properties(two_widgets):
    page, _ = two_widgets
    mirrored = page.evaluate("""() => {
        const widget = document.getElementById('shown');
        const before = {mode: widget.mode, smoothing: widget.smoothing, headless: widget.headless};
        widget.mode = 'camera';
        widget.smoothing = 500;
        const after = {mode: widget.getAttribute('mode'), smoothing: widget.getAttribute('smoothing')};
        widget.mode = 'photo';
        return {before, after, hidden: document.getElementById('hidden').headless};
    }""")
    assert mirrored == {"before": {"mode": "photo", "smoothing": 250, "headless": False},
                        "after": {"mode": "camera", "smoothing": "500"}, "hidden": True}


def test_headless_widget_has_no_ui_and_detect_works_on_an_image(two_widgets, metadata):
    page, _ = two_widgets
    box = page.locator("#hidden iframe").bounding_box()
    assert box["width"] <= 1 and box["height"] <= 1
    hidden_frame = page.frame_locator("#hidden iframe")
    assert hidden_frame.locator("body").evaluate("body => body.classList.contains('headless')")
    assert not hidden_frame.locator("#main").is_visible()
    result = page.evaluate("document.getElementById('hidden').detect(document.getElementById('photo'))")
    assert (result["width"], result["height"]) == (512, 512)
    assert len(result["faces"]) == 1
    assert [entry["label"] for entry in result["faces"][0]["probabilities"]] == metadata["labels"]
    wait_for(page, "window.log.hidden.some((entry) => entry.type === 'result')", 30)
    assert page.evaluate("window.log.shown.filter((entry) => entry.type === 'result')") == []  # widgets stay apart


def test_two_widgets_detect_independently_and_bad_input_is_an_error(two_widgets):
    page, _ = two_widgets
    counts = page.evaluate("""async () => {
        const photo = document.getElementById('photo');
        const canvas = document.createElement('canvas');
        canvas.width = photo.naturalWidth;
        canvas.height = photo.naturalHeight;
        canvas.getContext('2d').drawImage(photo, 0, 0);
        const [shown, hidden] = await Promise.all([
          document.getElementById('shown').detect(canvas), document.getElementById('hidden').detect(photo)]);
        let error = null;
        try {
          await document.getElementById('shown').detect('not an image');
        } catch (failure) {
          error = failure.code;
        }
        return {shown: shown.faces.length, hidden: hidden.faces.length, error};
    }""")
    assert counts == {"shown": 1, "hidden": 1, "error": "bad-input"}
    shown_frame = page.frame_locator("#shown iframe")
    assert shown_frame.locator("#overlay .face-box").count() == 1  # the visible widget shows what it analysed


def test_theme_custom_properties_and_parts_reach_the_widget(two_widgets):
    page, _ = two_widgets
    assert page.locator("#shown iframe").evaluate("frame => getComputedStyle(frame).outlineColor") == "rgb(0, 0, 200)"
    frame = page.frame_locator("#shown iframe")
    style = "name => getComputedStyle(document.documentElement).getPropertyValue(name).trim()"
    assert frame.locator("html").evaluate(f"(html, name) => ({style})(name)", "--accent") == "rgb(200, 0, 0)"
    assert frame.locator("html").evaluate(f"(html, name) => ({style})(name)", "--font") == "Georgia, serif"
    assert "url" not in frame.locator("html").evaluate(f"(html, name) => ({style})(name)", "--paper")  # refused
    assert frame.locator("#drop-zone").evaluate("zone => getComputedStyle(zone).borderTopColor") == "rgb(200, 0, 0)"


def test_type_declarations_cover_every_event_attribute_and_method():
    script = (REPO / "static" / "js" / "embed.js").read_text()
    declarations = (REPO / "static" / "js" / "embed.d.ts").read_text()
    events = set(re.findall(r"'([\w-]+)'", script[script.index("const EVENTS"):script.index("const THEME")]))
    attributes = re.search(r"return \[([^\]]+)\];", script).group(1)
    for event in events:
        assert re.search(rf"^\s*'?{event}'?: CustomEvent<", declarations, re.M), event
    for attribute in re.findall(r"'([\w-]+)'", attributes):
        prop = re.sub(r"-(\w)", lambda match: match.group(1).upper(), attribute)
        assert re.search(rf"^\s*{prop}: ", declarations, re.M), prop
    for method in ("start", "stop", "detect", "updateTheme"):
        assert f"{method}(" in script and re.search(rf"^\s*{method}\(", declarations, re.M), method


HEADLESS_CAMERA_PAGE = """<!doctype html><html><head><title>Partner site, headless camera</title>
<script src="{server}/static/js/embed.js"></script></head><body>
<img id="photo" src="/astronaut.png" alt="" width="128" height="128">
<emotion-detector headless mode="camera" smoothing="200"></emotion-detector>
<div id="cover" hidden style="position: fixed; inset: 0; background: rgb(255 255 255 / 0.02)"></div>
<script>
  window.log = [];
  const widget = document.querySelector('emotion-detector');
  for (const type of ['ready', 'error', 'state', 'result', 'face-enter', 'face-leave', 'emotion-change']) {{
    widget.addEventListener(type, (event) => window.log.push({{type, detail: event.detail}}));
  }}
</script></body></html>"""
# Whether the widget's camera is off: no stream on its video, or only stopped tracks.
CAMERA_OFF = "video => !video.srcObject || video.srcObject.getTracks().every((track) => track.readyState === 'ended')"
COUNT = "window.log.filter((entry) => entry.type === '{}').length"


@pytest.fixture
def headless_camera(launch_browser, live_server, pictures, tmp_path):
    """The partner page with a headless camera widget, loaded, in Chromium with a fake camera; yields the page."""
    from tests.browser import fake_camera_args
    from tests.images import astronaut_back_and_forth_frames, write_y4m

    video = write_y4m(astronaut_back_and_forth_frames(60), tmp_path / "face.y4m")  # loops without a jump
    browser = launch_browser(tuple(fake_camera_args(video)))
    with serve(partner_app(live_server, HEADLESS_CAMERA_PAGE, pictures)) as partner:
        page = browser.new_page(viewport={"width": 1000, "height": 700})
        page.goto(partner + "/")
        wait_for(page, "document.querySelector('emotion-detector').ready", 240)
        yield page
        page.close()


def click_camera_button(page) -> None:
    """The visitor clicks the widget's camera button once the widget has shown it plainly for a moment."""
    button = page.frame_locator("emotion-detector iframe").locator("#camera-toggle")
    button.wait_for(state="visible")
    widget_frame = next(frame for frame in page.frames if "/embed?" in frame.url)
    wait_for(widget_frame, "document.querySelector('#camera-toggle').hasAttribute('data-plainly-visible')", 30)
    time.sleep(0.6)  # a button that only just appeared does not take clicks yet (camera-guard.js SETTLE_MS)
    button.click()


def test_headless_camera_starts_only_on_the_visitors_click_and_sends_track_events(headless_camera):
    page = headless_camera
    frame = page.frame_locator("emotion-detector iframe")
    # Headless, yet the camera's button, status and the notice of what this site receives are on screen.
    box = page.locator("emotion-detector iframe").bounding_box()
    assert box["width"] >= 300 and box["height"] >= 120, box
    page.evaluate("document.querySelector('emotion-detector').start()")
    wait_for(page, "window.log.some((entry) => entry.type === 'state' && entry.detail.state === 'camera-click')", 30)
    time.sleep(3)  # ample for the fake camera to deliver frames, had start() opened it
    assert frame.locator("#video").evaluate(CAMERA_OFF)
    assert page.evaluate(COUNT.format("result")) == 0
    assert frame.locator("#camera-toggle").is_visible() and frame.locator("#status").is_visible()
    notice = frame.locator("#receiver")
    assert notice.is_visible() and "emotion scores" in notice.inner_text()
    # A script's click is no visitor's (run here inside the frame, as a page of the widget's own origin could).
    frame.locator("#camera-toggle").evaluate("button => button.click()")
    time.sleep(1)
    assert frame.locator("#video").evaluate(CAMERA_OFF) and errors(page) == []

    click_camera_button(page)
    wait_for(page, f"{COUNT.format('result')} >= 5", 120)
    # detect() while the camera runs: answered on the side, and the video goes on.
    still = page.evaluate("document.querySelector('emotion-detector').detect(document.getElementById('photo'))")
    assert (still["width"], still["height"], len(still["faces"])) == (512, 512, 1)
    count = page.evaluate("window.log.length")
    wait_for(page, f"window.log.slice({count}).some((entry) => entry.type === 'result')", 30)
    page.evaluate("document.querySelector('emotion-detector').stop()")
    wait_for(page, "window.log.some((entry) => entry.type === 'face-leave')", 30)
    log = page.evaluate("window.log")
    kinds = [entry["type"] for entry in log]
    assert "error" not in kinds, log
    enter = next(entry["detail"] for entry in log if entry["type"] == "face-enter")
    results = [entry["detail"] for entry in log if entry["type"] == "result"]
    assert all(result["source"] == "webcam" for result in results)
    ids = {face["id"] for result in results for face in result["faces"]}
    assert ids == {enter["id"]}
    face = results[-1]["faces"][0]
    assert {"probabilities", "smoothed", "emotion", "top", "box"} <= set(face)
    leave = next(entry["detail"] for entry in log if entry["type"] == "face-leave")
    assert leave == {"id": enter["id"]}


def errors(page) -> list[str]:
    return page.evaluate("window.log.filter((entry) => entry.type === 'error').map((entry) => entry.detail.code)")


@pytest.mark.parametrize("hide, focusable", [
    ("widget.style.opacity = '0.05'", True),  # see-through
    ("document.getElementById('cover').hidden = false", True),  # something drawn over it
    ("widget.style.height = '2px'; widget.style.overflow = 'hidden'", True),  # too small to show the button
    ("widget.style.display = 'none'", False),  # not rendered at all: nothing in it takes a key press
])
def test_hidden_headless_camera_will_not_start_and_stops_when_hidden(headless_camera, hide, focusable):
    page = headless_camera
    frame = page.frame_locator("emotion-detector iframe")
    page.evaluate("widget.start()")
    page.evaluate(hide)
    time.sleep(0.5)
    frame.locator("#camera-toggle").press("Enter")  # the visitor's own key press, on a button they cannot see
    time.sleep(2)
    assert frame.locator("#video").evaluate(CAMERA_OFF) and page.evaluate(COUNT.format("result")) == 0
    refused = ["camera-hidden"] if focusable else []
    assert errors(page) == refused

    # Shown plainly, the click works; hidden again while it runs, the camera stops within a moment.
    page.evaluate("widget.style.opacity = widget.style.height = widget.style.overflow = widget.style.display = '';"
                  "document.getElementById('cover').hidden = true")
    click_camera_button(page)
    wait_for(page, f"{COUNT.format('result')} >= 3", 120)
    page.evaluate(hide)
    wait_for(page, f"window.log.filter((entry) => entry.type === 'error').length > {len(refused)}", 10)
    assert errors(page) == [*refused, "camera-hidden"]
    assert frame.locator("#video").evaluate(CAMERA_OFF)
    results = page.evaluate(COUNT.format("result"))
    time.sleep(2)
    assert page.evaluate(COUNT.format("result")) <= results + 1  # a frame in flight at most, then nothing


def test_visible_widget_camera_runs_while_its_picture_shows_and_stops_scrolled_away(launch_browser, live_server,
                                                                                     tmp_path):
    from tests.browser import fake_camera_args
    from tests.images import astronaut_back_and_forth_frames, write_y4m

    video = write_y4m(astronaut_back_and_forth_frames(60), tmp_path / "face.y4m")
    browser = launch_browser(tuple(fake_camera_args(video)))
    long_page = PARENT_PAGE.replace("</body>", "<div style='height: 3000px'></div></body>")
    with serve(partner_app(live_server, long_page)) as partner:
        page = browser.new_page(viewport={"width": 800, "height": 700})
        page.goto(partner + "/")
        wait_for(page, "window.states.includes('ready')", 240)
        click_camera_button(page)
        wait_for(page, "window.received.length >= 3", 120)
        frame = page.frame_locator("emotion-detector iframe")
        # The visitor scrolls on: the camera button leaves the screen, the picture stays; the camera goes on.
        page.evaluate("scrollTo(0, 300)")
        count = page.evaluate("window.received.length")
        time.sleep(2.5)
        assert not frame.locator("#camera-toggle").evaluate("button => button.hasAttribute('data-plainly-visible')")
        assert page.evaluate(f"window.received.length > {count}") and not frame.locator("#video").evaluate(CAMERA_OFF)
        # Scrolled away from the whole widget: the camera stops.
        page.evaluate("scrollTo(0, 2000)")
        wait_for(page, "window.states.includes('camera-hidden')", 10)
        assert frame.locator("#video").evaluate(CAMERA_OFF)
        page.close()
