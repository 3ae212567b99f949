"""Runs the benchmark page (bench/web) in headless Debian Chromium: one fresh page per model and TF.js backend."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bench.serve import static_server

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
# No GPU and no network: WebGL, if any, is SwiftShader's software rasteriser.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
REPO = Path(__file__).resolve().parents[1]
JOB_TIMEOUT_MS = 30 * 60 * 1000  # the full split on the plain-JavaScript backend is slow


@dataclass(frozen=True)
class Job:
    model: str
    backend: str
    predict: bool  # classify every face (accuracy)
    latency_runs: int
    frames: int  # end-to-end frames timed (0: none)

    def payload(self, face_size: int, warmup: int) -> dict:
        faces_file = "faces_ours.u8" if self.model == "ours" else "faces48.u8"
        return {
            "model": self.model, "backend": self.backend, "modelUrl": "/model/",
            "faces": {"url": f"/data/{faces_file}", "size": face_size, "predict": self.predict},
            "latency": {"warmup": warmup, "runs": self.latency_runs} if self.latency_runs else None,
            "endToEnd": {"url": "/data/frame.png", "warmup": max(1, min(warmup, 2)), "runs": self.frames}
            if self.frames else None,
        }


def run_jobs(jobs: list[Job], model_dir: Path, data_dir: Path, our_size: int,
             warmup: int = 3) -> tuple[list[dict], str]:
    """Each job's result (or {"error": …} when, e.g., a backend is unavailable) and the Chromium version."""
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    routes = {"/bench": REPO / "bench", "/static": REPO / "static", "/node_modules": REPO / "node_modules",
              "/model": model_dir, "/data": data_dir}
    results = []
    with static_server(routes) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for job in jobs:
                log.info("browser: %s on %s", job.model, job.backend)
                page = browser.new_context().new_page()
                console: list[str] = []
                page.on("console", lambda message, sink=console: sink.append(message.text))
                page.set_default_timeout(JOB_TIMEOUT_MS)
                try:
                    page.goto(f"{base}/bench/web/page.html")
                    size = our_size if job.model == "ours" else 48
                    result = page.evaluate("async (job) => (await import('/bench/web/harness.js')).run(job)",
                                           job.payload(size, warmup))
                except PlaywrightError as problem:
                    message = str(problem).splitlines()[0]
                    log.warning("%s on %s failed: %s", job.model, job.backend, message)
                    result = {"model": job.model, "backend": job.backend, "error": message, "console": console[-5:]}
                finally:
                    page.context.close()
                results.append(result)
            version = browser.version
        finally:
            browser.close()
    return results, version
