"""The signed-in session kept on the device: the bearer token and the user it belongs to.

Both live in flet_secure_storage.SecureStorage: the Android Keystore and the iOS Keychain
on phones, and the browser's local storage, encrypted by the Flutter plugin, in web mode.
The cached user lets the app open its home screen while the server is unreachable.
"""

import asyncio
import json
import logging
from collections.abc import Awaitable
from dataclasses import dataclass
from typing import TypeVar

from flet_secure_storage import SecureStorage

from mobile.api import User

log = logging.getLogger(__name__)

TOKEN_KEY = "fieldsales.access_token"
USER_KEY = "fieldsales.user"
# Seconds to wait for the device-side plugin; Flet waits forever by default.
STORAGE_TIMEOUT_S = 10

T = TypeVar("T")


@dataclass(frozen=True)
class StoredSession:
    token: str
    user: User | None


class SessionStore:
    """Reads and writes the stored session. Construct it while a Flet page exists.

    Storage failures never stop the app: they are logged, and the user signs in
    again at the next start. In a browser this happens when the page is not a
    secure context (plain http on an address other than localhost), where the
    WebCrypto API the plugin relies on is missing.
    """

    def __init__(self, storage: SecureStorage | None = None) -> None:
        self._storage = storage or SecureStorage()

    async def load(self) -> StoredSession | None:
        """Return the stored session, or None when no token is stored or storage fails."""
        try:
            token = await self._call(self._storage.get(TOKEN_KEY))
            raw_user = await self._call(self._storage.get(USER_KEY)) if token else None
        except StorageError as error:
            log.warning("cannot read the stored session: %s", error)
            return None
        if not token:
            return None
        return StoredSession(token=token, user=_parse_user(raw_user))

    async def save(self, token: str, user: User) -> None:
        try:
            await self._call(self._storage.set(TOKEN_KEY, token))
        except StorageError as error:
            log.warning("cannot store the session token; sign-in will not survive a restart: %s", error)
            return
        await self.save_user(user)

    async def save_user(self, user: User) -> None:
        try:
            await self._call(self._storage.set(USER_KEY, json.dumps(user.to_json(), ensure_ascii=False)))
        except StorageError as error:
            log.warning("cannot cache user %s: %s", user.id, error)

    async def clear(self) -> None:
        try:
            await self._call(self._storage.remove(TOKEN_KEY))
            await self._call(self._storage.remove(USER_KEY))
        except StorageError as error:
            log.warning("cannot remove the stored session: %s", error)

    @staticmethod
    async def _call(request: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(request, STORAGE_TIMEOUT_S)
        except TimeoutError as error:
            raise StorageError(f"secure storage timed out after {STORAGE_TIMEOUT_S} s") from error
        except RuntimeError as error:
            # Flet raises RuntimeError with the message the device-side plugin reported.
            raise StorageError(str(error)) from error


class StorageError(Exception):
    """The device's secure storage failed or timed out."""


def _parse_user(raw: str | None) -> User | None:
    if not raw:
        return None
    try:
        return User.from_json(json.loads(raw))
    except (ValueError, KeyError, TypeError) as error:
        # A cached user from an older app version: the server's /api/auth/me replaces it.
        log.warning("discarding unreadable cached user: %r", error)
        return None
