"""Access tokens (JWT, HS256) and opaque secrets stored only as hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Any

import jwt

from config import Settings

AUDIENCE = "authenticated"
_ALGORITHM = "HS256"
_VERIFIED_MAX = 10_000  # tokens remembered per process; beyond it the memory starts over


@dataclass(frozen=True, slots=True)
class AccessClaims:
    user_id: uuid.UUID
    email: str
    session_id: uuid.UUID
    role: str
    expires_at: int


class InvalidToken(Exception):
    """The token is malformed, expired, or signed with another key."""


class AccessTokens:
    def __init__(self, settings: Settings) -> None:
        self._key = settings.signing_key()
        self.ttl = settings.access_token_ttl
        self._verified: dict[str, AccessClaims] = {}

    def issue(self, *, user_id: uuid.UUID, email: str, session_id: uuid.UUID, role: str) -> str:
        now = int(time.time())
        payload: dict[str, Any] = {
            "sub": str(user_id),
            "email": email,
            "sid": str(session_id),
            "role": role,
            "aud": AUDIENCE,
            "iat": now,
            "exp": now + self.ttl,
        }
        return jwt.encode(payload, self._key, algorithm=_ALGORITHM)

    def decode(self, token: str) -> AccessClaims:
        """The token's claims. A token verified once is remembered until it expires: its
        signature cannot change, so a client's next requests skip the HMAC and JSON work."""
        claims = self._verified.get(token)
        if claims is not None:
            if claims.expires_at > time.time():
                return claims
            del self._verified[token]
        claims = self._verify(token)
        if len(self._verified) >= _VERIFIED_MAX:
            self._verified.clear()
        self._verified[token] = claims
        return claims

    def _verify(self, token: str) -> AccessClaims:
        try:
            payload = jwt.decode(
                token,
                self._key,
                algorithms=[_ALGORITHM],
                audience=AUDIENCE,
                options={"require": ["sub", "sid", "exp", "iat", "aud"]},
            )
            return AccessClaims(
                user_id=uuid.UUID(payload["sub"]),
                email=str(payload.get("email", "")),
                session_id=uuid.UUID(payload["sid"]),
                role=str(payload.get("role", "authenticated")),
                expires_at=int(payload["exp"]),
            )
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as exc:
            raise InvalidToken(str(exc)) from None


def new_secret_token() -> str:
    """256 random bits, URL-safe: a refresh token, a calendar feed's token."""
    return secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """Secret tokens carry 256 bits of entropy, so a plain SHA-256 is a safe lookup key."""
    return hashlib.sha256(secret.encode()).hexdigest()


def hash_code(key: str, *parts: str) -> str:
    """Keyed hash of a short secret (a 6-digit code): without the key, the hash is useless."""
    return hmac.new(key.encode(), "\x1f".join(parts).encode(), hashlib.sha256).hexdigest()


def new_numeric_code(digits: int = 6) -> str:
    return f"{secrets.randbelow(10**digits):0{digits}d}"


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
