"""Customer health scores: the configurable model, the indicators, and the recompute engine.

- `config`: the health model as configuration (weights, parameters, missing-value policy, bands).
- `rules`: the pure scoring rules (bands, dynamic weights, renormalisation, indicator formulas).
- `facts`: set-based SQL that reads each indicator's inputs for many customers at once.
- `engine`: full and incremental recompute, snapshots, and the synced latest score per customer.
- `reference`: the same score computed one customer at a time through the ORM (baseline and cross-check).
"""
