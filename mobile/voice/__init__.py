"""Voice input on the device: speech recognition for one-line follow-ups."""
