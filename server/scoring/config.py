"""The health model as configuration: indicators, weights, parameters, missing-value policy and bands.

A model is stored as JSON in `health_models.config` and validated by `HealthModelConfig`
when an admin saves it. Example (weights are normalised to sum to 1 on save):

    {
      "weights": {"decision_chain_completeness": 35, "industry_fit": 10, "purchase_band": 10,
                  "document_downloads": 8, "proposal_open_rate": 8, "meeting_attendance": 9,
                  "requirement_confirmation": 8, "competitor_sheet_on_time": 6,
                  "objection_resolution_cycle": 6},
      "missing_policy": "redistribute",
      "download_boost": {"monthly_downloads_over": 3, "multiplier": 2},
      "bands": {"red_below": 60, "green_above": 85},
      "parameters": {"document_downloads": {"window_days": 30, "saturation": 4}, ...},
      "calendar_utc_offset_hours": 8
    }

An indicator left out of `weights` is not part of the model. Every indicator value lies
in 0..1 or is unknown; `parameters` documents each indicator's source and window.
"""

import enum
import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


@dataclass(frozen=True)
class Indicator:
    name: str
    dimension: str
    description: str


# The nine indicators in their fixed order: arrays of indicator values use this column order.
INDICATORS: tuple[Indicator, ...] = (
    Indicator("industry_fit", "customer_profile",
              "Fit of the customer's industry, from parameters.industry_fit.by_industry. No window."),
    Indicator("purchase_band", "customer_profile",
              "Score of the customer's annual purchase band code, from parameters.purchase_band.by_band. No window."),
    Indicator("decision_chain_completeness", "customer_profile",
              "Share of the decision chain (technical, purchasing, finance) named among the customer's contacts. No window."),
    Indicator("document_downloads", "interaction",
              "Website document downloads in the last window_days, divided by saturation, at most 1."),
    Indicator("proposal_open_rate", "interaction",
              "Distinct proposals opened over distinct proposals sent, both in the last window_days, at most 1."),
    Indicator("meeting_attendance", "interaction",
              "Distinct online meetings attended over meetings invited to, both in the last window_days, at most 1."),
    Indicator("requirement_confirmation", "sales_process",
              "Highest requirement-confirmation completion recorded in the last window_days "
              "(events, or 1 for a checked-in visit of one of visit_types); 0 when none."),
    Indicator("competitor_sheet_on_time", "sales_process",
              "Share of competitor-comparison sheets with a due date, submitted in the last window_days, "
              "that were submitted at or before the due date."),
    Indicator("objection_resolution_cycle", "sales_process",
              "Mean days from raising to resolving the objections raised in the last window_days (open ones count "
              "their age so far): 1 at target_days or less, 0 at max_days or more, linear between."),
)
INDICATOR_NAMES: tuple[str, ...] = tuple(indicator.name for indicator in INDICATORS)
DIMENSIONS: dict[str, tuple[str, ...]] = {
    dimension: tuple(i.name for i in INDICATORS if i.dimension == dimension)
    for dimension in ("customer_profile", "interaction", "sales_process")
}

# Decision roles that make up a complete decision chain (values of Contact.decision_role).
DECISION_CHAIN_ROLES: tuple[str, ...] = ("technical", "purchasing", "finance")


class MissingPolicy(str, enum.Enum):
    """Effect of an unknown indicator value on the score."""

    # Its weight is shared among the known indicators in proportion to their weights.
    REDISTRIBUTE = "redistribute"
    # It keeps its weight and counts as 0.
    ZERO = "zero"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class IndustryFitParameters(_Strict):
    by_industry: dict[str, float] = Field(default_factory=dict, description="Fit 0..1 per industry name (Customer.industry).")
    default: float | None = Field(default=None, ge=0, le=1, description="Fit of an industry not listed; null means unknown.")

    @field_validator("by_industry")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_shares(value)


class PurchaseBandParameters(_Strict):
    by_band: dict[str, float] = Field(
        default_factory=lambda: {"under_500k": 0.25, "500k_2m": 0.5, "2m_10m": 0.8, "over_10m": 1.0},
        description="Score 0..1 per annual purchase band code (Customer.purchase_band), amounts in CNY.",
    )

    @field_validator("by_band")
    @classmethod
    def _shares(cls, value: dict[str, float]) -> dict[str, float]:
        return _check_shares(value)


class WindowParameters(_Strict):
    window_days: int = Field(default=90, ge=1, le=730)


class DownloadParameters(_Strict):
    window_days: int = Field(default=30, ge=1, le=730)
    saturation: int = Field(default=4, ge=1, le=1000, description="Downloads in the window that count as a full value of 1.")


