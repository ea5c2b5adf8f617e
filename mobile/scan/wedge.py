"""Tell a keyboard-wedge scanner's keystrokes from a person's typing.

A wedge scanner types the code it read as fast key events, then Enter. In Flet the page's
keyboard events arrive 10-25 ms apart for a scanner (flet 1.0.5, web mode), while people
type about 100-300 ms apart. WedgeDetector collects a burst of keys each at most
MAX_KEY_GAP_MS after the previous one; Enter within the same gap ends the burst, and a
burst of at least MIN_SCAN_LENGTH characters is a scan.

Key names are Flutter's logical key labels as Flet reports them in `e.key`:
- digits "0"-"9", and "Numpad 0"-"Numpad 9" for the keypad with NumLock on;
- with NumLock off the keypad sends navigation keys, which map back to digits:
  Insert 0, End 1, Arrow Down 2, Page Down 3, Arrow Left 4, Clear 5, Arrow Right 6,
  Home 7, Arrow Up 8, Page Up 9;
- letters as upper-case labels with `e.shift` telling the case ("M" with shift is "M",
  without it "m"), and shifted punctuation by US layout (";" with shift is ":").
Modifier keys (Shift, Caps Lock, ...) are ignored; any other key ends the burst.

Feed every page keyboard event to `feed` with a timestamp taken when the event arrives
(time.monotonic() * 1000), from a synchronous handler: Flet dispatches each event as its
own task, and an async handler can reorder them.
"""

from dataclasses import dataclass

MAX_KEY_GAP_MS = 50
# Shorter bursts are people typing quickly; the shortest code this app scans is 13 digits.
MIN_SCAN_LENGTH = 8

ENTER_KEYS = frozenset({"Enter", "Numpad Enter"})
# The keypad with NumLock off.
NUMPAD_NAVIGATION_DIGITS = {
    "Insert": "0", "End": "1", "Arrow Down": "2", "Page Down": "3", "Arrow Left": "4",
    "Clear": "5", "Arrow Right": "6", "Home": "7", "Arrow Up": "8", "Page Up": "9",
}
NUMPAD_KEYS = {f"Numpad {digit}": str(digit) for digit in range(10)} | {
    "Numpad Decimal": ".", "Numpad Add": "+", "Numpad Subtract": "-", "Numpad Multiply": "*", "Numpad Divide": "/",
}
MODIFIER_KEYS = frozenset({
    "Shift", "Shift Left", "Shift Right", "Control", "Control Left", "Control Right", "Alt", "Alt Left",
    "Alt Right", "Meta", "Meta Left", "Meta Right", "Caps Lock", "Num Lock", "Fn",
})
# US keyboard layout: the character a key types with Shift held.
SHIFTED_CHARACTERS = dict(zip("`1234567890-=[]\\;',./", '~!@#$%^&*()_+{}|:"<>?'))
_SPACE_KEYS = {"Space": " ", " ": " "}


@dataclass(frozen=True)
class ScannedCode:
    text: str
    first_key_ms: float
    enter_ms: float
    key_count: int


class WedgeDetector:
    """Turn page keyboard events into scanned codes. Not thread-safe; feed it from one handler."""

    def __init__(self, max_gap_ms: float = MAX_KEY_GAP_MS, min_length: int = MIN_SCAN_LENGTH) -> None:
        self.max_gap_ms = max_gap_ms
        self.min_length = min_length
        self._characters: list[str] = []
        self._first_ms = 0.0
        self._last_ms: float | None = None

    @property
    def pending(self) -> str:
        """Characters of the burst in progress."""
        return "".join(self._characters)

    def reset(self) -> None:
        self._characters = []
        self._last_ms = None

    def feed(self, key: str, timestamp_ms: float, shift: bool = False) -> ScannedCode | None:
        """Take one key event; return the scanned code when this Enter ends a scanner burst, else None."""
        if key in MODIFIER_KEYS:
            return None
        in_burst = self._last_ms is not None and timestamp_ms - self._last_ms <= self.max_gap_ms

        if key in ENTER_KEYS:
            scanned = None
            if in_burst and len(self._characters) >= self.min_length:
                scanned = ScannedCode(self.pending, self._first_ms, timestamp_ms, len(self._characters))
            self.reset()
            return scanned

        character = key_character(key, shift)
        if character is None:
            self.reset()
            return None
        if not in_burst:
            self._characters = []
            self._first_ms = timestamp_ms
        self._characters.append(character)
        self._last_ms = timestamp_ms
        return None


def key_character(key: str, shift: bool) -> str | None:
    """Return the character a key event types, or None for a key that types none (Tab, F1, Escape)."""
    if key in NUMPAD_NAVIGATION_DIGITS:
        return NUMPAD_NAVIGATION_DIGITS[key]
    if key in NUMPAD_KEYS:
        return NUMPAD_KEYS[key]
    if key in _SPACE_KEYS:
        return " "
    if len(key) != 1:
        return None
    if key.isalpha():
        return key.upper() if shift else key.lower()
    if shift:
        return SHIFTED_CHARACTERS.get(key, key)
    return key
