"""Lead intake: grading rules as configuration, rep ability scores, and assignment with capacity limits.

- `config`: the grading and assignment rules (`LeadRulesConfig`), stored versioned in `lead_rule_sets`.
- `grading`: the pure grading of one lead against the rules.
- `ability`: the documented ability score of each rep.
- `intake`: storing, grading and assigning an arriving lead, and recording the assignment lag.
"""
