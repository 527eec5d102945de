import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from common.tokens.signing import CheckoutClaims, InvalidTokenError, TokenSigner, TokenVerifier


def claims(expires_in=900, now=None):
    now = int(time.time()) if now is None else now
    return CheckoutClaims("concert~" + "A" * 22, "concert", "user1", now, now + expires_in)


@pytest.fixture
def signer():
    return TokenSigner(Ed25519PrivateKey.generate())


def test_a_signed_token_verifies_against_the_jwks(signer):
    token = signer.sign(claims())
    verified = TokenVerifier(signer.jwks()).verify(token)
    assert verified == claims(now=verified.issued_at)
    assert jwt.get_unverified_header(token)["kid"] == signer.kid


def test_signing_the_same_claims_twice_gives_the_same_token(signer):
    fixed = claims(now=1_700_000_000)
    assert signer.sign(fixed) == signer.sign(fixed)


def test_two_signers_of_one_key_sign_the_same_claims_alike(signer):
    # GetQueueStatus signs again, on any replica, the token QUEUE_READY carried
    key = Ed25519PrivateKey.generate()
    fixed = claims(now=1_700_000_000)
    assert TokenSigner(key).sign(fixed) == TokenSigner(key).sign(fixed)


def test_a_token_never_runs_out_before_its_hold():
    held = CheckoutClaims.for_hold("concert~" + "A" * 22, "concert", "user1", 1_500, 905_001)
    assert (held.issued_at, held.expires_at) == (1, 906)


def test_a_token_from_another_key_is_refused(signer):
    forged = TokenSigner(Ed25519PrivateKey.generate()).sign(claims())
    with pytest.raises(InvalidTokenError, match="unknown key"):
        TokenVerifier(signer.jwks()).verify(forged)


def test_an_expired_token_is_refused(signer):
    token = signer.sign(claims(now=int(time.time()) - 1000, expires_in=10))
    with pytest.raises(InvalidTokenError, match="expired"):
        TokenVerifier(signer.jwks()).verify(token)


def test_an_hmac_token_keyed_with_the_public_key_is_refused(signer):
    public_pem = signer_public_pem(signer)
    payload = {
        "iss": "waitroom",
        "aud": "checkout",
        "sub": "s",
        "event_id": "e",
        "user_id": "u",
        "iat": int(time.time()),
        "nbf": int(time.time()),
        "exp": int(time.time()) + 60,
        "jti": "s",
    }
    # The classic key-confusion forgery: HS256 with the public key as the secret.
    forged = _hs256(payload, public_pem, signer.kid)
    with pytest.raises(InvalidTokenError):
        TokenVerifier(signer.jwks()).verify(forged)


def test_a_token_missing_a_claim_is_refused(signer):
    key = signer._private_key  # the real key: only the claim is missing
    token = jwt.encode(
        {"iss": "waitroom", "aud": "checkout", "sub": "s", "exp": int(time.time()) + 60},
        key,
        algorithm="EdDSA",
        headers={"kid": signer.kid},
    )
    with pytest.raises(InvalidTokenError, match="missing"):
        TokenVerifier(signer.jwks()).verify(token)


def test_garbage_is_refused(signer):
    with pytest.raises(InvalidTokenError):
        TokenVerifier(signer.jwks()).verify("not.a.token")


def test_a_retired_key_still_verifies_during_rotation(signer):
    old = Ed25519PrivateKey.generate()
    rotated = TokenSigner(Ed25519PrivateKey.generate(), retired_keys=(old.public_key(),))
    token = TokenSigner(old).sign(claims())
    assert TokenVerifier(rotated.jwks()).verify(token).user_id == "user1"


def test_a_token_of_the_current_key_under_another_kid_is_refused(signer):
    # the current key is tried first, before the kid is looked at: the kid must still match
    payload = jwt.decode(signer.sign(claims()), options={"verify_signature": False})
    relabelled = jwt.encode(payload, signer._private_key, algorithm="EdDSA", headers={"kid": "x"})
    with pytest.raises(InvalidTokenError, match="unknown key"):
        TokenVerifier(signer.jwks()).verify(relabelled)


def test_a_forgery_under_the_current_kid_is_refused_after_one_check(signer, monkeypatch):
    header, payload, signature = signer.sign(claims()).split(".")
    forged = f"{header}.{payload}.{signature[:-4]}AAAA"  # the signature no longer matches
    checks = []
    decode_complete = jwt.decode_complete
    monkeypatch.setattr(
        jwt, "decode_complete", lambda *a, **k: checks.append(1) or decode_complete(*a, **k)
    )
    with pytest.raises(InvalidTokenError, match="Signature verification failed"):
        TokenVerifier(signer.jwks()).verify(forged)
    assert len(checks) == 1  # a forger cannot make the verifier check twice


def test_a_retired_keys_expired_token_is_refused_as_expired(signer):
    old = Ed25519PrivateKey.generate()
    rotated = TokenSigner(Ed25519PrivateKey.generate(), retired_keys=(old.public_key(),))
    token = TokenSigner(old).sign(claims(now=int(time.time()) - 1000, expires_in=10))
    with pytest.raises(InvalidTokenError, match="expired"):
        TokenVerifier(rotated.jwks()).verify(token)
    assert TokenVerifier(rotated.jwks()).verify(token, allow_expired=True).user_id == "user1"


def signer_public_pem(signer):
    return signer._private_key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def _hs256(payload, secret, kid):
    import base64
    import hashlib
    import hmac
    import json

    def b64(data):
        return base64.urlsafe_b64encode(data).rstrip(b"=").decode()

    header = b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": kid}).encode())
    body = b64(json.dumps(payload).encode())
    signature = hmac.new(secret, f"{header}.{body}".encode(), hashlib.sha256).digest()
    return f"{header}.{body}.{b64(signature)}"
