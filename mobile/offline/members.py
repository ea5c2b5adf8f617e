"""The store's member cache on the device: a scanned member code to the shopper's profile, offline.

The cache has its own tables in the LocalStore database file. LocalStore neither creates
nor syncs them, so this module opens its own connection to the file:

    member_cache      one row per member; member_code is unique and indexed
    member_purchases  purchase history rows, indexed by (member_id, purchased_at)
    member_followups  recent follow-ups, indexed by (member_id, captured_at)

Only the masked phone number (138****5678) is stored: upsert_members masks a full number
before writing it.

Member codes are EAN-13 numbers. A member card shows them as a barcode, or as a QR code
whose payload is "FSM:" followed by the same 13 digits. validate_member_code accepts both,
and typed codes too, and names what is wrong with anything else.
"""

import calendar
import sqlite3
import threading
import unicodedata
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from enum import StrEnum
from pathlib import Path
from typing import Any

from core.followup_structuring import LifeStage, life_stage_for_age
from core.talk_tracks import MemberFacts

MEMBER_CODE_LENGTH = 13
QR_PAYLOAD_PREFIX = "FSM:"
# GS1 keeps EAN-13 prefixes 20-29 for numbers used inside a company, so member codes start
# with 2 and a product's barcode (China's are 690-699) is never taken for one.
MEMBER_CODE_PREFIXES = ("2",)
RECENT_PURCHASES = 20
RECENT_FOLLOWUPS = 5
# Separators between allergies in the store's free-text notes: "牛奶蛋白过敏、鸡蛋过敏".
_ALLERGEN_SEPARATORS = "、，,;；/\n"

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS member_cache ("
    " id TEXT PRIMARY KEY, store_id TEXT, member_code TEXT NOT NULL, name TEXT NOT NULL,"
    " phone_masked TEXT NOT NULL DEFAULT '', baby_birth_date TEXT, allergens TEXT NOT NULL DEFAULT '',"
    " updated_at TEXT NOT NULL)",
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_member_cache_code ON member_cache(member_code)",
    "CREATE TABLE IF NOT EXISTS member_purchases ("
    " id TEXT PRIMARY KEY, member_id TEXT NOT NULL, purchased_at TEXT NOT NULL, product_name TEXT NOT NULL,"
    " quantity INTEGER NOT NULL DEFAULT 1, amount_fen INTEGER NOT NULL DEFAULT 0)",
    "CREATE INDEX IF NOT EXISTS ix_member_purchases_member ON member_purchases(member_id, purchased_at)",
    "CREATE TABLE IF NOT EXISTS member_followups ("
    " id TEXT PRIMARY KEY, member_id TEXT NOT NULL, captured_at TEXT NOT NULL, text TEXT NOT NULL,"
    " author_name TEXT NOT NULL DEFAULT '')",
    "CREATE INDEX IF NOT EXISTS ix_member_followups_member ON member_followups(member_id, captured_at)",
)


# ---- Member codes ------------------------------------------------------------------------------


class MemberCodeProblem(StrEnum):
    EMPTY = "empty"
    UNEXPECTED_CHARACTERS = "unexpected_characters"
    WRONG_LENGTH = "wrong_length"
    BAD_CHECK_DIGIT = "bad_check_digit"
    PRODUCT_BARCODE = "product_barcode"


class CodeSource(StrEnum):
    EAN13 = "ean13"
    QR = "qr"


@dataclass(frozen=True)
class MemberCodeCheck:
    """The result of validating scanned or typed text as a member code."""

    # The 13-digit member code, when valid.
    member_code: str | None
    source: CodeSource | None
    problem: MemberCodeProblem | None
    # English, for logs; the screen shows its own text for `problem`.
    message: str

    @property
    def valid(self) -> bool:
        return self.problem is None


class InvalidMemberCode(ValueError):
    def __init__(self, check: MemberCodeCheck) -> None:
        super().__init__(check.message)
        self.check = check


