"""The store's members on the device, read from the synced tables of the LocalStore.

Sync brings the store's members (phones already masked by the server), their purchases
and member follow-ups into the user's LocalStore. This module reads them for the clerk's
screens. It also writes what the tablet records: profile views (the audit log), member
follow-ups and newly registered members. Every write goes through LocalStore, so it is
saved offline with its outbox entry and synced later.

Lookups use the indexes created here: a member code is one indexed query, its recent
purchases and follow-ups one more each (bench/member_lookup.py, --source local_store).
"""

import sqlite3
import weakref
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Any

from core.followup_structuring import LifeStage, life_stage_for_age
from mobile.offline.members import (
    RECENT_FOLLOWUPS,
    RECENT_PURCHASES,
    InvalidMemberCode,
    MemberFollowup,
    MemberProfile,
    Purchase,
    baby_age_months,
    life_stage_tags,
    mask_phone,
    split_allergen_notes,
    validate_member_code,
)
from mobile.offline.store import LocalStore

_INDEXES = (
    "CREATE UNIQUE INDEX IF NOT EXISTS ix_members_code ON members(member_code)",
    "CREATE INDEX IF NOT EXISTS ix_members_name ON members(name)",
    "CREATE INDEX IF NOT EXISTS ix_member_purchases_member ON member_purchases(member_id, purchased_at)",
    "CREATE INDEX IF NOT EXISTS ix_member_followups_member ON member_followups(member_id, captured_at)",
    "CREATE INDEX IF NOT EXISTS ix_profile_views_viewer ON profile_views(viewer_id, viewed_at)",
)

# Sources of a member code (camera, scanner, typing, a list on the tablet), as the audit log records them.
VIEW_SOURCES = ("camera", "wedge", "typed", "list")


@dataclass(frozen=True)
class MemberSummary:
    id: str
    store_id: str | None
    member_code: str
    name: str
    phone_masked: str
    baby_birth_date: date | None
    allergens: str


@dataclass(frozen=True)
class ServedShopper:
    """A member whose profile this user opened recently, for the clerk home."""

    member: MemberSummary
    viewed_at: datetime | None
    source: str


@dataclass(frozen=True)
class DueFollowup:
    """A member's latest follow-up that promised a next contact, for the clerk home."""

    member: MemberSummary
    text: str
    due: date
    talk_track_id: str | None


def utc_now_iso() -> str:
    return datetime.now(timezone.utc).isoformat()


