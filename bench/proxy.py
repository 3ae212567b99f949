"""deploy/nginx.conf, run on loopback with a self-signed certificate in front of the app: the documented production
setup, for tests/test_reverse_proxy.py and bench/attack.py --proxy. Needs nginx and openssl
(apt-get install nginx-light openssl)."""

from __future__ import annotations

import shutil
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.attack import HOST, free_port, get

REPO = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
# nginx's own limit on open connections per worker. Debian's stock /etc/nginx/nginx.conf says 768; deploy/nginx.conf
# recommends more (its header), and the proxy figures in docs/production.md are measured with this.
WORKER_CONNECTIONS = 4096


def available() -> bool:
    return bool(NGINX and shutil.which("openssl"))


@dataclass
class Proxy:
    https: int  # TLS port, in front of the app
    http: int  # plain port: redirects to HTTPS
    context: ssl.SSLContext  # trusts the test certificate
    process: subprocess.Popen

    def alive(self) -> bool:
        return self.process.poll() is None


def site_config(folder: Path, app_port: int, http_port: int, https_port: int) -> str:
    """deploy/nginx.conf with loopback ports, the test certificate and no IPv6 listeners, and nothing else changed."""
    text = (REPO / "deploy" / "nginx.conf").read_text()
    lines = [line for line in text.splitlines() if "[::]" not in line]
    text = "\n".join(lines)
    for old, new in [("127.0.0.1:8000", f"127.0.0.1:{app_port}"), ("listen 80;", f"listen {HOST}:{http_port};"),
                     ("listen 443 ssl", f"listen {HOST}:{https_port} ssl"), ("emotion.example.org", "localhost"),
                     ("/etc/letsencrypt/live/localhost/fullchain.pem", str(folder / "cert.pem")),
                     ("/etc/letsencrypt/live/localhost/privkey.pem", str(folder / "key.pem"))]:
        if old not in text:
            raise ValueError(f"deploy/nginx.conf no longer contains {old!r}")
        text = text.replace(old, new)
    return text


@contextmanager
def nginx_proxy(app_port: int, worker_connections: int = WORKER_CONNECTIONS) -> Iterator[Proxy]:
    """nginx with deploy/nginx.conf in front of the app on `app_port`, on free loopback ports; stopped on exit."""
    if not available():
        raise RuntimeError("nginx and openssl are needed (apt-get install nginx-light openssl)")
    with tempfile.TemporaryDirectory() as name:
        folder = Path(name)
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                        "/CN=localhost", "-addext", "subjectAltName=DNS:localhost", "-keyout", str(folder / "key.pem"),
                        "-out", str(folder / "cert.pem")], check=True, capture_output=True, timeout=60)
        http_port, https_port = free_port(), free_port()
        (folder / "site.conf").write_text(site_config(folder, app_port, http_port, https_port))
        temp = folder / "temp"
        temp.mkdir()
        (folder / "nginx.conf").write_text(f"""
worker_processes 1;
worker_rlimit_nofile {2 * worker_connections + 64};
error_log {folder}/error.log warn;
pid {folder}/nginx.pid;
events {{ worker_connections {worker_connections}; }}
http {{
    access_log off;
    client_body_temp_path {temp}/body; proxy_temp_path {temp}/proxy; fastcgi_temp_path {temp}/fastcgi;
    uwsgi_temp_path {temp}/uwsgi; scgi_temp_path {temp}/scgi;
    include {folder}/site.conf;
}}
""")
        process = subprocess.Popen([NGINX, "-p", str(folder), "-c", str(folder / "nginx.conf"), "-g", "daemon off;"],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 20
            while True:
                try:
                    get(https_port, "/", timeout_s=1)  # plain HTTP to the TLS port: nginx answers 400
                    break
                except OSError:
                    if process.poll() is not None or time.monotonic() > deadline:
                        raise RuntimeError(f"nginx did not start: {process.stdout.read().decode()[-2000:]}") from None
                    time.sleep(0.2)
            yield Proxy(https_port, http_port, ssl.create_default_context(cafile=str(folder / "cert.pem")), process)
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
