"""Runs the benchmark page (bench/web) in headless Debian Chromium: one fresh page per model and TF.js backend.

Each page first classifies the faces and times the end-to-end frame; then the per-face latency is timed in rounds
that alternate between the pages (LATENCY_ROUNDS), so that a change in the machine's load during the run reaches
every model alike and the ratios between models stay comparable.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from bench.serve import static_server
from bench.timing import latency_summary

log = logging.getLogger(__name__)

CHROMIUM = Path("/usr/bin/chromium")
# No GPU and no network: WebGL, if any, is SwiftShader's software rasteriser.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--no-first-run", "--disable-sync", "--disable-quic"]
REPO = Path(__file__).resolve().parents[1]
JOB_TIMEOUT_MS = 30 * 60 * 1000  # the full split on the plain-JavaScript backend is slow
LATENCY_ROUNDS = 5


@dataclass(frozen=True)
class Job:
    model: str
    backend: str
    predict: bool  # classify every face (accuracy)
    latency_runs: int
    frames: int  # end-to-end frames timed (0: none)

    def payload(self, warmup: int) -> dict:
        return {
            "model": self.model, "backend": self.backend, "modelUrl": "/model/",
            "faces": {"url": "/data/faces48.u8", "size": 48, "predict": self.predict},
            "endToEnd": {"url": "/data/frame.png", "warmup": max(1, min(warmup, 2)), "runs": self.frames}
            if self.frames else None,
        }


def run_jobs(jobs: list[Job], model_dir: Path, data_dir: Path, warmup: int = 3) -> tuple[list[dict], str]:
    """Each job's result (or {"error": …} when, e.g., a backend is unavailable) and the Chromium version."""
    from playwright.sync_api import sync_playwright

    from bench.peers import face_detector_folder

    routes = {"/bench": REPO / "bench", "/static": REPO / "static", "/node_modules": REPO / "node_modules",
              "/blazeface": face_detector_folder(), "/model": model_dir, "/data": data_dir}
    results: list[dict] = []
    timed: dict[int, JobPage] = {}  # index of a job's result → its page, still holding the model for latency
    with static_server(routes) as base, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            for job in jobs:
                log.info("browser: %s on %s", job.model, job.backend)
                page = JobPage(browser, job)
                result = page.call("run", job.payload(warmup), goto=f"{base}/bench/web/page.html")
                if job.latency_runs and "error" not in result:
                    timed[len(results)] = page
                else:
                    page.close()
                results.append(result)
            _time_latency_in_rounds(timed, results, warmup)
            version = browser.version
        finally:
            browser.close()
    return results, version


class JobPage:
    """One job's page of the benchmark harness (bench/web/harness.js), its console kept for error reports."""

    def __init__(self, browser, job: Job) -> None:
        self.job = job
        self.page = browser.new_context().new_page()
        self.console: list[str] = []
        self.page.on("console", lambda message: self.console.append(message.text))
        self.page.set_default_timeout(JOB_TIMEOUT_MS)

    def call(self, function: str, argument: dict, goto: str | None = None) -> dict:
        """harness.js's `function` on `argument` (after opening `goto`), or the job's error result: the page closed."""
        from playwright.sync_api import Error as PlaywrightError

        try:
            if goto:
                self.page.goto(goto)
            return self.page.evaluate(
                f"async (argument) => (await import('/bench/web/harness.js')).{function}(argument)", argument)
        except PlaywrightError as problem:
            message = str(problem).splitlines()[0]
            log.warning("%s on %s failed: %s", self.job.model, self.job.backend, message)
            self.close()
            return {"model": self.job.model, "backend": self.job.backend, "error": message,
                    "console": self.console[-5:]}

    def close(self) -> None:
        self.page.context.close()


def _time_latency_in_rounds(pages: dict[int, JobPage], results: list[dict], warmup: int) -> None:
    """Sets each timed job's result["latency"]: its runs split into LATENCY_ROUNDS rounds, one page after the other."""
    times: dict[int, list[float]] = {index: [] for index in pages}
    for round_index in range(LATENCY_ROUNDS):
        for index, page in list(pages.items()):
            runs = page.job.latency_runs // LATENCY_ROUNDS + (round_index < page.job.latency_runs % LATENCY_ROUNDS)
            if runs == 0:
                continue
            timing = page.call("timeLatency", {"warmup": warmup, "runs": runs})
            if "error" in timing:
                results[index] = timing
                del pages[index]
            else:
                times[index] += timing["times"]
    for index, page in pages.items():
        results[index]["latency"] = {**latency_summary(times[index]), "rounds": LATENCY_ROUNDS}
        page.close()
