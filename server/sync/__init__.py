"""The server side of offline sync: the change log, push (apply client mutations) and pull (pages of changes)."""
