"""UI text: The rep's battle map, health scores and the lead's alert inbox."""

MESSAGES: dict[str, tuple[str, str]] = {
}
