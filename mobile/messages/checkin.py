"""UI text: Visit check-in, the visit checklist, photos and flagged check-ins."""

MESSAGES: dict[str, tuple[str, str]] = {
}
