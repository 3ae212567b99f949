#!/usr/bin/env bash
# Install what the page needs (no TensorFlow) and serve it with the shipped model.
#   bash scripts/start.sh [--host 127.0.0.1] [--port 8000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_python requirements-page.txt
setup_node --page
exec .venv/bin/python server.py "$@"
