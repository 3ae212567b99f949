"""The README stays a user's page (at most 300 lines), and the product's files speak of the product: never of the
machines lent to the team, the calls that run on them, its work sessions or its issue numbers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import REPO

README_MAX_LINES = 300

# The product: what a user reads or runs. Each entry is a file or a folder searched recursively.
PRODUCT = ["README.md", "docs", "templates", "static", "emotion_detector", "training", "bench", "server.py",
           "scripts"]
TEXT_SUFFIXES = {".md", ".py", ".js", ".ts", ".html", ".css", ".json", ".toml", ".txt", ".sh", ".cfg", ".yml",
                 ".yaml"}

# Each pattern names one way the team's own work shows through; they are written so that ordinary words
# ("excellent", "silent", an HTTP or ONNX session, "this issue") cannot match.
TEAM_WORK = {
    "a lent machine": r"\blent\b",
    "a device call": r"\bdevice[ -]calls?\b",
    "carried wheels": r"\bcarr(?:y|ies|ied|ying) \.whl\b",
    "the device data folder": r"\.device-data\b",
    "an issue number": r"\bissue #?\d+|\bissue #",
    "a dated session": r"\bsession of \d{4}-\d\d|\b\d{4}-\d\d-\d\d(?: \w+)? session\b",
    "a session in the team's sense": r"\b(?:next|previous|last|later|earlier) session\b|\bminutes a session\b",
}
TEAM_WORK_RE = {name: re.compile(pattern, re.IGNORECASE) for name, pattern in TEAM_WORK.items()}


def product_files(entry: str) -> list[Path]:
    path = REPO / entry
    if path.is_file():
        return [path]
    return sorted(file for file in path.rglob("*")
                  if file.is_file() and file.suffix in TEXT_SUFFIXES and "__pycache__" not in file.parts)


def team_work_mentions(text: str) -> list[str]:
    """Each line of ``text`` that mentions the team's work, as 'line N: what (the words)'."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        for name, pattern in TEAM_WORK_RE.items():
            if match := pattern.search(line):
                found.append(f"line {number}: {name} ({match.group(0)!r})")
    return found


def test_readme_is_short() -> None:
    lines = (REPO / "README.md").read_text().count("\n")
    assert lines <= README_MAX_LINES, f"README.md has {lines} lines; keep it to {README_MAX_LINES} and move " \
                                      "the rest to docs/"


def test_patterns_catch_team_work_and_spare_ordinary_words() -> None:
    for sentence in ["trained on a lent H100", "the next device call", "one device-call", "carry .whl and data",
                     "cp x .device-data/", "see issue 12", "Issue #7", "as in issue #", "the session of 2026-11-26",
                     "the 2026-11-25 evening session", "the next session continued", "15 minutes a session"]:
        assert team_work_mentions(sentence), sentence
    for sentence in ["an excellent result", "silent failures", "relentless clients", "an ONNX InferenceSession",
                     "an HTTP session cookie", "this issue is known", "pip install dist/x-1.0-py3-none-any.whl",
                     "a GPU device", "the session ends when the tab closes", "calls per second"]:
        assert not team_work_mentions(sentence), sentence


@pytest.mark.parametrize("entry", PRODUCT)
def test_product_speaks_of_the_product_not_the_team(entry: str) -> None:
    files = product_files(entry)
    assert files, f"{entry}: no files found"
    mentions = [f"{file.relative_to(REPO)} {mention}"
                for file in files for mention in team_work_mentions(file.read_text(errors="replace"))]
    assert not mentions, "the team's way of working shows in the product:\n" + "\n".join(mentions)
