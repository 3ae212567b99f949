"""The Flask app without a browser: headers, caching, allow-list, refusing uploads, and setup errors."""

from __future__ import annotations

import gzip
import json
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from server import create_app
from tests.conftest import MODEL_DIR, REPO
from webapp.errors import SetupError
from webapp.vendor_files import PACKAGES, VendorFiles


@pytest.fixture(scope="module")
def client(app):
    return app.test_client()


def model_prefix(client) -> str:
    html = client.get("/").get_data(as_text=True)
    return html.split('data-model-url="', 1)[1].split('"', 1)[0]


def test_page_has_csp_that_keeps_data_on_this_origin(client):
    response = client.get("/")
    assert response.status_code == 200
    csp = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert csp["default-src"] == "'self'"
    assert csp["connect-src"] == "'self'"
    assert csp["img-src"] == "'self' blob: data:"
    assert csp["form-action"] == "'none'"
    assert "'wasm-unsafe-eval'" in csp["script-src"] and "'unsafe-inline'" not in csp["script-src"]
    assert csp["frame-ancestors"] == "'self'"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "no-referrer"


def test_embed_page_may_be_framed_by_configured_origins(tmp_path):
    app = create_app(model_dir=MODEL_DIR, embed_origins=["https://partner.example"])
    client = app.test_client()
    embed_csp = client.get("/embed").headers["Content-Security-Policy"]
    assert "frame-ancestors 'self' https://partner.example" in embed_csp
    assert "frame-ancestors 'self'" in client.get("/").headers["Content-Security-Policy"]
    assert 'data-embed="true"' in client.get("/embed").get_data(as_text=True)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE", "OPTIONS"])
@pytest.mark.parametrize("path", ["/", "/embed", "/upload", "/model/metadata.json"])
def test_nothing_accepts_data(client, method, path):
    response = client.open(path, method=method, data=b"\x89PNG fake image bytes")
    assert response.status_code == 405
    assert response.headers["Allow"] == "GET, HEAD"


def test_model_files_have_content_etags_and_versioned_urls_cache_for_good(client, metadata):
    prefix = model_prefix(client)
    response = client.get(prefix + "metadata.json")
    assert response.status_code == 200
    assert "immutable" in response.headers["Cache-Control"] and "max-age=31536000" in response.headers["Cache-Control"]
    assert json.loads(response.get_data()) == metadata
    etag = response.headers["ETag"]
    assert client.get(prefix + "metadata.json", headers={"If-None-Match": etag}).status_code == 304
    unversioned = client.get("/model/metadata.json")
    assert unversioned.headers["Cache-Control"] == "no-cache" and unversioned.headers["ETag"] == etag
    weights = json.loads(client.get(prefix + metadata["model"]["path"]).get_data())["weightsManifest"][0]["paths"]
    assert client.get(prefix + weights[0]).status_code == 200
    assert client.get("/model/0000000000000000/metadata.json").status_code == 404  # stale version


def test_compresses_text_and_wasm_but_not_where_it_does_not_pay(client):
    script = client.get(vendor_url(client, "tfjs", "tf.es2017.min.js"), headers={"Accept-Encoding": "gzip"})
    assert script.headers["Content-Encoding"] == "gzip"
    assert script.headers["Vary"] == "Accept-Encoding"
    assert script.headers["Content-Type"].startswith("text/javascript")
    plain = client.get(vendor_url(client, "tfjs", "tf.es2017.min.js"))
    assert gzip.decompress(script.get_data()) == plain.get_data()
    assert "Content-Encoding" not in plain.headers
    assert script.headers["ETag"] != plain.headers["ETag"]
    wasm = client.get(vendor_url(client, "tfjs-backend-wasm", "tfjs-backend-wasm-simd.wasm"),
                      headers={"Accept-Encoding": "gzip, br"})
    assert wasm.headers["Content-Type"] == "application/wasm" and wasm.headers["Content-Encoding"] == "gzip"
    assert "immutable" in wasm.headers["Cache-Control"]


def vendor_url(client, alias: str, name: str) -> str:
    return VendorFiles(REPO / "node_modules").prefix(alias) + name


