"""Health-score bands as the client shows them: red below 60, yellow from 60 to 85, green above 85.

A synced score snapshot carries the band the server computed with its active model's
thresholds; `band_of_snapshot` prefers that. Only a snapshot without a band falls back to
the default thresholds here, which match the server's default model (server.scoring.config.Bands).
"""

RED = "red"
YELLOW = "yellow"
GREEN = "green"
# A customer without a score snapshot yet (new, or not recomputed since it was created).
UNSCORED = "unscored"
BANDS = (RED, YELLOW, GREEN)

RED_BELOW = 60.0
GREEN_ABOVE = 85.0


def band_of_score(score: float | None) -> str:
    """Return the band of a 0..100 score: red if < 60, green if > 85, else yellow; UNSCORED for None."""
    if score is None:
        return UNSCORED
    if score < RED_BELOW:
        return RED
    if score > GREEN_ABOVE:
        return GREEN
    return YELLOW


def band_of_snapshot(band: str | None, score: float | None) -> str:
    """Return the snapshot's own band when it carries a known one, else the band of its score."""
    if band in BANDS:
        return band
    return band_of_score(score)
