"""The `teams` section of the config file: who may use the bot and how the app is listed."""

import ipaddress
import re
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from bot.botframework.auth import ServiceUrlValidator

_GUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


class TeamsDeveloper(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        "Contoso IT", min_length=1, max_length=32, description="Publisher shown in Teams."
    )
    website_url: str = Field(
        "https://www.contoso.com", description="The publisher's web site (https)."
    )
    privacy_url: str = Field(
        "https://www.contoso.com/privacy", description="The privacy statement (https)."
    )
    terms_of_use_url: str = Field(
        "https://www.contoso.com/terms", description="The terms of use (https)."
    )

    @field_validator("website_url", "privacy_url", "terms_of_use_url")
    @classmethod
    def _https(cls, value: str) -> str:
        if not value.startswith("https://"):
            raise ValueError("Teams accepts only https URLs here")
        return value


class TeamsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allowed_tenant_ids: list[str] = Field(
        default_factory=list,
        description=(
            "Entra tenant ids whose Teams users may use the bot (`channelData.tenant.id`). "
            "Empty means the app's own tenant (`MicrosoftAppTenantId`), which is what a "
            "single-tenant app wants. A multi-tenant app can be installed in any tenant: "
            "list every tenant it serves; with no list and no app tenant every Teams "
            "message is refused. In development mode (no MicrosoftAppId: no token is "
            "checked) an empty list admits every tenant, each one logged with a warning."
        ),
    )
    app_name: str = Field(
        "Password reset", min_length=1, max_length=30, description="The app's short name."
    )
    short_description: str = Field(
        "Reset your password from Teams.",
        min_length=1,
        max_length=80,
        description="One line shown in the Teams store and app details.",
    )
    full_description: str = Field(
        "Forgot your password? Verify yourself with the methods your IT team set up and "
        "choose a new password, without calling the helpdesk.",
        min_length=1,
        max_length=4000,
        description="The long description on the app's details page.",
    )
    developer: TeamsDeveloper = Field(default_factory=TeamsDeveloper)
    accent_color: str = Field("#2E5BBA", description="Icon background and accent color, `#RRGGBB`.")
    public_base_url: str | None = Field(
        None,
        description=(
            "The bot's public https URL (the password page lives there); its host goes "
            "into the manifest's validDomains."
        ),
    )
    app_version: str = Field(
        "1.0.0", description="The Teams app package version; raise it for every upload."
    )
    extra_service_origins: list[str] = Field(
        default_factory=list,
        description=(
            "Exact origins (scheme://host:port) of channel services the bot may reply to "
            "besides Microsoft's own channel hosts, e.g. a Direct Line App Service "
            "extension. Each activity's serviceUrl must still equal its token's."
        ),
    )
    proactive_service_url: str | None = Field(
        None,
        description=(
            "The Teams channel service to open a 1:1 chat on with someone who never wrote "
            "to the bot (the app installed for them, or their kept chat expired), so a "
            "helpdesk hand-off or a notice still reaches them, e.g. "
            "https://smba.trafficmanager.net/emea/ or your tenant's regional one. Unset: "
            "only people who wrote to the bot are reached on Teams. The chat is opened in "
            "the one tenant Teams users come from (the single allowed_tenant_ids entry, or "
            "the app's tenant); with several tenants none is opened. It must be a channel "
            "service the bot replies to: https on Microsoft's channel hosts, or an origin "
            "in extra_service_origins."
        ),
    )

    @field_validator("allowed_tenant_ids")
    @classmethod
    def _tenant_guids(cls, value: list[str]) -> list[str]:
        tenants = [tenant.strip().lower() for tenant in value]
        for tenant in tenants:
            if not _GUID.match(tenant):
                raise ValueError(f"{tenant!r} is not a tenant id (a GUID)")
        return tenants

    @field_validator("accent_color")
    @classmethod
    def _hex_color(cls, value: str) -> str:
        if not re.fullmatch(r"#[0-9A-Fa-f]{6}", value):
            raise ValueError("accent_color is #RRGGBB")
        return value.upper()

    @field_validator("public_base_url")
    @classmethod
    def _public_https(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith("https://"):
            raise ValueError("public_base_url must be an https URL")
        return value

    @model_validator(mode="after")
    def _proactive_service_admitted(self) -> Self:
        url = self.proactive_service_url
        if url is None:
            return self
        parts = urlsplit(url)
        if parts.scheme != "https" and not (parts.scheme == "http" and _loopback(parts.hostname)):
            raise ValueError(
                "teams.proactive_service_url must be an https URL (http only to a loopback "
                "address, for tests)"
            )
        if not ServiceUrlValidator(self.extra_service_origins).is_allowed(url):
            raise ValueError(
                "teams.proactive_service_url is not a channel service the bot replies to: "
                "use a Microsoft channel host (https://smba.trafficmanager.net/...) or add "
                "its origin to teams.extra_service_origins"
            )
        return self

    @field_validator("app_version")
    @classmethod
    def _semver(cls, value: str) -> str:
        if not re.fullmatch(r"\d+\.\d+\.\d+", value):
            raise ValueError("app_version is MAJOR.MINOR.PATCH")
        return value


def _loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return host is not None and ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
