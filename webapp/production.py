"""waitress, configured to stay up under slow, idle, flooding and non-reading clients (issue 9's audit).

`create_server()` is what `python server.py` runs. waitress' stock settings fail that audit: its select() loop
crashes past 1,024 descriptors, 100 idle sockets use up its 100 connections for 120 s each, and a client that
pipelines requests without reading parks a worker thread for as long as it stays connected. Each default below
says which fault it answers. In production, put a buffering reverse proxy (nginx, Caddy) in front as well: it
terminates TLS, absorbs slow clients and can limit connections per address, which one Python process cannot do
cheaply.
"""

from __future__ import annotations

import errno
import heapq
import logging
import resource
import time
from typing import Any

from flask import Flask
from waitress.adjustments import Adjustments
from waitress.channel import ClientDisconnected, HTTPChannel
from waitress.parser import HTTPRequestParser, ParsingError
from waitress.server import TcpWSGIServer
from waitress.task import ErrorTask
from waitress.utilities import RequestHeaderFieldsTooLarge

from webapp.access_log import log_request
from webapp.security import security_headers

LOGGER = logging.getLogger("emotion.server")

SETTINGS: dict[str, Any] = {
    # poll() has no FD_SETSIZE: select() raises "filedescriptor out of range" past 1,024 and stops the server.
    "asyncore_use_poll": True,
    # 100 (waitress' default) idle sockets were enough to lock everyone out. Each connection costs a descriptor and
    # a few kB while idle; RLIMIT_NOFILE is raised to fit at start-up (see raise_descriptor_limit).
    "connection_limit": 1000,
    # An idle keep-alive connection is closed after 30 s (waitress: 120 s); browsers reconnect without a sound.
    "channel_timeout": 30,
    # How often idle, slow and stalled connections are looked for: a pass over every channel, about 0.6 ms at
    # 1,000 connections on the 2-core development machine.
    "cleanup_interval": 1,
    # Worker threads only run the app, which answers from memory in well under a millisecond, and never wait on a
    # client (see _Channel): a few more than the cores keeps them busy without more GIL contention.
    "threads": 8,
    # A client may leave this much of our output unread before it is judged not to be reading and cut off: more
    # than any one response (the largest, uncompressed WebAssembly, is 5.5 MB), so one request at a time never
    # trips it. Bodies are sent from shared memory (webapp/file_responses.py), so this bounds work, not copies.
    "outbuf_high_watermark": 8 * 1024 * 1024,
    # Output below this stays in memory rather than a temporary file: no descriptor per pending response.
    "outbuf_overflow": 8 * 1024 * 1024,
    # The server accepts no data: a request body is never needed, so a small one is the most it reads.
    "max_request_body_size": 16 * 1024,
    # Browsers send a few kB of headers; 32 kB leaves room for big cookies on a shared domain (nginx: 4 × 8 kB).
    "max_request_header_size": 32 * 1024,
    # A client resetting its connection is not our fault: under a flood these were thousands of logged tracebacks.
    "log_socket_errors": False,
    # No "Server: waitress": the software and version are nobody else's business.
    "ident": "",
}

# A request's head (and body, if any) must arrive within this many seconds of its first byte: a client that
# trickles a header line every few seconds would otherwise hold its connection for ever (slowloris).
REQUEST_TIMEOUT_S = 10
# At connection_limit, up to SHED_BATCH connections that are idle (nothing received for IDLE_S) or slow (a request
# head arriving for over SLOW_HEAD_S) are closed at once to make room (_Server.readable).
SHED_BATCH = 32
IDLE_S = 0.5
ACCEPT_BATCH = 64  # connections accepted per turn of the event loop
SLOW_HEAD_S = 2
QUEUE_WARNING_INTERVAL_S = 60
HANG_UP_ERRNOS = {errno.EPIPE, errno.ECONNRESET, errno.ECONNABORTED, errno.ENOTCONN, errno.ESHUTDOWN, errno.EBADF}


# The classes below override waitress internals (pinned in requirements.txt); tests/test_server_attack.py fails if
# an upgrade changes what they rely on.
class _RequestParser(HTTPRequestParser):
    """waitress' parser, stricter where RFC 9112 asks for it. A ParsingError becomes a 400 (_ErrorTask) after which
    the connection is closed, so nothing sent behind such a request is ever read as a request of its own."""

    def parse_header(self, header_plus: bytes) -> None:
        super().parse_header(header_plus)
        # waitress would decode the chunked body, ignore Content-Length and keep the connection: the shape of request
        # smuggling, where a proxy in front reads the same bytes the other way (RFC 9112 §6.1: close after it).
        if self.chunked and "CONTENT_LENGTH" in self.headers:
            raise ParsingError("A request may not carry both Content-Length and Transfer-Encoding")
        if self.version == "1.1" and "HOST" not in self.headers:  # RFC 9112 §3.2: 400 for HTTP/1.1 without Host
            raise ParsingError("An HTTP/1.1 request needs a Host header")


