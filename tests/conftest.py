"""Fixtures: the app on a free port, headless Chromium (Debian's, via Playwright), metadata and test pictures."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

# Web-only imports (Flask, waitress, Playwright) happen inside fixtures, so test files that need none of them
# (the training tests, run from the training venv) can share this conftest.
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
MODEL_DIR = Path(os.environ.get("EMOTION_MODEL_DIR", REPO / "converted_model"))


def pytest_collection_modifyitems(config, items) -> None:
    if not Path(CHROMIUM).exists():
        skip = pytest.mark.skip(reason=f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set CHROMIUM)")
        for item in items:
            if "browser" in item.fixturenames or "launch_browser" in item.fixturenames:
                item.add_marker(skip)


@pytest.fixture(scope="session")
def metadata() -> dict:
    return json.loads((MODEL_DIR / "metadata.json").read_text())


@pytest.fixture(scope="session")
def app():
    from server import create_app

    return create_app(model_dir=MODEL_DIR)


@pytest.fixture(scope="session")
def live_server(app) -> Iterator[str]:
    from tests.browser import serve

    with serve(app) as url:
        yield url


@pytest.fixture(scope="session")
def playwright_instance():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def launch_browser(playwright_instance):
    """Launches Chromium with extra flags (fake cameras need their own process); closed at session end."""
    from tests.browser import CHROMIUM_ARGS

    browsers = []

    def launch(extra_args: tuple[str, ...] = ()):
        browser = playwright_instance.chromium.launch(executable_path=CHROMIUM, args=[*CHROMIUM_ARGS, *extra_args])
        browsers.append(browser)
        return browser

    yield launch
    for browser in browsers:
        browser.close()


@pytest.fixture(scope="session")
def browser(launch_browser):
    return launch_browser()


@pytest.fixture(scope="module")
def loaded_page(browser, live_server):
    """One page with its models loaded, shared by a module's tests (loading costs seconds on two cores)."""
    from tests.browser import wait_until_loaded

    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(live_server + "/")
    assert wait_until_loaded(page) == "ready"
    yield page
    context.close()


@pytest.fixture(scope="session")
def pictures(tmp_path_factory) -> Path:
    from tests.images import astronaut, save_png

    folder = tmp_path_factory.mktemp("pictures")
    save_png(astronaut(), folder / "astronaut.png")
    return folder


@pytest.fixture(scope="session")
def artifacts() -> Path:
    folder = REPO / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder

