"""An optional access log: one line per request, in the Combined Log Format plus the time taken.

It records what any web server log would (address, request line, status, size, user agent), never a body: the
server receives none. Off by default; `python server.py --access-log` or EMOTION_ACCESS_LOG=1 turns it on.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable

LOGGER = logging.getLogger("emotion.access")

WSGIApp = Callable[[dict, Callable], Iterable[bytes]]


class AccessLog:
    """WSGI middleware that logs each request when its response starts (the body may still be in flight)."""

    def __init__(self, app: WSGIApp, logger: logging.Logger = LOGGER) -> None:
        self.app = app
        self.logger = logger

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()

        def logging_start_response(status: str, headers: list[tuple[str, str]], *args):
            length = next((value for name, value in headers if name.lower() == "content-length"), "-")
            query = environ.get("QUERY_STRING")
            target = environ.get("PATH_INFO", "") + (f"?{query}" if query else "")
            log_request(environ.get("REMOTE_ADDR", "-"), environ.get("REQUEST_METHOD", "-"), target,
                        environ.get("SERVER_PROTOCOL", "-"), status, length, environ.get("HTTP_USER_AGENT", "-"),
                        time.perf_counter() - started, self.logger)
            return start_response(status, headers, *args)

        return self.app(environ, logging_start_response)


def log_request(address: str, method: str, target: str, protocol: str, status: str, length: int | str | None,
                user_agent: str, seconds: float, logger: logging.Logger = LOGGER) -> None:
    """One access-log line. Also used for the answers waitress gives without the app (webapp/production.py)."""
    logger.info('%s - - [%s] "%s %s %s" %s %s "-" "%s" %.1fms', address, time.strftime("%d/%b/%Y:%H:%M:%S %z"),
                _printable(method), _printable(target), _printable(protocol), status.split(" ", 1)[0],
                "-" if length is None else length, _printable(user_agent), seconds * 1000)


def _printable(text: str) -> str:
    """Control characters and quotes escaped, so a crafted path or user agent cannot forge log lines."""
    return text.encode("unicode_escape").decode("ascii").replace('"', "\\x22")