def ean13_check_digit(first_twelve: str) -> str:
    """Compute the EAN-13 check digit: digits in odd positions weigh 1, in even positions 3."""
    if len(first_twelve) != 12 or not first_twelve.isdecimal() or not first_twelve.isascii():
        raise ValueError(f"An EAN-13 check digit needs 12 digits, got {first_twelve!r}.")
    total = sum(int(digit) * (3 if index % 2 else 1) for index, digit in enumerate(first_twelve))
    return str((10 - total % 10) % 10)


def validate_member_code(raw: str, member_prefixes: tuple[str, ...] = MEMBER_CODE_PREFIXES) -> MemberCodeCheck:
    """Check scanned or typed text: an EAN-13 member code, or a member QR payload "FSM:<13 digits>".

    Surrounding whitespace is ignored, and full-width digits from a Chinese input method
    count as digits. The QR prefix is matched ignoring case.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text:
        return _problem(MemberCodeProblem.EMPTY, "The member code is empty.")

    source = CodeSource.EAN13
    digits = text
    if text[: len(QR_PAYLOAD_PREFIX)].upper() == QR_PAYLOAD_PREFIX:
        source, digits = CodeSource.QR, text[len(QR_PAYLOAD_PREFIX):]

    for position, character in enumerate(digits, start=1):
        if not ("0" <= character <= "9"):
            where = "after FSM: " if source is CodeSource.QR else ""
            return _problem(
                MemberCodeProblem.UNEXPECTED_CHARACTERS,
                f"Unexpected character {character!r} at position {position} {where}in {text!r}: a member code is "
                f"{MEMBER_CODE_LENGTH} digits, or {QR_PAYLOAD_PREFIX} and {MEMBER_CODE_LENGTH} digits in a QR code.",
            )
    if len(digits) != MEMBER_CODE_LENGTH:
        return _problem(
            MemberCodeProblem.WRONG_LENGTH,
            f"{digits!r} has {len(digits)} digits; a member code has {MEMBER_CODE_LENGTH} (EAN-13).",
        )
    expected = ean13_check_digit(digits[:12])
    if digits[12] != expected:
        return _problem(
            MemberCodeProblem.BAD_CHECK_DIGIT,
            f"{digits} ends in check digit {digits[12]} but its first 12 digits need {expected}; "
            "the code was misread or mistyped.",
        )
    if not digits.startswith(member_prefixes):
        return _problem(
            MemberCodeProblem.PRODUCT_BARCODE,
            f"{digits} is a product barcode, not a member code: member codes start with {' or '.join(member_prefixes)}.",
        )
    return MemberCodeCheck(digits, source, None, f"{digits} is a valid member code ({source.value}).")


def _problem(problem: MemberCodeProblem, message: str) -> MemberCodeCheck:
    return MemberCodeCheck(None, None, problem, message)


# ---- Profile values ----------------------------------------------------------------------------


def mask_phone(phone: str) -> str:
    """Keep the first 3 and last 4 digits of a phone number: 13812345678 -> 138****5678."""
    if "*" in phone:
        return phone
    if len(phone) < 8:
        return "*" * len(phone)
    return f"{phone[:3]}{'*' * (len(phone) - 7)}{phone[-4:]}"


def baby_age_months(birth: date, today: date) -> int | None:
    """Whole months from `birth` to `today`; None before the birth date (a pregnancy)."""
    if birth > today:
        return None
    months = (today.year - birth.year) * 12 + (today.month - birth.month)
    # A month is complete on the same day of the month, or on the month's last day when
    # it is shorter (born 31 January: one month old on 28 February).
    last_day_of_month = calendar.monthrange(today.year, today.month)[1]
    if today.day < birth.day and today.day != last_day_of_month:
        months -= 1
    return months


# Formula stages of China's national standards by age: GB 10765-2021 infant formula
# (0-6 months, 一段), GB 10766-2021 older infants (6-12 months, 二段), GB 10767-2021 young
# children (12-36 months, 三段).
_FORMULA_STAGES = ((6, "一段"), (12, "二段"), (36, "三段"))


def life_stage_tags(age_months: int | None, pregnant: bool) -> tuple[str, ...]:
    """Tags for the profile screen: the life stage and, under 36 months, the formula stage."""
    if pregnant:
        return (LifeStage.PREGNANCY.value,)
    if age_months is None:
        return ()
    tags = [life_stage_for_age(age_months).value]
    for below, stage in _FORMULA_STAGES:
        if age_months < below:
            tags.append(stage)
            break
    return tuple(tags)


def split_allergen_notes(notes: str) -> tuple[str, ...]:
    """Split the store's allergen notes into single allergies: "牛奶蛋白过敏、鸡蛋过敏" -> two items."""
    items = [notes]
    for separator in _ALLERGEN_SEPARATORS:
        items = [piece for item in items for piece in item.split(separator)]
    return tuple(item.strip() for item in items if item.strip())


