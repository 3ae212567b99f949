"""The static bundle under real web servers, configured only with the bundle's own snippet: nginx (`root` + `include
nginx.conf`) and Caddy (`root` + `import caddy.conf`) on 127.0.0.1. Every file of the bundle comes back with its
content type and the Flask server's security headers (the pages at `/` and `/embed` included), the header files are
404, and in Chromium the page loads and classifies the astronaut.

Skipped, saying so, when nginx or Caddy is not installed (apt-get install nginx-light caddy; scripts/setup.sh does it
when run as root).
"""

from __future__ import annotations

import http.client
import os
import pwd
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bench.attack import HOST, free_port
from tests.browser import analyse_photo, wait_until_loaded
from tests.test_bundle import build_bundle

SERVERS = {"nginx": shutil.which("nginx") or next((path for path in ["/usr/sbin/nginx"] if Path(path).exists()), None),
           "caddy": shutil.which("caddy")}
# What a browser must be told each file is. With `X-Content-Type-Options: nosniff` a wrong type is fatal: a page sent
# as text/plain shows its source, a script as anything but JavaScript does not run.
EXPECTED_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".wasm": "application/wasm",
    ".bin": "application/octet-stream",
    ".ts": "text/plain; charset=utf-8",  # embed.d.ts: TypeScript declarations, not an MPEG transport stream
    ".binarypb": "application/octet-stream",
    ".tflite": "application/octet-stream",
}
SERVER_ONLY = ("_headers", "nginx.conf", "caddy.conf", ".emotion-detector-bundle")
PAGES = {"/": "index.html", "/index.html": "index.html", "/embed": "embed/index.html", "/embed/": "embed/index.html",
         "/embed/index.html": "embed/index.html"}


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Path:
    out_dir = tmp_path_factory.mktemp("hosted") / "site"
    completed = build_bundle(out_dir)
    assert completed.returncode == 0, completed.stderr
    return out_dir


@contextmanager
def running(command: list[str], port: int, environment: dict[str, str] | None = None,
            timeout_s: float = 20) -> Iterator[None]:
    """Runs a web server until the block ends, once it answers on `port`."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=environment)
    try:
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                fetch(f"http://{HOST}:{port}", "/", method="HEAD", timeout_s=1)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    process.kill()
                    pytest.fail(f"{command[0]} did not start: {process.communicate()[0].decode()[-3000:]}")
                time.sleep(0.2)
        yield
    finally:
        process.terminate()
        process.wait(timeout=15)


@contextmanager
def nginx_serving(bundle: Path, folder: Path) -> Iterator[str]:
    """nginx with a bare http {} (no mime.types: the snippet must bring its own) and the README's server {}."""
    port = free_port()
    temp = folder / "temp"
    temp.mkdir()
    # Workers as this user: pytest's temporary folders are private (run as root, nginx would otherwise use nobody).
    (folder / "main.conf").write_text(f"""
user {pwd.getpwuid(os.getuid()).pw_name};
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    server {{
        listen {HOST}:{port};
        root {bundle};
        include {bundle}/nginx.conf;
    }}
}}
""")
    with running([SERVERS["nginx"], "-p", str(folder), "-c", str(folder / "main.conf"), "-g", "daemon off;"], port):
        yield f"http://{HOST}:{port}"


@contextmanager
def caddy_serving(bundle: Path, folder: Path) -> Iterator[str]:
    """Caddy with plain HTTP on loopback and the README's site block; nothing written outside `folder`."""
    port = free_port()
    (folder / "Caddyfile").write_text(f"""{{
    admin off
    auto_https off
}}
http://{HOST}:{port} {{
    root * {bundle}
    import {bundle}/caddy.conf
}}
""")
    environment = {**os.environ, "HOME": str(folder), "XDG_DATA_HOME": str(folder / "data"),
                   "XDG_CONFIG_HOME": str(folder / "config")}
    with running([SERVERS["caddy"], "run", "--config", str(folder / "Caddyfile"), "--adapter", "caddyfile"], port,
                 environment):
        yield f"http://{HOST}:{port}"


@pytest.fixture(scope="module", params=sorted(SERVERS))
def host(request, bundle: Path, tmp_path_factory) -> Iterator[str]:
    name = request.param
    if not SERVERS[name]:
        pytest.skip(f"{name} is not installed (apt-get install {'nginx-light' if name == 'nginx' else name})")
    serving = nginx_serving if name == "nginx" else caddy_serving
    with serving(bundle, tmp_path_factory.mktemp(name)) as url:
        yield url


