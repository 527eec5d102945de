"""A person's place in line, sealed into their session id so that any serving process finds it
without Redis, while the id stays opaque: one AES block over the place and a check bound to the
session's token, under a key every replica derives from the waitroom's signing key."""

import base64
import hashlib
import hmac

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

SEAL_CONTEXT = b"waitroom session place seal v1"  # its key: TokenSigner.derived_key


class PlaceSeal:
    def __init__(self, key: bytes) -> None:
        """key: 16, 24 or 32 bytes, the same on every replica."""
        self._cipher = Cipher(algorithms.AES(key[:16]), modes.ECB())

    def seal(self, token: str, place: int) -> str:
        block = place.to_bytes(8, "big") + _check(token)
        encryptor = self._cipher.encryptor()
        sealed = encryptor.update(block) + encryptor.finalize()
        return base64.urlsafe_b64encode(sealed).rstrip(b"=").decode()

    def open(self, token: str, sealed: str) -> int | None:
        """The place sealed for this token; None for a seal of another token or key, or garbage."""
        try:
            raw = base64.urlsafe_b64decode(sealed + "==")
        except ValueError:
            return None
        if len(raw) != 16:
            return None
        decryptor = self._cipher.decryptor()
        block = decryptor.update(raw) + decryptor.finalize()
        if not hmac.compare_digest(block[8:], _check(token)):
            return None
        return int.from_bytes(block[:8], "big")


def _check(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()[:8]
