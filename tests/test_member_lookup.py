"""The device's member cache: member-code validation and lookup from code to profile."""

from datetime import date, datetime, timedelta, timezone

import pytest

from core.followup_structuring import LifeStage
from mobile.offline.members import (
    CodeSource,
    InvalidMemberCode,
    MemberCache,
    MemberCodeProblem,
    baby_age_months,
    ean13_check_digit,
    life_stage_tags,
    mask_phone,
    split_allergen_notes,
    validate_member_code,
)
from mobile.offline.store import LocalStore

TODAY = date(2026, 12, 2)
CHINA = timezone(timedelta(hours=8))


def member_code(first_twelve: str) -> str:
    return first_twelve + ean13_check_digit(first_twelve)


CODE = member_code("290100000042")
OTHER_CODE = member_code("290100000043")
PRODUCT_BARCODE = member_code("690123456789")


@pytest.fixture
def database(tmp_path):
    return tmp_path / "device.sqlite3"


@pytest.fixture
def cache(database):
    with MemberCache(database) as member_cache:
        member_cache.upsert_members([
            {"id": "m1", "store_id": "s1", "member_code": CODE, "name": "王芳", "phone": "13812345678",
             "baby_birth_date": date(2026, 4, 2), "allergens": "牛奶蛋白过敏、鸡蛋过敏"},
            {"id": "m2", "store_id": "s1", "member_code": OTHER_CODE, "name": "李娜", "phone_masked": "139****0001",
             "baby_birth_date": None, "allergens": ""},
        ])
        yield member_cache


# ---- Member codes ------------------------------------------------------------------------------

VALID = {
    "ean13": (CODE, CodeSource.EAN13),
    "qr payload": (f"FSM:{CODE}", CodeSource.QR),
    "qr lower case": (f"fsm:{CODE}", CodeSource.QR),
    "surrounding whitespace": (f"  {CODE}\r\n", CodeSource.EAN13),
    "full-width digits": (CODE.translate({ord(d): ord(d) + 0xFEE0 for d in "0123456789"}), CodeSource.EAN13),
}


@pytest.mark.parametrize(("raw", "source"), VALID.values(), ids=VALID.keys())
def test_valid_member_codes(raw, source):
    check = validate_member_code(raw)

    assert check.valid
    assert check.member_code == CODE
    assert check.source is source


INVALID = {
    "empty": ("", MemberCodeProblem.EMPTY, "empty"),
    "only spaces": ("   ", MemberCodeProblem.EMPTY, "empty"),
    "letters": ("29010A0000421", MemberCodeProblem.UNEXPECTED_CHARACTERS, "'A' at position 6"),
    "inner space": ("2901 00000042", MemberCodeProblem.UNEXPECTED_CHARACTERS, "' ' at position 5"),
    "other qr prefix": (f"ABC:{CODE}", MemberCodeProblem.UNEXPECTED_CHARACTERS, "'A' at position 1"),
    "qr bad payload": ("FSM:29-0100000042", MemberCodeProblem.UNEXPECTED_CHARACTERS, "'-' at position 3 after FSM:"),
    "twelve digits": (CODE[:12], MemberCodeProblem.WRONG_LENGTH, "has 12 digits"),
    "fourteen digits": (CODE + "0", MemberCodeProblem.WRONG_LENGTH, "has 14 digits"),
    "qr short": (f"FSM:{CODE[:-1]}", MemberCodeProblem.WRONG_LENGTH, "has 12 digits"),
    "bad check digit": (CODE[:12] + str((int(CODE[12]) + 1) % 10), MemberCodeProblem.BAD_CHECK_DIGIT, f"need {CODE[12]}"),
    "product barcode": (PRODUCT_BARCODE, MemberCodeProblem.PRODUCT_BARCODE, "product barcode"),
}


@pytest.mark.parametrize(("raw", "problem", "message"), INVALID.values(), ids=INVALID.keys())
def test_invalid_member_codes(raw, problem, message):
    check = validate_member_code(raw)

    assert not check.valid
    assert check.member_code is None
    assert check.problem is problem
    assert message in check.message


def test_ean13_check_digit_known_value():
    # The EAN-13 example from GS1's check digit calculator: 400638133393 -> 1.
    assert ean13_check_digit("400638133393") == "1"


def test_ean13_check_digit_needs_twelve_digits():
    with pytest.raises(ValueError, match="needs 12 digits"):
        ean13_check_digit("12345")


# ---- Profile values ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phone", "masked"),
    [("13812345678", "138****5678"), ("138****5678", "138****5678"), ("1234", "****"), ("", "")],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("birth", "today", "months"),
    [
        (date(2026, 6, 2), date(2026, 12, 2), 6),
        (date(2026, 6, 3), date(2026, 12, 2), 5),
        (date(2026, 1, 31), date(2026, 2, 28), 1),
        (date(2024, 12, 2), date(2026, 12, 2), 24),
        (date(2026, 12, 2), date(2026, 12, 2), 0),
        (date(2026, 12, 3), date(2026, 12, 2), None),
    ],
)
def test_baby_age_months(birth, today, months):
    assert baby_age_months(birth, today) == months


@pytest.mark.parametrize(
    ("age", "pregnant", "tags"),
    [(0, False, ("新生儿", "一段")), (6, False, ("婴儿", "二段")), (12, False, ("幼儿", "三段")),
     (40, False, ("学龄前",)), (None, True, ("孕期",)), (None, False, ())],
)
def test_life_stage_tags(age, pregnant, tags):
    assert life_stage_tags(age, pregnant) == tags


def test_split_allergen_notes():
    assert split_allergen_notes("牛奶蛋白过敏、鸡蛋过敏, 海鲜过敏") == ("牛奶蛋白过敏", "鸡蛋过敏", "海鲜过敏")
    assert split_allergen_notes("") == ()


# ---- Lookup ------------------------------------------------------------------------------------


def test_lookup_returns_profile(cache):
    profile = cache.lookup(CODE, today=TODAY)

    assert profile.id == "m1"
    assert profile.name == "王芳"
    assert profile.phone_masked == "138****5678"
    assert profile.allergens == ("牛奶蛋白过敏", "鸡蛋过敏")
    assert profile.baby_birth_date == date(2026, 4, 2)
    assert profile.baby_age_months == 8
    assert profile.life_stage is LifeStage.INFANT
    assert profile.life_stage_tags == ("婴儿", "二段")


def test_full_phone_never_stored(cache, database):
    import sqlite3

    with sqlite3.connect(database) as connection:
        phones = [row[0] for row in connection.execute("SELECT phone_masked FROM member_cache")]

    assert "13812345678" not in phones
    assert "138****5678" in phones


def test_lookup_by_qr_payload(cache):
    assert cache.lookup(f"FSM:{CODE}", today=TODAY).id == "m1"


def test_lookup_unknown_code_returns_none(cache):
    assert cache.lookup(member_code("290100009999"), today=TODAY) is None


def test_lookup_invalid_code_raises(cache):
    with pytest.raises(InvalidMemberCode) as raised:
        cache.lookup(PRODUCT_BARCODE)

    assert raised.value.check.problem is MemberCodeProblem.PRODUCT_BARCODE


def test_lookup_without_birth_date(cache):
    profile = cache.lookup(OTHER_CODE, today=TODAY)

    assert profile.baby_age_months is None
    assert profile.life_stage is None
    assert profile.life_stage_tags == ()
    assert profile.phone_masked == "139****0001"


def test_lookup_during_pregnancy(cache):
    cache.upsert_members([{"id": "m3", "member_code": member_code("290100000044"), "name": "赵敏",
                           "baby_birth_date": "2027-03-01"}])

    profile = cache.lookup(member_code("290100000044"), today=TODAY)

    assert profile.baby_age_months is None
    assert profile.life_stage is LifeStage.PREGNANCY
    assert profile.life_stage_tags == ("孕期",)


def test_purchases_newest_first_and_limited(cache):
    start = datetime(2026, 1, 1, 10, 0, tzinfo=CHINA)
    cache.add_purchases([
        {"id": f"p{day}", "member_id": "m1", "purchased_at": start + timedelta(days=day), "product_name": f"奶粉{day}",
         "quantity": 2, "amount_fen": 39800}
        for day in range(30)
    ])
    cache.add_purchases([{"id": "other", "member_id": "m2", "purchased_at": start, "product_name": "湿巾"}])

    purchases = cache.lookup(CODE, today=TODAY).purchases

    assert len(purchases) == 20
    assert purchases[0].product_name == "奶粉29"
    assert purchases[-1].product_name == "奶粉10"
    assert purchases[0].quantity == 2
    assert purchases[0].amount_fen == 39800
    assert purchases[0].purchased_at == start + timedelta(days=29)


def test_followups_newest_first_and_limited(cache):
    start = datetime(2026, 11, 1, 9, 0, tzinfo=timezone.utc)
    cache.add_followups([
        {"id": f"f{index}", "member_id": "m1", "captured_at": (start + timedelta(hours=index)).isoformat(),
         "text": f"跟进{index}", "author_name": "店员小张"}
        for index in range(8)
    ])

    followups = cache.lookup(CODE, today=TODAY).recent_followups

    assert [followup.text for followup in followups] == ["跟进7", "跟进6", "跟进5", "跟进4", "跟进3"]
    assert followups[0].author_name == "店员小张"


def test_timestamp_needs_time_zone(cache):
    with pytest.raises(ValueError, match="no time zone"):
        cache.add_purchases([{"id": "p", "member_id": "m1", "purchased_at": "2026-01-01T10:00:00", "product_name": "x"}])


def test_upsert_replaces_by_id(cache):
    cache.upsert_members([{"id": "m1", "member_code": CODE, "name": "王芳芳", "allergens": ""}])

    profile = cache.lookup(CODE, today=TODAY)

    assert profile.name == "王芳芳"
    assert profile.allergens == ()
    assert cache.count() == 2


def test_upsert_invalid_code_writes_nothing(cache):
    with pytest.raises(InvalidMemberCode, match="check digit"):
        cache.upsert_members([
            {"id": "m9", "member_code": member_code("290100000045"), "name": "甲"},
            {"id": "m10", "member_code": CODE[:12] + str((int(CODE[12]) + 1) % 10), "name": "乙"},
        ])

    assert cache.count() == 2


def test_member_code_index_used(cache, database):
    import sqlite3

    with sqlite3.connect(database) as connection:
        plan = " ".join(row[-1] for row in connection.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM member_cache WHERE member_code = ?", (CODE,)))

    assert "ix_member_cache_code" in plan


def test_shares_local_store_file(database):
    store = LocalStore(database)
    cache = MemberCache(database)
    try:
        cache.upsert_members([{"id": "m1", "member_code": CODE, "name": "王芳"}])
        store.put("customers", {"name": "客户甲"})

        assert cache.lookup(CODE, today=TODAY).name == "王芳"
        assert store.pending_count() == 1
        assert store.list_customers()[1] == 1
    finally:
        cache.close()
        store.close()


def test_talk_track_facts(cache):
    facts = cache.lookup(CODE, today=TODAY).talk_track_facts()

    assert facts.allergen_notes == "牛奶蛋白过敏、鸡蛋过敏"
    assert facts.baby_age_months == 8
    assert facts.life_stage is LifeStage.INFANT
