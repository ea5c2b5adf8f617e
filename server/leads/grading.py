"""Grade one lead against the rules: the first rule whose conditions all hold decides."""

import operator
from dataclasses import dataclass

from server.leads.config import Condition, LeadRulesConfig

_COMPARE = {
    ">=": operator.ge,
    ">": operator.gt,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    "in": lambda actual, expected: actual in expected,
    "not_in": lambda actual, expected: actual not in expected,
}


@dataclass(frozen=True)
class GradeResult:
    grade: str
    # {"rule": name or None, "checks": [...]} : the deciding rule and each condition with the lead's value.
    reason: dict


def check(condition: Condition, lead: dict) -> dict:
    """Evaluate one condition; a value the lead does not have never satisfies it."""
    actual = lead.get(condition.field.value)
    passed = actual is not None and _COMPARE[condition.op](actual, condition.value)
    return {"field": condition.field.value, "op": condition.op, "value": condition.value, "actual": actual, "passed": passed}


def grade_lead(lead: dict, rules: LeadRulesConfig) -> GradeResult:
    """Grade a lead given as {field: value} (the names of server.leads.config.LeadField)."""
    tried = []
    for rule in rules.rules:
        checks = [check(condition, lead) for condition in rule.when]
        if all(result["passed"] for result in checks):
            return GradeResult(rule.grade, {"rule": rule.name, "checks": checks, "tried": tried})
        tried.append(rule.name)
    return GradeResult(rules.default_grade, {"rule": None, "checks": [], "tried": tried, "note": "no rule matched: default grade"})
