"""Video over time (issue 10): stable track IDs, smoothed labels with hysteresis, and face-enter / face-leave /
emotion-change events. The pure modules (tracker.js, smoother.js, timeline.js) get synthetic frames in Chromium;
the page gets real video through Chromium's fake camera."""

from __future__ import annotations

import pytest

from tests.browser import fake_camera_args, wait_for, wait_until_loaded
from tests.images import astronaut_back_and_forth_frames, astronaut_comes_and_goes_frames, write_y4m

RECORD_EVENTS = """() => {
  window.frames = [];
  window.videoEvents = [];
  document.addEventListener('emotions', (event) => window.frames.push(event.detail.faces.map((face) => ({
    id: face.id, x: face.box.x, label: face.emotion.label, raw: face.top.label}))));
  for (const type of ['face-enter', 'face-leave', 'emotion-change']) {
    document.addEventListener(type, (event) => window.videoEvents.push({type, id: event.detail.id,
                                                                         frame: window.frames.length}));
  }
}"""


def timeline_run(page, script: str):
    """Runs `script` (an async function body) with FaceTimeline, FaceTracker and EmotionSmoother in scope."""
    return page.evaluate(f"""async () => {{
        const {{ FaceTimeline }} = await import('/static/js/timeline.js');
        const {{ FaceTracker }} = await import('/static/js/tracker.js');
        const {{ EmotionSmoother }} = await import('/static/js/smoother.js');
        {script}
    }}""")


def test_alternating_close_predictions_do_not_flip_the_smoothed_label(loaded_page):
    outcome = timeline_run(loaded_page, """
        const labels = ['angry', 'happy', 'neutral'];
        const face = (happy, neutral) => ({ box: { x: 100, y: 100, width: 120, height: 120 },
          probabilities: [{ label: 'angry', probability: 1 - happy - neutral },
                          { label: 'happy', probability: happy }, { label: 'neutral', probability: neutral }] });
        const runs = {};
        for (const smoothingMs of [0, 300, 1000]) {
          const timeline = new FaceTimeline(labels, { smoothingMs });
          const shown = [];
          const changes = [];
          for (let frame = 0; frame < 100; frame++) {  // 20 frames a second, alternating by 0.04
            const [happy, neutral] = frame % 2 ? [0.46, 0.50] : [0.50, 0.46];
            const { faces, events } = timeline.update([face(happy, neutral)], frame * 50);
            shown.push(faces[0].emotion.label);
            changes.push(...events.filter((event) => event.type === 'emotion-change'));
          }
          // Then a real change: neutral clearly leads for a second.
          for (let frame = 100; frame < 120; frame++) {
            const { faces, events } = timeline.update([face(0.2, 0.75)], frame * 50);
            shown.push(faces[0].emotion.label);
            changes.push(...events.filter((event) => event.type === 'emotion-change'));
          }
          runs[smoothingMs] = { first: [...new Set(shown.slice(0, 100))], last: shown[119],
                                changes: changes.map((event) => [event.detail.previous, event.detail.label]) };
        }
        // The raw top label flips every frame in this sequence: the smoothing and hysteresis are what hold it.
        const smoother = new EmotionSmoother({ timeConstantMs: 0, hysteresis: 0 });
        const rawFlips = [0, 1, 2, 3].map((frame) =>
          smoother.update(frame % 2 ? [0.04, 0.46, 0.50] : [0.04, 0.50, 0.46], frame * 50).label);
        return { runs, rawFlips };
    """)
    assert outcome["rawFlips"] == [1, 2, 1, 2]
    for smoothing, run in outcome["runs"].items():
        assert run["first"] == ["happy"], (smoothing, run)
        assert run["last"] == "neutral", (smoothing, run)
        assert run["changes"] == [["happy", "neutral"]], (smoothing, run)


