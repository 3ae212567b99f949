"""Webcam mode with Chromium's fake camera playing a generated video of a real face, and a refused camera."""

from __future__ import annotations

import pytest

from tests.browser import fake_camera_args, start_camera, wait_for, wait_until_loaded
from tests.images import astronaut_video_frames, write_y4m


@pytest.fixture(scope="module")
def face_video(tmp_path_factory):
    return write_y4m(astronaut_video_frames(), tmp_path_factory.mktemp("video") / "astronaut.y4m")


def test_camera_predictions_appear_and_keep_updating(launch_browser, live_server, face_video, metadata):
    page = launch_browser(tuple(fake_camera_args(face_video))).new_page()
    start_camera(page, live_server + "/")
    wait_for(page, "window.emotionDetector.results >= 1 && window.emotionDetector.lastResult.faces.length >= 1", 90)
    first = page.evaluate("window.emotionDetector.lastResult")
    assert (first["width"], first["height"]) == (640, 480)
    face = first["faces"][0]
    assert [entry["label"] for entry in face["probabilities"]] == metadata["labels"]
    assert abs(sum(entry["probability"] for entry in face["probabilities"]) - 1) < 1e-4
    # Still running, frame after frame, and following the face as it moves across the video.
    seen_x = set()
    for _ in range(30):
        counted = page.evaluate("window.emotionDetector.results")
        wait_for(page, f"window.emotionDetector.results > {counted}", 30)
        faces = page.evaluate("window.emotionDetector.lastResult.faces")
        seen_x.update(round(face["box"]["x"]) for face in faces)
        page.wait_for_timeout(100)
    print("face x positions seen:", sorted(seen_x))
    assert len(seen_x) >= 3
    assert page.locator("#overlay .face-box").count() >= 1
    assert float(page.inner_text("#fps")) > 0
    assert page.get_attribute("#camera-toggle", "aria-pressed") == "true"
    page.click("#camera-toggle")  # stop
    wait_for(page, "window.emotionDetector.state === 'ready'", 30)
    stopped_at = page.evaluate("window.emotionDetector.results")
    page.wait_for_timeout(1000)
    assert page.evaluate("window.emotionDetector.results") == stopped_at
    assert page.inner_text("#fps") == "–"
    page.close()


def test_snapshot_freezes_the_frame_with_its_table_and_downloads(launch_browser, live_server, face_video, tmp_path):
    page = launch_browser(tuple(fake_camera_args(face_video))).new_page()
    start_camera(page, live_server + "/")
    wait_for(page, "window.emotionDetector.results >= 1 && window.emotionDetector.lastResult.faces.length >= 1", 90)
    assert page.is_visible("#snapshot")
    assert page.is_disabled("#download-csv")  # a running camera has nothing fixed to save
    assert page.locator("#faces tr").count() >= 1  # the live table follows the frames
    page.click("#snapshot")
    wait_for(page, "window.emotionDetector.still !== null", 60)
    result = page.evaluate("window.emotionDetector.lastResult")
    assert (result["width"], result["height"]) == (640, 480)
    assert len(result["faces"]) == 1
    # Frozen: the camera is off, the frame is on the canvas, and the table and summary describe it.
    assert page.get_attribute("#camera-toggle", "aria-pressed") == "false"
    assert page.is_visible("#photo-canvas") and not page.is_visible("#video")
    assert not page.is_visible("#snapshot")
    assert page.locator("#faces tr").count() == 1
    assert page.inner_text("#face-summary") == f"1 face: 1 {result['faces'][0]['emotion']['label']}"
    frozen = page.evaluate("window.emotionDetector.results")
    page.wait_for_timeout(500)
    assert page.evaluate("window.emotionDetector.results") == frozen
    with page.expect_download() as started:
        page.click("#download-csv")
    rows = started.value.path().read_text().splitlines()
    assert len(rows) == 2 and rows[1].startswith("camera-snapshot-") and ".png,image,0,0.0,1," in rows[1]
    with page.expect_download() as started:
        page.click("#download-png")
    from PIL import Image

    with Image.open(started.value.path()) as png:
        assert png.size == (640, 480)
    page.close()


def test_denied_camera_permission_says_so(launch_browser, live_server):
    browser = launch_browser(tuple(fake_camera_args(None, grant=False)))
    context = browser.new_context(permissions=[])
    page = context.new_page()
    page.goto(live_server + "/")
    assert wait_until_loaded(page) == "ready"
    page.click("#camera-toggle")
    wait_for(page, "window.emotionDetector.state !== 'ready'", 30)
    assert page.locator("#status").get_attribute("data-state") == "camera-denied"
    assert "Camera access was denied" in page.inner_text("#status")
    assert page.get_attribute("#camera-toggle", "aria-pressed") == "false"
    context.close()


def watch_problems(page) -> list[str]:
    """Page errors, console errors and warnings about the classifier worker (e.g. that it failed and was dropped)."""
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error"
            or (message.type == "warning" and "worker" in message.text.lower()) else None)
    return problems


def test_worker_pipeline_scores_frames_as_the_page_thread_does(launch_browser, live_server, tmp_path):
    """?pipeline=worker: the faces of each frame are classified in a worker (classifier-worker.js) while the page
    detects the next frame's. On a still video both pipelines must find the same face and the same raw scores."""
    still = write_y4m(astronaut_video_frames(1) * 10, tmp_path / "still.y4m")
    browser = launch_browser(tuple(fake_camera_args(still)))
    faces = {}
    for pipeline in ("main", "worker"):
        page = browser.new_page()
        problems = watch_problems(page)
        page.goto(f"{live_server}/?backend=wasm&pipeline={pipeline}")
        assert wait_until_loaded(page) == "ready"
        page.click("#camera-toggle")
        wait_for(page, f"window.emotionDetector.pipeline === '{pipeline}'", 90)
        counted = page.evaluate("window.emotionDetector.results")
        wait_for(page, f"window.emotionDetector.results >= {counted + 3}", 60)
        result = page.evaluate("window.emotionDetector.lastResult")
        assert len(result["faces"]) == 1, result["faces"]
        faces[pipeline] = result["faces"][0]
        workers = [worker.url for worker in page.workers]
        assert any(url.endswith("/classifier-worker.js") for url in workers) == (pipeline == "worker"), workers
        page.click("#camera-toggle")
        wait_for(page, "window.emotionDetector.state === 'ready'", 30)
        assert problems == []
        page.close()
    main, worker = faces["main"], faces["worker"]
    assert all(abs(main["box"][key] - worker["box"][key]) < 1e-3 for key in ("x", "y", "width", "height"))
    for ours, theirs in zip(main["probabilities"], worker["probabilities"], strict=True):
        assert ours["label"] == theirs["label"]
        assert abs(ours["probability"] - theirs["probability"]) < 1e-5, (main["probabilities"], worker["probabilities"])
