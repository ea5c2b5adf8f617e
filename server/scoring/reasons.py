"""Render each customer's "why this score" as JSON text: indicators, effective weights, explanation.

Formats (one object per snapshot; indicators left out of the model do not appear):
    indicators:        {"decision_chain_completeness": {"value": 0.6667, "contribution": 23.33}, ...}
                       value is 0..1 (4 decimals) or null when unknown; contribution is points of the 0..100 score.
    effective_weights: {"decision_chain_completeness": 0.35, ...}, summing to 1 (0 for an unknown
                       indicator under the redistribute policy).
    explanation:       {"missing_policy": "redistribute", "unknown": [...], "boosted": ["document_downloads"],
                        "dimensions": {"customer_profile": 30.1, "interaction": 12.0, "sales_process": 20.0},
                        "inputs": {"roles_named": 2, "downloads": 5, "downloads_this_month": 4, "proposals_opened": 1,
                                   "proposals_sent": 2, "meetings_attended": 1, "meetings_invited": 1, "sheets_on_time": 1,
                                   "sheets_due": 1, "objections": 1, "objection_mean_days": 12.5}}

The text is built from templates with the numbers formatted in, because json.dumps of
100,000 small dicts costs seconds. Unknown values are NaN, rendered as null.
"""

import numpy as np

from server.scoring.config import DIMENSIONS, INDICATOR_NAMES, HealthModelConfig
from server.scoring.facts import Facts

# Counts behind the indicator values, shown in each explanation under "inputs".
EXPLANATION_COUNTS = (
    "roles_named", "downloads", "downloads_this_month", "proposals_opened", "proposals_sent",
    "meetings_attended", "meetings_invited", "sheets_on_time", "sheets_due", "objections",
)


class ReasonRenderer:
    def __init__(self, config: HealthModelConfig) -> None:
        self.config = config
        self.used = [position for position, name in enumerate(INDICATOR_NAMES) if config.weights.get(name, 0) > 0]
        used_names = [INDICATOR_NAMES[position] for position in self.used]
        self.indicators_template = "{" + ",".join(f'"{name}":{{"value":%r,"contribution":%r}}' for name in used_names) + "}"
        self.weights_template = "{" + ",".join(f'"{name}":%r' for name in used_names) + "}"
        self.dimension_columns = {
            dimension: [self.used.index(INDICATOR_NAMES.index(name)) for name in names if INDICATOR_NAMES.index(name) in self.used]
            for dimension, names in DIMENSIONS.items()
        }
        # NaN is formatted as "nan" and then replaced by null, which is safe only while no key contains that text.
        if "nan" in self.indicators_template + self.weights_template:
            raise ValueError("an indicator name contains 'nan', which the JSON rendering of unknown values would corrupt")

    def render(self, values, weights, contributions, boosted, facts: Facts, start: int, stop: int) -> tuple[list[str], list[str], list[str]]:
        """Return the indicators, effective-weights and explanation JSON of customers start..stop."""
        used = self.used
        rows = slice(start, stop)
        values, weights, contributions = values[rows][:, used], weights[rows][:, used], contributions[rows][:, used]
        boosted = np.asarray(boosted[rows], dtype=bool)
        unknown = np.isnan(values)
        # The unknown indicators and the boost decide the effective weights and the constant part of the explanation.
        pattern = (unknown @ (1 << np.arange(len(used)))) | (boosted.astype(np.int64) << len(used))
        _, first_rows, inverse = np.unique(pattern, return_index=True, return_inverse=True)
        inverse = inverse.reshape(-1).tolist()

        pairs = np.empty((len(values), 2 * len(used)))
        pairs[:, 0::2] = np.round(values, 4)
        pairs[:, 1::2] = np.round(contributions, 2)
        indicators_json = [(self.indicators_template % tuple(row)).replace("nan", "null") for row in pairs.tolist()]

        rendered_weights = [self.weights_template % tuple(row) for row in np.round(weights[first_rows], 4).tolist()]
        weights_json = [rendered_weights[i] for i in inverse]

        templates = [self._explanation_template(unknown[row].tolist(), bool(boosted[row])) for row in first_rows.tolist()]
        explanation_json = self._explanations(contributions, facts, rows, [templates[i] for i in inverse])
        return indicators_json, weights_json, explanation_json

    def _explanations(self, contributions, facts: Facts, rows: slice, templates: list[str]) -> list[str]:
        dimension_points = np.stack(
            [contributions[:, columns].sum(axis=1) if columns else np.zeros(len(contributions)) for columns in self.dimension_columns.values()],
            axis=1,
        ).round(2)
        counts = np.stack([
            facts.roles_named[rows], facts.downloads_window[rows], facts.downloads_this_month[rows],
            facts.proposals_opened[rows], facts.proposals_sent[rows], facts.meetings_attended[rows], facts.meetings_invited[rows],
            facts.sheets_on_time[rows], facts.sheets_due[rows], facts.objections[rows],
        ], axis=1)
        numbers = np.concatenate([dimension_points, counts], axis=1).tolist()
        mean_days = ["null" if days != days else repr(days) for days in np.round(facts.objection_mean_days[rows], 1).tolist()]
        return [template % (*row, days) for template, row, days in zip(templates, numbers, mean_days)]

    def _explanation_template(self, unknown: list[bool], boosted: bool) -> str:
        names = [INDICATOR_NAMES[position] for position in self.used]
        unknown_names = [name for name, is_unknown in zip(names, unknown) if is_unknown]
        dimensions = ",".join(f'"{name}":%r' for name in self.dimension_columns)
        inputs = ",".join(f'"{name}":%d' for name in EXPLANATION_COUNTS)
        return (
            f'{{"missing_policy":"{self.config.missing_policy.value}","unknown":{_json_names(unknown_names)},'
            f'"boosted":{_json_names(["document_downloads"] if boosted else [])},"dimensions":{{{dimensions}}},'
            f'"inputs":{{{inputs},"objection_mean_days":%s}}}}'
        )


def _json_names(names: list[str]) -> str:
    return "[" + ",".join(f'"{name}"' for name in names) + "]"
