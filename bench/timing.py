"""The latency summary every benchmark reports: standard library only, so that bench/fer_peer.py, which runs in
the bench venv, shares it with the scripts of the training venv."""

from __future__ import annotations

import statistics


def latency_summary(times_ms: list[float]) -> dict:
    """Runs, median (the upper one of an even count), mean, min and max of per-call milliseconds."""
    ordered = sorted(times_ms)
    return {"runs": len(ordered), "median_ms": ordered[len(ordered) // 2], "mean_ms": statistics.fmean(ordered),
            "min_ms": ordered[0], "max_ms": ordered[-1]}
