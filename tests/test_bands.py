"""The client's band rule: red < 60, yellow 60..85, green > 85, grey without a score."""

import pytest

from core.bands import GREEN, RED, UNSCORED, YELLOW, band_of_score, band_of_snapshot


@pytest.mark.parametrize(
    ("score", "band"),
    [(0, RED), (59.99, RED), (60, YELLOW), (72.5, YELLOW), (85, YELLOW), (85.01, GREEN), (100, GREEN)],
)
def test_band_boundaries(score, band):
    assert band_of_score(score) == band


def test_no_score_is_unscored():
    assert band_of_score(None) == UNSCORED


def test_snapshot_band_wins():
    # A model with other thresholds may call 59 yellow; the client shows what the server decided.
    assert band_of_snapshot(YELLOW, 59.0) == YELLOW


@pytest.mark.parametrize("stored", [None, "", "purple"])
def test_missing_snapshot_band_computed(stored):
    assert band_of_snapshot(stored, 85.01) == GREEN
    assert band_of_snapshot(stored, 60) == YELLOW
    assert band_of_snapshot(stored, None) == UNSCORED
