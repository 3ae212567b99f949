# Shared install steps for scripts/start.sh and scripts/test.sh (sourced, not run).

# retry COMMAND...: run it up to three times, 10 s apart. A registry download cut short
# (seen in CI: TensorFlow's 645 MB wheel broke off at 99%) should not fail the whole run.
retry() {
  local attempt
  for attempt in 1 2 3; do
    "$@" && return 0
    [ "$attempt" = 3 ] || { echo "warning: attempt $attempt of 3 failed: $*; retrying in 10 s" >&2; sleep 10; }
  done
  return 1
}

# setup_python [--venv DIR] [--no-deps] REQUIREMENTS...: a venv (default .venv) with these pins installed.
setup_python() {
  local venv=.venv pip_flags=""
  if [ "${1:-}" = --venv ]; then venv=$2; shift 2; fi
  if [ "${1:-}" = --no-deps ]; then pip_flags=--no-deps; shift; fi
  local python="${PYTHON:-python3}"
  if ! "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
    echo "error: Python 3.11 or newer is needed (found: $("$python" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
    exit 1
  fi
  [ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
  local stamp="$venv/.installed-$(cat "$@" | sha256sum | cut -c1-16)"
  if [ ! -e "$stamp" ]; then
    echo "Installing $* into $venv …"
    : >"$venv/pip-install.log"
    if ! retry "$venv/bin/python" -m pip install --disable-pip-version-check --retries 10 --timeout 60 \
        $pip_flags $(printf -- '-r %s ' "$@") >>"$venv/pip-install.log" 2>&1; then
      tail -n 40 "$venv/pip-install.log" >&2
      echo "error: pip could not install $* (full log: $venv/pip-install.log)" >&2
      exit 1
    fi
    touch "$stamp"
  fi
}

# setup_node [--page]: node_modules from package-lock.json. --page installs only what the page serves (TF.js and
# MediaPipe's face detector), not the devDependencies (the benchmark's peers, which the tests use).
setup_node() {
  if ! command -v npm >/dev/null; then
    echo "error: npm (Node.js 18 or newer) is needed to install the page's JavaScript packages" >&2
    exit 1
  fi
  local omit="" page_only=node_modules/.page-only
  if [ "${1:-}" = --page ]; then omit=--omit=dev; fi
  # Up to date: the lock file is the installed one, and nothing the caller needs was left out.
  if [ -e node_modules/.package-lock.json ] && cmp -s package-lock.json node_modules/.lock-installed &&
      { [ -n "$omit" ] || [ ! -e "$page_only" ]; }; then
    return
  fi
  retry npm ci --no-audit --no-fund --loglevel=error $omit
  cp package-lock.json node_modules/.lock-installed
  if [ -n "$omit" ]; then : >"$page_only"; fi  # npm ci empties node_modules first: a full install has none
}

setup_chromium() {
  if [ -x /usr/bin/chromium ]; then return; fi
  if [ "$(id -u)" = 0 ]; then
    retry apt-get update -qq && retry env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
  else
    echo "error: the browser tests need Debian's Chromium: sudo apt-get install -y chromium" >&2
    exit 1
  fi
}

# nginx runs the reverse-proxy test (deploy/nginx.conf on loopback) and serves the static bundle in
# tests/test_bundle_hosts.py; without root those tests are skipped, saying so.
setup_nginx() {
  if [ -x /usr/sbin/nginx ] || [ "$(id -u)" != 0 ]; then return; fi
  retry apt-get update -qq && retry env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light >/dev/null
}

# Caddy serves the static bundle with its caddy.conf in tests/test_bundle_hosts.py; without root that test is
# skipped, saying so. (Debian's package; its service is not started in containers.)
setup_caddy() {
  if [ -x /usr/bin/caddy ] || [ "$(id -u)" != 0 ]; then return; fi
  retry apt-get update -qq && retry env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq caddy >/dev/null
}