class _ErrorTask(ErrorTask):
    """waitress' own answers (400, 413, 431, and 500 for an exception in the app) never reach the app: give them
    the headers the app sends, and a line in the access log when it is on."""

    def execute(self) -> None:
        self.response_headers.extend(security_headers(("'self'",), document=False, secure=False).items())
        super().execute()
        if self.channel.server.access_log:
            request = self.request
            # The method and target only if the request line was read before the error (for a 431, waitress puts
            # "GET / HTTP/1.0" in its place); the socket's address, since proxy headers are not believed before a
            # request parses.
            parsed = hasattr(request, "command") and not isinstance(request.error, RequestHeaderFieldsTooLarge)
            method, target, protocol = (request.command, request.request_uri, f"HTTP/{request.version}") if parsed \
                else ("-", "-", "-")
            log_request(self.channel.addr[0] if self.channel.addr else "-", method, target, protocol, self.status,
                        self.content_length, request.headers.get("USER_AGENT", "-"), time.time() - self.start_time)


class _Channel(HTTPChannel):
    parser_class = _RequestParser
    error_task_class = _ErrorTask
    request_started = 0.0  # when the first byte of the request being received arrived
    overflowed = False  # cut off for leaving too much output unread; the main loop closes it (maintenance)

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self.request_started = time.time()
        return super().received(data)

    def _flush_outbufs_below_high_watermark(self) -> None:
        # waitress parks the calling worker thread here until the client has read its backlog down to the
        # watermark: 90 clients that pipeline requests and never read would hold 90 threads. Instead such a client
        # is marked disconnected (its pending requests are dropped, as after a hang-up) and closed by the main loop.
        if self.total_outbufs_len <= self.adj.outbuf_high_watermark:
            return
        with self.outbuf_lock:
            self._flush_exception(self._flush_some, do_close=False)  # whatever the socket still takes
            if self.total_outbufs_len > self.adj.outbuf_high_watermark and self.connected:
                self.overflowed = True
                self.connected = False  # write_soon raises ClientDisconnected; no further request is started
                self.server.pull_trigger()


class _Server(TcpWSGIServer):
    channel_class = _Channel
    access_log = False  # log waitress' own error answers too (_ErrorTask)
    next_shed_warning = 0.0

    def readable(self) -> bool:
        # waitress stops accepting at connection_limit: 1,100 sockets that send nothing locked every visitor out until
        # channel_timeout closed them. Instead, as nginx does, the connections that are only taking up a slot make
        # room, oldest first (see _sheddable).
        if self.accepting and len(self._map) >= self.adj.connection_limit:
            self._shed(time.time())
        return super().readable()

    def handle_accept(self) -> None:
        # waitress accepts one connection per turn of its loop, and a turn looks at every connection: a thousand
        # queued by a flood took seconds to drain, and visitors queued behind them. Take what is waiting at once.
        for _ in range(ACCEPT_BATCH):
            if len(self._map) >= self.adj.connection_limit:
                self._shed(time.time())
                if len(self._map) >= self.adj.connection_limit:
                    return
            open_before = len(self._map)
            super().handle_accept()
            if len(self._map) == open_before:  # nothing was waiting
                return

    def _shed(self, now: float) -> None:
        candidates = [channel for channel in self.active_channels.values() if _sheddable(channel, now)]
        for channel in heapq.nsmallest(SHED_BATCH, candidates, key=lambda channel: channel.last_activity):
            channel.handle_close()
        if candidates and now >= self.next_shed_warning:
            self.next_shed_warning = now + QUEUE_WARNING_INTERVAL_S
            LOGGER.warning("%d connections open (the limit): closing idle and slow ones to make room (%d now).",
                           self.adj.connection_limit, min(SHED_BATCH, len(candidates)))

    def maintenance(self, now: float) -> None:
        super().maintenance(now)  # marks channels idle for channel_timeout; they close once writable
        cutoff = now - self.adj.channel_timeout
        for channel in list(self.active_channels.values()):
            stalled = channel.total_outbufs_len and channel.last_activity < cutoff  # nothing read by the client
            if channel.overflowed or stalled:
                # Closed here, on the main loop: a socket whose client does not read never becomes writable, so
                # waitress' own way (flag it, close it on the next write event) would wait for ever.
                channel.handle_close()
            elif channel.request is not None and now - channel.request_started > REQUEST_TIMEOUT_S:
                channel.will_close = True


