"""Keyboard-wedge scanner detection from page keyboard events."""

import pytest

from mobile.offline.members import ean13_check_digit, validate_member_code
from mobile.scan.wedge import MAX_KEY_GAP_MS, WedgeDetector, key_character

CODE = "290100000042" + ean13_check_digit("290100000042")


def feed_keys(detector: WedgeDetector, keys, start_ms: float = 1000.0, gap_ms: float = 15.0):
    """Feed (key, shift) pairs `gap_ms` apart; return every non-None result and the last timestamp."""
    results = []
    timestamp = start_ms
    for key, shift in keys:
        result = detector.feed(key, timestamp, shift)
        if result is not None:
            results.append(result)
        timestamp += gap_ms
    return results, timestamp


def typed(text: str):
    return [(character, False) for character in text]


def test_scanner_burst_is_scan():
    results, _ = feed_keys(WedgeDetector(), typed(CODE) + [("Enter", False)])

    assert len(results) == 1
    assert results[0].text == CODE
    assert results[0].key_count == 13
    assert results[0].enter_ms - results[0].first_key_ms == 13 * 15


def test_slow_typing_is_not_scan():
    results, _ = feed_keys(WedgeDetector(), typed(CODE) + [("Enter", False)], gap_ms=150)

    assert results == []


def test_uneven_human_typing_is_not_scan():
    detector = WedgeDetector()
    timestamps = [0, 40, 180, 210, 400, 430, 445, 700, 730, 900, 1000, 1030, 1200, 1230]
    keys = typed(CODE) + [("Enter", False)]

    results = [detector.feed(key, float(ms), shift) for (key, shift), ms in zip(keys, timestamps)]

    assert all(result is None for result in results)


def test_slow_prefix_dropped_before_burst():
    detector = WedgeDetector()
    feed_keys(detector, typed("12"), start_ms=0, gap_ms=400)

    results, _ = feed_keys(detector, typed(CODE) + [("Enter", False)], start_ms=2000)

    assert [result.text for result in results] == [CODE]


def test_short_burst_is_not_scan():
    results, _ = feed_keys(WedgeDetector(), typed("1234567") + [("Enter", False)])

    assert results == []


def test_late_enter_is_not_scan():
    detector = WedgeDetector()
    _, timestamp = feed_keys(detector, typed(CODE))

    assert detector.feed("Enter", timestamp + 200) is None
    assert detector.pending == ""


@pytest.mark.parametrize(("gap_ms", "scanned"), [(MAX_KEY_GAP_MS, True), (MAX_KEY_GAP_MS + 1, False)])
def test_gap_limit_is_inclusive(gap_ms, scanned):
    results, _ = feed_keys(WedgeDetector(), typed(CODE) + [("Enter", False)], gap_ms=gap_ms)

    assert bool(results) is scanned


def test_keypad_with_numlock_off():
    navigation = {"0": "Insert", "1": "End", "2": "Arrow Down", "3": "Page Down", "4": "Arrow Left",
                  "5": "Clear", "6": "Arrow Right", "7": "Home", "8": "Arrow Up", "9": "Page Up"}
    keys = [(navigation[digit], False) for digit in CODE] + [("Enter", False)]

    results, _ = feed_keys(WedgeDetector(), keys)

    assert [result.text for result in results] == [CODE]


def test_keypad_with_numlock_on():
    keys = [(f"Numpad {digit}", False) for digit in CODE] + [("Numpad Enter", False)]

    results, _ = feed_keys(WedgeDetector(), keys)

    assert [result.text for result in results] == [CODE]


def test_qr_payload_with_shifted_letters():
    keys = [("F", True), ("S", True), ("M", True), (";", True)] + typed(CODE) + [("Enter", False)]

    results, _ = feed_keys(WedgeDetector(), keys)

    assert results[0].text == f"FSM:{CODE}"
    assert validate_member_code(results[0].text).member_code == CODE


def test_modifier_keys_ignored_within_burst():
    keys = [("Shift Left", False), ("F", True), ("Shift Left", False), ("S", True), ("M", True),
            (";", True)] + typed(CODE) + [("Enter", False)]

    results, _ = feed_keys(WedgeDetector(), keys)

    assert results[0].text == f"FSM:{CODE}"


def test_non_character_key_ends_burst():
    keys = typed(CODE[:6]) + [("Tab", False)] + typed(CODE[6:]) + [("Enter", False)]

    results, _ = feed_keys(WedgeDetector(), keys)

    assert results == []


def test_two_scans_in_a_row():
    detector = WedgeDetector()
    first, timestamp = feed_keys(detector, typed(CODE) + [("Enter", False)])

    second, _ = feed_keys(detector, typed(CODE[::-1]) + [("Enter", False)], start_ms=timestamp + 500)

    assert [result.text for result in first + second] == [CODE, CODE[::-1]]


def test_enter_without_keys_is_not_scan():
    assert WedgeDetector().feed("Enter", 0.0) is None


@pytest.mark.parametrize(
    ("key", "shift", "character"),
    [("m", False, "m"), ("M", False, "m"), ("M", True, "M"), ("1", True, "!"), (";", True, ":"),
     ("-", False, "-"), ("Space", False, " "), ("Escape", False, None), ("F1", False, None)],
)
def test_key_character(key, shift, character):
    assert key_character(key, shift) == character
