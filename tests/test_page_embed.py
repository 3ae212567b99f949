"""Embedding: a page on another origin uses <emotion-detector> and receives the predictions as events."""

from __future__ import annotations

from flask import Flask

from tests.browser import serve, wait_for

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


def partner_app(server: str) -> Flask:
    app = Flask("partner")
    app.add_url_rule("/", "page", lambda: PARENT_PAGE.format(server=server))
    return app


def test_other_origin_embeds_the_detector_and_gets_predictions(browser, live_server, pictures, metadata):
    with serve(partner_app(live_server)) as partner:
        assert partner != live_server  # another port: another origin
        page = browser.new_page()
        page.goto(partner + "/")
        wait_for(page, "window.states.includes('ready')", 180)
        frame = page.frame_locator("emotion-detector iframe")
        frame.locator("#photo-input").set_input_files(str(pictures / "astronaut.png"))
        wait_for(page, "window.received.length > 0", 60)
        detail = page.evaluate("window.received[0]")
        assert detail["source"] == "photo"
        assert len(detail["faces"]) == 1
        assert [entry["label"] for entry in detail["faces"][0]["probabilities"]] == metadata["labels"]
        iframe = page.locator("emotion-detector iframe")
        assert iframe.get_attribute("allow") == "camera"
        assert iframe.get_attribute("src").startswith(live_server + "/embed?origin=")
        page.close()