def _sheddable(channel: _Channel, now: float) -> bool:
    """A connection that waits for nothing from us: it has sent nothing for IDLE_S since it opened or had its last
    answer (a fresh or idle keep-alive one; browsers reopen those without a sound), or has been sending one request
    head for over SLOW_HEAD_S (a visitor's arrives in one packet). Never one with a request being answered or output
    pending."""
    if channel.requests or channel.total_outbufs_len or not channel.connected:
        return False
    if channel.request is None:
        # Not one just accepted: its request may be waiting, unread, in the socket (a visitor's, during a flood).
        return now - channel.last_activity > IDLE_S
    return now - channel.request_started > SLOW_HEAD_S


class _QueueWarningsPerInterval(logging.Filter):
    """waitress logs "Task queue depth is N" for every request queued behind busy threads (72,380 lines in 3 minutes
    of load): let one through per interval, with the deepest queue and how many were held back."""

    def __init__(self, interval_s: float = QUEUE_WARNING_INTERVAL_S) -> None:
        super().__init__()
        self.interval_s = interval_s
        self.next_at = 0.0
        self.suppressed = 0
        self.deepest = 0

    def filter(self, record: logging.LogRecord) -> bool:
        depth = record.args[0] if isinstance(record.args, tuple) and record.args else 0
        self.deepest = max(self.deepest, depth)
        now = time.monotonic()
        if now < self.next_at:
            self.suppressed += 1
            return False
        record.msg = "Task queue depth reached %d (%d more such warnings in the last %d s)"
        record.args = (self.deepest, self.suppressed, self.interval_s)
        self.next_at, self.suppressed, self.deepest = now + self.interval_s, 0, 0
        return True


class _HangUpsWithoutTracebacks(logging.Filter):
    """A visitor closing the connection mid-response (a closed tab, a cancelled download) is routine, yet waitress
    3.0.2 can log it with a traceback, from the worker thread and again from the main loop, depending on where the
    hang-up is noticed (with log_socket_errors, or as "Exception while serving"). Such records keep their message,
    one line, without the traceback; any other exception keeps its traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, ClientDisconnected | ConnectionError) or (
                isinstance(error, OSError) and error.errno in HANG_UP_ERRNOS):
            record.msg = f"{record.getMessage()} (the client hung up: {type(error).__name__})"
            record.args = ()
            record.exc_info = record.exc_text = None
        return True


def raise_descriptor_limit(connection_limit: int) -> None:
    """Lift the soft RLIMIT_NOFILE towards the hard one: a connection needs a descriptor (plus a few spare)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = 2 * connection_limit + 64
    if soft != resource.RLIM_INFINITY and soft < wanted:
        new_soft = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        if new_soft < wanted:
            LOGGER.warning("Only %d file descriptors allowed (ulimit -n); %d connections need about %d.",
                           new_soft, connection_limit, wanted)


def create_server(app: Flask, host: str, port: int, trusted_proxy: str | None = None,
                  **overrides: Any) -> TcpWSGIServer:
    """A waitress server with SETTINGS (any of which `overrides` replaces), listening but not yet running.

    Listens on the first address `host` resolves to. `server.run()` serves until interrupted.
    trusted_proxy: address of a reverse proxy whose X-Forwarded-Proto/-For are believed (they make the request
    HTTPS, which turns on HSTS, and name the visitor in the access log); from anyone else they are removed.
    """
    settings = {**SETTINGS, **overrides}
    if trusted_proxy:
        settings.update(trusted_proxy=trusted_proxy, trusted_proxy_count=1,
                        trusted_proxy_headers={"x-forwarded-proto", "x-forwarded-for"})
    raise_descriptor_limit(settings["connection_limit"])
    waitress_logger = logging.getLogger("waitress")
    if not any(isinstance(existing, _HangUpsWithoutTracebacks) for existing in waitress_logger.filters):
        waitress_logger.addFilter(_HangUpsWithoutTracebacks())
    queue_logger = logging.getLogger("waitress.queue")
    if not any(isinstance(existing, _QueueWarningsPerInterval) for existing in queue_logger.filters):
        queue_logger.addFilter(_QueueWarningsPerInterval())
    server = _Server(app, adj=Adjustments(host=host, port=port, **settings))
    server.access_log = bool(app.config.get("ACCESS_LOG"))
    return server
