"""What a candidate network costs per face in the browser, before anyone trains it: parameters, multiply-adds,
float16 weights and TF.js WASM milliseconds at batch 1, timed in one page beside Human's emotion model (the speed
budget: no slower than Human's) so that only same-run ratios are compared.

    .venv/bin/python bench/model_cost.py pyramid:16 pyramid:12 separable:24 --shipped

Each ARCHITECTURE:WIDTH is built untrained by training/model.py and exported the way the pipeline exports
(SavedModel → TF.js graph model, float16 weights); weights do not change the time. --shipped adds converted_model/.
Rounds alternate between the models, so a change in machine load reaches every model alike.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench.browser import CHROMIUM, CHROMIUM_ARGS  # noqa: E402
from bench.serve import static_server  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
HUMAN_GRAPH = "/node_modules/@vladmandic/human/models/emotion.json"

# bench/web/model_cost.js does the timing; an expression, not a <script>, so the empty bench page stays as it is.
TIMING_JS = "async (job) => (await import('/bench/web/model_cost.js')).timeGraphs(job)"


def parse_candidate(spec: str) -> tuple[str, int]:
    from training.model import ARCHITECTURES

    architecture, _, width = spec.partition(":")
    if architecture not in ARCHITECTURES or not width.isdigit() or int(width) < 2:
        raise SystemExit(f"candidate {spec!r}: expected ARCHITECTURE:WIDTH with ARCHITECTURE one of "
                         f"{', '.join(ARCHITECTURES)}, e.g. pyramid:16")
    return architecture, int(width)


def export_candidate(spec: str, out: Path) -> dict:
    """Build ARCHITECTURE:WIDTH untrained, export it as the pipeline does, and describe its cost."""
    from training.export import convert_to_tfjs, export_saved_model
    from training.model import build_model, inference_model, multiply_adds

    architecture, width = parse_candidate(spec)
    model = inference_model(build_model(96, 7, width=width, architecture=architecture))
    with tempfile.TemporaryDirectory() as saved_model:
        export_saved_model(model, Path(saved_model))
        convert_to_tfjs(Path(saved_model), out)
    return {"parameters": model.count_params(), "multiply_adds": multiply_adds(model)}


def shipped_cost() -> dict:
    import keras

    from training.model import multiply_adds

    reference = keras.models.load_model(REPO / "converted_model" / "reference.keras", compile=False)
    return {"parameters": reference.count_params(), "multiply_adds": multiply_adds(reference)}


def weights_mb(model_dir: Path) -> float:
    return sum(path.stat().st_size for path in model_dir.glob("*.bin")) / 1e6


def time_in_chromium(graphs: dict[str, Path], rounds: int, runs: int) -> dict[str, list[float]]:
    from playwright.sync_api import sync_playwright

    routes = {"/bench": REPO / "bench", "/node_modules": REPO / "node_modules"}
    models = [{"name": "human", "url": HUMAN_GRAPH}]
    for index, (name, folder) in enumerate(graphs.items()):
        routes[f"/candidate{index}"] = folder
        models.append({"name": name, "url": f"/candidate{index}/model.json"})
    with static_server(routes) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page()
            page.goto(f"{base}/bench/web/page.html")
            return page.evaluate(TIMING_JS, {"models": models, "rounds": rounds, "runs": runs})
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("candidates", nargs="*", help="ARCHITECTURE:WIDTH, e.g. pyramid:16 separable:24")
    parser.add_argument("--shipped", action="store_true", help="also time converted_model/")
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--runs", type=int, default=60, help="timed calls per model per round")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args(argv)
    if not args.candidates and not args.shipped:
        parser.error("name at least one candidate or --shipped")
    for spec in args.candidates:
        parse_candidate(spec)  # refuse a bad name before minutes of exporting

    with tempfile.TemporaryDirectory() as scratch:
        graphs: dict[str, Path] = {}
        costs: dict[str, dict] = {}
        if args.shipped:
            graphs["shipped"] = REPO / "converted_model"
            costs["shipped"] = shipped_cost()
        for spec in args.candidates:
            graphs[spec] = Path(scratch) / spec.replace(":", "_")
            costs[spec] = export_candidate(spec, graphs[spec])
        medians = time_in_chromium(graphs, args.rounds, args.runs)
        for name, folder in graphs.items():
            costs[name]["weights_mb"] = round(weights_mb(folder), 2)

    human_ms = statistics.median(medians["human"])
    rows = []
    print("| network | parameters | multiply-adds | weights | per-face ms, TF.js WASM | × Human's |")
    print("|---|---:|---:|---:|---:|---:|")
    for name in [*graphs, "human"]:
        ms = statistics.median(medians[name])
        cost = costs.get(name, {})
        row = {"network": name, **cost, "median_ms": round(ms, 2), "ratio_to_human": round(ms / human_ms, 2),
               "round_medians_ms": [round(value, 2) for value in medians[name]]}
        rows.append(row)
        parameters = f"{cost['parameters']:,}" if cost else "—"
        macs = f"{cost['multiply_adds'] / 1e6:.1f} M" if cost else "—"
        weights = f"{cost['weights_mb']:.2f} MB" if cost else "—"
        label = "Human's emotion model" if name == "human" else name
        print(f"| {label} | {parameters} | {macs} | {weights} | {ms:.2f} | {ms / human_ms:.2f} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
