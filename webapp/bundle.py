"""`python server.py bundle OUT_DIR`: the page, /embed, their JavaScript, the npm files and the model as plain files
that any static host (a CDN, object storage, nginx, `python -m http.server`) can serve, no Flask needed.

Everything the pages load lives under content-hashed folders, so a host may cache it for good:
    /index.html                        the page              /embed/index.html   the embeddable widget
    /assets/<hash>/css|js/...          static/ (one hash over the whole folder: modules import each other relatively)
    /vendor/<package>@<version>-<hash>/...   the allow-listed npm files (webapp/vendor_files.py)
    /model/<digest>/...                the model files the server serves (same digest as the server's URLs)
    /static/js/embed.js, embed.d.ts    unhashed, for other sites' <script src> (always revalidated)
    _headers, nginx.conf, caddy.conf   the server's security and cache headers for Netlify / Cloudflare Pages, nginx
                                       and Caddy (webapp/host_config.py); nginx and Caddy answer 404 for these files

The pages carry the Content-Security-Policy in a <meta http-equiv> tag, minus what a meta tag cannot say
(frame-ancestors); the header files carry the complete policy and the headers no meta tag can set.
"""

from __future__ import annotations

import argparse
import hashlib
import html
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from webapp.host_config import (
    CADDY_FILE,
    HEADERS_FILE,
    NGINX_FILE,
    HostConfigError,
    Route,
    caddy_snippet,
    content_types,
    headers_file,
    nginx_snippet,
)

MARKER = ".emotion-detector-bundle"  # marks a folder this command wrote, so a rebuild may replace it
# Directives a <meta> CSP ignores (browsers log an error for them): they only work as a response header.
HEADER_ONLY_DIRECTIVES = ("frame-ancestors", "report-uri", "report-to", "sandbox")
# Response headers with no <meta http-equiv> equivalent; the header files set them.
PAGE_HEADERS = ("Content-Security-Policy", "Cross-Origin-Opener-Policy", "X-Content-Type-Options", "Referrer-Policy",
                "Permissions-Policy", "Cross-Origin-Resource-Policy")
ASSET_HEADERS = ("Access-Control-Allow-Origin", "Cache-Control")  # and PAGE_HEADERS, those the server sends
SERVER_URL = re.compile(r'(?P<quote>["\'])(?P<url>/(?:static|vendor|model)/[^"\'?#]*)(?:\?v=[0-9a-f]+)?(?P=quote)')


class BundleError(Exception):
    pass


@dataclass(frozen=True)
class Page:
    path: str  # in the bundle
    route: str  # on the Flask server
    body: str
    headers: dict[str, str]


def _short_hash(named: dict[str, bytes]) -> str:
    """Changes whenever any file's name or content does."""
    digest = hashlib.sha256()
    for name, body in sorted(named.items()):
        digest.update(f"{name}:{hashlib.sha256(body).hexdigest()};".encode())
    return digest.hexdigest()[:12]


def served_headers(response) -> dict[str, str]:
    """The headers of a Flask response that the static host must send with the same file."""
    return {name: response.headers[name] for name in (*PAGE_HEADERS, *ASSET_HEADERS) if name in response.headers}


def meta_policy(policy: str) -> str:
    """The CSP without the directives a <meta> tag cannot carry."""
    kept = [directive.strip() for directive in policy.split(";")
            if directive.strip() and directive.split()[0] not in HEADER_ONLY_DIRECTIVES]
    return "; ".join(kept)


