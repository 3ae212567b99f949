"""A throwaway static HTTP server on 127.0.0.1 for the benchmark page: repo files, models and the run's inputs."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def static_server(routes: dict[str, Path]) -> Iterator[str]:
    """Serve each folder of ``routes`` under its URL prefix (e.g. "/static"); yields the base URL."""

    class Handler(http.server.SimpleHTTPRequestHandler):
        extensions_map = {**http.server.SimpleHTTPRequestHandler.extensions_map,
                          ".wasm": "application/wasm", ".js": "text/javascript", ".mjs": "text/javascript"}

        def translate_path(self, path: str) -> str:
            path = path.split("?", 1)[0].split("#", 1)[0]
            for prefix, folder in routes.items():
                if path.startswith(prefix + "/"):
                    target = (folder / path[len(prefix) + 1:]).resolve()
                    if target.is_relative_to(folder.resolve()):  # no escaping the folder with ../
                        return str(target)
            return "/nonexistent"

        def log_message(self, *args) -> None:  # quiet: the page makes hundreds of requests
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
