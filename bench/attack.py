"""Hostile clients against the production server on 127.0.0.1: slow, idle, non-reading and flooding clients, and
path, header and encoding fuzzing. Prints a table of what was tried and whether the server held.

    .venv/bin/python bench/attack.py                 # every attack, about 6 minutes; exit status 1 if one failed
    .venv/bin/python bench/attack.py --only ceiling  # one group: slow, pipeline, ranges, combined, flood, limit,
                                                     # ceiling (concurrent sockets survived), fuzz
    .venv/bin/python bench/attack.py --proxy         # the same through deploy/nginx.conf (needs nginx)

It starts `python server.py` (the production configuration) itself on a free loopback port and stops it at the end;
with --proxy also nginx in front (bench/proxy.py). Every attack is bounded in sockets and seconds and talks to
127.0.0.1 only (a few come from 127.0.0.2, another loopback address, to stand for a second visitor).
tests/test_server_attack.py runs the combined attack, the range attacks and the fuzzing in CI.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import re
import resource
import selectors
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
HOST = "127.0.0.1"
PROBE_TIMEOUT_S = 2.0


# ---------------------------------------------------------------------------------------------------------------
# The server under attack, and plain HTTP/1.1 over raw sockets (so malformed requests go out exactly as written)

@dataclass
class LiveServer:
    port: int
    process: subprocess.Popen
    log: Path  # the server's stdout and stderr

    def alive(self) -> bool:
        return self.process.poll() is None

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def descriptors(self) -> int:
        """Open file descriptors of the server process (Linux /proc): sockets, and any temporary files."""
        try:
            return len(os.listdir(f"/proc/{self.process.pid}/fd"))
        except OSError:
            return -1

    def rss_mb(self) -> float:
        """The server process's resident memory (Linux /proc), in MB; -1 once it has exited."""
        try:
            status = Path(f"/proc/{self.process.pid}/status").read_text()
        except OSError:
            return -1.0
        return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")) / 1024


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


