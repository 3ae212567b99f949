"""Calibration: a temperature fitted on faces held out of training, and the expected calibration error (ECE), so
that a shown "happy 62%" is right about 62% of the time.

    python -m training calibrate --model-dir converted_model --split "Training[-3000:]"
"""

from __future__ import annotations

import numpy as np

from emotion_detector.calibration import calibrated

ECE_BINS = 15


def with_temperature(probabilities: np.ndarray, temperature: float) -> np.ndarray:
    return calibrated(probabilities, "probabilities", temperature)


def expected_calibration_error(probabilities: np.ndarray, labels: np.ndarray, bins: int = ECE_BINS) -> float:
    """Top-label ECE: faces binned by their top probability into equal-width bins; the faces' share of each bin
    times the gap between its mean top probability and its accuracy, summed."""
    confidence = probabilities.max(axis=1)
    correct = probabilities.argmax(axis=1) == labels
    which = np.minimum((confidence * bins).astype(np.int64), bins - 1)
    error = 0.0
    for index in range(bins):
        members = which == index
        if members.any():
            error += members.mean() * abs(confidence[members].mean() - correct[members].mean())
    return float(error)


def negative_log_likelihood(probabilities: np.ndarray, labels: np.ndarray) -> float:
    return float(-np.log(np.maximum(probabilities[np.arange(len(labels)), labels], 1e-12)).mean())


def fit_temperature(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """The temperature that minimises the negative log-likelihood of ``labels`` (Guo et al. 2017): a golden-section
    search over log T in [1/8, 8], where that likelihood has one minimum."""
    def loss(log_t: float) -> float:
        return negative_log_likelihood(with_temperature(probabilities, float(np.exp(log_t))), labels)

    low, high = np.log(1 / 8), np.log(8.0)
    ratio = (np.sqrt(5) - 1) / 2
    a, b = high - ratio * (high - low), low + ratio * (high - low)
    loss_a, loss_b = loss(a), loss(b)
    while high - low > 1e-4:
        if loss_a < loss_b:
            high, b, loss_b = b, a, loss_a
            a = high - ratio * (high - low)
            loss_a = loss(a)
        else:
            low, a, loss_a = a, b, loss_b
            b = low + ratio * (high - low)
            loss_b = loss(b)
    return round(float(np.exp((low + high) / 2)), 4)
