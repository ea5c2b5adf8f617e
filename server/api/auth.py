import logging
from datetime import timedelta

from fastapi import APIRouter, HTTPException, status
from sqlmodel import Session, or_, select

from server.config import get_settings
from server.db import get_engine, writing_session
from server.deps import CurrentUser, SessionDep
from server.models import Region, Store, User
from server.schemas import LoginRequest, LoginResponse, UserPublic
from server.security import as_utc, issue_token, verify_password

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])


def to_user_public(session: SessionDep, user: User) -> UserPublic:
    region = session.get(Region, user.region_id) if user.region_id else None
    store = session.get(Store, user.store_id) if user.store_id else None
    return UserPublic(
        id=user.id,
        username=user.username,
        display_name=user.display_name,
        role=user.role,
        region_id=user.region_id,
        region_name=region.name if region else None,
        store_id=user.store_id,
        store_name=store.name if store else None,
    )


@router.post("/login", response_model=LoginResponse)
def login(body: LoginRequest) -> LoginResponse:
    """Sign in with a username or phone number and a password; returns a bearer token.

    The password check (Argon2, tens of milliseconds) runs in a read transaction and the
    token is stored in a separate writing one, so sign-ins never hold SQLite's write lock
    while hashing.
    """
    login_name = body.login.strip()
    with Session(get_engine()) as session:
        user = session.exec(select(User).where(or_(User.username == login_name, User.phone == login_name))).first()
        password_ok = verify_password(body.password, user.password_hash if user else None)
        if user is None or not password_ok:
            log.info("login failed for login name of length %d", len(login_name))
            raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Wrong username/phone or password.")
        if not user.is_active:
            log.info("login rejected for disabled user %s", user.id)
            raise HTTPException(status.HTTP_403_FORBIDDEN, "This account is disabled: ask an administrator.")
        profile = to_user_public(session, user)

    with writing_session() as session:
        token, record = issue_token(session, user.id, timedelta(minutes=get_settings().token_ttl_minutes))
    log.info("login ok user=%s role=%s", profile.id, profile.role.value)
    return LoginResponse(access_token=token, expires_at=as_utc(record.expires_at), user=profile)


@router.get("/me", response_model=UserPublic)
def me(user: CurrentUser, session: SessionDep) -> UserPublic:
    return to_user_public(session, user)
