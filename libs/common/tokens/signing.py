"""Checkout tokens: EdDSA-signed JWTs with a kid, and the JWKS that verifies them."""

import base64
import functools
import hashlib
import hmac
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from jwt.algorithms import OKPAlgorithm

ALGORITHM = "EdDSA"
ISSUER = "waitroom"
AUDIENCE = "checkout"
SIGNED_CACHE = 4096  # tokens kept per process, about as many as people in checkout
REQUIRED_CLAIMS = ("iss", "aud", "sub", "iat", "nbf", "exp", "jti", "event_id", "user_id")


@dataclass(frozen=True, slots=True)
class CheckoutClaims:
    session_id: str
    event_id: str
    user_id: str
    issued_at: int
    expires_at: int

    @classmethod
    def for_hold(
        cls, session_id: str, event_id: str, user_id: str, admitted_at_ms: int, expires_at_ms: int
    ) -> "CheckoutClaims":
        """The claims of an admission: QUEUE_READY and GetQueueStatus sign the same ones."""
        return cls(
            session_id=session_id,
            event_id=event_id,
            user_id=user_id,
            issued_at=admitted_at_ms // 1000,
            # rounded up: a token never runs out before its hold (the hold's deadline decides)
            expires_at=-(-expires_at_ms // 1000),
        )


class InvalidTokenError(Exception):
    """The token is forged, expired, malformed, or signed by an unknown key."""


class UnknownKeyError(InvalidTokenError):
    """The token's kid names no key we hold: a rotation may have added it."""


def load_private_key(pem: bytes) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError("the signing key must be an Ed25519 private key (PEM, PKCS#8)")
    return key


def load_or_create_private_key(path: Path) -> Ed25519PrivateKey:
    """Reads the key at path, creating it first (atomically, mode 0600) if it is missing."""
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            pass  # another replica created it first; use theirs
        else:
            with os.fdopen(fd, "wb") as file:
                file.write(pem)
    return load_private_key(path.read_bytes())


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(pem)
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("a verification key must be an Ed25519 public key (PEM)")
    return key


def public_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    jwk: dict[str, str] = OKPAlgorithm.to_jwk(key, as_dict=True)
    canonical = json.dumps({k: jwk[k] for k in ("crv", "kty", "x")}, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).digest()
    # RFC 7638 thumbprint: the same key always gets the same kid.
    kid = base64.urlsafe_b64encode(digest).rstrip(b"=").decode()
    return {**jwk, "kid": kid, "alg": ALGORITHM, "use": "sig"}


class TokenSigner:
    """Signs checkout tokens. Ed25519 is deterministic: the same claims give the same token."""

    def __init__(
        self, private_key: Ed25519PrivateKey, retired_keys: tuple[Ed25519PublicKey, ...] = ()
    ) -> None:
        self._private_key = private_key
        self._jwk = public_jwk(private_key.public_key())
        self._jwks = {"keys": [self._jwk, *(public_jwk(key) for key in retired_keys)]}
        self._signed = functools.lru_cache(maxsize=SIGNED_CACHE)(self._sign)

    def derived_key(self, context: bytes) -> bytes:
        """A key for another purpose (context), derived from the signing key every replica holds."""
        raw = self._private_key.private_bytes_raw()
        return hmac.new(raw, context, hashlib.sha256).digest()

    @property
    def kid(self) -> str:
        return self._jwk["kid"]

    def jwks(self) -> dict[str, Any]:
        return self._jwks

    def sign(self, claims: CheckoutClaims) -> str:
        # Admitted people poll until they have their token: the same claims sign once.
        return self._signed(claims)

    def _sign(self, claims: CheckoutClaims) -> str:
        payload = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": claims.session_id,
            "event_id": claims.event_id,
            "user_id": claims.user_id,
            "iat": claims.issued_at,
            "nbf": claims.issued_at,
            "exp": claims.expires_at,
            "jti": claims.session_id,
        }
        return jwt.encode(
            payload, self._private_key, algorithm=ALGORITHM, headers={"kid": self.kid}
        )


class TokenVerifier:
    """Verifies tokens against a JWKS, with the algorithm pinned and every claim required."""

    def __init__(self, jwks: dict[str, Any], leeway: float = 0) -> None:
        self._keys = {
            key.key_id: key
            for key in jwt.PyJWKSet.from_dict(jwks).keys
            if key.key_id and key.algorithm_name == ALGORITHM
        }
        # the signing key comes first in the JWKS: nearly every token is signed by it
        self._current = next(iter(self._keys.values()), None)
        self._leeway = leeway

    def verify(self, token: str, allow_expired: bool = False) -> CheckoutClaims:
        """The token's claims; allow_expired still checks the signature and every other claim."""
        try:
            payload = self._verified(token, allow_expired)
        except jwt.PyJWTError as error:
            raise InvalidTokenError(str(error)) from error
        return CheckoutClaims(
            session_id=str(payload["sub"]),
            event_id=str(payload["event_id"]),
            user_id=str(payload["user_id"]),
            issued_at=int(payload["iat"]),
            expires_at=int(payload["exp"]),
        )

    def _verified(self, token: str, allow_expired: bool) -> dict[str, Any]:
        """Tries the current key first, in one pass; a token that does not verify with it is
        looked up by its kid."""
        if self._current is not None:
            try:
                complete = self._decode(token, self._current, allow_expired)
            except jwt.InvalidSignatureError:
                pass  # another key's token, or a forged one: the kid decides below
            else:
                if complete["header"].get("kid") != self._current.key_id:
                    raise UnknownKeyError("token signed by an unknown key")
                return cast(dict[str, Any], complete["payload"])
        kid = jwt.get_unverified_header(token).get("kid")
        key = self._keys.get(kid) if isinstance(kid, str) else None
        if key is None:
            raise UnknownKeyError("token signed by an unknown key")
        if key is self._current:  # a forgery under the current kid: checked once is enough
            raise jwt.InvalidSignatureError("Signature verification failed")
        return cast(dict[str, Any], self._decode(token, key, allow_expired)["payload"])

    def _decode(self, token: str, key: jwt.PyJWK, allow_expired: bool) -> dict[str, Any]:
        return jwt.decode_complete(
            token,
            key.key,
            algorithms=[ALGORITHM],
            audience=AUDIENCE,
            issuer=ISSUER,
            leeway=self._leeway,
            options={"require": list(REQUIRED_CLAIMS), "verify_exp": not allow_expired},
        )
