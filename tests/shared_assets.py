"""Where the tests find the shared assets (FER2013 CSV, LapSRN weights): env vars first, then ../shared.

Tests that need one skip with the reason when it is absent; CI has them, so CI runs those tests.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


def _asset(env: str, default: Path, what: str) -> Path:
    path = Path(os.environ.get(env) or default)
    if not path.is_file():
        pytest.skip(f"{what} not found at {path} (set ${env} or put it in ../shared)")
    return path


def fer2013_csv() -> Path:
    return _asset("FER2013_CSV", SHARED / "data" / "fer2013" / "fer2013_raw.csv.gz", "FER2013 CSV")


def lapsrn_model() -> Path:
    return _asset("LAPSRN_MODEL", SHARED / "models" / "LapSRN_x2.pb", "LapSRN_x2.pb")
