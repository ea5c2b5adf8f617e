"""FastAPI dependencies: database session and the signed-in user."""

from datetime import datetime, timezone
from typing import Annotated

from fastapi import Depends, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlmodel import Session

from server.db import get_session
from server.models import AuthToken, User
from server.security import as_utc, digest_token

SessionDep = Annotated[Session, Depends(get_session)]

_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/auth/login")


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


def get_current_user(
    session: SessionDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> User:
    if credentials is None:
        raise _unauthorized("Missing bearer token: sign in with POST /api/auth/login and send 'Authorization: Bearer <token>'.")

    token = credentials.credentials
    # Tokens are 43 URL-safe characters; anything far off is malformed, not merely unknown.
    if not 20 <= len(token) <= 128 or not token.replace("-", "").replace("_", "").isalnum():
        raise _unauthorized("Malformed bearer token: sign in again to get a new one.")

    record = session.get(AuthToken, digest_token(token))
    if record is None:
        raise _unauthorized("Unknown or revoked bearer token: sign in again.")
    if as_utc(record.expires_at) <= datetime.now(timezone.utc):
        raise _unauthorized("Bearer token expired: sign in again.")

    user = session.get(User, record.user_id)
    if user is None or not user.is_active:
        raise _unauthorized("The account of this token is disabled: ask an administrator.")

    # Hand the connection back to the pool: an endpoint that opens its own writing
    # session would otherwise hold two connections per request, and under load all
    # threads can end up waiting for a second connection that never frees.
    session.expunge(user)
    session.rollback()
    return user


CurrentUser = Annotated[User, Depends(get_current_user)]
