"""deploy/nginx.conf, as the README's production section shows it, run on loopback with a self-signed certificate in
front of `python server.py --trusted-proxy 127.0.0.1`: HTTPS works, HSTS appears, and the app's headers pass through.

Skipped when nginx or openssl is not installed (apt-get install nginx-light openssl).
"""

from __future__ import annotations

import hashlib
import http.client
import time

import pytest

from bench.attack import (
    ACCEPTANCE_SUCCESS_RATE,
    OTHER_LOOPBACK,
    WHOLE_BUT_ONE_BYTE,
    Prober,
    get,
    pipelined_requests,
    production_server,
    raise_descriptor_limit,
    tls_pipeliners,
    weights_path,
)
from bench.proxy import available as proxy_available
from bench.proxy import nginx_proxy

pytestmark = pytest.mark.skipif(not proxy_available(),
                                reason="nginx and openssl are needed (apt-get install nginx-light openssl)")


@pytest.fixture(scope="module")
def proxied():
    with production_server("--trusted-proxy", "127.0.0.1") as app_server, nginx_proxy(app_server.port) as proxy:
        yield {"https": proxy.https, "http": proxy.http, "context": proxy.context, "app": app_server, "proxy": proxy}


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


def test_range_pipeliners_that_never_read_leave_the_proxied_server_up(proxied):
    """The attack of tests/test_server_attack.py against the other documented way to run the server: 90 HTTPS
    clients x 16 pipelined `Range: bytes=1-` weight requests, never read. They come from another loopback address,
    so the per-address limit (32 connections) holds them back without holding back the probes."""
    raise_descriptor_limit(1024)
    https, context = proxied["https"], proxied["context"]
    weights = weights_path(https, context)
    attackers = tls_pipeliners(https, context, 90, pipelined_requests(weights, 16, WHOLE_BUT_ONE_BYTE),
                               source=OTHER_LOOPBACK)
    try:
        prober = Prober(https, ["/", weights], tls=context)
        prober.start()
        time.sleep(15)
        results = prober.stop()
    finally:
        for connection in attackers:
            connection.close()
    assert len(attackers) == 90
    assert proxied["app"].alive() and proxied["proxy"].alive()
    assert results.success_rate >= ACCEPTANCE_SUCCESS_RATE, f"{results.summary()}; {results.failures[:5]}"
    assert "Traceback" not in proxied["app"].log_text()