@contextmanager
def production_server(*args: str, python: str = sys.executable, start_timeout_s: float = 60,
                      stock: bool = False) -> Iterator[LiveServer]:
    """`python server.py --host 127.0.0.1 --port <free> ARGS` in a subprocess, stopped on exit.

    stock: run the same app under waitress' stock settings instead (`waitress-serve --call server:create_app`,
    the production command before the hardened server), for comparison.
    """
    port = free_port()
    if stock:
        command = [str(Path(python).with_name("waitress-serve")), f"--listen={HOST}:{port}", "--call", *args,
                   "server:create_app"]
    else:
        command = [python, str(REPO / "server.py"), "--host", HOST, "--port", str(port), *args]
    with tempfile.TemporaryDirectory() as folder:
        log = Path(folder) / "server.log"
        with log.open("wb") as sink:
            process = subprocess.Popen(command, cwd=REPO, stdout=sink, stderr=subprocess.STDOUT)
        server = LiveServer(port, process, log)
        try:
            deadline = time.monotonic() + start_timeout_s
            while not _accepts(port):
                if not server.alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"server.py did not start:\n{server.log_text()[-3000:]}")
                time.sleep(0.1)
            yield server
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _accepts(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex((HOST, port)) == 0


@dataclass
class Reply:
    status: int
    headers: dict[str, str]  # lower-case names; a repeated header keeps its last value
    body: bytes
    raw_head: bytes


def request(port: int, raw: bytes, timeout_s: float = 5.0, tls: ssl.SSLContext | None = None) -> Reply:
    """Sends `raw` (a whole request, which should say Connection: close) and reads the reply until the server closes.

    tls: speak HTTPS (to the nginx proxy of bench/proxy.py), trusting this context's certificates for "localhost".
    Raises OSError (socket.timeout included) when the server does not answer in time.
    """
    with socket.create_connection((HOST, port), timeout=timeout_s) as plain, \
            (tls.wrap_socket(plain, server_hostname="localhost") if tls else plain) as connection:
        connection.sendall(raw)
        chunks = []
        deadline = time.monotonic() + timeout_s
        while True:
            connection.settimeout(max(0.01, deadline - time.monotonic()))
            chunk = connection.recv(1 << 16)
            if not chunk:
                break
            chunks.append(chunk)
    data = b"".join(chunks)
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    if not lines[0].startswith(b"HTTP/1."):
        raise OSError(f"not an HTTP response: {data[:80]!r}")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return Reply(int(lines[0].split()[1]), headers, body, head)


def get(port: int, path: str, headers: dict[str, str] | None = None, method: str = "GET",
        timeout_s: float = 5.0, tls: ssl.SSLContext | None = None) -> Reply:
    headers = {"Host": f"{HOST}:{port}", "Connection": "close", **(headers or {})}
    lines = [f"{method} {path} HTTP/1.1", *(f"{name}: {value}" for name, value in headers.items())]
    return request(port, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"), timeout_s, tls)


def weights_path(port: int, tls: ssl.SSLContext | None = None) -> str:
    """The versioned URL of the model's (first) weight shard, as the page would fetch it."""
    page = get(port, "/", tls=tls).body.decode()
    model_url = page.split('data-model-url="', 1)[1].split('"', 1)[0]
    topology = json.loads(get(port, model_url + "metadata.json", tls=tls).body)["model"]["path"]
    shard = json.loads(get(port, model_url + topology, tls=tls).body)["weightsManifest"][0]["paths"][0]
    return model_url + shard


# ---------------------------------------------------------------------------------------------------------------
# Probes: what an ordinary visitor sees while an attack runs

@dataclass
class ProbeResults:
    latencies_s: list[float] = field(default_factory=list)  # of the probes answered in full within the timeout
    failures: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.latencies_s) + len(self.failures)

    @property
    def success_rate(self) -> float:
        return len(self.latencies_s) / self.total if self.total else 0.0

    def summary(self) -> str:
        if not self.total:
            return "no probes"
        worst = f", slowest {max(self.latencies_s):.2f} s" if self.latencies_s else ""
        return f"{len(self.latencies_s)}/{self.total} probes answered within {PROBE_TIMEOUT_S:.0f} s{worst}"


class Prober(threading.Thread):
    """Fetches each of `paths` in turn (a fresh connection each, whole body read) every `interval_s`."""

    def __init__(self, port: int, paths: list[str], interval_s: float = 0.25,
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(daemon=True)
        self.port, self.paths, self.interval_s, self.tls = port, paths, interval_s, tls
        self.results = ProbeResults()
        self.stopping = threading.Event()

    def run(self) -> None:
        turn = 0
        while not self.stopping.is_set():
            path = self.paths[turn % len(self.paths)]
            turn += 1
            started = time.monotonic()
            try:
                reply = get(self.port, path, timeout_s=PROBE_TIMEOUT_S, tls=self.tls)
                elapsed = time.monotonic() - started
                expected = int(reply.headers.get("content-length", -1))
                if reply.status != 200 or len(reply.body) != expected or elapsed > PROBE_TIMEOUT_S:
                    self.results.failures.append(f"{path}: {reply.status}, {len(reply.body)}/{expected} bytes")
                else:
                    self.results.latencies_s.append(elapsed)
            except OSError as error:
                self.results.failures.append(f"{path}: {type(error).__name__} {error}")
            self.stopping.wait(max(0.0, self.interval_s - (time.monotonic() - started)))

    def stop(self) -> ProbeResults:
        self.stopping.set()
        self.join(PROBE_TIMEOUT_S + 5)
        return self.results


# ---------------------------------------------------------------------------------------------------------------
# Hostile socket swarms, all driven by one thread: idle, trickling and pipelining-but-never-reading clients

@dataclass
class _Hostile:
    kind: str
    sock: socket.socket
    opened: float
    next_send: float = 0.0
    lines_sent: int = 0
    watched: bool = True  # registered with the selector


class Swarm(threading.Thread):
    """Keeps `idle`, `trickle` and `pipeline` hostile connections open until stopped, reopening any the server closes
    (the pressure stays on: a server that merely hangs up on attackers does not pass by that alone).

    idle: connects and sends nothing. trickle: sends a request line, then one more header line every
    `trickle_interval_s`, never finishing. pipeline: sends `pipeline_depth` requests for `pipeline_path` (with
    `pipeline_headers`, "Range: bytes=1-" say) at once and never reads; after `pipeline_hold_s` it hangs up and does
    it again.
    """

    def __init__(self, port: int, idle: int = 0, trickle: int = 0, pipeline: int = 0, pipeline_path: str = "/",
                 pipeline_depth: int = 16, pipeline_headers: str = "", trickle_interval_s: float = 5.0,
                 pipeline_hold_s: float = 20.0) -> None:
        super().__init__(daemon=True)
        self.port = port
        self.wanted = {"idle": idle, "trickle": trickle, "pipeline": pipeline}
        self.pipeline_request = pipelined_requests(pipeline_path, pipeline_depth, pipeline_headers)
        self.trickle_opening = f"GET / HTTP/1.1\r\nHost: {HOST}\r\n".encode()  # and then never the blank line
        self.trickle_interval_s, self.pipeline_hold_s = trickle_interval_s, pipeline_hold_s
        self.selector = selectors.DefaultSelector()
        self.open: dict[str, list[_Hostile]] = {kind: [] for kind in self.wanted}
        self.opened = {kind: 0 for kind in self.wanted}
        self.closed_by_server = {kind: 0 for kind in self.wanted}
        self.connect_failures = 0
        self.stopping = threading.Event()
        self.ready = threading.Event()  # set once every wanted connection has been opened

    def _connect(self, kind: str) -> None:
        sock = socket.socket()
        sock.setblocking(False)
        if kind == "pipeline":
            # Small receive buffer: what a slow or stalled client looks like, and the server's output backs up sooner.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        if sock.connect_ex((HOST, self.port)) not in (0, errno.EINPROGRESS):
            sock.close()
            self.connect_failures += 1
            return
        hostile = _Hostile(kind, sock, time.monotonic())
        self.selector.register(sock, selectors.EVENT_WRITE if kind != "idle" else selectors.EVENT_READ, hostile)
        self.open[kind].append(hostile)
        self.opened[kind] += 1

    def _drop(self, hostile: _Hostile, by_server: bool) -> None:
        if hostile.watched:
            self.selector.unregister(hostile.sock)
        hostile.sock.close()
        self.open[hostile.kind].remove(hostile)
        if by_server:
            self.closed_by_server[hostile.kind] += 1

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                for kind, count in self.wanted.items():
                    for _ in range(count - len(self.open[kind])):
                        self._connect(kind)
                if all(len(self.open[kind]) >= count for kind, count in self.wanted.items()):
                    self.ready.set()
                for key, _ in self.selector.select(timeout=0.2):
                    self._on_event(key.data)
                now = time.monotonic()
                for hostile in list(self.open["trickle"]):
                    if hostile.lines_sent and now >= hostile.next_send:
                        self._send(hostile, f"X-Trickle-{hostile.lines_sent}: still typing\r\n".encode())
                for hostile in list(self.open["pipeline"]):
                    if now - hostile.opened > self.pipeline_hold_s:
                        self._drop(hostile, by_server=False)
        finally:
            for hostiles in self.open.values():
                for hostile in list(hostiles):
                    self._drop(hostile, by_server=False)
            self.selector.close()

    def _on_event(self, hostile: _Hostile) -> None:
        if hostile not in self.open[hostile.kind]:
            return
        if hostile.kind == "idle":  # readable: only ever the server hanging up
            try:
                if not hostile.sock.recv(4096):
                    self._drop(hostile, by_server=True)
            except OSError:
                self._drop(hostile, by_server=True)
            return
        # Writable means connected: send the opening, then wait for nothing but the server hanging up.
        opening = self.pipeline_request if hostile.kind == "pipeline" else self.trickle_opening
        # From now on neither kind is watched: a pipeliner never reads (a read event would fire for the data it
        # refuses), a trickler finds out that the server hung up when its next line fails to send.
        self.selector.unregister(hostile.sock)
        hostile.watched = False
        self._send(hostile, opening)

    def _send(self, hostile: _Hostile, data: bytes) -> None:
        try:
            hostile.sock.send(data)
        except OSError:  # reset or closed by the server
            self._drop(hostile, by_server=True)
            return
        hostile.lines_sent += 1
        hostile.next_send = time.monotonic() + self.trickle_interval_s

    def stop(self) -> None:
        self.stopping.set()
        self.join(10)

    def counts(self) -> str:
        # A pipeliner never reads, so it cannot see the server hang up: only its openings are counted.
        return ", ".join(f"{kind} {self.opened[kind]} opened" + (
            f"/{self.closed_by_server[kind]} closed by server" if kind != "pipeline" else "")
            for kind, count in self.wanted.items() if count)


def pipelined_requests(path: str, depth: int, headers: str = "") -> bytes:
    """`depth` GET requests for `path` back to back, as a client that pipelines sends them."""
    extra = "".join(f"{line}\r\n" for line in headers.splitlines())
    return (f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n{extra}\r\n" * depth).encode("latin-1")


def connection_flood(port: int, seconds: float, max_connections: int = 40_000) -> tuple[int, int, float]:
    """Opens and drops connections as fast as one thread can for `seconds` (at most `max_connections`): each sends
    half a request line and hangs up, three in four with a reset (which also spares this side TIME_WAIT ports).
    Returns (opened, failed to open, seconds taken)."""
    opened = failed = 0
    started = time.monotonic()
    deadline = started + seconds
    while opened + failed < max_connections and time.monotonic() < deadline:
        sock = socket.socket()
        sock.settimeout(1)
        try:
            if opened % 4:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.connect((HOST, port))
            sock.send(b"GET /static/js/app.js HT")
            opened += 1
        except OSError:
            failed += 1
        finally:
            sock.close()
    return opened, failed, time.monotonic() - started


def hold_open(port: int, count: int, source: str | None = None, opening: bytes = b"") -> list[socket.socket]:
    """Up to `count` connections (fewer if one fails to connect within 2 s), from `source` if given (another
    loopback address: 127.0.0.2 is as local as 127.0.0.1, and the proxy counts it as a different visitor).

    opening: sent once connected (pipelined requests, say), with a 4 kB receive buffer and nothing ever read: a
    stalled reader. Without it, the connections are idle."""
    sockets = []
    for _ in range(count):
        sock = socket.socket()
        sock.settimeout(2)
        try:
            if opening:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            if source:
                sock.bind((source, 0))
            sock.connect((HOST, port))
            sock.sendall(opening)
        except OSError:
            sock.close()
            break
        sockets.append(sock)
    return sockets


def tls_pipeliners(port: int, context: ssl.SSLContext, count: int, raw: bytes,
                   source: str | None = None) -> list[socket.socket]:
    """`count` HTTPS connections that each send `raw` (pipelined requests) and never read: Swarm's pipeliners, for
    the TLS proxy. Fewer when a connection or handshake fails."""
    connections = []
    for _ in range(count):
        plain = socket.socket()
        plain.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # a stalled reader, as in Swarm
        plain.settimeout(5)
        try:
            if source:
                plain.bind((source, 0))
            plain.connect((HOST, port))
            connection = context.wrap_socket(plain, server_hostname="localhost")
            connection.sendall(raw)
        except OSError:
            plain.close()
            continue
        connections.append(connection)
    return connections


def slow_range_readers(server: LiveServer, path: str, count: int, seconds: float, headers: str = "Range: bytes=1-",
                       read_bytes: int = 4096, interval_s: float = 0.5) -> tuple[float, float, int, int]:
    """`count` clients each ask once for `path` (a range of the weights, by default), then read `read_bytes` every
    `interval_s` for `seconds`: each response stays pending all along. Samples the server's memory meanwhile.

    Returns (server RSS before, in MB; the most it reached; clients connected; bytes they read in all).
    """
    before = peak = server.rss_mb()
    one_request = pipelined_requests(path, 1, headers)
    readers = []
    for _ in range(count):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.settimeout(2)
        try:
            sock.connect((HOST, server.port))
            sock.sendall(one_request)
        except OSError:
            sock.close()
            continue
        sock.setblocking(False)
        readers.append(sock)
    received = 0
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            for sock in readers:
                try:
                    received += len(sock.recv(read_bytes))
                except (BlockingIOError, InterruptedError):
                    pass
                except OSError:
                    pass  # reset by the server: counted by the bytes it did not send
            peak = max(peak, server.rss_mb())
            time.sleep(interval_s)
    finally:
        for sock in readers:
            sock.close()
    return before, peak, len(readers), received


@dataclass
class CeilingStep:
    sockets: int  # connections asked for
    opened: int  # how many connected within 2 s each
    first_answer_s: float | None  # from the last connection opened to a visitor's first answer; None: not in 30 s
    probes: ProbeResults  # once a visitor has been answered
    alive: bool

    @property
    def held(self) -> bool:
        return self.alive and self.opened >= self.sockets and self.probes.success_rate >= ACCEPTANCE_SUCCESS_RATE


def ceiling_step(port: int, sockets: int, alive: Callable[[], bool], tls: ssl.SSLContext | None = None,
                 opening: bytes = b"", probe_s: float = 8.0) -> CeilingStep:
    """Holds `sockets` connections open (idle, or stalled readers of `opening`: see hold_open), waits for a visitor
    to be answered (stalled readers' requests arrive as one burst, which takes the server a while on a loaded
    2-core machine: that is throughput, not a ceiling), then probes `/` (on fresh connections) for `probe_s`."""
    held = hold_open(port, sockets, opening=opening)
    try:
        opened_at = time.monotonic()
        first_answer_s = None
        while first_answer_s is None and time.monotonic() - opened_at < 30:
            try:
                get(port, "/", timeout_s=PROBE_TIMEOUT_S, tls=tls)
                first_answer_s = time.monotonic() - opened_at
            except OSError:
                time.sleep(0.25)
        results = ProbeResults(failures=["no answer within 30 s"])
        if first_answer_s is not None:
            prober = Prober(port, ["/"], tls=tls)
            prober.start()
            time.sleep(probe_s)
            results = prober.stop()
    finally:
        for sock in held:
            sock.close()
    step = CeilingStep(sockets, len(held), first_answer_s, results, alive())
    time.sleep(2)  # the server notices the hang-ups before the next step
    return step


def socket_ceiling(port: int, alive: Callable[[], bool], tls: ssl.SSLContext | None = None, start: int = 256,
                   cap: int = 8192, refinements: int = 3, opening: bytes = b"") -> list[CeilingStep]:
    """Doubles the number of connections (idle, or stalled readers of `opening`) from `start` up to `cap` until
    probes fail (under 95% answered within
    2 s) or the server dies, then bisects between the last step that held and the first that did not, `refinements`
    times. Each step takes about 11 s. Returns every step, in the order tried."""
    steps: list[CeilingStep] = []
    count = start
    while count <= cap:
        steps.append(ceiling_step(port, count, alive, tls, opening))
        if not steps[-1].held or not alive():
            break
        count *= 2
    if steps[-1].held or not alive():
        return steps
    low = max((step.sockets for step in steps if step.held), default=0)
    high = steps[-1].sockets
    for _ in range(refinements):
        middle = (low + high) // 2
        if middle in (low, high):
            break
        steps.append(ceiling_step(port, middle, alive, tls, opening))
        low, high = (middle, high) if steps[-1].held else (low, middle)
        if not alive():
            break
    return steps


def raise_descriptor_limit(needed: int) -> int:
    """This process opens hundreds of sockets: lift its soft RLIMIT_NOFILE (CI runners default to 1,024)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = needed if hard == resource.RLIM_INFINITY else min(needed, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


# ---------------------------------------------------------------------------------------------------------------
# Fuzzing: malformed paths, encodings, preconditions and ranges. Each case says what must hold.

@dataclass(frozen=True)
class FuzzCase:
    name: str
    raw: Callable[[int, str], bytes]  # (port, weights path) -> request bytes
    holds: Callable[[Reply], str | None]  # None when the reply is acceptable, else what is wrong
    # Oversized requests: the server answers 4xx and hangs up on the rest of the request unread, which resets the
    # connection, and the reset can discard the answer before the client reads it. Refused either way.
    reset_ok: bool = False


def _req(target: str, *headers: str) -> Callable[[int, str], bytes]:
    def build(port: int, weights: str) -> bytes:
        lines = [f"GET {target.replace('{weights}', weights)} HTTP/1.1", f"Host: {HOST}:{port}", "Connection: close",
                 *headers]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    return build


def _raw(data: bytes) -> Callable[[int, str], bytes]:
    return lambda port, weights: data


def _no_5xx(reply: Reply) -> str | None:
    return f"status {reply.status}" if reply.status >= 500 else None


def _status_in(*statuses: int) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        return None if reply.status in statuses else f"status {reply.status}, wanted {statuses}"
    return check


def _not_reflected(marker: str) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        if reply.status >= 500:
            return f"status {reply.status}"
        return f"{marker} reflected in the response head" if marker.encode() in reply.raw_head.lower() else None
    return check


def _identity(reply: Reply) -> str | None:
    if reply.status != 200:
        return f"status {reply.status}"
    return "gzip sent although refused" if reply.headers.get("content-encoding") == "gzip" else None


def _empty_with(status: int) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        if reply.status != status:
            return f"status {reply.status}, wanted {status}"
        return f"{len(reply.body)}-byte body" if reply.body else None
    return check


def _one_answer(status: int) -> Callable[[Reply], str | None]:
    """`status`, the security headers, and nothing after it: what follows the request was not served."""
    def check(reply: Reply) -> str | None:
        if reply.status != status:
            return f"status {reply.status}, wanted {status}"
        if re.search(rb"HTTP/1\.[01] \d{3} ", reply.body):
            return "a second response followed: the rest of the request was served"
        return _lacks_security_headers(reply)
    return check


def _lacks_security_headers(reply: Reply) -> str | None:
    wanted = {"x-content-type-options": "nosniff", "referrer-policy": "no-referrer"}
    missing = [name for name, value in wanted.items() if reply.headers.get(name) != value]
    if "default-src 'self'" not in reply.headers.get("content-security-policy", ""):
        missing.append("content-security-policy")
    return f"missing {', '.join(missing)}" if missing else None


def _partial(first: int, last: int) -> Callable[[Reply], str | None]:
    def check(reply: Reply) -> str | None:
        if reply.status != 206:
            return f"status {reply.status}, wanted 206"
        if not reply.headers.get("content-range", "").startswith(f"bytes {first}-{last}/"):
            return f"Content-Range {reply.headers.get('content-range')!r}"
        return None if len(reply.body) == last - first + 1 else f"{len(reply.body)} bytes"
    return check


FUZZ_CASES: list[FuzzCase] = [
    FuzzCase("NUL byte in a static name", _req("/static/js/app%00.js"), _status_in(400, 404)),
    FuzzCase("raw NUL byte in the request line",
             _raw(b"GET /static/\x00 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), _status_in(400, 404)),
    FuzzCase("100,000-character static name", _req("/static/" + "a" * 100_000), _status_in(400, 404, 414, 431),
             reset_ok=True),
    FuzzCase("20,000-character static name", _req("/static/" + "b" * 20_000), _status_in(400, 404, 414)),
    FuzzCase("invalid percent escape", _req("/static/%zz%"), _status_in(400, 404)),
    FuzzCase("overlong UTF-8 dot-dot", _req("/static/%c0%ae%c0%ae/server.py"), _status_in(400, 404)),
    FuzzCase("encoded slash traversal", _req("/static/..%2f..%2fserver.py"), _status_in(400, 404)),
    FuzzCase("double-encoded traversal", _req("/static/%252e%252e/server.py"), _status_in(400, 404)),
    FuzzCase("backslash traversal", _req("/static/..\\..\\server.py"), _status_in(400, 404)),
    FuzzCase("absolute-form target to another host", _req("http://evil.example/static/js/app.js"), _no_5xx),
    FuzzCase("invalid UTF-8 in the path", _req("/static/%ff%fe.js"), _status_in(400, 404)),
    FuzzCase("64 kB query string", _req("/?" + "q=1&" * 16_000), _status_in(200, 400, 414, 431), reset_ok=True),
    FuzzCase("double slash (was: 308 to the Host header)", _req("//static/js/app.js", "Host: evil.example"),
             _not_reflected("evil.example")),
    FuzzCase("Host header never echoed", _req("/embed/", "Host: evil.example"), _not_reflected("evil.example")),
    FuzzCase("X-Forwarded-Host never echoed", _req("//static//js//app.js", "X-Forwarded-Host: evil.example"),
             _not_reflected("evil.example")),
    FuzzCase("Accept-Encoding: gzip;q=0", _req("/static/js/app.js", "Accept-Encoding: gzip;q=0"), _identity),
    FuzzCase("Accept-Encoding: *;q=1, gzip;q=0", _req("/", "Accept-Encoding: *;q=1, gzip;q=0"), _identity),
    FuzzCase("Accept-Encoding: gzip;q=nonsense", _req("/", "Accept-Encoding: gzip;q=nonsense"), _no_5xx),
    FuzzCase("Accept-Encoding of 4,000 tokens", _req("/", "Accept-Encoding: " + ", ".join(["x"] * 4000)), _no_5xx),
    FuzzCase("failed If-Match on the weights", _req("{weights}", 'If-Match: "nope"'), _empty_with(412)),
    FuzzCase("If-None-Match: * on the weights", _req("{weights}", "If-None-Match: *"), _empty_with(304)),
    FuzzCase("Range: first byte of the weights", _req("{weights}", "Range: bytes=0-0"), _partial(0, 0)),
    FuzzCase("Range: bytes 100-199", _req("{weights}", "Range: bytes=100-199"), _partial(100, 199)),
    FuzzCase("Range past the end", _req("{weights}", "Range: bytes=999999999-"), _empty_with(416)),
    FuzzCase("Range: reversed", _req("{weights}", "Range: bytes=5-1"), _status_in(200)),
    FuzzCase("Range: unknown unit", _req("{weights}", "Range: items=0-1"), _status_in(200)),
    FuzzCase("Range: 200 ranges", _req("{weights}", "Range: bytes=" + ",".join(f"{i}-{i}" for i in range(200))),
             _status_in(200)),
    FuzzCase("If-Range with a stale ETag", _req("{weights}", "Range: bytes=0-9", 'If-Range: "stale"'), _status_in(200)),
    FuzzCase("POST with a body", _raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nConnection: close\r\n\r\n"
                                      b"hello"), _status_in(405)),
    FuzzCase("body larger than the server reads", _raw(b"PUT / HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
                                                       b"Connection: close\r\n\r\n" + b"x" * 20_000),
             _status_in(405, 413), reset_ok=True),
    FuzzCase("chunked body", _raw(b"POST /x HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n"
                                  b"\r\n5\r\nhello\r\n0\r\n\r\n"), _status_in(405)),
    FuzzCase("unknown method", _raw(b"BREW / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"), _status_in(405)),
    FuzzCase("HTTP/0.9-style request line", _raw(b"GET /\r\n\r\n"), _no_5xx),
    FuzzCase("garbage request line", _raw(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n"), _no_5xx),
    FuzzCase("header without a colon (waitress answers: the app's headers all the same)",
             _raw(b"GET / HTTP/1.1\r\nHost: x\r\nNoColonHere\r\nConnection: close\r\n\r\n"), _one_answer(400)),
    FuzzCase("40 kB header", _req("/", "X-Big: " + "y" * 40_000), _status_in(400, 431), reset_ok=True),
    # RFC 9112 §6.1: both lengths is how requests are smuggled past a proxy that reads the other one. The server
    # answers 400 and closes, so the request hidden behind it is never answered (no keep-alive: request() would wait
    # for the close and time out).
    FuzzCase("Content-Length and Transfer-Encoding together",
             _raw(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), _one_answer(400)),
    FuzzCase("GET with Content-Length and Transfer-Encoding",
             _raw(b"GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n"
                  b"0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n"), _one_answer(400)),
    FuzzCase("HTTP/1.1 without Host (RFC 9112 §3.2)", _raw(b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n"),
             _one_answer(400)),
    FuzzCase("HTTP/1.0 without Host (allowed)", _raw(b"GET / HTTP/1.0\r\n\r\n"), _status_in(200)),
]


def run_fuzz(port: int) -> list[tuple[str, str | None, str]]:
    """Each case's (name, problem or None, what came back)."""
    weights = weights_path(port)
    outcomes = []
    for case in FUZZ_CASES:
        try:
            reply = request(port, case.raw(port, weights), timeout_s=10)
            outcomes.append((case.name, case.holds(reply), f"{reply.status}, {len(reply.body)} B"))
        except ConnectionResetError:
            outcomes.append((case.name, None if case.reset_ok else "connection reset", "refused: connection reset"))
        except OSError as error:
            outcomes.append((case.name, f"no reply: {type(error).__name__} {error}", "-"))
    return outcomes


# ---------------------------------------------------------------------------------------------------------------
# Scenarios: each returns table rows (attack, what was tried, result, held)

Row = tuple[str, str, str, bool | None]  # held: None for a known limit, shown for information
ACCEPTANCE_SUCCESS_RATE = 0.95
WHOLE_BUT_ONE_BYTE = "Range: bytes=1-"  # a range as large as the file: once copied per request (1.3 MB each)
SLOW_READERS = 200
STALLED_DEPTH = 4  # weight requests a stalled reader leaves unread: 5.3 MB, under the 8 MB at which it is cut off
RANGE_MEMORY_BOUND_MB = 50  # what 200 slow range readers may add to the server's memory (they once added 700 MB)
OTHER_LOOPBACK = "127.0.0.2"  # attackers' source address where the proxy's per-address limit would hit the probes


def under_attack(server: LiveServer, seconds: float, **swarm: int | float | str) -> tuple[ProbeResults, Swarm, int]:
    """Runs a Swarm for `seconds` (after it has opened its sockets) while probing `/` and the weights.

    Returns the probes' results, the swarm, and the most descriptors the server held (sampled every second).
    """
    weights = weights_path(server.port)
    if swarm.get("pipeline"):
        swarm.setdefault("pipeline_path", weights)
    attackers = Swarm(server.port, **swarm)
    attackers.start()
    attackers.ready.wait(30)
    time.sleep(1)  # let the first pipelined responses pile up before measuring
    prober = Prober(server.port, ["/", weights])
    prober.start()
    peak_descriptors = 0
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        peak_descriptors = max(peak_descriptors, server.descriptors())
        time.sleep(min(1.0, max(0.0, deadline - time.monotonic())))
    results = prober.stop()
    attackers.stop()
    return results, attackers, peak_descriptors


def scenario_row(name: str, tried: str, server: LiveServer, seconds: float, **swarm) -> Row:
    results, attackers, descriptors = under_attack(server, seconds, **swarm)
    held = server.alive() and results.success_rate >= ACCEPTANCE_SUCCESS_RATE
    outcome = f"{results.summary()}; server held at most {descriptors} descriptors"
    return name, f"{tried}; {attackers.counts()}", outcome + ("" if server.alive() else "; SERVER DIED"), held


def scenarios(only: str | None) -> Iterator[Callable[[LiveServer], list[Row]]]:
    def slow(server: LiveServer) -> list[Row]:
        return [
            scenario_row("idle sockets", "100 connections that send nothing, 20 s", server, 20, idle=100),
            scenario_row("trickling sockets", "200 connections adding a header line every 5 s, 20 s", server, 20,
                         trickle=200),
        ]

    def pipeline(server: LiveServer) -> list[Row]:
        return [scenario_row("pipelining, never reading", "90 clients x 16 weight requests, never read, 20 s",
                             server, 20, pipeline=90),
                scenario_row("pipelining ranges, never reading",
                             "90 clients x 16 `Range: bytes=1-` weight requests, never read, 20 s", server, 20,
                             pipeline=90, pipeline_headers=WHOLE_BUT_ONE_BYTE)]

    def ranges(server: LiveServer) -> list[Row]:
        before, peak, readers, received = slow_range_readers(server, weights_path(server.port), SLOW_READERS, 15)
        held = server.alive() and peak - before < RANGE_MEMORY_BOUND_MB and readers == SLOW_READERS
        return [("slow range readers", f"{readers} clients asking for `{WHOLE_BUT_ONE_BYTE}` of the weights, each "
                 f"reading 4 kB every 0.5 s, 15 s ({received / 1e6:.1f} MB read in all)",
                 f"server memory {before:.0f} -> at most {peak:.0f} MB", held)]

    def combined(server: LiveServer) -> list[Row]:
        return [scenario_row("combined (acceptance)", "200 trickling + 100 idle + 90 pipelining x 16, 40 s",
                             server, 40, idle=100, trickle=200, pipeline=90)]

    def flood(server: LiveServer) -> list[Row]:
        prober = Prober(server.port, ["/"])
        prober.start()
        opened, failed, seconds = connection_flood(server.port, seconds=15)
        results = prober.stop()
        held = server.alive() and results.success_rate >= ACCEPTANCE_SUCCESS_RATE
        return [("connection flood", f"{opened:,} connections in {seconds:.0f} s opened and dropped (3 in 4 reset), "
                 f"{failed} failed to open", results.summary(), held)]

    def limit(server: LiveServer) -> list[Row]:
        # More sockets than connection_limit (1,000), reopened as soon as the server closes them: it closes the idle
        # and slow ones first to make room for visitors (webapp/production.py, _Server.readable).
        return [scenario_row("beyond connection_limit, idle", "1,500 connections that send nothing, reopened when "
                             "closed (limit 1,000), 20 s", server, 20, idle=1500),
                scenario_row("beyond connection_limit, trickling", "1,500 connections adding a header line every "
                             "5 s, reopened when closed (limit 1,000), 20 s", server, 20, trickle=1500)]

    def ceiling(server: LiveServer) -> list[Row]:
        # Idle connections, which the server closes first when it runs out of slots; then stalled readers, which
        # it must not close while their answers are pending (until they stall for channel_timeout, 30 s).
        idle = ceiling_rows("`python server.py`", socket_ceiling(server.port, server.alive))
        stalled = pipelined_requests(weights_path(server.port), STALLED_DEPTH)
        return idle + ceiling_rows("`python server.py`", socket_ceiling(server.port, server.alive, opening=stalled),
                                   f"stalled readers ({STALLED_DEPTH} weight requests, never read)")

    def fuzz(server: LiveServer) -> list[Row]:
        rows = [("fuzz: " + name, "", got if problem is None else f"{got}: {problem}", problem is None)
                for name, problem, got in run_fuzz(server.port)]
        return [*rows, ("server alive after fuzzing", f"{len(FUZZ_CASES)} cases", "alive" if server.alive() else
                        "DIED", server.alive())]

    for name, scenario in [("slow", slow), ("pipeline", pipeline), ("ranges", ranges), ("combined", combined),
                           ("flood", flood), ("limit", limit), ("ceiling", ceiling), ("fuzz", fuzz)]:
        if only in (None, name):
            yield scenario


def ceiling_rows(where: str, steps: list[CeilingStep], shape: str = "idle connections") -> list[Row]:
    rows: list[Row] = [(f"socket ceiling, {where}", f"{step.sockets:,} {shape} held ({step.opened:,} "
                        "connected), probing `/` for 8 s", _first_answer(step) + step.probes.summary() + (
                            "" if step.alive else "; SERVER DIED"),
                        step.held or None) for step in steps]
    survived = max((step.sockets for step in steps if step.held), default=0)
    failed = min((step.sockets for step in steps if not step.held), default=None)
    verdict = f"visitors served up to {survived:,} concurrent sockets" + (
        f"; not at {failed:,}" if failed else " (the cap of the probe)")
    died = not all(step.alive for step in steps)
    return [*rows, (f"socket ceiling, {where}: result", "", verdict + ("; SERVER DIED" if died else ""), not died)]


def _first_answer(step: CeilingStep) -> str:
    return "" if step.first_answer_s is None else f"first answer after {step.first_answer_s:.1f} s, then "


def proxy_scenarios(only: str | None, server: LiveServer, proxy) -> list[Row]:
    """The documented production setup, deploy/nginx.conf (bench/proxy.py) in front of the server, under the
    attacks that broke the server alone: non-reading range pipeliners and more sockets than it takes."""
    rows: list[Row] = []
    alive = lambda: server.alive() and proxy.alive()  # noqa: E731
    if only in (None, "pipeline"):
        weights = weights_path(proxy.https, proxy.context)
        attackers = tls_pipeliners(proxy.https, proxy.context, 90, pipelined_requests(weights, 16, WHOLE_BUT_ONE_BYTE),
                                   source=OTHER_LOOPBACK)
        prober = Prober(proxy.https, ["/", weights], tls=proxy.context)
        prober.start()
        time.sleep(20)
        results = prober.stop()
        for connection in attackers:
            connection.close()
        rows.append(("pipelining ranges, never reading, through nginx", f"{len(attackers)} HTTPS clients (from "
                     f"{OTHER_LOOPBACK}) x 16 `{WHOLE_BUT_ONE_BYTE}` weight requests, never read, 20 s",
                     results.summary() + ("" if alive() else "; SERVER OR PROXY DIED"),
                     alive() and results.success_rate >= ACCEPTANCE_SUCCESS_RATE))
    if only in (None, "ceiling"):
        rows += ceiling_rows("nginx in front", socket_ceiling(proxy.https, alive, tls=proxy.context))
    return rows


def print_table(rows: list[Row]) -> None:
    print("| attack | what was tried | result | held |")
    print("|---|---|---|---|")
    for name, tried, result, held in rows:
        verdict = "known limit: needs the proxy" if held is None else "yes" if held else "**no**"
        print(f"| {name} | {tried} | {result} | {verdict} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", choices=["slow", "pipeline", "ranges", "combined", "flood", "limit", "ceiling",
                                           "fuzz"])
    parser.add_argument("--stock", action="store_true",
                        help="attack the app under waitress' stock settings (waitress-serve, not a supported way to "
                             "run it), for comparison")
    parser.add_argument("--proxy", action="store_true",
                        help="attack deploy/nginx.conf in front of the server instead (pipeline and ceiling only)")
    args = parser.parse_args(argv)
    raise_descriptor_limit(20_000)  # the socket ceiling probe opens up to 8,192 connections
    rows: list[Row] = []
    if args.proxy:
        sys.path.insert(0, str(REPO))  # run as a script, this folder is on the path, not the repository
        from bench.proxy import nginx_proxy

        with production_server("--trusted-proxy", HOST) as server, nginx_proxy(server.port) as proxy:
            rows += proxy_scenarios(args.only, server, proxy)
        print_table(rows)
        return 0 if all(held is not False for *_, held in rows) else 1
    for scenario in scenarios(args.only):
        # A fresh server for each scenario, so one attack's leftovers do not skew the next.
        with production_server(stock=args.stock) as server:
            rows += scenario(server)
            queue_lines = server.log_text().count("Task queue depth")
        print(f"  ({scenario.__name__}: server logged {queue_lines} queue-depth line(s))", file=sys.stderr)
    print_table(rows)
    return 0 if all(held is not False for *_, held in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
