"""Offline-first data on the device: the local SQLite store, the outbox, and the sync client and loop."""
