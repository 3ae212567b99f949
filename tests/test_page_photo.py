"""Photo mode in headless Chromium: real faces get boxed and classified; no face and broken files say so."""

from __future__ import annotations

import math

from tests.browser import analyse_photo
from tests.images import ASTRONAUT_FACE, five_face_group_photo, save_png


def test_astronaut_gets_one_box_on_her_face_and_a_full_distribution(loaded_page, pictures, metadata, artifacts):
    result = analyse_photo(loaded_page, pictures / "astronaut.png")
    assert (result["width"], result["height"]) == (512, 512)
    assert len(result["faces"]) == 1
    face = result["faces"][0]
    box = face["box"]
    centre_x, centre_y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    x0, y0, x1, y1 = ASTRONAUT_FACE
    assert x0 < centre_x < x1 and y0 < centre_y < y1
    assert 60 < box["width"] < 160 and 60 < box["height"] < 160
    probabilities = [entry["probability"] for entry in face["probabilities"]]
    assert [entry["label"] for entry in face["probabilities"]] == metadata["labels"]
    assert math.isclose(sum(probabilities), 1, abs_tol=1e-4)
    assert all(0 <= value <= 1 for value in probabilities)
    # What the visitor sees: one box, one table row with a bar part per class, a summary and a status naming the count.
    assert loaded_page.locator("#overlay .face-box").count() == 1
    assert loaded_page.locator("#faces tr").count() == 1
    assert loaded_page.locator("#faces tr .mini-bar span").count() == len(metadata["labels"])
    assert loaded_page.inner_text("#face-summary") == f"1 face: 1 {face['top']['label']}"

    assert loaded_page.locator("#status").get_attribute("data-state") == "faces"
    assert "1 face found" in loaded_page.inner_text("#status")
    assert loaded_page.inner_text("#backend") in {"webgl", "wasm", "cpu"}


def test_several_faces_get_one_box_each(loaded_page, tmp_path, metadata):
    frame, placed = five_face_group_photo()
    result = analyse_photo(loaded_page, save_png(frame, tmp_path / "group.png"))
    boxes = [face["box"] for face in result["faces"]]
    assert len(boxes) == len(placed), boxes
    for square in placed:  # each pasted face holds exactly one box centre
        inside = [b for b in boxes if square.x < b["x"] + b["width"] / 2 < square.x + square.size
                  and square.y < b["y"] + b["height"] / 2 < square.y + square.size]
        assert len(inside) == 1, (square, boxes)
    assert loaded_page.locator("#overlay .face-box").count() == len(placed)
    assert loaded_page.locator("#faces tr").count() == len(placed)


def test_picture_without_a_face_says_so(loaded_page, tmp_path):
    from skimage import data

    result = analyse_photo(loaded_page, save_png(data.coffee(), tmp_path / "coffee.png"))
    assert result["faces"] == []
    assert loaded_page.locator("#status").get_attribute("data-state") == "no-face"
    assert "No face found" in loaded_page.inner_text("#status")
    assert loaded_page.locator("#overlay .face-box").count() == 0
    assert loaded_page.locator("#faces tr").count() == 0
    assert loaded_page.is_disabled("#download-csv")  # nothing to save


def test_corrupt_file_shows_a_clear_error(loaded_page, tmp_path):
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff\xe0 this is not really a JPEG" + bytes(200))
    analyse_photo(loaded_page, broken)
    assert loaded_page.locator("#status").get_attribute("data-state") == "decode-error"
    assert "could not be read as an image" in loaded_page.inner_text("#status")
    assert loaded_page.locator("#status").evaluate("element => element.classList.contains('is-error')")