@dataclass(frozen=True)
class Purchase:
    purchased_at: datetime
    product_name: str
    quantity: int
    # In fen (0.01 yuan), so sums stay exact.
    amount_fen: int


@dataclass(frozen=True)
class MemberFollowup:
    captured_at: datetime
    text: str
    author_name: str


@dataclass(frozen=True)
class MemberProfile:
    id: str
    member_code: str
    name: str
    phone_masked: str
    allergen_notes: str
    allergens: tuple[str, ...]
    baby_birth_date: date | None
    # None without a birth date, or before it (pregnancy).
    baby_age_months: int | None
    life_stage: LifeStage | None
    life_stage_tags: tuple[str, ...]
    # Newest first, at most RECENT_PURCHASES.
    purchases: tuple[Purchase, ...]
    # Newest first, at most RECENT_FOLLOWUPS.
    recent_followups: tuple[MemberFollowup, ...]

    def talk_track_facts(self) -> MemberFacts:
        return MemberFacts(allergen_notes=self.allergen_notes, baby_age_months=self.baby_age_months, life_stage=self.life_stage)


# ---- The cache ---------------------------------------------------------------------------------


class MemberCache:
    """The member tables of one device database. Safe to share between threads."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if str(path) != ":memory:":
            self.path.parent.mkdir(parents=True, exist_ok=True)
        # isolation_level=None: transactions are begun and committed explicitly.
        self._connection = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._connection.row_factory = sqlite3.Row
        # The LocalStore's connection may hold the write lock during a sync.
        self._connection.execute("PRAGMA busy_timeout = 5000")
        self._connection.execute("PRAGMA journal_mode=WAL")
        self._lock = threading.RLock()
        with self._transaction() as connection:
            for statement in _SCHEMA:
                connection.execute(statement)

    def close(self) -> None:
        with self._lock:
            self._connection.close()

    def __enter__(self) -> "MemberCache":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._connection.execute("BEGIN IMMEDIATE")
            try:
                yield self._connection
            except BaseException:
                self._connection.execute("ROLLBACK")
                raise
            self._connection.execute("COMMIT")

    # ---- Writes ------------------------------------------------------------------------------

    def upsert_members(self, members: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace members by id; return how many were written.

        Each mapping has id, member_code, name and optionally store_id, phone (full or
        masked), baby_birth_date (date or ISO text) and allergens (free-text notes).
        An invalid member code raises InvalidMemberCode and writes nothing.
        """
        now = datetime.now(timezone.utc).isoformat()
        rows = []
        for member in members:
            check = validate_member_code(member["member_code"])
            if not check.valid:
                raise InvalidMemberCode(check)
            birth = member.get("baby_birth_date")
            rows.append((
                str(member["id"]), _optional_text(member.get("store_id")), check.member_code, member["name"],
                mask_phone(member.get("phone") or member.get("phone_masked") or ""),
                birth.isoformat() if isinstance(birth, date) else birth, member.get("allergens") or "", now,
            ))
        with self._transaction() as connection:
            connection.executemany(
                "INSERT INTO member_cache (id, store_id, member_code, name, phone_masked, baby_birth_date, allergens, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET store_id = excluded.store_id,"
                " member_code = excluded.member_code, name = excluded.name, phone_masked = excluded.phone_masked,"
                " baby_birth_date = excluded.baby_birth_date, allergens = excluded.allergens, updated_at = excluded.updated_at",
                rows,
            )
        return len(rows)

    def add_purchases(self, purchases: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace purchase rows: id, member_id, purchased_at, product_name, quantity, amount_fen."""
        rows = [
            (str(p["id"]), str(p["member_id"]), _timestamp_text(p["purchased_at"]), p["product_name"],
             int(p.get("quantity", 1)), int(p.get("amount_fen", 0)))
            for p in purchases
        ]
        with self._transaction() as connection:
            connection.executemany("INSERT OR REPLACE INTO member_purchases VALUES (?, ?, ?, ?, ?, ?)", rows)
        return len(rows)

    def add_followups(self, followups: Iterable[Mapping[str, Any]]) -> int:
        """Insert or replace follow-up rows: id, member_id, captured_at, text, author_name."""
        rows = [
            (str(f["id"]), str(f["member_id"]), _timestamp_text(f["captured_at"]), f["text"], f.get("author_name", ""))
            for f in followups
        ]
        with self._transaction() as connection:
            connection.executemany("INSERT OR REPLACE INTO member_followups VALUES (?, ?, ?, ?, ?)", rows)
        return len(rows)

    # ---- Reads -------------------------------------------------------------------------------

    def count(self) -> int:
        with self._lock:
            return self._connection.execute("SELECT COUNT(*) FROM member_cache").fetchone()[0]

    def lookup(self, code: str, today: date | None = None) -> MemberProfile | None:
        """Return the profile of the member with scanned or typed `code`, or None when not cached.

        Raises InvalidMemberCode, whose `check` names the problem, for text that is not a
        member code. `today` (default: the device's date) sets the baby's age.
        """
        check = validate_member_code(code)
        if not check.valid:
            raise InvalidMemberCode(check)
        with self._lock:
            member = self._connection.execute(
                "SELECT * FROM member_cache WHERE member_code = ?", (check.member_code,)
            ).fetchone()
            if member is None:
                return None
            purchases = self._connection.execute(
                "SELECT purchased_at, product_name, quantity, amount_fen FROM member_purchases"
                " WHERE member_id = ? ORDER BY purchased_at DESC LIMIT ?", (member["id"], RECENT_PURCHASES),
            ).fetchall()
            followups = self._connection.execute(
                "SELECT captured_at, text, author_name FROM member_followups"
                " WHERE member_id = ? ORDER BY captured_at DESC LIMIT ?", (member["id"], RECENT_FOLLOWUPS),
            ).fetchall()
        return _profile(member, purchases, followups, today or date.today())


def _profile(member: sqlite3.Row, purchases: list[sqlite3.Row], followups: list[sqlite3.Row], today: date) -> MemberProfile:
    birth = date.fromisoformat(member["baby_birth_date"]) if member["baby_birth_date"] else None
    pregnant = birth is not None and birth > today
    age = baby_age_months(birth, today) if birth is not None else None
    if pregnant:
        life_stage = LifeStage.PREGNANCY
    else:
        life_stage = life_stage_for_age(age) if age is not None else None
    return MemberProfile(
        id=member["id"],
        member_code=member["member_code"],
        name=member["name"],
        phone_masked=member["phone_masked"],
        allergen_notes=member["allergens"],
        allergens=split_allergen_notes(member["allergens"]),
        baby_birth_date=birth,
        baby_age_months=age,
        life_stage=life_stage,
        life_stage_tags=life_stage_tags(age, pregnant),
        purchases=tuple(
            Purchase(datetime.fromisoformat(row["purchased_at"]), row["product_name"], row["quantity"], row["amount_fen"])
            for row in purchases
        ),
        recent_followups=tuple(
            MemberFollowup(datetime.fromisoformat(row["captured_at"]), row["text"], row["author_name"]) for row in followups
        ),
    )


def _optional_text(value: Any) -> str | None:
    return None if value is None else str(value)


def _timestamp_text(value: datetime | str) -> str:
    """Store timestamps as ISO-8601 in UTC, so ordering the text orders the times."""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        raise ValueError(f"Timestamp {value!r} has no time zone; pass an aware datetime or ISO text with an offset.")
    return moment.astimezone(timezone.utc).isoformat()
