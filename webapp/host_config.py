"""The static bundle's web-server files: `_headers` (Netlify, Cloudflare Pages), `nginx.conf` and `caddy.conf`.

All three say the same thing, from one list of routes: which URLs serve which file with which response headers
(copied from the Flask server's own answers), which content type each file extension gets (the Flask server's,
webapp/assets.py), and that every other URL, these files included, is a 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from webapp.assets import content_type_of

HEADERS_FILE, NGINX_FILE, CADDY_FILE = "_headers", "nginx.conf", "caddy.conf"
DEFAULT_TYPE = "application/octet-stream"
CHARSET = "; charset=utf-8"
# Sent on the 404s for everything outside the routes.
NOT_FOUND_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
GZIP_TYPES = ("text/css", "text/javascript", "text/plain", "application/json", "application/wasm", DEFAULT_TYPE)


class HostConfigError(Exception):
    pass


@dataclass(frozen=True)
class Route:
    """URLs that share their response headers. `file`: the one bundle file all of `paths` serve (a page);
    None: each path is a folder prefix (ending in "/") whose URLs name the files under it."""

    name: str
    paths: tuple[str, ...]
    headers: dict[str, str]
    file: str | None = None


def content_types(served: list[str]) -> dict[str, str]:
    """{file extension: content type} for the served files, as the Flask server types them. nginx and Caddy look at
    the last extension only, so two files sharing one (x.d.ts, y.ts) must share a type too."""
    types: dict[str, str] = {}
    for name in served:
        extension = PurePosixPath(name).suffix.lstrip(".")
        kind = content_type_of(name)
        if not extension:
            if kind != DEFAULT_TYPE:
                raise HostConfigError(f"{name} has no extension, so web servers would send it as {DEFAULT_TYPE}, "
                                      f"not {kind}")
            continue
        if types.setdefault(extension, kind) != kind:
            raise HostConfigError(f"{name} needs {kind}, but another .{extension} file needs {types[extension]}: "
                                  "a web server types files by their last extension only")
    return dict(sorted(types.items()))


def headers_file(routes: list[Route]) -> str:
    """Netlify / Cloudflare Pages `_headers`. Paths are kept apart (no header set by two rules), since these hosts
    join the values of a header that several matching rules set. These hosts never serve `_headers` itself."""
    lines = ["# Security and cache headers for Netlify and Cloudflare Pages (written by `python server.py bundle`)."]
    for route in routes:
        for path in route.paths:
            lines.append(path if route.file else path + "*")
            lines.extend(f"  {name}: {value}" for name, value in route.headers.items())
        lines.append("")
    return "\n".join(lines)


def _quoted(value: str) -> str:
    """A header value in double quotes; one holding what nginx or Caddy would read as syntax is refused."""
    if any(character in value for character in '"\\${}'):
        raise HostConfigError(f"cannot write the header value {value!r} into a web server's configuration")
    return f'"{value}"'


def nginx_snippet(routes: list[Route], types: dict[str, str]) -> str:
    """Directives for a `server {}` whose `root` is the bundle. Its `types {}` replaces nginx's mime.types for this
    server, so it lists every extension the bundle holds. nginx drops inherited add_header lines in a block that sets
    its own, and an internal redirect (an index file) leaves the location, so each location serves its files itself
    (try_files, no `index`) and repeats every header it needs."""

    def block(location: str, headers: dict[str, str], action: str) -> str:
        lines = [f"location {location} {{", f"    {action}"]
        # `always`: on errors too, except the cache lifetime (a missing file's 404 must not be kept for a year).
        lines += [f"    add_header {name} {_quoted(value)}{'' if name == 'Cache-Control' else ' always'};"
                  for name, value in headers.items()]
        return "\n".join(lines) + "\n}\n"

    bare_types = {extension: kind.removesuffix(CHARSET) for extension, kind in types.items()}
    with_charset = sorted({bare_types[extension] for extension, kind in types.items() if kind.endswith(CHARSET)})
    type_lines = "".join(f"    {kind} {extension};\n" for extension, kind in bare_types.items())
    parts = ["# Include inside the server {} block whose `root` is the bundle folder (written by `python server.py "
             "bundle`):\n#     root /srv/site;\n#     include /srv/site/nginx.conf;\n"
             "# Give the bundle a server {} of its own: the types below replace nginx's mime.types there.\n"
             "# Only GET and HEAD, like the Flask server.\n"
             "if ($request_method !~ ^(GET|HEAD)$) { return 405; }\n"
             f"types {{\n{type_lines}}}\ndefault_type {DEFAULT_TYPE};\n"
             f"charset utf-8;\ncharset_types {' '.join(with_charset)};\n"
             f"gzip on;\ngzip_types {' '.join(GZIP_TYPES)};\n"]
    for route in routes:
        if route.file:
            alternatives = "|".join(re.escape(path) for path in route.paths)
            parts.append(block(f"~ ^({alternatives})$", route.headers, f"try_files /{route.file} =404;"))
        else:
            folders = "|".join(re.escape(path.strip("/")) for path in route.paths)
            parts.append(block(f"~ ^/({folders})/", route.headers, "try_files $uri =404;"))
    parts.append("# Every other URL, this file and the other header files included.\n"
                 + block("/", NOT_FOUND_HEADERS, "return 404;"))
    return "\n".join(parts)


def caddy_snippet(routes: list[Route], types: dict[str, str]) -> str:
    """Directives for a Caddy site block whose `root` is the bundle. Caddy orders directives itself: `header` runs
    first (on the URL as requested), then `rewrite`, then `respond`, then `file_server`."""
    matchers = {route.name: " ".join(route.paths if route.file else [path + "*" for path in route.paths])
                for route in routes}
    lines = ["# Import inside the Caddy site block whose `root` is the bundle folder (written by `python server.py "
             "bundle`):\n#     root * /srv/site\n#     import /srv/site/caddy.conf",
             "# Only GET and HEAD, like the Flask server.",
             "@not_read not method GET HEAD", "respond @not_read 405",
             "# Every other URL, this file and the other header files included.",
             f"@elsewhere not path {' '.join(matchers.values())}",
             "respond @elsewhere 404",
             "header @elsewhere {", *[f"    {name} {_quoted(value)}" for name, value in
                                      NOT_FOUND_HEADERS.items()], "}",
             "# The Flask server's content types, which Caddy's own table does not all match (.json, .d.ts).",
             *[f"@type_{extension} path *.{extension}\nheader @type_{extension} Content-Type {_quoted(kind)}"
               for extension, kind in types.items()]]
    for route in routes:
        lines.append(f"@{route.name} path {matchers[route.name]}")
        lines.append(f"header @{route.name} {{")
        lines += [f"    {name} {_quoted(value)}" for name, value in route.headers.items()]
        lines.append("}")
        if route.file:
            lines.append(f"rewrite @{route.name} /{route.file}")
    lines += ["# A missing file's 404 must not be kept for a year.",
              "handle_errors {", "    header Cache-Control no-cache", "}", "encode gzip", "file_server"]
    return "\n".join(lines) + "\n"
