"""FastAPI + SQLModel server of 外勤通 Field Sales."""
