"""`python server.py bundle OUT_DIR`: the page as plain files. Served by `python -m http.server` (no Flask), the page
loads and classifies the astronaut, the camera works, another site embeds the widget, and every request stays on
the static server."""

from __future__ import annotations

import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import analyse_photo, fake_camera_args, serve, start_camera, wait_for, wait_until_loaded
from tests.conftest import REPO
from tests.images import astronaut_video_frames, write_y4m

SCRIPT_OR_LINK = re.compile(r'(?:src|href|data-[\w-]+)="(/[^"]*)"')
IMPORT = re.compile(r"""(?:import|export)\s[^'"]*?from\s*['"](\.{1,2}/[^'"]+)['"]"""
                    r"""|import\(\s*['"](\.{1,2}/[^'"]+)['"]""")


def build_bundle(out_dir: Path, *options: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "server.py", "bundle", str(out_dir), *options], cwd=REPO,
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("bundle") / "site"
    completed = build_bundle(out_dir)
    assert completed.returncode == 0, completed.stderr
    assert "wrote" in completed.stdout
    return out_dir


@pytest.fixture(scope="module")
def static_server(bundle: Path) -> Iterator[str]:
    """`python -m http.server` on 127.0.0.1 serving the bundle folder: a plain static host."""
    server = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "0", "--bind", "127.0.0.1",
                               "--directory", str(bundle)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True)
    try:
        line = server.stdout.readline()  # "Serving HTTP on 127.0.0.1 port 41234 (http://127.0.0.1:41234/) ..."
        port = re.search(r"port (\d+)", line)
        assert port, line
        yield f"http://127.0.0.1:{port[1]}"
    finally:
        server.terminate()
        server.wait(timeout=30)


def test_bundle_holds_hashed_files_and_the_policy(bundle: Path, tmp_path: Path) -> None:
    index = (bundle / "index.html").read_text()
    embed = (bundle / "embed" / "index.html").read_text()
    for page in (index, embed):
        head = page[: page.index("<script")]
        assert '<meta http-equiv="Content-Security-Policy"' in head  # before every script, or it would not apply
        policy = re.search(r'http-equiv="Content-Security-Policy" content="([^"]*)"', page)[1]
        assert "default-src 'self'" in policy and "connect-src 'self'" in policy
        assert "frame-ancestors" not in policy  # a meta tag cannot carry it (browsers log an error)
        for url in SCRIPT_OR_LINK.findall(page):
            if url.startswith(("/assets/", "/vendor/", "/model/")):
                target = bundle / url.lstrip("/")
                assert target.is_file() or (url.endswith("/") and target.is_dir()), url
            assert not url.startswith("/static/"), url  # the server's ?v= URLs were all replaced
    # One content hash names the page's own files; module imports resolve inside that folder.
    (assets,) = (bundle / "assets").iterdir()
    assert re.fullmatch(r"[0-9a-f]{12}", assets.name)
    for module in assets.rglob("*.js"):
        for relative in (a or b for a, b in IMPORT.findall(module.read_text())):
            assert (module.parent / relative).resolve().is_file(), (module, relative)
    assert all(re.fullmatch(r".+@.+-[0-9a-f]{12}", folder.name) for folder in (bundle / "vendor").iterdir())
    assert (bundle / "static" / "js" / "embed.js").is_file()  # the stable URL other sites load
    headers = (bundle / "_headers").read_text()
    assert "frame-ancestors 'self';" in headers and "frame-ancestors 'self' *;" in headers
    assert "Access-Control-Allow-Origin: *" in headers and "immutable" in headers
    nginx = (bundle / "nginx.conf").read_text()
    assert "add_header Content-Security-Policy" in nginx and "return 405" in nginx
    # Same inputs, same names: a rebuild replaces the earlier bundle with identical files.
    again = tmp_path / "again"
    assert build_bundle(again).returncode == 0
    listing = sorted(p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file())
    assert listing == sorted(p.relative_to(again).as_posix() for p in again.rglob("*") if p.is_file())
    assert build_bundle(again, "--embed-origin", "https://partner.example").returncode == 0
    assert "frame-ancestors 'self' https://partner.example;" in (again / "_headers").read_text()
    not_a_bundle = tmp_path / "photos"
    not_a_bundle.mkdir()
    (not_a_bundle / "keep.jpg").write_bytes(b"mine")
    refused = build_bundle(not_a_bundle)
    assert refused.returncode == 2 and "is not an earlier bundle" in refused.stderr
    assert (not_a_bundle / "keep.jpg").read_bytes() == b"mine"


def test_static_page_classifies_the_astronaut_with_no_other_server(browser, static_server, pictures, metadata):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    requests, problems = [], []
    page.on("request", lambda request: requests.append(request.url))
    page.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    page.goto(static_server + "/")
    assert wait_until_loaded(page) == "ready"
    result = analyse_photo(page, pictures / "astronaut.png")
    assert len(result["faces"]) == 1
    face = result["faces"][0]
    assert [entry["label"] for entry in face["probabilities"]] == metadata["labels"]
    assert face["top"]["label"] == "happy"
    foreign = [url for url in requests if not url.startswith((static_server + "/", "blob:", "data:"))]
    assert not foreign, foreign
    assert any("/model/" in url for url in requests) and any("/vendor/" in url for url in requests)
    assert not [text for text in problems if "Content Security Policy" in text or "Trusted Type" in text], problems
    context.close()


def test_static_page_runs_the_camera(launch_browser, static_server, tmp_path):
    video = write_y4m(astronaut_video_frames(), tmp_path / "astronaut.y4m")
    page = launch_browser(tuple(fake_camera_args(video))).new_page()
    start_camera(page, static_server + "/")
    wait_for(page, "window.emotionDetector.results >= 3 && window.emotionDetector.lastResult.faces.length >= 1", 90)
    assert page.evaluate("window.emotionDetector.lastResult.width") == 640
    page.close()


def test_other_site_embeds_the_static_widget(browser, static_server, pictures, metadata):
    from tests.test_page_embed import embed_and_analyse, partner_app

    with serve(partner_app(static_server)) as partner:
        page, _ = embed_and_analyse(browser, partner, pictures / "astronaut.png")
        faces = page.evaluate("window.received[0].faces")
        assert len(faces) == 1
        assert [entry["label"] for entry in faces[0]["probabilities"]] == metadata["labels"]
        assert page.locator("emotion-detector iframe").get_attribute("src").startswith(static_server + "/embed?")
        page.close()
