"""What the visit screens decide and show without a browser: lock reasons, flag reasons, required items, number answers."""

from datetime import datetime, timedelta, timezone

import pytest
from geopy.distance import geodesic

from core.geofence import Fix, GeofencePolicy, Place, Reason, decide
from mobile.i18n import Translator
from mobile.views.checkin import checklist_parent, reason_text, remember_visit_customer
from mobile.views.checklist import is_answered, missing_required, parse_number
from mobile.views.flags import flag_reason_text

ZH = Translator("zh-CN")
EN = Translator("en")
SITE = (22.533287, 113.930413)
# The default routine template's items, as the server's migration stores them.
ITEMS = [
    {"id": "samples", "label": "带新品样品了吗？", "type": "yes_no", "required": True},
    {"id": "competitor_photo", "label": "更新竞品陈列照片", "type": "photo", "required": True},
    {"id": "next_step", "label": "下一步已约定", "type": "choice", "required": True, "options": ["再次拜访", "发送报价"]},
    {"id": "note", "label": "备注", "type": "text"},
]


def _decision(metres_north: float, accuracy: float = 20.0, age_s: float = 5.0, mocked: bool = False):
    now = datetime.now(timezone.utc)
    point = geodesic(meters=metres_north).destination(SITE, 0)
    fix = Fix(point.latitude, point.longitude, accuracy, now - timedelta(seconds=age_s), mocked)
    return decide(Place(*SITE), fix, now, GeofencePolicy())


# ---- Lock reasons on the check-in screen ----------------------------------------------------

def test_too_far_text_has_distance():
    decision = _decision(612)

    assert decision.reasons == [Reason.TOO_FAR]
    assert reason_text(ZH, Reason.TOO_FAR, decision) == "太远：612 米（需在 500 米内）"
    assert reason_text(EN, Reason.TOO_FAR, decision) == "Too far: 612 m (must be within 500 m)"


def test_accuracy_text_has_limit():
    decision = _decision(10, accuracy=250)

    assert decision.reasons == [Reason.ACCURACY_TOO_POOR]
    assert reason_text(ZH, Reason.ACCURACY_TOO_POOR, decision) == "定位精度不足：±250 米（需 ±200 米以内）"


@pytest.mark.parametrize("reason", list(Reason))
def test_every_reason_has_text(reason):
    decision = _decision(10)

    text = reason_text(ZH, reason, decision)

    assert not text.startswith("checkin.")
    assert "{" not in text


def test_mocked_text():
    decision = _decision(10, mocked=True)

    assert [reason_text(ZH, reason, decision) for reason in decision.reasons] == ["模拟定位：请关闭模拟位置应用"]


# ---- Flag reasons on the lead's list --------------------------------------------------------

def test_flag_reasons_with_numbers():
    details = {"distance_m": 612.4, "radius_m": 500.0, "accuracy_m": 250.0, "max_accuracy_m": 200.0,
               "fix_age_s": 300.2, "speed_kmh": 812.7, "clock_skew_s": -900.0}

    texts = [flag_reason_text(ZH, reason, details) for reason in (
        "too_far", "accuracy_too_poor", "fix_too_old", "mocked", "impossible_travel", "clock_skew",
    )]

    assert texts == [
        "距离 612 米，超出 500 米",
        "定位精度 ±250 米，超过 ±200 米",
        "定位过时：300 秒前",
        "模拟定位",
        "移动速度不可能：813 公里/小时",
        "手机时间偏差 -900 秒",
    ]


def test_flag_reason_unknown_named():
    assert flag_reason_text(ZH, "teleported", {}) == "其他原因：teleported"


def test_flag_reason_missing_number():
    assert flag_reason_text(ZH, "too_far", {}) == "距离 ? 米，超出 ? 米"


# ---- Required checklist items ---------------------------------------------------------------

def test_all_required_missing_at_start():
    assert [item["id"] for item in missing_required(ITEMS, {})] == ["samples", "competitor_photo", "next_step"]


def test_answers_complete_required():
    answers = {
        "samples": {"value": 0, "photo_id": None},  # "no" as SQLite stores false: still an answer
        "competitor_photo": {"value": None, "photo_id": "9b0c8c6e-2f1b-4b55-9d54-5d3f0e3f0a11"},
        "next_step": {"value": "发送报价", "photo_id": None},
    }

    assert missing_required(ITEMS, answers) == []


def test_blank_text_not_answered():
    assert not is_answered({"type": "text"}, {"value": "  ", "photo_id": None})
    assert is_answered({"type": "text"}, {"value": "客户要报价", "photo_id": None})


def test_photo_needs_photo_id():
    assert not is_answered({"type": "photo"}, {"value": None, "photo_id": None})
    assert not is_answered({"type": "photo"}, None)


# ---- Number answers -------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [("0", 0), ("1000", 1000), ("12.5", 12.5), ("1,000", 1000), (" 7 ", 7)])
def test_number_within_range(text, expected):
    assert parse_number(text, {"min": 0, "max": 1000}) == expected


@pytest.mark.parametrize("text", ["-1", "1000.01"])
def test_number_outside_range(text):
    with pytest.raises(ValueError, match="range"):
        parse_number(text, {"min": 0, "max": 1000})


@pytest.mark.parametrize("text", ["十", "nan", "inf", ""])
def test_number_invalid(text):
    with pytest.raises(ValueError, match="invalid"):
        parse_number(text, {})


# ---- Back navigation from a checklist -------------------------------------------------------

def test_checklist_parent_is_customer():
    remember_visit_customer("visit-1", "customer-1")

    assert checklist_parent({"visit_id": "visit-1"}) == "/customers/customer-1"
    assert checklist_parent({"visit_id": "unknown"}) == "/"
