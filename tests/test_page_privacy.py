"""Nothing leaves the browser: during photo and webcam inference every request is a same-origin, bodiless GET
of a static asset, and saving the results (CSV, JSON, annotated PNG) makes no request at all beyond the page's
own blob: URLs."""

from __future__ import annotations

from urllib.parse import urlsplit

from tests.browser import analyse_photo, fake_camera_args, wait_for, wait_until_loaded
from tests.images import astronaut_video_frames, write_y4m

STATIC_PREFIXES = ("/static/", "/vendor/", "/model/")


def record_requests(page) -> list:
    requests = []
    page.on("request", lambda request: requests.append(request))
    return requests


def assert_only_static_gets(requests, origin: str) -> None:
    assert requests, "no request recorded"
    for request in requests:
        parts = urlsplit(request.url)
        if parts.scheme in {"data", "blob"}:
            continue  # in-page URLs: no network involved
        assert f"{parts.scheme}://{parts.netloc}" == origin, request.url
        assert request.method == "GET", (request.method, request.url)
        assert request.post_data_buffer is None, request.url
        assert parts.path in {"/", "/embed"} or parts.path.startswith(STATIC_PREFIXES), request.url


def test_photo_inference_sends_nothing(browser, live_server, pictures):
    context = browser.new_context()
    page = context.new_page()
    requests = record_requests(page)
    page.goto(live_server + "/")
    assert wait_until_loaded(page) == "ready"
    loaded = len(requests)
    result = analyse_photo(page, pictures / "astronaut.png")
    assert len(result["faces"]) == 1
    page.wait_for_timeout(500)
    assert_only_static_gets(requests, live_server)
    assert len(requests) == loaded  # analysing the photo fetched nothing at all
    context.close()


def test_webcam_inference_sends_nothing(launch_browser, live_server, tmp_path):
    video = write_y4m(astronaut_video_frames(10), tmp_path / "face.y4m")
    browser = launch_browser(tuple(fake_camera_args(video)))
    page = browser.new_page()
    requests = record_requests(page)
    page.goto(live_server + "/")
    assert wait_until_loaded(page) == "ready"
    page.click("#camera-toggle")
    wait_for(page, "window.emotionDetector.results >= 10", 90)
    page.click("#camera-toggle")
    assert_only_static_gets(requests, live_server)
    page.close()


def test_downloads_send_nothing(browser, live_server, pictures, tmp_path):
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    requests = record_requests(page)
    page.goto(live_server + "/")
    assert wait_until_loaded(page) == "ready"
    assert len(analyse_photo(page, pictures / "astronaut.png")["faces"]) == 1
    before = len(requests)
    for button, suffix in (("#download-csv", ".csv"), ("#download-json", ".json"), ("#download-png", ".png")):
        with page.expect_download() as started:
            page.click(button)
        saved = tmp_path / started.value.suggested_filename
        started.value.save_as(saved)
        assert saved.suffix == suffix and saved.stat().st_size > 0
    page.wait_for_timeout(500)
    during = requests[before:]
    assert all(urlsplit(request.url).scheme == "blob" for request in during), [r.url for r in during]
    assert_only_static_gets(requests, live_server)
    context.close()