class StoreMembers:
    """Reads and writes the store's member data in one user's LocalStore."""

    def __init__(self, store: LocalStore) -> None:
        self.store = store
        with store.transaction() as connection:
            for statement in _INDEXES:
                connection.execute(statement)

    # ---- Reads -------------------------------------------------------------------------------

    def count(self) -> int:
        return self.store.query("SELECT COUNT(*) AS n FROM members")[0]["n"]

    def lookup(self, code: str, today: date | None = None) -> MemberProfile | None:
        """Return the profile of the member with scanned or typed `code`, or None when the store has no such member.

        Raises InvalidMemberCode, whose `check` names the problem, for text that is not a member code.
        """
        check = validate_member_code(code)
        if not check.valid:
            raise InvalidMemberCode(check)
        rows = self.store.query("SELECT * FROM members WHERE member_code = ?", (check.member_code,))
        return self._profile(rows[0], today) if rows else None

    def profile(self, member_id: str, today: date | None = None) -> MemberProfile | None:
        rows = self.store.query("SELECT * FROM members WHERE id = ?", (member_id,))
        return self._profile(rows[0], today) if rows else None

    def summary(self, member_id: str) -> MemberSummary | None:
        rows = self.store.query("SELECT * FROM members WHERE id = ?", (member_id,))
        return _summary(rows[0]) if rows else None

    def search(self, text: str = "", limit: int = 50, offset: int = 0) -> tuple[list[MemberSummary], int]:
        """Members whose name or member code contains `text`, by name."""
        where, parameters = "", []
        if text.strip():
            pattern = f"%{text.strip()}%"
            where = "WHERE name LIKE ? OR member_code LIKE ?"
            parameters = [pattern, pattern]
        total = self.store.query(f"SELECT COUNT(*) AS n FROM members {where}", parameters)[0]["n"]
        rows = self.store.query(f"SELECT * FROM members {where} ORDER BY name, id LIMIT ? OFFSET ?", [*parameters, limit, offset])
        return [_summary(row) for row in rows], total

    def recent_shoppers(self, viewer_id: str, limit: int = 8) -> list[ServedShopper]:
        """Members whose profile `viewer_id` opened most recently, newest first, each once."""
        rows = self.store.query(
            "SELECT m.*, v.viewed_at AS last_viewed_at, v.source AS view_source FROM members m JOIN ("
            "  SELECT member_id, MAX(viewed_at) AS viewed_at FROM profile_views WHERE viewer_id = ? GROUP BY member_id"
            ") latest ON latest.member_id = m.id"
            " JOIN profile_views v ON v.member_id = latest.member_id AND v.viewed_at = latest.viewed_at AND v.viewer_id = ?"
            " GROUP BY m.id ORDER BY latest.viewed_at DESC LIMIT ?",
            (viewer_id, viewer_id, limit),
        )
        return [ServedShopper(_summary(row), _timestamp(row["last_viewed_at"]), row["view_source"] or "") for row in rows]

    def due_followups(self, limit: int = 8) -> list[DueFollowup]:
        """Return each member's latest follow-up that promised a next contact, soonest due first."""
        rows = self.store.query(
            "SELECT m.*, f.text AS followup_text, f.captured_at AS followup_at, f.followup_in_days, f.talk_track_id"
            " FROM member_followups f JOIN members m ON m.id = f.member_id"
            " WHERE f.captured_at = (SELECT MAX(captured_at) FROM member_followups g WHERE g.member_id = f.member_id)"
            " AND f.followup_in_days IS NOT NULL"
        )
        due = []
        for row in rows:
            captured = _timestamp(row["followup_at"])
            if captured is None:
                continue
            due.append(DueFollowup(
                _summary(row), row["followup_text"] or "", captured.date() + timedelta(days=int(row["followup_in_days"])),
                row["talk_track_id"],
            ))
        due.sort(key=lambda item: item.due)
        return due[:limit]

    # ---- Writes ------------------------------------------------------------------------------

    def record_view(self, member_id: str, viewer_id: str, source: str) -> str:
        """Queue the audit record of a profile view; return its id."""
        if source not in VIEW_SOURCES:
            raise ValueError(f"view source must be one of {', '.join(VIEW_SOURCES)}, got {source!r}")
        return self.store.put("profile_views", {
            "member_id": member_id, "viewer_id": viewer_id, "viewed_at": utc_now_iso(), "source": source,
        })

    def register(self, member_code: str, name: str, phone: str, baby_birth_date: date | None, allergens: str) -> str:
        """Save a new member of the user's store offline; return its id. The server sets the store and checks the code."""
        return self.store.put("members", {
            "member_code": member_code, "name": name, "phone": phone,
            "baby_birth_date": baby_birth_date.isoformat() if baby_birth_date else None, "allergens": allergens,
        })

    def add_followup(self, member_id: str, author_id: str, author_name: str, fields: dict[str, Any]) -> str:
        """Save a member follow-up offline; `fields` are its text and structured fields. Return its id."""
        return self.store.put("member_followups", {
            "member_id": member_id, "author_id": author_id, "author_name": author_name, "captured_at": utc_now_iso(), **fields,
        })

    # ---- Profiles ----------------------------------------------------------------------------

    def _profile(self, member: sqlite3.Row, today: date | None) -> MemberProfile:
        today = today or date.today()
        purchases = self.store.query(
            "SELECT purchased_at, product_name, quantity, amount_fen FROM member_purchases"
            " WHERE member_id = ? ORDER BY purchased_at DESC LIMIT ?", (member["id"], RECENT_PURCHASES),
        )
        followups = self.store.query(
            "SELECT captured_at, text, author_name FROM member_followups"
            " WHERE member_id = ? ORDER BY captured_at DESC LIMIT ?", (member["id"], RECENT_FOLLOWUPS),
        )
        birth = _date(member["baby_birth_date"])
        pregnant = birth is not None and birth > today
        age = baby_age_months(birth, today) if birth is not None else None
        if pregnant:
            life_stage: LifeStage | None = LifeStage.PREGNANCY
        else:
            life_stage = life_stage_for_age(age) if age is not None else None
        allergen_notes = member["allergens"] or ""
        return MemberProfile(
            id=member["id"],
            member_code=member["member_code"],
            name=member["name"] or "",
            phone_masked=mask_phone(member["phone"] or ""),
            allergen_notes=allergen_notes,
            allergens=split_allergen_notes(allergen_notes),
            baby_birth_date=birth,
            baby_age_months=age,
            life_stage=life_stage,
            life_stage_tags=life_stage_tags(age, pregnant),
            purchases=tuple(
                Purchase(_timestamp(row["purchased_at"]), row["product_name"] or "", int(row["quantity"] or 1), int(row["amount_fen"] or 0))
                for row in purchases if row["purchased_at"]
            ),
            recent_followups=tuple(
                MemberFollowup(_timestamp(row["captured_at"]), row["text"] or "", row["author_name"] or "")
                for row in followups if row["captured_at"]
            ),
        )


def _summary(row: sqlite3.Row) -> MemberSummary:
    return MemberSummary(
        id=row["id"],
        store_id=row["store_id"],
        member_code=row["member_code"] or "",
        name=row["name"] or "",
        # A member registered on this tablet keeps the typed number until the server's masked copy arrives.
        phone_masked=mask_phone(row["phone"] or ""),
        baby_birth_date=_date(row["baby_birth_date"]),
        allergens=row["allergens"] or "",
    )


def _date(value: str | None) -> date | None:
    return date.fromisoformat(value[:10]) if value else None


def _timestamp(value: str | None) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(value)
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


_instances: "weakref.WeakKeyDictionary[LocalStore, StoreMembers]" = weakref.WeakKeyDictionary()


def store_members(store: LocalStore) -> StoreMembers:
    """Return the StoreMembers of `store`, creating its indexes on first use."""
    members = _instances.get(store)
    if members is None:
        members = _instances[store] = StoreMembers(store)
    return members
