"""The page under its strict Content-Security-Policy with Trusted Types enforced: photo and webcam mode work and
nothing is refused (no `securitypolicyviolation` event, no CSP or Trusted Types error in the console)."""

from __future__ import annotations

import pytest

from tests.browser import analyse_photo, fake_camera_args, wait_for, wait_until_loaded
from tests.images import astronaut_video_frames, write_y4m

# Runs before any page script (Playwright injects it through DevTools, which the CSP does not govern).
WATCH_VIOLATIONS = """
window.__violations = [];
document.addEventListener('securitypolicyviolation', (event) => window.__violations.push(
  `${event.violatedDirective} blocked ${event.blockedURI || '(inline)'} at ${event.sourceFile}:${event.lineNumber}`));
"""
REFUSAL_WORDS = ("Content Security Policy", "Content-Security-Policy", "Trusted Type", "TrustedScript",
                 "Refused to")


def watch(page) -> list[str]:
    problems: list[str] = []
    page.add_init_script(WATCH_VIOLATIONS)
    page.on("console", lambda message: problems.append(f"console {message.type}: {message.text}")
            if message.type == "error" or any(word in message.text for word in REFUSAL_WORDS) else None)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    return problems


def assert_strict_policy(response) -> None:
    policy = response.headers["content-security-policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert "'unsafe-inline'" not in directives["script-src"]
    assert "'unsafe-eval'" not in directives["script-src"], policy  # issue 10: the detector needs no eval
    assert directives.get("require-trusted-types-for") == ["'script'"], policy
    assert directives.get("trusted-types") == ["default"], policy


def test_photo_mode_runs_with_nothing_refused(browser, live_server, pictures):
    context = browser.new_context()
    page = context.new_page()
    problems = watch(page)
    assert_strict_policy(page.goto(live_server + "/"))
    assert wait_until_loaded(page) == "ready"
    assert page.evaluate("window.trustedTypes.defaultPolicy && window.trustedTypes.defaultPolicy.name") == "default"
    result = analyse_photo(page, pictures / "astronaut.png")
    assert len(result["faces"]) == 1
    page.wait_for_timeout(300)
    assert page.evaluate("window.__violations") == []
    assert problems == []
    context.close()


@pytest.mark.parametrize("pipeline", ["main", "worker"])
def test_webcam_mode_runs_with_nothing_refused(launch_browser, live_server, tmp_path, pipeline):
    """Also with ?pipeline=worker: the classifier's module worker loads TF.js and compiles WebAssembly under the
    policy its own script's response carries."""
    video = write_y4m(astronaut_video_frames(10), tmp_path / "face.y4m")
    browser = launch_browser(tuple(fake_camera_args(video)))
    page = browser.new_page()
    problems = watch(page)
    assert_strict_policy(page.goto(f"{live_server}/?pipeline={pipeline}"))
    assert wait_until_loaded(page) == "ready"
    page.click("#camera-toggle")
    wait_for(page, f"window.emotionDetector.pipeline === '{pipeline}'", 90)
    counted = page.evaluate("window.emotionDetector.results")
    wait_for(page, f"window.emotionDetector.results >= {counted + 5}", 90)
    page.click("#camera-toggle")
    assert page.evaluate("window.__violations") == []
    assert problems == []
    page.close()


@pytest.mark.parametrize("url", [
    "https://elsewhere.example/evil.js",
    "data:text/javascript,alert(1)",
])
def test_the_default_policy_refuses_scripts_from_elsewhere(loaded_page, url):
    outcome = loaded_page.evaluate("""(url) => {
        const script = document.createElement('script');
        try {
          script.src = url;
          return `assigned: ${script.src}`;
        } catch (error) {
          return `${error.name}`;
        }
    }""", url)
    assert outcome == "TypeError", outcome  # Trusted Types refuse the assignment itself
    same_origin = loaded_page.evaluate("""() => {
        const script = document.createElement('script');
        script.src = '/static/js/embed.js';
        return script.src;
    }""")
    assert same_origin.endswith("/static/js/embed.js")
