"""Scheduled jobs and their runner; `python -m server.jobs` (see __main__ for the locking scheme)."""
