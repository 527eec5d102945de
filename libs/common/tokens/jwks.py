"""The waitroom's verification keys, fetched from its JWKS URL and refreshed on an unknown kid."""

import asyncio
import logging
import time
from typing import Any

import aiohttp
import jwt

from common.tokens.signing import CheckoutClaims, InvalidTokenError, TokenVerifier, UnknownKeyError

logger = logging.getLogger(__name__)


class JwksVerifier:
    """Verifies checkout tokens against keys fetched over HTTP; a new kid triggers a refetch."""

    def __init__(self, url: str, refresh_seconds: float, min_refetch_seconds: float = 5) -> None:
        self._url = url
        self._refresh = refresh_seconds
        self._min_refetch = min_refetch_seconds
        self._verifier: TokenVerifier | None = None
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()

    async def load(self) -> None:
        """Fetches the keys now; raises if the JWKS cannot be read."""
        timeout = aiohttp.ClientTimeout(total=5)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(self._url) as r:
            r.raise_for_status()
            document: dict[str, Any] = await r.json()
        self._verifier = TokenVerifier(document)
        self._fetched_at = time.monotonic()
        logger.info("loaded %s verification keys from %s", len(document.get("keys", [])), self._url)

    async def verify(self, token: str, allow_expired: bool = False) -> CheckoutClaims:
        await self._refresh_if(stale=time.monotonic() - self._fetched_at > self._refresh)
        if self._verifier is None:
            raise InvalidTokenError("verification keys are not loaded yet")
        try:
            return self._verifier.verify(token, allow_expired)
        except UnknownKeyError:
            if not await self._refresh_if(stale=True):
                raise
            return self._verifier.verify(token, allow_expired)  # a rotated key: the fresh set

    async def _refresh_if(self, stale: bool) -> bool:
        if not stale or time.monotonic() - self._fetched_at < self._min_refetch:
            return False
        async with self._lock:
            if time.monotonic() - self._fetched_at < self._min_refetch:
                return True  # a concurrent caller has just tried: its keys (or the old) stand
            try:
                await self.load()
            except (aiohttp.ClientError, TimeoutError, ValueError, jwt.PyJWTError) as error:
                logger.warning("could not refresh the JWKS from %s: %r", self._url, error)
                self._fetched_at = time.monotonic()  # keep the old keys; try again later
                return False
        return True
