"""The network's output as calibrated probabilities: its logits divided by the temperature metadata.json's
``output.temperature`` records (fitted by ``python -m training calibrate``), as the page's classifier.js does."""

from __future__ import annotations

import numpy as np


def calibrated(output: np.ndarray, kind: str = "probabilities", temperature: float = 1.0) -> np.ndarray:
    """(N, classes) probabilities. For an output of probabilities their logarithms stand for the logits: the same
    thing up to a constant per face, which the softmax removes."""
    logits = output if kind == "logits" else np.log(np.maximum(np.asarray(output, np.float64), 1e-12))
    scaled = np.asarray(logits, np.float64) / temperature
    exponent = np.exp(scaled - scaled.max(axis=1, keepdims=True))
    return (exponent / exponent.sum(axis=1, keepdims=True)).astype(np.float32)
