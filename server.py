"""Serves the emotion detector page, its model and its JavaScript dependencies; nothing here ever sees an image.

    python server.py --host 127.0.0.1 --port 8000     # waitress, hardened (webapp/production.py): also in production
    python server.py --help                          # every option

Face detection and emotion classification run in the visitor's browser. The server answers GET/HEAD only
(anything else is 405) and its Content-Security-Policy forbids the page from talking to any other origin.
`python server.py` is the one way to run it, alone or behind the TLS proxy of docs/production.md: it adds the
hardening of webapp/production.py, which other WSGI servers (`waitress-serve` included) cannot, so they are not
supported. `create_app()` builds the Flask app, for the tests and tools.
"""

from __future__ import annotations

import sys

MINIMUM_PYTHON = (3, 10)
if sys.version_info < MINIMUM_PYTHON:  # checked before importing anything that would fail less clearly
    sys.exit(f"server.py needs Python {'.'.join(map(str, MINIMUM_PYTHON))} or newer; this is {sys.version.split()[0]}.")

import argparse  # noqa: E402
import errno  # noqa: E402
import importlib  # noqa: E402
import ipaddress  # noqa: E402
import logging  # noqa: E402
import os  # noqa: E402
from collections.abc import Iterable  # noqa: E402
from pathlib import Path  # noqa: E402
from urllib.parse import urlsplit  # noqa: E402

from flask import Flask, Response, abort, g, render_template, request  # noqa: E402

from webapp.access_log import AccessLog  # noqa: E402
from webapp.assets import Asset, load_asset, load_folder, make_asset  # noqa: E402
from webapp.errors import SetupError  # noqa: E402
from webapp.file_responses import IMMUTABLE, REVALIDATE, respond  # noqa: E402
from webapp.model_files import ModelDirectory  # noqa: E402
from webapp.security import READ_ONLY_METHODS, add_common_headers  # noqa: E402
from webapp.vendor_files import PACKAGES, VendorFiles  # noqa: E402

ROOT = Path(__file__).resolve().parent
# The files other sites load directly (the embed script and its TypeScript declarations): the only ones with CORS.
CROSS_ORIGIN_STATIC = ("js/embed.js", "js/embed.d.ts")
TRUTHY = {"1", "true", "yes", "on"}

# Commands besides serving: `python server.py NAME ARGS...` runs MODULE.main(ARGS) -> exit status. The module is
# imported only when its command is used, so serving never pays for it.
SUBCOMMANDS: dict[str, str] = {"bundle": "webapp.bundle"}


def vendor_assets(vendor: VendorFiles) -> dict[tuple[str, str], Asset]:
    """Every allow-listed npm file, read into memory, by (versioned alias, file name) as its URL names it."""
    assets = {}
    for alias, package in PACKAGES.items():
        versioned = f"{alias}@{vendor.versions[alias]}"
        for name in package.files:
            assets[versioned, name] = load_asset(vendor.path_of(versioned, name))
    return assets