def build(out_dir: Path, model_dir: Path | None = None, node_modules: Path | None = None,
          embed_origins: list[str] | None = None) -> dict[str, bytes]:
    """Writes the bundle into `out_dir` (replacing a previous bundle there); returns {relative path: bytes}."""
    from server import CROSS_ORIGIN_STATIC, ROOT, create_app, vendor_assets
    from webapp.assets import load_folder
    from webapp.model_files import ModelDirectory
    from webapp.vendor_files import VendorFiles

    app = create_app(model_dir=model_dir, node_modules=node_modules, embed_origins=embed_origins)
    model = ModelDirectory(Path(model_dir or os.environ.get("EMOTION_MODEL_DIR") or ROOT / "converted_model"))
    vendor = vendor_assets(VendorFiles(Path(node_modules or ROOT / "node_modules")))
    static = load_folder(ROOT / "static")

    files: dict[str, bytes] = {}
    static_hash = _short_hash({name: asset.body for name, asset in static.items()})
    for name, asset in static.items():
        files[f"assets/{static_hash}/{name}"] = asset.body
    for name in CROSS_ORIGIN_STATIC:
        if name in static:
            files[f"static/{name}"] = static[name].body
    vendor_folders: dict[str, str] = {}
    for versioned in sorted({versioned for versioned, _ in vendor}):
        names = sorted(name for package, name in vendor if package == versioned)
        folder = f"{versioned}-{_short_hash({name: vendor[versioned, name].body for name in names})}"
        vendor_folders[versioned] = folder
        for name in names:
            files[f"vendor/{folder}/{name}"] = vendor[versioned, name].body
    for name, asset in model.assets.items():
        files[f"model/{model.digest}/{name}"] = asset.body

    def bundle_url(match: re.Match) -> str:
        url = match["url"]
        kind, _, rest = url[1:].partition("/")
        if kind == "static":
            new = f"/assets/{static_hash}/{rest}"
        elif kind == "vendor":
            versioned, _, name = rest.partition("/")
            if versioned not in vendor_folders:
                raise BundleError(f"a page names {url}, but no allow-listed npm package is {versioned}")
            new = f"/vendor/{vendor_folders[versioned]}/{name}"
        else:
            new = url
        target = new[1:]
        if not (target in files or (target.endswith("/") and any(path.startswith(target) for path in files))):
            raise BundleError(f"a page names {url} ({new} in the bundle), which the bundle does not hold")
        return f"{match['quote']}{new}{match['quote']}"

    client = app.test_client()
    pages = []
    for path, route in (("index.html", "/"), ("embed/index.html", "/embed")):
        response = client.get(route)
        if response.status_code != 200:
            raise BundleError(f"the server answered {route} with HTTP {response.status_code}")
        body = SERVER_URL.sub(bundle_url, response.get_data(as_text=True))
        policy = response.headers["Content-Security-Policy"]
        content = html.escape(meta_policy(policy), quote=False).replace('"', "&quot;")  # keeps the policy legible
        meta = (f'<meta http-equiv="Content-Security-Policy" content="{content}">\n'
                f'<meta name="referrer" content="no-referrer">\n')
        body, count = re.subn(r"(<meta charset=[^>]*>\s*)", lambda m, meta=meta: m[1] + meta, body, count=1,
                              flags=re.I)
        if not count:
            raise BundleError(f"{route}: no <meta charset> to put the policy after (it must precede every script)")
        pages.append(Page(path, route, body, served_headers(response)))
        files[path] = body.encode()

    routes = host_routes(client, pages, static, static_hash)
    types = content_types(list(files))
    files[HEADERS_FILE] = headers_file(routes).encode()
    files[NGINX_FILE] = nginx_snippet(routes, types).encode()
    files[CADDY_FILE] = caddy_snippet(routes, types).encode()
    write_tree(out_dir, files)
    return files


def host_routes(client, pages: list[Page], static: dict, static_hash: str) -> list[Route]:
    """What the header files tell a web server, with the headers the Flask server sends for the same files."""
    from server import CROSS_ORIGIN_STATIC

    def headers_of(url: str) -> dict[str, str]:
        response = client.get(url)
        if response.status_code != 200:
            raise BundleError(f"the server answered {url} with HTTP {response.status_code}")
        return served_headers(response)

    routes = []
    for page in pages:
        name = "index" if page.route == "/" else page.route.strip("/")
        paths = ("/", "/index.html") if page.route == "/" else (page.route, page.route + "/",
                                                               page.route + "/index.html")
        routes.append(Route(name, paths, page.headers, file=page.path))
    hashed_name = next(name for name in sorted(static) if name not in CROSS_ORIGIN_STATIC)
    hashed = headers_of(f"/static/{hashed_name}?v={static[hashed_name].etag[:12]}")
    routes.append(Route("hashed", (f"/assets/{static_hash}/", "/vendor/", "/model/"), hashed))
    routes.append(Route("cross_origin", ("/static/",), headers_of(f"/static/{CROSS_ORIGIN_STATIC[0]}")))
    return routes


def write_tree(out_dir: Path, files: dict[str, bytes]) -> None:
    """Writes into a fresh folder beside `out_dir`, then swaps it in: a reader never sees half a bundle."""
    if out_dir.exists() and not (out_dir / MARKER).is_file() and any(out_dir.iterdir()):
        raise BundleError(f"{out_dir} exists and is not an earlier bundle: give an empty or new folder")
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}-", dir=out_dir.parent))
    try:
        for relative, body in files.items():
            target = staging / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
        (staging / MARKER).write_text("Written by `python server.py bundle`; the next bundle replaces this folder.\n")
        staging.chmod(0o755)
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


def main(argv: list[str]) -> int:
    from webapp.errors import SetupError

    parser = argparse.ArgumentParser(prog="python server.py bundle",
                                     description="Write the page, /embed, their JavaScript, the npm files and the "
                                                 "model as plain files any static host can serve, with header files "
                                                 "for Netlify / Cloudflare Pages (_headers), nginx (nginx.conf) and "
                                                 "Caddy (caddy.conf).",
                                     epilog="Publishing, and what a static host cannot do: docs/static-hosting.md.")
    parser.add_argument("out_dir", type=Path, metavar="OUT_DIR", help="folder to write (replaced if an earlier bundle)")
    parser.add_argument("--model-dir", type=Path, help="converted model folder (default: converted_model/)")
    parser.add_argument("--embed-origin", action="append", dest="embed_origins", metavar="ORIGIN",
                        help="origin allowed to frame /embed, written into the header files; repeatable "
                             "(default: any)")
    args = parser.parse_args(argv)
    try:
        files = build(args.out_dir, args.model_dir, embed_origins=args.embed_origins)
    except (SetupError, BundleError, HostConfigError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    size = sum(len(body) for body in files.values())
    print(f"wrote {len(files)} files ({size / 1e6:.1f} MB) to {args.out_dir}")
    return 0
