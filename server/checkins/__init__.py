"""Visits on site: the server's re-check of check-ins, visit checklists and visit photos."""
