#!/usr/bin/env bash
# Install everything the tests need (Python venv, npm packages, Chromium) and run every test.
#   bash scripts/test.sh [pytest arguments]
# FER2013_CSV and LAPSRN_MODEL point the data tests at the real assets (default: ../shared/…).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
setup_python requirements-page.txt requirements.txt training/requirements.txt
# The fer peer of the benchmark needs its own venv (see bench/requirements.txt).
setup_python --venv .venv-bench --no-deps bench/requirements.txt
setup_node
setup_chromium
setup_nginx
setup_caddy
export FER2013_CSV="${FER2013_CSV:-$(realpath -m ../shared/data/fer2013/fer2013_raw.csv.gz)}"
export LAPSRN_MODEL="${LAPSRN_MODEL:-$(realpath -m ../shared/models/LapSRN_x2.pb)}"
exec .venv/bin/python -m pytest "$@"
