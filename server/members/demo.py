"""Demo purchase history of the demo store members, and the change-log entries that send members to tablets.

Runs inside server.seed.demo's transaction, after the members are inserted. Every value
comes from one seeded random.Random, so every load gives the same rows.
"""

import random
import uuid
from datetime import date, datetime, time, timedelta, timezone

from sqlalchemy import Uuid, bindparam, column, insert, text
from sqlmodel import Session, select

from server.members.models import MemberPurchase
from server.models import Member, SyncChange
from server.sync.changes import allocate_sequence_numbers

_RANDOM_SEED = 20261204
_ID_NAMESPACE = uuid.UUID("5d1c8a52-3f0e-4a57-9b1e-6f2d8f3f9a10")
_CHINA_STANDARD_TIME = timezone(timedelta(hours=8))
_MAX_PURCHASES_PER_MEMBER = 8
_PURCHASE_HISTORY_DAYS = 365
# The day the demo data describes (server.seed.demo.BASE_DATE): purchases lie before it.
_REFERENCE_DATE = date(2026, 11, 30)

# (product name, price in fen, youngest and oldest age in months it suits; None: any age or pregnancy).
_PRODUCTS = (
    ("婴儿配方奶粉一段 800g", 32800, 0, 5),
    ("较大婴儿配方奶粉二段 800g", 31800, 6, 11),
    ("幼儿配方奶粉三段 800g", 29800, 12, 36),
    ("深度水解配方奶粉 400g", 26800, 0, 36),
    ("藻油DHA滴剂 60粒", 19800, 0, 36),
    ("益生菌粉 30袋", 16800, 0, 36),
    ("乳铁蛋白调制乳粉 60g", 23800, 6, 36),
    ("高铁米粉 225g", 5900, 6, 24),
    ("纸尿裤S码 84片", 13900, 0, 5),
    ("纸尿裤M码 64片", 13900, 4, 12),
    ("纸尿裤L码 52片", 13900, 10, 24),
    ("婴儿手口湿巾 80抽×3包", 3900, None, None),
    ("孕妇配方奶粉 900g", 25800, None, None),
)

# Members and purchases whose rows enter the change log for their store.
_UNLOGGED_ROWS_SQL = {
    "members": "SELECT id, store_id FROM members WHERE version = 0 ORDER BY id",
    "member_purchases": "SELECT id, store_id FROM member_purchases WHERE version = 0 ORDER BY id",
}


def load_member_demo(session: Session) -> int:
    """Add purchase history to the members, then log members and purchases for their stores; return the purchases added."""
    rng = random.Random(_RANDOM_SEED)
    purchases = []
    for member in session.exec(select(Member).order_by(Member.member_code)).all():
        purchases.extend(_purchases_of(rng, member))
    session.add_all(purchases)
    session.flush()
    log_store_rows(session)
    return len(purchases)


def _purchases_of(rng: random.Random, member: Member) -> list[MemberPurchase]:
    rows = []
    reference = _REFERENCE_DATE
    for number in range(rng.randint(0, _MAX_PURCHASES_PER_MEMBER)):
        day = reference - timedelta(days=rng.randint(1, _PURCHASE_HISTORY_DAYS))
        age_then = None
        if member.baby_birth_date is not None and member.baby_birth_date <= day:
            age_then = (day - member.baby_birth_date).days // 30
        choices = [p for p in _PRODUCTS if p[2] is None or (age_then is not None and p[2] <= age_then <= p[3])]
        name, price, _, _ = rng.choice(choices)
        quantity = rng.choice((1, 1, 1, 2, 2, 3))
        moment = datetime.combine(day, time(rng.randint(9, 20), rng.randint(0, 59)), tzinfo=_CHINA_STANDARD_TIME)
        rows.append(MemberPurchase(
            id=uuid.uuid5(_ID_NAMESPACE, f"purchase:{member.member_code}:{number}"),
            member_id=member.id,
            store_id=member.store_id,
            purchased_at=moment.astimezone(timezone.utc),
            product_name=name,
            quantity=quantity,
            amount_fen=price * quantity,
        ))
    return rows


def log_store_rows(session: Session) -> int:
    """Give members and purchases inserted in bulk (version 0) a version and a change-log entry for their store.

    Returns the number of rows logged. Runs in the caller's transaction.
    """
    logged = 0
    now = datetime.now(timezone.utc)
    for entity, rows_sql in _UNLOGGED_ROWS_SQL.items():
        query = text(rows_sql).columns(column("id", Uuid()), column("store_id", Uuid()))
        rows = session.connection().execute(query).all()
        if not rows:
            continue
        first_seq = allocate_sequence_numbers(session, len(rows))
        entries = [
            {"seq": first_seq + index, "entity": entity, "entity_id": row[0], "op": "put",
             "owner_id": None, "region_id": None, "store_id": row[1], "changed_at": now}
            for index, row in enumerate(rows)
        ]
        session.execute(insert(SyncChange), entries)
        session.connection().execute(
            text(f"UPDATE {entity} SET version = :version WHERE id = :row_id").bindparams(bindparam("row_id", type_=Uuid())),
            [{"version": entry["seq"], "row_id": entry["entity_id"]} for entry in entries],
        )
        logged += len(rows)
    return logged