@pytest.mark.parametrize("path", [
    "/node_modules/@tensorflow/tfjs/package.json",
    "/vendor/tfjs@4.22.0/tf.node.js",  # in the package, not on the allow-list
    "/vendor/tfjs@4.22.0/../package.json",
    "/vendor/tfjs@0.0.1/tf.es2017.min.js",  # wrong version
    "/vendor/left-pad@1.0.0/index.js",
    "/model/../server.py",
    "/static/../server.py",
    "/converted_model/metadata.json",
    "/training/train.py",
])
def test_only_allow_listed_files_are_served(client, path):
    assert client.get(path).status_code == 404


def test_every_allow_listed_vendor_file_is_served(client):
    for alias, package in PACKAGES.items():
        for name in package.files:
            assert client.head(vendor_url(client, alias, name)).status_code == 200, (alias, name)


def test_only_the_embed_script_is_open_to_other_origins(client):
    embed_script = client.get("/static/js/embed.js")
    assert embed_script.headers["Access-Control-Allow-Origin"] == "*"
    assert embed_script.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    for path in ["/", "/embed", "/static/js/app.js", "/model/metadata.json"]:
        response = client.get(path, headers={"Origin": "https://elsewhere.example"})
        assert "Access-Control-Allow-Origin" not in response.headers, path
        assert response.headers["Cross-Origin-Resource-Policy"] == "same-origin", path


def test_missing_model_files_are_named(tmp_path):
    with pytest.raises(SetupError, match="does not exist"):
        create_app(model_dir=tmp_path / "nowhere")
    shutil.copy(MODEL_DIR / "metadata.json", tmp_path / "metadata.json")
    with pytest.raises(SetupError, match=r"missing .*model\.json"):
        create_app(model_dir=tmp_path)


def test_missing_npm_dependencies_say_run_npm_ci(tmp_path):
    with pytest.raises(SetupError, match="npm ci"):
        create_app(model_dir=MODEL_DIR, node_modules=tmp_path / "node_modules")


def run_server(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(REPO / "server.py"), *args], capture_output=True, text=True,
                          timeout=60, cwd=REPO, **kwargs)


def test_command_line_reports_port_in_use():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        completed = run_server("--host", "127.0.0.1", "--port", str(port))
    assert completed.returncode == 2
    assert f"port {port} on 127.0.0.1 is already in use" in completed.stderr
    assert "Traceback" not in completed.stderr


def test_command_line_reports_missing_model(tmp_path):
    completed = run_server("--model-dir", str(tmp_path / "nowhere"))
    assert completed.returncode == 2 and "does not exist" in completed.stderr and "Traceback" not in completed.stderr


def test_refuses_old_python():
    pretend_old = ("import sys, runpy; sys.version_info = (3, 8, 10, 'final', 0); "
                   f"runpy.run_path({str(REPO / 'server.py')!r}, run_name='__main__')")
    completed = subprocess.run([sys.executable, "-c", pretend_old], capture_output=True, text=True, timeout=60)
    assert completed.returncode == 1
    assert "needs Python 3.10 or newer" in completed.stderr


def test_stock_waitress_still_runs_the_app_factory_for_comparisons(tmp_path):
    """bench/attack.py --stock and bench/load.py --stock compare `python server.py` with the same app under waitress'
    stock settings (waitress-serve --call server:create_app). That is not a supported way to serve it (it lacks the
    hardening, see webapp/production.py), but the comparison must keep working."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    waitress_serve = Path(sys.executable).with_name("waitress-serve")
    process = subprocess.Popen([str(waitress_serve), f"--listen=127.0.0.1:{port}", "--call", "server:create_app"],
                               cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        import time
        import urllib.request

        for _ in range(100):
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/") as response:
                    assert response.status == 200
                    assert response.headers["Server"] == "waitress"
                    assert "Content-Security-Policy" in response.headers
                    break
            except OSError:
                time.sleep(0.1)
        else:
            pytest.fail("waitress-serve did not answer")
    finally:
        process.terminate()
        process.wait(timeout=10)
