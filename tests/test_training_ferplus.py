"""FER+ votes as training and evaluation use them: the official majority rule (single votes dropped; contempt,
unknown and not-a-face give no label), the vote distribution over our seven classes, and the trainer's targets
mixing the FER2013 label with that distribution."""

from __future__ import annotations

import numpy as np
import pytest

from training.data import DataError, FaceSet
from training.ferplus import NO_LABEL, VOTE_COLUMNS, majority_labels, vote_distributions
from training.labels import EMOTIONS


def votes(**counts: int) -> list[int]:
    """One face's ten vote counts, in the CSV's column order, from counts by column name."""
    return [counts.get(column, 0) for column in VOTE_COLUMNS]


def one_hot(*names: str) -> np.ndarray:
    return np.eye(len(EMOTIONS), dtype=np.float32)[[EMOTIONS.index(name) for name in names]]


@pytest.mark.parametrize(("face", "expected"), [
    (votes(happiness=6, surprise=2, unknown=1, NF=1), "happy"),
    (votes(anger=7, disgust=3), "angry"),  # FER+'s column names map to ours
    (votes(sadness=10), "sad"),
    # 5 of 10 is no majority, but the single surprise vote is dropped first: 5 of 9 is
    (votes(neutral=5, fear=4, surprise=1), "neutral"),
    (votes(neutral=4, fear=3, surprise=3), None),  # no class above half
    (votes(neutral=5, sadness=5), None),  # a tie
    (votes(contempt=8, neutral=2), None),  # contempt is not one of our classes
    (votes(unknown=6, happiness=4), None),
    (votes(NF=10), None),  # not a face
    (votes(neutral=1, happiness=1, surprise=1, sadness=1, anger=1, disgust=1, fear=1, contempt=1, unknown=1, NF=1),
     None),  # every vote single: nothing left
])
def test_the_majority_label_follows_fer_plus_official_rule(face: list[int], expected: str | None) -> None:
    label = majority_labels(np.array([face]))[0]
    assert label == (NO_LABEL if expected is None else EMOTIONS.index(expected))


def test_the_vote_distribution_shares_our_classes_votes_single_votes_dropped() -> None:
    faces = np.array([
        votes(happiness=6, surprise=2, unknown=1, NF=1),  # unknown and NF count for no class of ours
        votes(neutral=5, fear=4, surprise=1),  # the single surprise vote dropped
        votes(neutral=1, happiness=1, surprise=1, sadness=1, anger=1, disgust=1, fear=1, contempt=3),  # ours single
        votes(contempt=5, unknown=5),  # no vote for any of our classes
    ])

    distributions = vote_distributions(faces)

    assert distributions.shape == (4, len(EMOTIONS)) and distributions.dtype == np.float32
    expected_first = np.zeros(len(EMOTIONS))
    expected_first[EMOTIONS.index("happy")], expected_first[EMOTIONS.index("surprise")] = 6 / 8, 2 / 8
    np.testing.assert_allclose(distributions[0], expected_first, rtol=1e-6)
    expected_second = np.zeros(len(EMOTIONS))
    expected_second[EMOTIONS.index("neutral")], expected_second[EMOTIONS.index("fear")] = 5 / 9, 4 / 9
    np.testing.assert_allclose(distributions[1], expected_second, rtol=1e-6)
    # ...where dropping single votes would leave none of ours, every vote counts
    np.testing.assert_allclose(distributions[2], np.full(len(EMOTIONS), 1 / 7), rtol=1e-6)
    np.testing.assert_array_equal(distributions[3], np.zeros(len(EMOTIONS)))


def test_training_targets_mix_the_label_with_the_vote_distribution() -> None:
    pytest.importorskip("keras", reason="the training stack (training/requirements.txt) is not installed")
    from training.portable import training_targets

    labels = np.array([EMOTIONS.index(name) for name in ("sad", "happy", "neutral")])
    faces = FaceSet(np.zeros((3, 48, 48), np.uint8), labels, votes=np.array([
        votes(happiness=6, surprise=2, unknown=1, NF=1), votes(happiness=10), votes(contempt=5, NF=5)], np.uint8))

    mixed = training_targets(faces, 0.25)

    distributions = vote_distributions(faces.votes)
    np.testing.assert_allclose(mixed[:2], 0.75 * one_hot("sad", "happy") + 0.25 * distributions[:2], rtol=1e-6)
    assert np.array_equal(mixed[2], one_hot("neutral")[0]), "no vote for our classes: the label alone"
    np.testing.assert_allclose(mixed.sum(axis=1), 1.0, rtol=1e-6)
    np.testing.assert_allclose(training_targets(faces, 1.0)[:2], distributions[:2], rtol=1e-6)
    np.testing.assert_array_equal(training_targets(faces, 0.0), one_hot("sad", "happy", "neutral"))
    without_votes = FaceSet(faces.images, labels)
    np.testing.assert_array_equal(training_targets(without_votes, 0.0), one_hot("sad", "happy", "neutral"))
    with pytest.raises(DataError, match=r"ferplus_weight = 0.5 needs FER\+ votes, and these faces have none"):
        training_targets(without_votes, 0.5)
