"""Editable content: talk-track packs, the contract-clause library and the churn-intervention checklist."""
