"""The server's check of a stored member code: 13 digits, a valid EAN-13 check digit, a company-internal prefix.

The device's validate_member_code (mobile.offline.members) also reads QR payloads and
full-width digits; by the time a code reaches the server it is the canonical 13 digits.
Stdlib only: this module runs on phones.
"""

MEMBER_CODE_LENGTH = 13
# GS1 keeps EAN-13 prefixes 20-29 for numbers used inside a company, so member codes start
# with 2 and a product's barcode (China's are 690-699) is never taken for one.
MEMBER_CODE_PREFIXES = ("2",)


def ean13_check_digit(first_twelve: str) -> str:
    """Compute the EAN-13 check digit: digits in odd positions weigh 1, in even positions 3."""
    if len(first_twelve) != 12 or not first_twelve.isdecimal() or not first_twelve.isascii():
        raise ValueError(f"An EAN-13 check digit needs 12 digits, got {first_twelve!r}.")
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return str((10 - total % 10) % 10)


def member_code_problem(code: str) -> str | None:
    """Return why `code` is not a canonical member code, or None when it is one."""
    if len(code) != MEMBER_CODE_LENGTH or not code.isdecimal() or not code.isascii():
        return f"{code!r} is not {MEMBER_CODE_LENGTH} ASCII digits (EAN-13)"
    expected = ean13_check_digit(code[:12])
    if code[12] != expected:
        return f"{code} ends in check digit {code[12]} but its first 12 digits need {expected}"
    if not code.startswith(MEMBER_CODE_PREFIXES):
        return f"{code} is a product barcode: member codes start with {' or '.join(MEMBER_CODE_PREFIXES)}"
    return None
