"""Issue 9, server side: security headers on every route, HSTS only over HTTPS, files held in memory, and the Low
items of the audit (500s on odd names, symlinked static/, Host reflection, gzip;q=0, 412 bodies, Range)."""

from __future__ import annotations

import errno
import gzip
import logging
import re
import shutil
import socket
import struct
import subprocess
import sys

import pytest

from bench.attack import HOST, get, pipelined_requests, production_server, request, weights_path
from server import create_app
from tests.conftest import MODEL_DIR, REPO
from webapp.production import _QueueWarningsPerInterval, create_server


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


@pytest.fixture(scope="module")
def urls(client) -> dict[str, str]:
    """One URL per route of the app, as the page names them, plus an error or two."""
    html = client.get("/").get_data(as_text=True)
    model_url = html.split('data-model-url="', 1)[1].split('"', 1)[0]
    vendor = re.search(r'="/vendor/([^"/]+/[^"]+\.js)"', html)[1]  # TF.js, named in a data attribute
    static = html.split('src="/static/', 1)[1].split('"', 1)[0]
    return {
        "index": "/",
        "embed": "/embed?origin=https://partner.example",
        "model_file": "/model/metadata.json",
        "versioned_model_file": model_url + "metadata.json",
        "vendor_file": "/vendor/" + vendor,
        "static_file": "/static/" + static,
        "embed script": "/static/js/embed.js",
        "not found": "/no/such/page",
    }


def weights_url(client) -> str:
    html = client.get("/").get_data(as_text=True)
    model_url = html.split('data-model-url="', 1)[1].split('"', 1)[0]
    topology = client.get(model_url + "metadata.json").get_json()["model"]["path"]
    return model_url + client.get(model_url + topology).get_json()["weightsManifest"][0]["paths"][0]