def test_tracker_keeps_ids_through_motion_and_a_missed_frame_and_ends_tracks(loaded_page):
    outcome = timeline_run(loaded_page, """
        const tracker = new FaceTracker();
        const seen = [];
        let entered = [], left = [];
        for (let frame = 0; frame < 60; frame++) {
          // Two faces crossing paths horizontally at different heights, 6 px a frame; face B missed at frame 30.
          const a = { x: 50 + 6 * frame, y: 60, width: 100, height: 100 };
          const b = { x: 450 - 6 * frame, y: 300, width: 80, height: 80 };
          const boxes = frame === 30 ? [a] : [b, a];
          const step = tracker.update(boxes, frame * 50);
          seen.push(frame === 30 ? { a: step.ids[0] } : { a: step.ids[1], b: step.ids[0] });
          entered = entered.concat(step.entered);
          left = left.concat(step.left);
        }
        const gone = [];
        for (let frame = 60; frame < 70; frame++) gone.push(...tracker.update([], frame * 50).left);
        return { seen, entered, left, gone };
    """)
    assert all(frame["a"] == outcome["seen"][0]["a"] for frame in outcome["seen"])
    assert all(frame.get("b", outcome["seen"][0]["b"]) == outcome["seen"][0]["b"] for frame in outcome["seen"])
    assert outcome["seen"][0]["a"] != outcome["seen"][0]["b"]
    assert sorted(outcome["entered"]) == [1, 2] and outcome["left"] == []
    assert sorted(outcome["gone"]) == [1, 2]


@pytest.fixture(scope="module")
def camera_page(launch_browser, live_server, tmp_path_factory):
    def open_with(frames, name: str):
        video = write_y4m(frames, tmp_path_factory.mktemp("video") / name)
        browser = launch_browser(tuple(fake_camera_args(video)))
        page = browser.new_page()
        page.goto(live_server + "/")
        assert wait_until_loaded(page) == "ready"
        page.evaluate(RECORD_EVENTS)
        page.click("#camera-toggle")
        return page

    return open_with


def test_track_id_stays_stable_over_a_moving_face(camera_page):
    page = camera_page(astronaut_back_and_forth_frames(60), "moving.y4m")
    wait_for(page, "window.frames.filter((faces) => faces.length === 1).length >= 60", 180)
    page.click("#camera-toggle")
    frames = page.evaluate("window.frames")
    with_face = [faces for faces in frames if faces]
    xs = [faces[0]["x"] for faces in with_face]
    print(f"{len(frames)} frames, {len(with_face)} with a face; x from {min(xs):.0f} to {max(xs):.0f}")
    assert max(xs) - min(xs) > 100  # the face really moved
    assert len(frames) - len(with_face) <= 3  # and was nearly always found
    assert {face["id"] for faces in with_face for face in faces} == {1}
    events = page.evaluate("window.videoEvents")
    assert [event["type"] for event in events if event["type"] != "emotion-change"] == ["face-enter", "face-leave"]
    assert events[-1]["type"] == "face-leave"  # stopping the camera ends the track
    page.close()


def test_face_enter_and_leave_fire_when_a_face_appears_and_disappears(camera_page):
    # 15 fps: 1.3 s with the face, 1.3 s without, looping.
    page = camera_page(astronaut_comes_and_goes_frames(20, 20), "comes-and-goes.y4m")
    wait_for(page, "window.videoEvents.filter((event) => event.type === 'face-enter').length >= 2", 180)
    page.click("#camera-toggle")
    events = [event for event in page.evaluate("window.videoEvents") if event["type"] != "emotion-change"]
    frames = page.evaluate("window.frames")
    print([(event["type"], event["id"], event["frame"]) for event in events], [len(faces) for faces in frames])
    kinds = [event["type"] for event in events]
    assert kinds[:3] == ["face-enter", "face-leave", "face-enter"]
    first, second = events[0]["id"], events[2]["id"]
    assert events[1]["id"] == first and second != first  # a face that came back is a new track
    leave_frame = events[1]["frame"]
    assert frames[leave_frame - 1] == []  # it left after frames without it
    page.close()
