"""A page for many faces, in headless Chromium: the faces' table and summary, tags that never overlap, highlights
from a row to its box and back (pointer and keyboard), and the CSV, JSON and PNG downloads, parsed; the CSV is
compared with the Python command line's on the same photo."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import analyse_photo
from tests.conftest import MODEL_DIR, REPO
from tests.group_photo import astronaut_grid, group_photo
from tests.images import save_png

# 15 faces from 50 to 190 px on a 1600 × 1067 photo: a crowded group, some faces close together.
GROUP_SIZES = [round(50 + 140 * index / 14) for index in range(15)]


@pytest.fixture(scope="module")
def group(loaded_page, tmp_path_factory) -> dict:
    """The group photo analysed by the page: {path, result}; needs the FER2013 faces."""
    try:
        picture, _ = group_photo(GROUP_SIZES)
    except FileNotFoundError as missing:
        pytest.skip(f"needs FER2013 faces: {missing}")
    path = save_png(picture, tmp_path_factory.mktemp("group") / "group.png")
    result = analyse_photo(loaded_page, path, timeout_s=120)
    assert len(result["faces"]) >= 12, result["faces"]
    return {"path": path, "result": result}


def expected_summary(faces: list[dict], labels: list[str]) -> str:
    counts = Counter(face["emotion"]["label"] for face in faces)
    parts = sorted(counts.items(), key=lambda item: (-item[1], labels.index(item[0])))
    return f"{len(faces)} faces: " + ", ".join(f"{count} {label}" for label, count in parts)


def rects(page, selector: str) -> list[dict]:
    return page.eval_on_selector_all(selector, "items => items.map((item) => { const r = item.getBoundingClientRect(); "
                                               "return {x: r.x, y: r.y, width: r.width, height: r.height}; })")


def test_table_has_a_row_per_face_and_the_summary_counts_labels(loaded_page, group, metadata):
    faces = group["result"]["faces"]
    rows = loaded_page.locator("#faces tr")
    assert rows.count() == len(faces)
    for index, face in enumerate(faces):
        cells = rows.nth(index).locator("td").all_inner_texts()
        assert cells[0] == str(face["id"])
        assert cells[1].strip().lower() == face["emotion"]["label"]
        assert cells[2] == f"{round(face['emotion']['probability'] * 100)}%"
        # The mini bar: one part per class, widths as the probabilities.
        parts = rows.nth(index).locator(".mini-bar span")
        assert parts.count() == len(metadata["labels"])
        widths = [float(parts.nth(i).evaluate("part => part.style.width").rstrip("%")) for i in range(parts.count())]
        assert widths == pytest.approx([100 * entry["probability"] for entry in face["smoothed"]], abs=0.01)
    summary = loaded_page.inner_text("#face-summary")
    assert summary == expected_summary(faces, metadata["labels"])
    assert summary.startswith(f"{len(faces)} faces: ")
    assert loaded_page.get_attribute("#face-summary", "aria-live") == "polite"
    loaded_page.screenshot(path=str(REPO / "docs" / "screenshot.png"), full_page=True)  # shown in the README


def test_tags_never_overlap_and_stay_on_the_picture(loaded_page, group):
    tags = rects(loaded_page, "#overlay .face-tag")
    assert len(tags) == len(group["result"]["faces"])
    (stage,) = rects(loaded_page, "#photo-canvas")
    assert stage["width"] > 800  # the picture is shown large at 1280 px
    for index, a in enumerate(tags):
        assert stage["x"] - 0.5 <= a["x"] and a["x"] + a["width"] <= stage["x"] + stage["width"] + 0.5
        assert stage["y"] - 0.5 <= a["y"] and a["y"] + a["height"] <= stage["y"] + stage["height"] + 0.5
        for b in tags[index + 1:]:
            overlap_x = min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"])
            overlap_y = min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"])
            assert overlap_x <= 0.5 or overlap_y <= 0.5, (a, b)
    # On a narrow screen the same faces' tags are cut to their numbers (the table is the legend), still apart.
    loaded_page.set_viewport_size({"width": 390, "height": 844})
    loaded_page.wait_for_timeout(300)
    assert loaded_page.get_attribute("#overlay", "data-tags") == "numbers"
    texts = loaded_page.locator("#overlay .face-tag").all_inner_texts()
    assert texts == [str(face["id"]) for face in group["result"]["faces"]]
    narrow = rects(loaded_page, "#overlay .face-tag")
    for index, a in enumerate(narrow):
        for b in narrow[index + 1:]:
            assert (min(a["x"] + a["width"], b["x"] + b["width"]) - max(a["x"], b["x"]) <= 0.5
                    or min(a["y"] + a["height"], b["y"] + b["height"]) - max(a["y"], b["y"]) <= 0.5), (a, b)
    loaded_page.set_viewport_size({"width": 1280, "height": 900})


def classes(page, selector: str) -> list[str]:
    return page.eval_on_selector(selector, "item => [...item.classList]")


def test_hover_and_choice_light_up_box_and_row_both_ways(loaded_page, group):
    page = loaded_page
    page.hover("#faces tr[data-id='3']")
    assert "is-hovered" in classes(page, "#overlay .face-box[data-id='3']")
    assert "is-hovered" not in classes(page, "#overlay .face-box[data-id='4']")
    page.hover("#overlay .face-box[data-id='5']")
    assert "is-hovered" in classes(page, "#faces tr[data-id='5']")
    assert "is-hovered" not in classes(page, "#faces tr[data-id='3']")
    # Choosing: a click on a row, then on a box, selects that face in both places.
    page.click("#faces tr[data-id='2']")
    assert page.get_attribute("#faces tr[data-id='2']", "aria-selected") == "true"
    assert "is-selected" in classes(page, "#overlay .face-box[data-id='2']")
    page.click("#overlay .face-box[data-id='6']")
    assert page.get_attribute("#faces tr[data-id='6']", "aria-selected") == "true"
    assert page.get_attribute("#faces tr[data-id='2']", "aria-selected") == "false"
    assert "is-selected" in classes(page, "#overlay .face-box[data-id='6']")
    # Keyboard: the table is one tab stop (the chosen row); arrows move the choice, Escape clears it.
    assert page.eval_on_selector_all("#faces tr", "rows => rows.filter((row) => row.tabIndex === 0).length") == 1
    page.focus("#faces tr[data-id='6']")
    page.keyboard.press("ArrowDown")
    assert page.evaluate("document.activeElement.dataset.id") == "7"
    assert page.get_attribute("#faces tr[data-id='7']", "aria-selected") == "true"
    assert "is-selected" in classes(page, "#overlay .face-box[data-id='7']")
    page.keyboard.press("Home")
    assert page.get_attribute("#faces tr[data-id='1']", "aria-selected") == "true"
    page.keyboard.press("Escape")
    assert page.eval_on_selector_all("#faces tr[aria-selected='true']", "rows => rows.length") == 0
    assert page.eval_on_selector_all("#overlay .face-box.is-selected", "boxes => boxes.length") == 0


def download(page, button: str, folder: Path) -> Path:
    with page.expect_download() as started:
        page.click(button)
    saved = folder / started.value.suggested_filename
    started.value.save_as(saved)
    return saved


def cli_columns(labels: list[str]) -> list[str]:
    from emotion_detector.output import RowWriter

    return RowWriter(io.StringIO(), labels, "csv").columns


def test_csv_json_and_png_downloads(loaded_page, group, metadata, tmp_path):
    faces = group["result"]["faces"]
    csv_file = download(loaded_page, "#download-csv", tmp_path)
    json_file = download(loaded_page, "#download-json", tmp_path)
    png_file = download(loaded_page, "#download-png", tmp_path)
    assert [csv_file.name, json_file.name, png_file.name] == [
        "group-emotions.csv", "group-emotions.json", "group-annotated.png"]

    with csv_file.open(newline="") as stream:
        rows = list(csv.reader(stream))
    assert rows[0] == cli_columns(metadata["labels"])
    records = json.loads(json_file.read_text())
    assert [list(record) for record in records] == [rows[0]] * len(faces)
    assert len(rows) - 1 == len(records) == len(faces)
    for row, record, face in zip(rows[1:], records, faces, strict=True):
        values = dict(zip(rows[0], row, strict=True))
        assert values["file"] == record["file"] == "group.png"
        assert (values["kind"], values["frame"], values["time"]) == ("image", "0", "0.0")
        assert int(values["face"]) == record["face"] == face["id"]
        for key in ("x", "y", "width", "height"):
            assert float(values[key]) == record[key] == pytest.approx(face["box"][key], abs=0.005)
        assert float(values["score"]) == pytest.approx(face["score"], abs=5e-5)
        for entry in face["smoothed"]:
            assert float(values[entry["label"]]) == record[entry["label"]] == pytest.approx(entry["probability"],
                                                                                            abs=5e-6)
        assert values["label"] == record["label"] == face["emotion"]["label"]

    annotated = np.asarray(Image.open(png_file).convert("RGB"))
    original = np.asarray(Image.open(group["path"]).convert("RGB"))
    assert annotated.shape == original.shape
    # Each box's left edge is drawn in its label's colour (the table's swatch).
    for face in faces:
        box = face["box"]
        colour = loaded_page.eval_on_selector(f"#faces tr[data-id='{face['id']}'] .swatch",
                                              "swatch => getComputedStyle(swatch).backgroundColor")
        expected = [int(part) for part in colour[colour.index("(") + 1:-1].split(",")]
        x, y = round(box["x"]), round(box["y"] + box["height"] / 2)
        assert np.abs(annotated[y, x].astype(int) - expected).max() <= 2, (face["id"], annotated[y, x], expected)


def test_csv_equals_the_python_command_lines_on_the_same_photo(loaded_page, tmp_path, metadata):
    """A 2400 × 2400 photo, which both analyse scaled to 2048 px and report in its own pixels."""
    pytest.importorskip("ai_edge_litert", reason="the Python package's runtime (requirements.txt) is not installed")
    picture, _ = astronaut_grid(3, side=800)
    save_png(picture, tmp_path / "grid.png")
    subprocess.run([sys.executable, "-m", "emotion_detector", "grid.png", "-o", "cli.csv", "-q",
                    "--model-dir", str(MODEL_DIR)], cwd=tmp_path, check=True, timeout=120,
                   env={**os.environ, "PYTHONPATH": str(REPO)})
    result = analyse_photo(loaded_page, tmp_path / "grid.png", timeout_s=120)
    assert len(result["faces"]) == 9
    page_csv = download(loaded_page, "#download-csv", tmp_path)
    ours, theirs = (list(csv.reader((tmp_path / name).open(newline=""))) for name in (page_csv.name, "cli.csv"))
    assert ours[0] == theirs[0]
    assert len(ours) == len(theirs) == 10
    labels = metadata["labels"]
    gaps = {"box": 0.0, "score": 0.0, "probability": 0.0}
    for mine, cli in zip(ours[1:], theirs[1:], strict=True):
        a, b = dict(zip(ours[0], mine, strict=True)), dict(zip(theirs[0], cli, strict=True))
        assert [a[key] for key in ("file", "kind", "frame", "time", "face", "label")] == \
            [b[key] for key in ("file", "kind", "frame", "time", "face", "label")]
        gaps["box"] = max(gaps["box"], *(abs(float(a[key]) - float(b[key])) for key in ("x", "y", "width", "height")))
        gaps["score"] = max(gaps["score"], abs(float(a["score"]) - float(b["score"])))
        gaps["probability"] = max(gaps["probability"], *(abs(float(a[label]) - float(b[label])) for label in labels))
    print("largest page-vs-CLI gaps:", gaps)
    # Two runtimes (TF.js in the browser, LiteRT in Python), both on float16 weights: measured here, the files differ
    # by one unit of their last digit (box 0.01 px, score 1e-4, probabilities 5e-5). Bounds leave room for other
    # backends (WebGL), still far below anything a reader of the file would notice.
    assert gaps["box"] < 0.5
    assert gaps["score"] < 1e-3
    assert gaps["probability"] < 1e-3
