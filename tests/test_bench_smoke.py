"""Smoke test of bench/ (the side-by-side benchmark against face-api, Human and fer) on 8 real FER2013 faces.

Runs the real thing, small: every model classifies the same 8 faces in headless Chromium (fer in its own venv, when
present) and is timed on one backend. Skips with the reason when the FER CSV, Chromium or the peers' npm packages
are missing.
"""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from tests.shared_assets import REPO, fer2013_csv
from tests.tfjs_runner import require_browser_stack

FACES = 8
LATENCY_RUNS = 7  # more than bench/browser.py's rounds, and not a multiple of them


def test_peer_labels_map_onto_fer2013_and_a_missing_class_is_a_miss() -> None:
    from bench.peers import to_fer_order

    face_api_order = ["neutral", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
    scores = np.eye(7)
    fer_order = to_fer_order(scores, face_api_order)
    # face-api's "fearful" is its column 4, FER2013's "fear" is index 2.
    assert fer_order.argmax(axis=1).tolist() == [6, 3, 4, 0, 2, 1, 5]
    # A model without "disgust": that column stays 0, so a disgust face can never be hit.
    six = to_fer_order(np.full((1, 6), 1 / 6), ["angry", "fear", "happy", "sad", "surprise", "neutral"])
    assert six[0, 1] == 0 and six.shape == (1, 7)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict, str]:
    csv = fer2013_csv()
    require_browser_stack()
    for package in ("face-api", "human"):
        if not (REPO / "node_modules" / "@vladmandic" / package / "package.json").exists():
            pytest.skip(f"@vladmandic/{package} is not installed (npm ci installs the devDependencies)")
    from bench.run import main

    out = tmp_path_factory.mktemp("bench")
    arguments = ["--data", str(csv), "--faces", str(FACES), "--out", str(out), "--backends", "wasm",
                 "--latency-runs", str(LATENCY_RUNS), "--frames", "1", "--warmup", "1"]
    # A thread of its own: Playwright's sync API refuses one where the tests' browser already runs an event loop.
    with ThreadPoolExecutor(max_workers=1) as bench_thread:
        bench_thread.submit(main, arguments).result()
    return json.loads((out / "results.json").read_text()), (out / "results.md").read_text()


def test_every_model_classifies_every_face_into_the_seven_fer_classes(results: tuple[dict, str]) -> None:
    report, _ = results
    models = report["models"]
    assert {"ours", "face-api", "human"} <= set(models)
    for name, entry in models.items():
        assert not entry["errors"], f"{name}: {entry['errors']}"
        assert entry["accuracy"]["faces"] == FACES, name
        assert len(entry["predictions"]) == FACES and set(entry["predictions"]) <= set(range(7)), name
        matrix = np.array(entry["accuracy"]["confusion_matrix"])
        assert matrix.shape == (7, 7) and matrix.sum() == FACES, name
        assert 0 <= entry["accuracy"]["accuracy"] <= 1 and entry["classifier_bytes"] > 10_000, name


def test_every_model_is_timed_per_face_and_end_to_end(results: tuple[dict, str]) -> None:
    report, _ = results
    for name, entry in report["models"].items():
        backend = "wasm" if entry["runtime"] == "browser" else "python"
        figures = entry["speed"][backend]
        assert figures["latency_ms"] > 0 and figures["fps"] > 0, name
        assert figures["latency_vs_ours"] > 0 and figures["fps_vs_ours"] > 0, name
        # The test frame holds one real face: every pipeline has something to classify.
        assert figures["faces_in_frame"] >= 1, name
        if entry["runtime"] == "browser":
            # Timed in rounds that alternate between the pages: every asked-for run is there, none twice.
            assert figures["raw"]["latency"]["runs"] == LATENCY_RUNS, name
    assert report["models"]["ours"]["speed"]["wasm"]["latency_vs_ours"] == 1.0


def test_table_has_a_row_per_model_with_date_and_hardware(results: tuple[dict, str]) -> None:
    report, table = results
    for entry in report["models"].values():
        assert sum(line.startswith(f"| {entry['title']} |") for line in table.splitlines()) == 1
    assert report["date"][:4] in table and report["hardware"]["cpu"] in table and "PublicTest" in table
    # fer runs only where its venv exists (bench/requirements.txt); otherwise the report says it was left out.
    assert ("fer" in report["models"]) != ("fer" in report["skipped"])


def test_model_cost_times_an_untrained_candidate_beside_humans_model(tmp_path) -> None:
    require_browser_stack()
    if not (REPO / "node_modules" / "@vladmandic" / "human" / "package.json").exists():
        pytest.skip("@vladmandic/human is not installed (npm ci installs the devDependencies)")
    pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
    from bench.model_cost import main
    from training.model import build_model, multiply_adds

    figures = tmp_path / "cost.json"
    assert main(["separable:8", "--shipped", "--rounds", "2", "--runs", "3", "--json", str(figures)]) == 0

    rows = {row["network"]: row for row in json.loads(figures.read_text())}
    assert set(rows) == {"separable:8", "shipped", "human"}
    assert rows["separable:8"]["multiply_adds"] == multiply_adds(build_model(96, 7, width=8, architecture="separable"))
    assert rows["shipped"]["parameters"] == json.loads((REPO / "converted_model" / "metadata.json").read_text())[
        "model"]["parameters"]
    for row in rows.values():
        assert len(row["round_medians_ms"]) == 2 and row["median_ms"] > 0
    assert rows["human"]["ratio_to_human"] == 1.0
    assert 0 < rows["separable:8"]["weights_mb"] < rows["shipped"]["weights_mb"]


def test_model_cost_refuses_an_unknown_candidate() -> None:
    from bench.model_cost import main

    with pytest.raises(SystemExit, match="'resnet:16'.*vgg96, pyramid, separable"):
        main(["resnet:16"])