def create_app(model_dir: str | Path | None = None, node_modules: str | Path | None = None,
               embed_origins: Iterable[str] | None = None, static_dir: str | Path | None = None,
               access_log: bool | None = None) -> Flask:
    """The Flask app, with every file it serves read into memory. Defaults come from EMOTION_MODEL_DIR,
    EMOTION_EMBED_ORIGINS and EMOTION_ACCESS_LOG, then the repository layout.

    embed_origins: origins allowed to frame /embed ("*" for any site, the default); the main page is never framed.
    access_log: log one line per request to the "emotion.access" logger.
    Raises SetupError when the model or the npm dependencies are missing.
    """
    model_dir = Path(model_dir or os.environ.get("EMOTION_MODEL_DIR") or ROOT / "converted_model")
    node_modules = Path(node_modules or ROOT / "node_modules")
    if embed_origins is None:
        embed_origins = os.environ.get("EMOTION_EMBED_ORIGINS", "*").split()
    embed_ancestors = ("'self'", *embed_origins)
    if access_log is None:
        access_log = os.environ.get("EMOTION_ACCESS_LOG", "").lower() in TRUTHY

    vendor = VendorFiles(node_modules)
    vendor_files = vendor_assets(vendor)
    model = ModelDirectory(model_dir)
    static_files = load_folder(Path(static_dir or ROOT / "static"))

    app = Flask(__name__, static_folder=None, template_folder=str(ROOT / "templates"))
    app.config["ACCESS_LOG"] = access_log  # webapp/production.py also logs the errors waitress answers by itself
    # Werkzeug would answer /static//x with a 308 to an absolute URL built from the Host header: no such redirects.
    app.url_map.merge_slashes = False

    def static_url(name: str) -> str:
        if name not in static_files:
            raise SetupError(f"A template names static/{name}, which does not exist.")
        return f"/static/{name}?v={static_files[name].etag[:12]}"

    # The pages only change with the files they name, so they are rendered once, like the files are read once.
    with app.app_context():
        context = {"model_url": f"/model/{model.digest}/", "vendor": vendor.prefix, "static": static_url}
        pages = {name: make_asset(render_template(name, **context).encode(), name)
                 for name in ("index.html", "embed.html")}

    @app.before_request
    def refuse_writes() -> Response | None:
        # Nothing is ever uploaded: every method but GET/HEAD is refused, on every path.
        if request.method not in READ_ONLY_METHODS:
            return Response("This server only serves files; it accepts no data.\n", 405,
                            {"Allow": ", ".join(READ_ONLY_METHODS)}, mimetype="text/plain")
        return None

    def found(asset: Asset | None, cache_control: str) -> Response:
        if asset is None:
            abort(404)
        return respond(request, asset, cache_control)

    @app.get("/")
    def index() -> Response:
        return found(pages["index.html"], REVALIDATE)

    @app.get("/embed")
    def embed() -> Response:
        g.frameable = True  # read by add_headers: only this page may be framed by other sites
        return found(pages["embed.html"], REVALIDATE)

    @app.get("/model/<name>")
    def model_file(name: str) -> Response:
        return found(model.assets.get(name), REVALIDATE)

    @app.get("/model/<digest>/<name>")
    def versioned_model_file(digest: str, name: str) -> Response:
        return found(model.assets.get(name) if digest == model.digest else None, IMMUTABLE)

    @app.get("/vendor/<package>/<path:name>")
    def vendor_file(package: str, name: str) -> Response:
        return found(vendor_files.get((package, name)), IMMUTABLE)

    @app.get("/static/<path:name>")
    def static_file(name: str) -> Response:
        asset = static_files.get(name)
        # The pages name static files with ?v=<hash>, but other sites load embed.js by its bare URL: those revalidate.
        current = asset is not None and request.args.get("v") == asset.etag[:12]
        response = found(asset, IMMUTABLE if current else REVALIDATE)
        if name in CROSS_ORIGIN_STATIC:
            response.headers["Access-Control-Allow-Origin"] = "*"
            response.headers["Cross-Origin-Resource-Policy"] = "cross-origin"
        return response

    @app.after_request
    def add_headers(response: Response) -> Response:
        location = response.headers.get("Location")
        if location:
            # Werkzeug builds its redirects (an empty path to /, say) as absolute URLs from the Host header: keep the
            # path only, so a forged Host cannot send anyone elsewhere (relative Locations are fine, RFC 9110).
            parts = urlsplit(location)
            response.headers["Location"] = "/" + parts.path.lstrip("/") + (f"?{parts.query}" if parts.query else "")
        return add_common_headers(response, embed_ancestors if g.get("frameable") else ("'self'",),
                                  secure=request.is_secure)

    if access_log:
        app.wsgi_app = AccessLog(app.wsgi_app)
    return app


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    from webapp.production import SETTINGS

    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog="".join(f"\n  python server.py {name} --help" for name in SUBCOMMANDS) or None,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--model-dir", help="converted model folder (default: converted_model/)")
    parser.add_argument("--embed-origin", action="append", dest="embed_origins", metavar="ORIGIN",
                        help="origin allowed to embed /embed in an iframe; repeatable (default: any)")
    parser.add_argument("--trusted-proxy", default=os.environ.get("EMOTION_TRUSTED_PROXY"), metavar="ADDRESS",
                        help="address of the TLS reverse proxy in front, whose X-Forwarded-Proto/-For headers are "
                             "believed (turns on HSTS for HTTPS visitors); default: $EMOTION_TRUSTED_PROXY or none")
    parser.add_argument("--access-log", action="store_true",
                        default=os.environ.get("EMOTION_ACCESS_LOG", "").lower() in TRUTHY,
                        help="log one line per request to stderr (default: $EMOTION_ACCESS_LOG or off)")
    parser.add_argument("--threads", type=int, default=SETTINGS["threads"], help="waitress worker threads")
    return parser.parse_args(argv)


def serve(argv: list[str]) -> int:
    from webapp.production import create_server

    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s: %(message)s")
    logging.getLogger("emotion").setLevel(logging.INFO)
    try:
        app = create_app(model_dir=args.model_dir, embed_origins=args.embed_origins, access_log=args.access_log)
        server = create_server(app, args.host, args.port, trusted_proxy=args.trusted_proxy, threads=args.threads)
    except SetupError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            print(f"error: port {args.port} on {args.host} is already in use; stop the other server or pick "
                  f"another port with --port.", file=sys.stderr)
            return 2
        raise
    if not args.trusted_proxy and not _is_loopback(args.host):
        print("note: this serves plain HTTP. Browsers allow the camera only over HTTPS (or on localhost): put a TLS "
              "reverse proxy in front and pass --trusted-proxy (README: Production).", file=sys.stderr)
    print(f"Serving the emotion detector on http://{args.host}:{server.effective_port}/ (Ctrl+C stops)", flush=True)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] in SUBCOMMANDS:
        return importlib.import_module(SUBCOMMANDS[argv[0]]).main(argv[1:])
    return serve(argv)


if __name__ == "__main__":
    sys.exit(main())
