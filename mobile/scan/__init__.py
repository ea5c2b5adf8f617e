"""Member-code input on the device: keyboard-wedge scanners."""
