"""UI text: The store clerk's tablet: member scan, shopper profile and voice follow-ups."""

MESSAGES: dict[str, tuple[str, str]] = {
}