class RequirementParameters(_Strict):
    window_days: int = Field(default=180, ge=1, le=730)
    visit_types: list[str] = Field(
        default_factory=lambda: ["requirement_confirmation"],
        description="Visit types (Visit.visit_type) whose checked-in visit counts as a completed requirement confirmation.",
    )


class ObjectionParameters(_Strict):
    window_days: int = Field(default=180, ge=1, le=730)
    target_days: float = Field(default=7, gt=0, le=365, description="Mean cycle at or below this many days scores 1.")
    max_days: float = Field(default=30, gt=0, le=730, description="Mean cycle at or above this many days scores 0.")

    @model_validator(mode="after")
    def _ordered(self) -> "ObjectionParameters":
        if self.max_days <= self.target_days:
            raise ValueError(f"max_days ({self.max_days}) must be greater than target_days ({self.target_days})")
        return self


class Parameters(_Strict):
    industry_fit: IndustryFitParameters = Field(default_factory=IndustryFitParameters)
    purchase_band: PurchaseBandParameters = Field(default_factory=PurchaseBandParameters)
    document_downloads: DownloadParameters = Field(default_factory=DownloadParameters)
    proposal_open_rate: WindowParameters = Field(default_factory=WindowParameters)
    meeting_attendance: WindowParameters = Field(default_factory=WindowParameters)
    requirement_confirmation: RequirementParameters = Field(default_factory=RequirementParameters)
    competitor_sheet_on_time: WindowParameters = Field(default_factory=lambda: WindowParameters(window_days=180))
    objection_resolution_cycle: ObjectionParameters = Field(default_factory=ObjectionParameters)


class DownloadBoost(_Strict):
    """The dynamic weight: many downloads this calendar month multiply the document_downloads weight."""

    monthly_downloads_over: int = Field(default=3, ge=0, description="Boost when downloads this calendar month are greater than this.")
    multiplier: float = Field(default=2.0, gt=0, le=10)


class Bands(_Strict):
    """Red below `red_below`, green above `green_above`, yellow from one to the other inclusive."""

    red_below: float = Field(default=60, ge=0, le=100)
    green_above: float = Field(default=85, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> "Bands":
        if self.green_above < self.red_below:
            raise ValueError(f"green_above ({self.green_above}) must not be below red_below ({self.red_below})")
        return self


class HealthModelConfig(_Strict):
    weights: dict[str, float] = Field(description="Positive weight per indicator; normalised to sum to 1 on save.")
    missing_policy: MissingPolicy = MissingPolicy.REDISTRIBUTE
    download_boost: DownloadBoost = Field(default_factory=DownloadBoost)
    bands: Bands = Field(default_factory=Bands)
    parameters: Parameters = Field(default_factory=Parameters)
    calendar_utc_offset_hours: float = Field(
        default=8, ge=-12, le=14, description="UTC offset of the calendar that 'this month' follows (8: China Standard Time)."
    )

    @field_validator("weights")
    @classmethod
    def _valid_weights(cls, weights: dict[str, float]) -> dict[str, float]:
        if not weights:
            raise ValueError(f"must give a positive weight to at least one indicator of: {', '.join(INDICATOR_NAMES)}")
        problems = []
        for name, weight in weights.items():
            if name not in INDICATOR_NAMES:
                problems.append(f"unknown indicator '{name}' (known: {', '.join(INDICATOR_NAMES)})")
            elif not math.isfinite(weight) or weight <= 0:
                problems.append(f"weight of '{name}' must be a positive number, got {weight}; leave an indicator out to drop it")
        if problems:
            raise ValueError("; ".join(problems))
        total = sum(weights.values())
        # Normalised in the fixed indicator order, so the stored JSON reads the same way every time.
        return {name: weights[name] / total for name in INDICATOR_NAMES if name in weights}

    def weight_vector(self) -> list[float]:
        """Return the normalised weight of every indicator in INDICATOR_NAMES order, 0 for indicators left out."""
        return [self.weights.get(name, 0.0) for name in INDICATOR_NAMES]


def _check_shares(values: dict[str, float]) -> dict[str, float]:
    bad = [f"'{key}': {value}" for key, value in values.items() if not (0 <= value <= 1)]
    if bad:
        raise ValueError(f"values must lie in 0..1, got {', '.join(bad)}")
    return values


# The model a database starts with: decision-chain completeness has the highest weight, 35%.
DEFAULT_WEIGHTS: dict[str, float] = {
    "industry_fit": 0.10,
    "purchase_band": 0.10,
    "decision_chain_completeness": 0.35,
    "document_downloads": 0.08,
    "proposal_open_rate": 0.08,
    "meeting_attendance": 0.07,
    "requirement_confirmation": 0.10,
    "competitor_sheet_on_time": 0.05,
    "objection_resolution_cycle": 0.07,
}


def default_config() -> HealthModelConfig:
    return HealthModelConfig(weights=dict(DEFAULT_WEIGHTS))
