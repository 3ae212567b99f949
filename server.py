"""Serves the emotion detector page, its model and its JavaScript dependencies; nothing here ever sees an image.

    python server.py --host 127.0.0.1 --port 8000                  # waitress, production-ready
    waitress-serve --listen=0.0.0.0:8000 --call server:create_app   # the same app under waitress' own CLI

Face detection and emotion classification run in the visitor's browser. The server answers GET/HEAD only
(anything else is 405) and its Content-Security-Policy forbids the page from talking to any other origin.
"""

from __future__ import annotations

import sys

MINIMUM_PYTHON = (3, 10)
if sys.version_info < MINIMUM_PYTHON:  # checked before importing anything that would fail less clearly
    sys.exit(f"server.py needs Python {'.'.join(map(str, MINIMUM_PYTHON))} or newer; this is {sys.version.split()[0]}.")

import argparse  # noqa: E402
import errno  # noqa: E402
import os  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from pathlib import Path  # noqa: E402

from flask import Flask, Response, abort, g, render_template, request  # noqa: E402

from webapp.errors import SetupError  # noqa: E402
from webapp.file_responses import IMMUTABLE, REVALIDATE, FileResponder  # noqa: E402
from webapp.model_files import ModelDirectory  # noqa: E402
from webapp.security import READ_ONLY_METHODS, add_common_headers  # noqa: E402
from webapp.vendor_files import VendorFiles  # noqa: E402

ROOT = Path(__file__).resolve().parent
EMBED_SCRIPT = "js/embed.js"  # the one file other sites load directly, so the one file with CORS


def create_app(model_dir: str | Path | None = None, node_modules: str | Path | None = None,
               embed_origins: Iterable[str] | None = None) -> Flask:
    """The Flask app. Defaults come from EMOTION_MODEL_DIR / EMOTION_EMBED_ORIGINS, then the repository layout.

    embed_origins: origins allowed to frame /embed ("*" for any site, the default); the main page is never framed.
    Raises SetupError when the model or the npm dependencies are missing.
    """
    model_dir = Path(model_dir or os.environ.get("EMOTION_MODEL_DIR") or ROOT / "converted_model")
    node_modules = Path(node_modules or ROOT / "node_modules")
    if embed_origins is None:
        embed_origins = os.environ.get("EMOTION_EMBED_ORIGINS", "*").split()
    embed_ancestors = ["'self'", *embed_origins]

    responder = FileResponder()
    vendor = VendorFiles(node_modules)
    model = ModelDirectory(model_dir, responder)

    app = Flask(__name__, static_folder=None, template_folder=str(ROOT / "templates"))
    static_root = ROOT / "static"

    def page_context() -> dict:
        return {
            "model_url": f"/model/{model.digest()}/",
            "vendor": vendor.prefix,
            "static": lambda name: f"/static/{name}?v={responder.etag_of(static_root / name)[:12]}",
        }

    @app.before_request
    def refuse_writes() -> Response | None:
        # Nothing is ever uploaded: every method but GET/HEAD is refused, on every path.
        if request.method not in READ_ONLY_METHODS:
            return Response("This server only serves files; it accepts no data.\n", 405,
                            {"Allow": ", ".join(READ_ONLY_METHODS)}, mimetype="text/plain")
        return None

    @app.get("/")
    def index() -> str:
        return render_template("index.html", **page_context())

    @app.get("/embed")
    def embed() -> str:
        g.frameable = True  # read by add_headers: only this page may be framed by other sites
        return render_template("embed.html", **page_context())

    @app.get("/model/<name>")
    def model_file(name: str) -> Response:
        path = model.path_of(name)
        if path is None:
            abort(404)
        return responder.respond(request, path, REVALIDATE)

    @app.get("/model/<digest>/<name>")
    def versioned_model_file(digest: str, name: str) -> Response:
        path = model.path_of(name)
        if path is None or digest != model.digest():
            abort(404)
        return responder.respond(request, path, IMMUTABLE)

    @app.get("/vendor/<package>/<name>")
    def vendor_file(package: str, name: str) -> Response:
        path = vendor.path_of(package, name)
        if path is None:
            abort(404)
        return responder.respond(request, path, IMMUTABLE)

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        path = (static_root / name).resolve()
        if not path.is_relative_to(static_root) or not path.is_file():
            abort(404)
        # Versioned by ?v=<hash> in the pages, but other sites load embed.js by its bare URL: always revalidate.
        response = responder.respond(request, path, IMMUTABLE if request.args.get("v") else REVALIDATE)
        if name == EMBED_SCRIPT:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    @app.after_request
    def add_headers(response: Response) -> Response:
        return add_common_headers(response, embed_ancestors if g.get("frameable") else ["'self'"])

    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model-dir", help="converted model folder (default: converted_model/)")
    parser.add_argument("--embed-origin", action="append", dest="embed_origins", metavar="ORIGIN",
                        help="origin allowed to embed /embed in an iframe; repeatable (default: any)")
    parser.add_argument("--threads", type=int, default=4, help="waitress worker threads")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    import waitress

    args = parse_args(argv)
    try:
        app = create_app(model_dir=args.model_dir, embed_origins=args.embed_origins)
        server = waitress.create_server(app, host=args.host, port=args.port, threads=args.threads)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"error: port {args.port} on {args.host} is already in use; stop the other server or pick "
                  f"another port with --port.", file=sys.stderr)
            return 2
        raise
    print(f"Serving the emotion detector on http://{args.host}:{args.port}/ (Ctrl+C stops)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
