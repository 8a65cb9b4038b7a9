"""Authentication settings, read from the environment.

`AUTH_MODE`, `ENTRA_TENANT_ID` and `ENTRA_AUDIENCE` are the documented settings. Two optional
overrides exist for sovereign clouds and for tests: `ENTRA_ISSUER` (comma-separated accepted
issuers) and `ENTRA_JWKS_URL` (where the signing keys are published).

The web console signs people in with `ENTRA_CONSOLE_CLIENT_ID` (its own app registration)
for `ENTRA_API_SCOPE` (default `<audience>/.default`) at `ENTRA_AUTHORITY` (default the
tenant on the public cloud's login host). All three are public values.
"""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

LOGIN_HOST = "https://login.microsoftonline.com"


class AuthConfig(BaseSettings):
    model_config = SettingsConfigDict(case_sensitive=False, extra="ignore", frozen=True)

    # Kept as free text: an unknown value must deny everything, not fail to start.
    auth_mode: str = "entra"
    entra_tenant_id: str = ""
    entra_audience: str = ""
    entra_issuer: str = ""
    entra_jwks_url: str = ""
    # An unknown key id triggers a JWKS refresh at most this often.
    jwks_refresh_min_seconds: float = Field(default=30.0, ge=0)
    # Known keys are re-read after this long even if nothing asked.
    jwks_max_age_seconds: float = Field(default=24 * 3600.0, gt=0)
    token_leeway_seconds: float = Field(default=60.0, ge=0, le=300)
    entra_console_client_id: str = ""
    entra_api_scope: str = ""
    entra_authority: str = ""

    @property
    def mode(self) -> str:
        return self.auth_mode.strip().lower()

    @property
    def entra_ready(self) -> bool:
        return bool(self.entra_tenant_id.strip() and self.entra_audience.strip())

    @property
    def issuers(self) -> list[str]:
        if self.entra_issuer.strip():
            return [item.strip() for item in self.entra_issuer.split(",") if item.strip()]
        tenant = self.entra_tenant_id.strip()
        # v2.0 tokens and v1.0 tokens (the app registration's accessTokenAcceptedVersion).
        return [f"{LOGIN_HOST}/{tenant}/v2.0", f"https://sts.windows.net/{tenant}/"]

    @property
    def audiences(self) -> list[str]:
        return [item.strip() for item in self.entra_audience.split(",") if item.strip()]

    @property
    def jwks_url(self) -> str:
        if self.entra_jwks_url.strip():
            return self.entra_jwks_url.strip()
        return f"{LOGIN_HOST}/{self.entra_tenant_id.strip()}/discovery/v2.0/keys"

    @property
    def authority(self) -> str:
        """Where the console signs people in (an https URL ending in the tenant)."""
        if self.entra_authority.strip():
            return self.entra_authority.strip().rstrip("/")
        return f"{LOGIN_HOST}/{self.entra_tenant_id.strip()}"

    @property
    def api_scopes(self) -> list[str]:
        if self.entra_api_scope.strip():
            return [item.strip() for item in self.entra_api_scope.split(",") if item.strip()]
        return [f"{self.audiences[0]}/.default"] if self.audiences else []
