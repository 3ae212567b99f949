"""Benchmark our emotion model against face-api, Human and the fer package: accuracy on a FER2013 split and speed
(per-face latency, end-to-end fps at 640×480) in headless Chromium per TF.js backend. Writes results.md + results.json.

    python bench/run.py --faces 50 --out bench/results          # all of PublicTest without --faces

Every model gets the same raw 48×48 faces; ours resizes and normalises them as the page does (classifier.js, from
metadata.json). Run with the project's venv (.venv: Playwright, training/; scripts/test.sh makes it). fer runs
in its own venv .venv-bench (bench/requirements.txt; --fer-python, env BENCH_PYTHON); without it fer is left out,
with a note.
"""

from __future__ import annotations

import argparse
import datetime
import json
import logging
import os
import platform
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run as a script from anywhere

from bench import inputs, report  # noqa: E402
from bench.browser import Job, run_jobs  # noqa: E402
from bench.peers import REPO, Model, browser_models, fer_models  # noqa: E402

log = logging.getLogger("bench")

BACKENDS = ("wasm", "cpu", "webgl")
DEFAULT_FER_PYTHON = str(REPO / ".venv-bench" / "bin" / "python")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=os.environ.get("FER2013_CSV", REPO.parent / "shared" / "data"
                                                                  / "fer2013" / "fer2013_raw.csv.gz"))
    parser.add_argument("--split", default="PublicTest")
    parser.add_argument("--faces", type=int, default=None, help="first N faces of the split (default: all)")
    parser.add_argument("--model-dir", type=Path, default=REPO / "converted_model")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results")
    parser.add_argument("--backends", default=",".join(BACKENDS), help="TF.js backends to time, comma-separated")
    parser.add_argument("--accuracy-backend", default="wasm", help="backend that classifies every face")
    parser.add_argument("--models", default="ours,face-api,human,fer,fer-keras")
    parser.add_argument("--latency-runs", type=int, default=50)
    parser.add_argument("--frames", type=int, default=20, help="end-to-end frames timed per model and backend")
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--fer-python", default=os.environ.get("BENCH_PYTHON", DEFAULT_FER_PYTHON))
    args = parser.parse_args(argv)
    args.backends = [name for name in args.backends.split(",") if name]
    args.models = [name for name in args.models.split(",") if name]
    if args.accuracy_backend not in args.backends:
        parser.error(f"--accuracy-backend {args.accuracy_backend} is not among --backends {args.backends}")
    return args


def fer_site_packages(python: str) -> Path | None:
    """The bench venv's site-packages holding fer, or None when that venv is absent."""
    if not Path(python).exists():
        return None
    found = subprocess.run([python, "-c", "import fer, pathlib; print(pathlib.Path(fer.__file__).parents[1])"],
                           capture_output=True, text=True)
    return Path(found.stdout.strip()) if found.returncode == 0 else None


def run_fer(args: argparse.Namespace, model: Model, data_dir: Path) -> dict:
    out = data_dir / f"{model.name}.json"
    command = [args.fer_python, str(REPO / "bench" / "fer_peer.py"), "--faces", str(data_dir / "faces48.npy"),
               "--frame", str(data_dir / "frame.png"), "--variant", "keras" if model.name == "fer-keras" else "tflite",
               "--latency-runs", str(args.latency_runs), "--frames", str(args.frames), "--warmup", str(args.warmup),
               "--out", str(out)]
    log.info("python: %s", model.name)
    done = subprocess.run(command, capture_output=True, text=True, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    if done.returncode != 0:
        return {"model": model.name, "backend": "python", "error": done.stderr.strip().splitlines()[-1:]}
    return json.loads(out.read_text())


def hardware() -> dict:
    cpu = platform.processor() or platform.machine()
    try:
        names = [line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "load_average": round(os.getloadavg()[0], 2),
            "platform": platform.platform()}


def tfjs_version() -> str:
    package = REPO / "node_modules" / "@tensorflow" / "tfjs" / "package.json"
    return json.loads(package.read_text())["version"] if package.exists() else "?"


def benchmark(args: argparse.Namespace) -> dict:
    faces = inputs.load_faces(args.data, args.split, args.faces)
    log.info("%d faces of %s", len(faces.labels), args.split)
    site_packages = fer_site_packages(args.fer_python)
    models = [m for m in browser_models(args.model_dir) + fer_models(site_packages) if m.name in args.models]
    skipped = [name for name in args.models if name not in {m.name for m in models}]
    entries = {model.name: report.model_entry(model) for model in models}
    with tempfile.TemporaryDirectory(prefix="bench-") as folder:
        data_dir = Path(folder)
        inputs.write_inputs(data_dir, faces, inputs.test_frame())
        jobs = [Job(m.name, backend, backend == args.accuracy_backend, args.latency_runs, args.frames)
                for m in models if m.runtime == "browser" for backend in args.backends]
        results, chromium = run_jobs(jobs, args.model_dir, data_dir, args.warmup)
        results += [run_fer(args, m, data_dir) for m in models if m.runtime == "python"]
    for result in results:
        entry = entries[result["model"]]
        if "error" in result:
            entry["errors"][result["backend"]] = str(result["error"])
            continue
        if "probabilities" in result:
            entry["accuracy"], scores = report.accuracy(result, faces.labels, faces.votes)
            entry["predictions"] = scores.argmax(axis=1).tolist()  # per face, FER2013 indices: for agreement checks
            entry["labels"] = result["labels"]
        entry["speed"][result["backend"]] = report.speed(result)
    report.add_ratios(entries, args.accuracy_backend)
    return {
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "hardware": hardware(), "chromium": chromium, "tfjs": tfjs_version(),
        "data": {"csv": str(args.data), "split": args.split, "faces": int(len(faces.labels))},
        "primary_backend": args.accuracy_backend, "backends": args.backends,
        "command": "python bench/run.py " + shlex.join(sys.argv[1:]) if sys.argv[1:] else "python bench/run.py",
        "skipped": {name: "fer's venv not found: see bench/requirements.txt" for name in skipped
                    if name.startswith("fer")},
        "models": entries,
    }


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    args = parse_args(argv)
    results = benchmark(args)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (args.out / "results.md").write_text(report.markdown(results))
    print(report.markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
