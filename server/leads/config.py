"""Lead grading and assignment rules as configuration, stored versioned in lead_rule_sets.

Rules are tried in order, and the first whose conditions are all true sets the grade. A
lead no rule matches gets `default_grade`, so every lead is graded and stored, none dropped.
A condition on a value the lead does not have (a hotline lead has no form) does not hold.
Example rule: {"name": "grade_a", "grade": "A", "when": [
    {"field": "form_completeness_pct", "op": ">=", "value": 80},
    {"field": "has_budget", "op": "==", "value": true},
    {"field": "time_on_site_s", "op": ">", "value": 210}]}
"""

import enum
import math
from dataclasses import dataclass
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from sqlalchemy import update
from sqlmodel import Session, select

from server.leads.models import LeadRuleSet

Grade = Literal["A", "B", "C", "nurture"]
GRADES: tuple[str, ...] = ("A", "B", "C", "nurture")


class LeadField(str, enum.Enum):
    """Lead attributes a condition may test, with their type."""

    SOURCE = "source"
    INDUSTRY = "industry"
    PROVINCE = "province"
    FORM_COMPLETENESS_PCT = "form_completeness_pct"
    HAS_BUDGET = "has_budget"
    TIME_ON_SITE_S = "time_on_site_s"
    TRANSFERRED_TO_HUMAN = "transferred_to_human"
    CALL_DURATION_S = "call_duration_s"


NUMBER_FIELDS = frozenset({LeadField.FORM_COMPLETENESS_PCT, LeadField.TIME_ON_SITE_S, LeadField.CALL_DURATION_S})
BOOLEAN_FIELDS = frozenset({LeadField.HAS_BUDGET, LeadField.TRANSFERRED_TO_HUMAN})
TEXT_FIELDS = frozenset({LeadField.SOURCE, LeadField.INDUSTRY, LeadField.PROVINCE})

Operator = Literal[">=", ">", "<", "<=", "==", "!=", "in", "not_in"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Condition(_Strict):
    field: LeadField
    op: Operator
    value: bool | float | str | list[str]

    @model_validator(mode="after")
    def _operator_fits_field(self) -> "Condition":
        name = self.field.value
        if self.field in NUMBER_FIELDS:
            if self.op in ("in", "not_in") or isinstance(self.value, bool | str | list) or not math.isfinite(self.value):
                raise ValueError(f"'{name}' is a number: use >=, >, <, <=, == or != with a finite number, got {self.op} {self.value!r}")
        elif self.field in BOOLEAN_FIELDS:
            if self.op not in ("==", "!=") or not isinstance(self.value, bool):
                raise ValueError(f"'{name}' is true or false: use == or != with true or false, got {self.op} {self.value!r}")
        elif self.op in ("in", "not_in"):
            if not isinstance(self.value, list) or not self.value:
                raise ValueError(f"'{name}' {self.op} needs a non-empty list of strings, got {self.value!r}")
        elif self.op not in ("==", "!=") or not isinstance(self.value, str):
            raise ValueError(f"'{name}' is text: use ==, != with a string or in, not_in with a list, got {self.op} {self.value!r}")
        return self


class GradeRule(_Strict):
    name: str = Field(min_length=1, max_length=64)
    grade: Grade
    when: list[Condition] = Field(min_length=1, max_length=20)


class AbilityParameters(_Strict):
    """Weights and prior of the rep ability score (see server.leads.ability)."""

    win_rate_weight: float = Field(default=0.7, ge=0)
    complexity_weight: float = Field(default=0.3, ge=0)
    prior_win_rate: float = Field(default=0.2, ge=0, le=1, description="Win rate assumed before a rep has closed leads.")
    prior_leads: float = Field(default=10, ge=0, description="How many closed leads the prior counts as.")
    history_days: int = Field(default=365, ge=1, le=3650, description="Closed leads of this many past days count.")

    @model_validator(mode="after")
    def _some_weight(self) -> "AbilityParameters":
        if self.win_rate_weight + self.complexity_weight <= 0:
            raise ValueError("win_rate_weight and complexity_weight must not both be 0")
        return self


class AssignmentParameters(_Strict):
    auto_assign_grades: list[Grade] = Field(default_factory=lambda: ["A"], description="Grades assigned to a rep on arrival.")
    max_open_leads_per_rep: int = Field(default=40, ge=1, le=10_000, description="A rep with this many assigned, unclosed leads gets no more.")
    a_lead_assign_within_minutes: int = Field(default=30, ge=1, le=7 * 24 * 60, description="An A lead unassigned for longer is escalated.")
    ability: AbilityParameters = Field(default_factory=AbilityParameters)


class LeadRulesConfig(_Strict):
    rules: list[GradeRule] = Field(max_length=100)
    default_grade: Literal["B", "C"] = "C"
    assignment: AssignmentParameters = Field(default_factory=AssignmentParameters)

    @field_validator("rules")
    @classmethod
    def _unique_names(cls, rules: list[GradeRule]) -> list[GradeRule]:
        names = [rule.name for rule in rules]
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise ValueError(f"rule names must be unique; repeated: {', '.join(repeated)}")
        return rules


def default_rules() -> LeadRulesConfig:
    """Grade A and the nurture pool as the business defines them, then B rules and C for the rest."""
    return LeadRulesConfig.model_validate({
        "rules": [
            {"name": "grade_a", "grade": "A", "when": [
                {"field": "form_completeness_pct", "op": ">=", "value": 80},
                {"field": "has_budget", "op": "==", "value": True},
                {"field": "time_on_site_s", "op": ">", "value": 210},
            ]},
            {"name": "nurture_short_unanswered_call", "grade": "nurture", "when": [
                {"field": "source", "op": "==", "value": "hotline"},
                {"field": "transferred_to_human", "op": "==", "value": False},
                {"field": "call_duration_s", "op": "<", "value": 28},
            ]},
            {"name": "b_form_with_budget", "grade": "B", "when": [
                {"field": "form_completeness_pct", "op": ">=", "value": 50},
                {"field": "has_budget", "op": "==", "value": True},
            ]},
            {"name": "b_hotline_talked_to_human", "grade": "B", "when": [
                {"field": "source", "op": "==", "value": "hotline"},
                {"field": "transferred_to_human", "op": "==", "value": True},
            ]},
            {"name": "b_trade_show_with_budget", "grade": "B", "when": [
                {"field": "source", "op": "==", "value": "trade_show"},
                {"field": "has_budget", "op": "==", "value": True},
            ]},
        ],
        "default_grade": "C",
    })


@dataclass(frozen=True)
class ActiveRules:
    version: int | None  # None: the built-in default, not saved yet
    config: LeadRulesConfig


def load_active_rules(session: Session) -> ActiveRules:
    row = session.exec(select(LeadRuleSet).where(LeadRuleSet.is_active == True)).first()  # noqa: E712
    if row is None:
        return ActiveRules(None, default_rules())
    return ActiveRules(row.version, LeadRulesConfig.model_validate(row.config))


def save_rules(session: Session, config: LeadRulesConfig, note: str, created_by) -> LeadRuleSet:
    """Store `config` as a new active version. The caller commits."""
    session.execute(update(LeadRuleSet).where(LeadRuleSet.is_active == True).values(is_active=False))  # noqa: E712
    session.flush()
    row = LeadRuleSet(config=config.model_dump(mode="json"), is_active=True, note=note, created_by=created_by)
    session.add(row)
    session.flush()
    return row