def fetch(url: str, path: str, method: str = "GET", timeout_s: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One request with no Accept-Encoding, so the body is the file's own bytes."""
    connection = http.client.HTTPConnection(url.removeprefix("http://"), timeout=timeout_s)
    try:
        connection.request(method, path)
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def check_page_headers(path: str, headers: dict[str, str]) -> None:
    policy = headers.get("content-security-policy", "")
    assert "default-src 'self'" in policy and "require-trusted-types-for 'script'" in policy, (path, headers)
    ancestors = "frame-ancestors 'self' *" if path.startswith("/embed") else "frame-ancestors 'self';"
    assert ancestors in policy, (path, policy)
    assert headers.get("cross-origin-opener-policy") == "same-origin", (path, headers)
    assert headers.get("permissions-policy", "").startswith("camera=(self)"), (path, headers)
    assert headers.get("cache-control") == "no-cache", (path, headers)


def test_every_file_has_its_type_and_the_servers_headers(host: str, bundle: Path) -> None:
    files = sorted(path.relative_to(bundle).as_posix() for path in bundle.rglob("*") if path.is_file())
    assert {Path(name).suffix for name in files if name not in SERVER_ONLY} <= set(EXPECTED_TYPES)
    for name in SERVER_ONLY:
        assert name in files
        status, headers, body = fetch(host, "/" + name)
        assert status == 404, (name, status)  # the header files are for the web server, not for visitors
        assert (bundle / name).read_bytes()[:40] not in body
        assert headers.get("x-content-type-options") == "nosniff"
    for path, name in PAGES.items():
        status, headers, body = fetch(host, path)
        assert status == 200 and body == (bundle / name).read_bytes(), (path, status)
        assert headers.get("content-type") == EXPECTED_TYPES[".html"], (path, headers)
        assert headers.get("x-content-type-options") == "nosniff" and headers.get("referrer-policy") == "no-referrer"
        check_page_headers(path, headers)
    for name in files:
        if name in SERVER_ONLY or name.endswith("index.html"):
            continue
        status, headers, body = fetch(host, "/" + name)
        assert status == 200 and body == (bundle / name).read_bytes(), (name, status)
        assert headers.get("content-type") == EXPECTED_TYPES[Path(name).suffix], (name, headers)
        assert headers.get("x-content-type-options") == "nosniff", (name, headers)
        assert headers.get("referrer-policy") == "no-referrer", (name, headers)
        assert "default-src 'self'" in headers.get("content-security-policy", ""), (name, headers)
        if name.startswith("static/"):  # embed.js and its types, loaded by other sites
            assert headers.get("access-control-allow-origin") == "*", (name, headers)
            assert headers.get("cross-origin-resource-policy") == "cross-origin", (name, headers)
            assert headers.get("cache-control") == "no-cache", (name, headers)
        else:
            assert headers.get("cross-origin-resource-policy") == "same-origin", (name, headers)
            assert headers.get("cache-control") == "public, max-age=31536000, immutable", (name, headers)


def test_other_urls_are_404_and_writes_are_refused(host: str) -> None:
    for path in ("/nope", "/assets/", "/model/", "/vendor/", "/static/", "/embed/nope", "/index.htm"):
        status, headers, _ = fetch(host, path)
        assert status == 404, (path, status)
    status, headers, _ = fetch(host, "/model/0123456789ab/missing.bin")
    assert status == 404 and "immutable" not in headers.get("cache-control", "")  # not cached for a year
    assert fetch(host, "/", method="POST")[0] == 405
    assert fetch(host, "/model/x.bin", method="PUT")[0] == 405
    status, headers, body = fetch(host, "/", method="HEAD")
    assert status == 200 and body == b""
    check_page_headers("/", headers)


def test_page_classifies_the_astronaut_and_every_response_is_typed(browser, host: str, pictures) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    responses = []
    context.on("response", lambda response: responses.append(response))
    page.goto(host + "/")
    assert wait_until_loaded(page) == "ready"  # scripts ran: the page was not shown as text
    result = analyse_photo(page, pictures / "astronaut.png")
    assert len(result["faces"]) == 1 and result["faces"][0]["top"]["label"] == "happy"
    checked = 0
    for response in responses:
        url = response.url
        if not url.startswith(host + "/"):
            assert url.startswith(("blob:", "data:")), url
            continue
        path = url.removeprefix(host).split("?")[0]
        headers = response.all_headers()
        assert response.status == 200, (path, response.status)
        suffix = ".html" if path in PAGES else Path(path).suffix
        assert headers.get("content-type") == EXPECTED_TYPES[suffix], (path, headers)
        assert headers.get("x-content-type-options") == "nosniff", (path, headers)
        if path in PAGES:
            check_page_headers(path, headers)
        checked += 1
    paths = [response.url.removeprefix(host) for response in responses]
    assert "/" in paths and any(path.startswith("/model/") for path in paths), paths
    assert any(path.endswith(".js") for path in paths) and checked >= 10, paths
    context.close()