def csp_of(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


def test_the_header_tests_cover_every_route(app, urls):
    endpoints = {rule.endpoint for rule in app.url_map.iter_rules()}
    assert endpoints <= set(urls), f"add a URL for {endpoints - set(urls)} to the urls fixture"


@pytest.mark.parametrize("scheme", ["http", "https"])
@pytest.mark.parametrize("route", ["index", "embed", "model_file", "versioned_model_file", "vendor_file",
                                   "static_file", "embed script", "not found", "refused write"])
def test_security_headers_on_every_route(client, urls, route, scheme):
    base_url = f"{scheme}://localhost"
    if route == "refused write":
        response = client.post("/", data=b"image bytes", base_url=base_url)
        assert response.status_code == 405
    else:
        response = client.get(urls[route], base_url=base_url)
        assert response.status_code == (404 if route == "not found" else 200)
    csp = csp_of(response)
    assert csp["default-src"] == "'self'" and csp["connect-src"] == "'self'" and csp["form-action"] == "'none'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    document = route in ("index", "embed")
    if document:
        assert csp["require-trusted-types-for"] == "'script'"
        assert csp["trusted-types"] == "default"
        assert response.headers["Cross-Origin-Opener-Policy"] == "same-origin"
    elif response.mimetype != "text/html":  # scripts, JSON, wasm: Trusted Types govern DOM sinks only
        assert "require-trusted-types-for" not in csp and "Cross-Origin-Opener-Policy" not in response.headers
    if scheme == "https":
        assert response.headers["Strict-Transport-Security"] == "max-age=63072000"
    else:
        assert "Strict-Transport-Security" not in response.headers  # over plain HTTP it would be a lie


def test_production_server_sends_hsts_only_behind_a_trusted_proxy_that_says_https():
    forwarded = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    with production_server("--trusted-proxy", "127.0.0.1", "--access-log") as server:
        behind_proxy = get(server.port, "/", forwarded)
        plain = get(server.port, "/embed")
        log = server.log_text()
    assert behind_proxy.status == 200 and behind_proxy.headers["strict-transport-security"] == "max-age=63072000"
    assert "strict-transport-security" not in plain.headers
    assert "server" not in behind_proxy.headers  # no "Server: waitress"
    assert '203.0.113.9 - - [' in log and '"GET / HTTP/1.1" 200' in log  # access log, with the visitor's address
    assert '"GET /embed HTTP/1.1" 200' in log

    with production_server() as server:  # no trusted proxy: anyone could send X-Forwarded-Proto
        spoofed = get(server.port, "/", forwarded)
        log = server.log_text()
    assert spoofed.status == 200 and "strict-transport-security" not in spoofed.headers
    assert "GET / HTTP" not in log  # the access log is off unless asked for


def test_errors_waitress_answers_itself_carry_the_headers_and_are_logged():
    """400, 413 and 431 come from waitress' parser, before the app runs: they get the app's security headers and an
    access-log line all the same (webapp/production.py, _ErrorTask)."""
    bad_requests = {
        "400": b"GET /bad HTTP/1.1\r\nHost: x\r\nUser-Agent: broken-client\r\nNoColonHere\r\n\r\n",
        "400 (no Host)": b"GET /hostless HTTP/1.1\r\nConnection: close\r\n\r\n",
        "413": b"PUT /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n",
        # 32 kB of head and no end to it: all read by the time the limit is reached, so the answer is not lost to a
        # reset (which unread input causes).
        "431": b"GET /big HTTP/1.1\r\nHost: x\r\nX-Big: ".ljust(32 * 1024, b"y"),
    }
    with production_server("--access-log") as server:
        replies = {name: request(server.port, raw) for name, raw in bad_requests.items()}
        log = server.log_text()
    for name, reply in replies.items():
        assert reply.status == int(name[:3]), (name, reply.status)
        assert reply.headers["connection"] == "close"
        assert "default-src 'self'" in reply.headers["content-security-policy"], name
        assert reply.headers["x-content-type-options"] == "nosniff"
        assert reply.headers["referrer-policy"] == "no-referrer"
        assert "server" not in reply.headers
    assert '"- - -" 400' in log and '"broken-client"' in log  # an unparsed head: only what was read of it
    assert '"GET /hostless HTTP/1.1" 400' in log
    assert '"PUT /upload HTTP/1.1" 413' in log
    assert log.count('"- - -" 431') == 1
    assert "Traceback" not in log


def test_clients_hanging_up_mid_response_leave_no_traceback():
    """Closed tabs and cancelled downloads, every way: a FIN or a reset, in the middle of the weights, of a range,
    of pipelined requests. The log stays free of tracebacks (waitress 3.0.2 can print them twice, see below)."""
    with production_server("--access-log") as server:
        weights = weights_path(server.port)
        for raw in (pipelined_requests(weights, 1), pipelined_requests(weights, 4, "Range: bytes=1-"),
                    pipelined_requests("/", 8)):
            for reset in (False, True):
                with socket.create_connection((HOST, server.port)) as client:
                    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
                    client.sendall(raw)
                    assert client.recv(100)[:12] in (b"HTTP/1.1 200", b"HTTP/1.1 206")
                    if reset:
                        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        assert get(server.port, "/").status == 200 and server.alive()
        log = server.log_text()
    assert "Traceback" not in log and " 200 " in log


def test_hang_up_records_lose_their_traceback_and_other_errors_keep_theirs(app):
    """The workaround create_server() installs on the "waitress" logger, fed what waitress logs on a hang-up."""
    create_server(app, HOST, 0).close()
    logger = logging.getLogger("waitress")
    lines: list[str] = []
    handler = logging.Handler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    handler.emit = lambda record: lines.append(handler.format(record))
    logger.addHandler(handler)
    try:
        for error in (ConnectionResetError(errno.ECONNRESET, "Connection reset by peer"),
                      OSError(errno.EPIPE, "Broken pipe"), ValueError("a real bug")):
            try:
                raise error
            except OSError:
                logger.exception("Socket error")
            except ValueError:
                logger.exception("Exception while serving /%s", "x")
    finally:
        logger.removeHandler(handler)
    reset, pipe, bug = lines
    assert reset == "Socket error (the client hung up: ConnectionResetError)"
    assert pipe == "Socket error (the client hung up: BrokenPipeError)"
    assert bug.startswith("Exception while serving /x\nTraceback") and "ValueError: a real bug" in bug


def test_files_are_served_from_memory(tmp_path):
    """Once the app is made, requests touch no files: deleting them changes nothing."""
    model_copy, static_copy = tmp_path / "model", tmp_path / "static"
    shutil.copytree(MODEL_DIR, model_copy)
    shutil.copytree(REPO / "static", static_copy)
    client = create_app(model_dir=model_copy, static_dir=static_copy).test_client()
    expected = (MODEL_DIR / "metadata.json").read_bytes()
    shutil.rmtree(model_copy)
    shutil.rmtree(static_copy)
    assert client.get("/model/metadata.json").get_data() == expected
    assert client.get("/static/js/app.js").get_data() == (REPO / "static/js/app.js").read_bytes()
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("path", ["/static/js/app%00.js", "/static/%00", "/static/" + "a" * 100_000,
                                  "/static/" + "é" * 5_000, "/model/%00", "/vendor/tfjs@4.22.0/%00"])
def test_odd_names_are_404_not_500(client, path, caplog):
    with caplog.at_level(logging.ERROR):
        assert client.get(path).status_code == 404
    assert not caplog.records  # no traceback logged


def test_a_symlinked_static_folder_is_served(tmp_path):
    (tmp_path / "static").symlink_to(REPO / "static", target_is_directory=True)
    client = create_app(model_dir=MODEL_DIR, static_dir=tmp_path / "static").test_client()
    response = client.get("/static/js/app.js")
    assert response.status_code == 200 and response.get_data() == (REPO / "static/js/app.js").read_bytes()


def test_a_link_out_of_the_static_folder_is_not_served(tmp_path):
    static = tmp_path / "static"
    shutil.copytree(REPO / "static", static)
    (static / "secret.py").symlink_to(REPO / "server.py")
    assert create_app(model_dir=MODEL_DIR, static_dir=static).test_client().get("/static/secret.py").status_code == 404


@pytest.mark.parametrize("path", ["//static/js/app.js", "/static//js/app.js", "//embed", "//", "/model//metadata.json",
                                  "http://evil.example"])
def test_the_host_header_is_never_reflected(client, path):
    response = client.get(path, headers={"Host": "evil.example"})
    assert response.status_code in (200, 308, 404)
    assert "evil.example" not in str(response.headers)
    if response.status_code == 308:  # an empty path is sent to /, by a path-only Location
        assert response.headers["Location"] == "/"


@pytest.mark.parametrize("accept_encoding, gzipped", [
    ("gzip", True), ("gzip;q=0.5, br", True), ("*", True), ("GZIP", True),
    ("gzip;q=0", False), ("*, gzip;q=0", False), ("gzip;q=0, *;q=1", False), ("identity", False), ("br", False),
])
def test_gzip_only_when_accepted(client, accept_encoding, gzipped):
    response = client.get("/static/js/app.js", headers={"Accept-Encoding": accept_encoding})
    assert (response.headers.get("Content-Encoding") == "gzip") is gzipped
    body = gzip.decompress(response.get_data()) if gzipped else response.get_data()
    assert body == (REPO / "static/js/app.js").read_bytes()


def test_failed_if_match_is_412_without_a_body(client):
    weights = weights_url(client)
    etag = client.get(weights).headers["ETag"]
    failed = client.get(weights, headers={"If-Match": '"something-else"'})
    assert failed.status_code == 412 and failed.get_data() == b"" and failed.headers["Content-Length"] == "0"
    assert client.get(weights, headers={"If-Match": etag}).status_code == 200
    assert client.get(weights, headers={"If-Match": "*"}).status_code == 200


def test_range_requests_on_the_weights(client):
    weights = weights_url(client)
    whole = client.get(weights)
    assert whole.headers["Accept-Ranges"] == "bytes"
    body, etag, size = whole.get_data(), whole.headers["ETag"], len(whole.get_data())

    part = client.get(weights, headers={"Range": "bytes=100-1099"})
    assert part.status_code == 206 and part.get_data() == body[100:1100]
    assert part.headers["Content-Range"] == f"bytes 100-1099/{size}" and part.headers["Content-Length"] == "1000"
    tail = client.get(weights, headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.get_data() == body[-10:]
    beyond = client.get(weights, headers={"Range": f"bytes={size}-"})
    assert beyond.status_code == 416 and beyond.get_data() == b""
    assert beyond.headers["Content-Range"] == f"bytes */{size}"
    # If-Range: the range only if the file is still the one the client has; otherwise the whole, new file.
    assert client.get(weights, headers={"Range": "bytes=0-9", "If-Range": etag}).status_code == 206
    assert client.get(weights, headers={"Range": "bytes=0-9", "If-Range": '"old"'}).get_data() == body
    # Several ranges would need multipart/byteranges: the whole file is an allowed answer.
    assert client.get(weights, headers={"Range": "bytes=0-1,5-6"}).get_data() == body
    assert client.head(weights, headers={"Range": "bytes=0-9"}).headers["Content-Length"] == "10"


def test_a_range_of_a_compressible_file_counts_uncompressed_bytes(client):
    script = (REPO / "static/js/app.js").read_bytes()
    part = client.get("/static/js/app.js", headers={"Range": "bytes=0-99", "Accept-Encoding": "gzip"})
    assert part.status_code == 206 and part.get_data() == script[:100] and "Content-Encoding" not in part.headers


def test_not_modified_keeps_caching_headers_and_no_body(client):
    response = client.get("/static/js/app.js")
    again = client.get("/static/js/app.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    assert again.headers["ETag"] == response.headers["ETag"] and again.headers["Cache-Control"] == "no-cache"


def test_typescript_declarations_are_text_and_cross_origin(tmp_path):
    static = tmp_path / "static"
    shutil.copytree(REPO / "static", static)
    (static / "js" / "embed.d.ts").write_text("export {};\n")
    response = create_app(model_dir=MODEL_DIR, static_dir=static).test_client().get("/static/js/embed.d.ts")
    assert response.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert response.headers["Access-Control-Allow-Origin"] == "*"


def test_queue_depth_warnings_are_summarised_once_per_interval():
    logger = logging.getLogger("test.waitress.queue")
    logger.propagate = False
    records: list[logging.LogRecord] = []
    handler = logging.Handler()
    handler.emit = records.append
    logger.addHandler(handler)
    logger.addFilter(_QueueWarningsPerInterval(interval_s=3600))
    for depth in range(1, 1001):
        logger.warning("Task queue depth is %d", depth)
    assert len(records) == 1
    assert records[0].getMessage() == "Task queue depth reached 1 (0 more such warnings in the last 3600 s)"


def test_server_help_lists_the_production_options():
    completed = subprocess.run([sys.executable, str(REPO / "server.py"), "--help"], capture_output=True, text=True,
                               timeout=60, cwd=REPO)
    assert completed.returncode == 0
    for option in ("--trusted-proxy", "--access-log", "--threads", "--embed-origin"):
        assert option in completed.stdout
