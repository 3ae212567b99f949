"""FER+ crowd votes (Barsoum et al. 2016, Microsoft's FER+, MIT): ten annotators per FER2013 face, as the vote
columns of ``fer2013_raw.csv.gz``. Turned here into the two things training and evaluation use: the official
majority label, and the vote distribution over our seven classes (a soft target).
"""

from __future__ import annotations

import numpy as np

from training.labels import EMOTIONS

# The vote columns, in the CSV's (and FER+'s fer2013new.csv's) order.
VOTE_COLUMNS: tuple[str, ...] = ("neutral", "happiness", "surprise", "sadness", "anger", "disgust", "fear",
                                 "contempt", "unknown", "NF")
# Our class index for each vote column; -1: contempt, unknown and not-a-face have no class of ours.
COLUMN_CLASS = np.array([EMOTIONS.index(name) for name in
                         ("neutral", "happy", "surprise", "sad", "angry", "disgust", "fear")] + [-1, -1, -1])
NO_LABEL = -1


def _without_single_votes(votes: np.ndarray) -> np.ndarray:
    """FER+'s outlier rule: a class that only one annotator chose gets no vote."""
    votes = np.asarray(votes, np.float64)
    return np.where(votes <= 1, 0.0, votes)


def majority_labels(votes: np.ndarray) -> np.ndarray:
    """(N,) class indices by FER+'s official rule (src/ferplus.py): drop single votes, then take the top column if
    it holds more than half of the rest. ``NO_LABEL`` where there is no majority, or the majority is contempt,
    unknown or not-a-face."""
    kept = _without_single_votes(votes)
    total = kept.sum(axis=1)
    top = kept.argmax(axis=1)
    has_majority = kept[np.arange(len(kept)), top] > total / 2
    return np.where(has_majority, COLUMN_CLASS[top], NO_LABEL).astype(np.int64)


def vote_distributions(votes: np.ndarray) -> np.ndarray:
    """(N, 7) share of each of our classes among a face's votes for them, single votes dropped (all votes kept
    where that leaves none). Rows of faces that no annotator gave one of our classes are all zero."""
    votes = np.asarray(votes, np.float64)
    ours = np.zeros((len(votes), len(EMOTIONS)))
    kept = _without_single_votes(votes)
    kept = np.where(kept[:, COLUMN_CLASS >= 0].sum(axis=1, keepdims=True) > 0, kept, votes)
    for column, emotion in enumerate(COLUMN_CLASS):
        if emotion >= 0:
            ours[:, emotion] = kept[:, column]
    total = ours.sum(axis=1, keepdims=True)
    return np.divide(ours, total, out=np.zeros_like(ours), where=total > 0).astype(np.float32)
