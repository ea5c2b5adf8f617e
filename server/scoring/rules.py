"""The scoring rules, as pure functions over numpy arrays (a single customer is an array of one).

An indicator value is a float in 0..1, or NaN when it is unknown. The score is
100 x the sum of value x effective weight, rounded to 2 decimals, so it lies in 0..100.
Effective weights start from the model's normalised weights, then:
1. the dynamic weight: when a customer's document downloads this calendar month are
   greater than the model's threshold (3 by default), the document_downloads weight is
   multiplied (doubled by default) and all weights are renormalised to sum to 1;
2. the missing-value policy: `redistribute` gives an unknown indicator's weight to the
   known ones in proportion to their weights; `zero` keeps it and counts the value as 0.
The band is taken from the rounded score, so a displayed 60.00 is always yellow.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from server.scoring.config import INDICATOR_NAMES, Bands, MissingPolicy

DOWNLOADS = INDICATOR_NAMES.index("document_downloads")

RED, YELLOW, GREEN = "red", "yellow", "green"


def band_of(score: float, bands: Bands) -> str:
    """Return the band of one score: red below red_below, green above green_above, else yellow."""
    if score < bands.red_below:
        return RED
    if score > bands.green_above:
        return GREEN
    return YELLOW


def bands_of(scores: np.ndarray, bands: Bands) -> np.ndarray:
    return np.where(scores < bands.red_below, RED, np.where(scores > bands.green_above, GREEN, YELLOW))


@dataclass
class Scores:
    """The result of combining indicator values for N customers."""

    effective_weights: np.ndarray  # (N, 9), each row sums to 1 (or is all 0 when nothing is known)
    contributions: np.ndarray  # (N, 9), points of the 0..100 score
    scores: np.ndarray  # (N,), rounded to 2 decimals
    boosted: np.ndarray  # (N,) bool: the document_downloads weight was multiplied


def combine(
    values: np.ndarray,
    base_weights: np.ndarray,
    boosted: np.ndarray,
    multiplier: float,
    policy: MissingPolicy,
) -> Scores:
    """Combine indicator values (N x 9, NaN = unknown) with the model's weights into scores."""
    weights = np.broadcast_to(np.asarray(base_weights, dtype=float), values.shape).copy()
    weights[boosted, DOWNLOADS] *= multiplier
    weights /= weights.sum(axis=1, keepdims=True)

    known = ~np.isnan(values)
    if policy == MissingPolicy.REDISTRIBUTE:
        kept = np.where(known, weights, 0.0)
        total = kept.sum(axis=1, keepdims=True)
        weights = np.divide(kept, total, out=np.zeros_like(kept), where=total > 0)

    contributions = 100.0 * weights * np.where(known, values, 0.0)
    scores = np.round(contributions.sum(axis=1), 2)
    return Scores(effective_weights=weights, contributions=contributions, scores=scores, boosted=np.asarray(boosted, dtype=bool))


def download_boosted(downloads_this_month: np.ndarray, threshold: int) -> np.ndarray:
    """Tell which customers' downloads this calendar month are greater than `threshold`."""
    return np.asarray(downloads_this_month) > threshold


# ---- Indicator formulas ----------------------------------------------------------------------


def capped_share(count: np.ndarray, full: float) -> np.ndarray:
    """count / full, at most 1 (document downloads against the saturation count)."""
    return np.minimum(np.asarray(count, dtype=float) / full, 1.0)


def capped_rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator at most 1, NaN (unknown) where the denominator is 0."""
    numerator = np.asarray(numerator, dtype=float)
    denominator = np.asarray(denominator, dtype=float)
    rate = np.divide(numerator, denominator, out=np.full_like(numerator, np.nan), where=denominator > 0)
    return np.minimum(rate, 1.0)


def chain_completeness(roles_named: np.ndarray, roles_in_chain: int) -> np.ndarray:
    return np.asarray(roles_named, dtype=float) / roles_in_chain


def requirement_completion(best_event_completion: np.ndarray, confirmed_by_visit: np.ndarray) -> np.ndarray:
    """Return 1 where a confirming visit exists, else the best completion recorded, else 0."""
    best = np.nan_to_num(np.asarray(best_event_completion, dtype=float), nan=0.0)
    return np.clip(np.where(np.asarray(confirmed_by_visit, dtype=bool), 1.0, best), 0.0, 1.0)


def objection_cycle_value(mean_cycle_days: np.ndarray, target_days: float, max_days: float) -> np.ndarray:
    """1 at target_days or less, 0 at max_days or more, linear between; NaN stays unknown."""
    mean_cycle_days = np.asarray(mean_cycle_days, dtype=float)
    return np.clip((max_days - mean_cycle_days) / (max_days - target_days), 0.0, 1.0)


def lookup_share(keys: list[str | None], table: dict[str, float], default: float | None) -> np.ndarray:
    """Look up each key's value: `default` for a key not listed, NaN for a blank key or a None default."""
    missing = np.nan if default is None else default
    return np.array([table.get(key, missing) if key else np.nan for key in keys], dtype=float)


# ---- Calendar ----------------------------------------------------------------------------------


def month_start(now: datetime, utc_offset_hours: float) -> datetime:
    """Return the UTC moment the current calendar month began, in the calendar of the given UTC offset."""
    calendar = timezone(timedelta(hours=utc_offset_hours))
    local = now.astimezone(calendar)
    return local.replace(day=1, hour=0, minute=0, second=0, microsecond=0).astimezone(timezone.utc)
