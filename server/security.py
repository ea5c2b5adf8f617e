"""Password hashing (Argon2 via pwdlib) and opaque bearer tokens stored as SHA-256 digests."""

import hashlib
import secrets
import uuid
from datetime import datetime, timedelta, timezone

from pwdlib import PasswordHash
from sqlmodel import Session

from server.models import AuthToken

_password_hash = PasswordHash.recommended()

# Verified against when the login name is unknown, so a wrong name and a wrong
# password take the same time and cannot be told apart by timing.
_DUMMY_HASH = _password_hash.hash("not-a-real-password")


def hash_password(password: str) -> str:
    return _password_hash.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _password_hash.verify(password, _DUMMY_HASH)
        return False
    return _password_hash.verify(password, password_hash)


def digest_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def issue_token(session: Session, user_id: uuid.UUID, ttl: timedelta) -> tuple[str, AuthToken]:
    """Create a random bearer token for the user; store its digest, commit, and return the plain token once."""
    token = secrets.token_urlsafe(32)
    now = datetime.now(timezone.utc)
    record = AuthToken(token_hash=digest_token(token), user_id=user_id, issued_at=now, expires_at=now + ttl)
    session.add(record)
    session.commit()
    session.refresh(record)
    return token, record


def as_utc(moment: datetime) -> datetime:
    """Attach UTC to a naive timestamp; SQLite returns stored UTC times without a zone."""
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)
