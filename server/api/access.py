"""Access checks for endpoints: roles of signed-in users, and the integration API key for machine callers."""

import hmac
import logging
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Header, HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.config import get_settings
from server.deps import CurrentUser, SessionDep, get_current_user
from server.models import Role, User

log = logging.getLogger(__name__)

_optional_bearer = HTTPBearer(auto_error=False, description="Token from POST /api/auth/login")


def require_roles(*roles: Role):
    """Build a dependency that returns the signed-in user if their role is one of `roles`, else raises 403."""

    def dependency(user: CurrentUser) -> User:
        if user.role not in roles:
            allowed = ", ".join(role.value for role in roles)
            raise HTTPException(status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' may not do this; allowed: {allowed}.")
        return user

    return dependency


AdminUser = Annotated[User, Depends(require_roles(Role.ADMIN))]
LeadOrAdminUser = Annotated[User, Depends(require_roles(Role.REGIONAL_LEAD, Role.ADMIN))]


@dataclass(frozen=True)
class Caller:
    """The caller of an integration endpoint: a signed-in user, or an integration holding the API key."""

    user: User | None
    integration: bool

    @property
    def user_id(self):
        return self.user.id if self.user else None


def integration_caller(*user_roles: Role):
    """Build a dependency that accepts the X-Api-Key integration key, or a bearer token of a user with one of `user_roles`."""

    def dependency(
        session: SessionDep,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
        x_api_key: Annotated[str | None, Header(description="Integration API key (the INTEGRATION_API_KEY setting).")] = None,
    ) -> Caller:
        if x_api_key is not None:
            expected = get_settings().integration_api_key
            if not expected or not hmac.compare_digest(x_api_key.encode(), expected.encode()):
                log.info("integration call rejected: invalid X-Api-Key")
                raise HTTPException(status.HTTP_401_UNAUTHORIZED, "Invalid X-Api-Key: check the key with the administrator.")
            return Caller(user=None, integration=True)
        user = get_current_user(session, credentials)
        if user.role not in user_roles:
            allowed = ", ".join(role.value for role in user_roles)
            raise HTTPException(
                status.HTTP_403_FORBIDDEN, f"Role '{user.role.value}' may not do this; allowed: {allowed} or an integration with X-Api-Key."
            )
        return Caller(user=user, integration=False)

    return dependency
