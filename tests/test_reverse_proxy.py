"""deploy/nginx.conf, as the README's production section shows it, run on loopback with a self-signed certificate in
front of `python server.py --trusted-proxy 127.0.0.1`: HTTPS works, HSTS appears, and the app's headers pass through.

Skipped when nginx or openssl is not installed (apt-get install nginx-light openssl).
"""

from __future__ import annotations

import hashlib
import http.client
import shutil
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from bench.attack import HOST, free_port, get, production_server, weights_path
from tests.conftest import REPO

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
pytestmark = pytest.mark.skipif(not NGINX or not shutil.which("openssl"),
                                reason="nginx and openssl are needed (apt-get install nginx-light openssl)")


def site_config(folder: Path, app_port: int, http_port: int, https_port: int) -> str:
    """deploy/nginx.conf with loopback ports, the test certificate and no IPv6 listeners, and nothing else changed."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    lines = [line for line in text.splitlines() if "[::]" not in line]
    text = "\n".join(lines)
    for old, new in [("127.0.0.1:8000", f"127.0.0.1:{app_port}"), ("listen 80;", f"listen {HOST}:{http_port};"),
                     ("listen 443 ssl", f"listen {HOST}:{https_port} ssl"), ("emotion.example.org", "localhost"),
                     ("/etc/letsencrypt/live/localhost/fullchain.pem", str(folder / "cert.pem")),
                     ("/etc/letsencrypt/live/localhost/privkey.pem", str(folder / "key.pem"))]:
        assert old in text, f"deploy/nginx.conf no longer contains {old!r}"
        text = text.replace(old, new)
    return text


@pytest.fixture(scope="module")
def proxied(tmp_path_factory):
    folder = tmp_path_factory.mktemp("nginx")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=DNS:localhost", "-keyout", str(folder / "key.pem"),
                    "-out", str(folder / "cert.pem")], check=True, capture_output=True, timeout=60)
    http_port, https_port = free_port(), free_port()
    with production_server("--trusted-proxy", "127.0.0.1") as app_server:
        (folder / "site.conf").write_text(site_config(folder, app_server.port, http_port, https_port))
        temp = folder / "temp"
        temp.mkdir()
        (folder / "nginx.conf").write_text(f"""
worker_processes 1;
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections 256; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    include {folder}/site.conf;
}}
""")
        nginx = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    get(https_port, "/", timeout_s=1)  # plain HTTP to the TLS port: nginx answers 400
                    break
                except OSError:
                    if nginx.poll() is not None or time.monotonic() > deadline:
                        pytest.fail(f"nginx did not start: {nginx.stdout.read().decode()[-2000:]}")
                    time.sleep(0.2)
            context = ssl.create_default_context(cafile=str(folder / "cert.pem"))
            yield {"https": https_port, "http": http_port, "context": context, "app": app_server}
        finally:
            nginx.terminate()
            nginx.wait(timeout=15)


def fetch(proxied, path: str, method: str = "GET", headers: dict | None = None) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPSConnection("localhost", proxied["https"], context=proxied["context"], timeout=10)
    try:
        connection.request(method, path, headers=headers or {})
        response = connection.getresponse()
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_https_through_nginx_has_hsts_coop_and_trusted_types(proxied):
    status, headers, body = fetch(proxied, "/")
    assert status == 200 and b"data-model-url" in body
    assert headers["strict-transport-security"] == "max-age=63072000"
    assert headers["cross-origin-opener-policy"] == "same-origin"
    assert "require-trusted-types-for 'script'" in headers["content-security-policy"]
    assert headers["x-content-type-options"] == "nosniff"
    assert "waitress" not in str(headers).lower()


def test_weights_pass_through_intact_with_ranges(proxied):
    weights = weights_path(proxied["app"].port)
    status, headers, body = fetch(proxied, weights)
    direct = get(proxied["app"].port, weights).body
    assert status == 200 and hashlib.sha256(body).digest() == hashlib.sha256(direct).digest()
    status, headers, part = fetch(proxied, weights, headers={"Range": "bytes=10-19"})
    assert status == 206 and part == direct[10:20]


def test_plain_http_redirects_to_the_configured_name_not_the_host_header(proxied):
    reply = get(proxied["http"], "/embed", headers={"Host": "evil.example"})
    assert reply.status == 301 and reply.headers["location"] == "https://localhost/embed"


def test_uploads_are_refused(proxied):
    status, _, _ = fetch(proxied, "/", method="POST", headers={"Content-Type": "image/png"})
    assert status == 405
    status, _, _ = fetch(proxied, "/", method="POST", headers={"Content-Length": str(1 << 20)})
    assert status in (405, 413)
