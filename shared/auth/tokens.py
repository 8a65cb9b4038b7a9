"""Bearer token validation: RS256 only, signed by the tenant, for us, and current."""

from __future__ import annotations

from typing import Any

import jwt

from shared.audit import printable
from shared.auth.config import AuthConfig
from shared.auth.jwks import JwksCache, JwksUnavailable
from shared.auth.principal import AuthError, Principal, highest_role

ALGORITHM = "RS256"
SUBJECT_LIMIT = 128
NAME_LIMIT = 128


def _invalid(message: str) -> AuthError:
    return AuthError(401, "invalid_token", message)


class TokenValidator:
    def __init__(self, config: AuthConfig, jwks: JwksCache | None = None) -> None:
        self._config = config
        self._jwks = jwks or JwksCache(
            config.jwks_url,
            refresh_min_seconds=config.jwks_refresh_min_seconds,
            max_age_seconds=config.jwks_max_age_seconds,
        )

    async def validate(self, token: str) -> Principal:
        kid = self._key_id(token)
        try:
            key = await self._jwks.key_for(kid)
        except JwksUnavailable as exc:
            raise AuthError(503, "auth_unavailable", "signing keys are unavailable") from exc
        if key is None:
            raise _invalid("token signed by an unknown key")
        return _principal(self._decode(token, key))

    @staticmethod
    def _key_id(token: str) -> str:
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise _invalid("malformed token") from exc
        # Checked before any key is looked up: `none` and HMAC tokens never get further.
        if header.get("alg") != ALGORITHM:
            raise _invalid("token algorithm not accepted")
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise _invalid("token names no signing key")
        return kid

    def _decode(self, token: str, key: jwt.PyJWK) -> dict[str, Any]:
        try:
            return jwt.decode(
                token,
                key.key,
                algorithms=[ALGORITHM],
                audience=self._config.audiences,
                issuer=self._config.issuers,
                leeway=self._config.token_leeway_seconds,
                options={"require": ["exp", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise _invalid("token expired") from exc
        except jwt.ImmatureSignatureError as exc:
            raise _invalid("token not yet valid") from exc
        except jwt.InvalidAudienceError as exc:
            raise _invalid("token is for another audience") from exc
        except jwt.InvalidIssuerError as exc:
            raise _invalid("token from another issuer") from exc
        except jwt.PyJWTError as exc:
            raise _invalid("token rejected") from exc


def _principal(claims: dict[str, Any]) -> Principal:
    # Names end up in the audit and in logs: one printable line, bounded, whatever the
    # token's holder put in them.
    subject = claims.get("oid") or claims.get("sub")
    subject = printable(subject, SUBJECT_LIMIT) if isinstance(subject, str) else ""
    if not subject:
        raise _invalid("token has no subject")
    roles = claims.get("roles", [])
    if not isinstance(roles, list):
        roles = []
    name = claims.get("preferred_username") or claims.get("name") or claims.get("appid") or ""
    return Principal(
        subject=subject,
        name=printable(str(name), NAME_LIMIT) or None,
        role=highest_role(role for role in roles if isinstance(role, str)),
    )
