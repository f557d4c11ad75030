"""Which tenant and which app registration the bot talks to Microsoft Graph as.

One app registration serves every use of Graph (the directory, the mail sender), so its
settings are one model that the directory's `graph` section extends: an admin registers
and configures the app once.
"""

import re
from typing import Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

# Environment variables that keep the app's secrets out of the config file.
CLIENT_SECRET_VARIABLE = "SSPR_GRAPH_CLIENT_SECRET"  # noqa: S105 - the variable's name
CERTIFICATE_PASSPHRASE_VARIABLE = "SSPR_GRAPH_CERTIFICATE_PASSPHRASE"  # noqa: S105 - a name

_GUID = r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$"


class GraphAppSettings(BaseModel):
    """An app registration reaching Microsoft Graph with its own (application)
    permissions. The client secret is never in this file: it comes from the
    SSPR_GRAPH_CLIENT_SECRET environment variable, unless `certificate_file` is set."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tenant_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9.-]*$",
        description=(
            "The directory (tenant) id of the Entra tenant, a GUID, or its "
            "`contoso.onmicrosoft.com` domain name."
        ),
    )
    client_id: str = Field(
        pattern=_GUID,
        description="The application (client) id of the bot's app registration, a GUID.",
    )
    certificate_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "A PEM file holding the app's certificate and its RSA private key, uploaded to "
            "the app registration under 'Certificates & secrets'. Preferred over a client "
            "secret. When set, SSPR_GRAPH_CLIENT_SECRET is not used; an encrypted key's "
            "passphrase comes from SSPR_GRAPH_CERTIFICATE_PASSPHRASE. A relative path is "
            "taken from the bot's data directory. Keep the file readable by the bot only."
        ),
    )
    authority_host: str = Field(
        default="https://login.microsoftonline.com",
        description=(
            "Where tokens come from: `https://login.microsoftonline.com` for the global "
            "cloud, `https://login.microsoftonline.us` for US Government, "
            "`https://login.partner.microsoftonline.cn` for the cloud operated by 21Vianet."
        ),
    )
    graph_url: str = Field(
        default="https://graph.microsoft.com/v1.0",
        description=(
            "The Microsoft Graph endpoint with its version: "
            "`https://graph.microsoft.com/v1.0`, `https://graph.microsoft.us/v1.0` (US "
            "Government L4), `https://dod-graph.microsoft.us/v1.0` (L5), "
            "`https://microsoftgraph.chinacloudapi.cn/v1.0` (21Vianet)."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "A PEM file of extra certificate authorities to trust for the authority and "
            "Graph, besides the system's (a TLS-inspecting proxy's CA). A relative path is "
            "taken from the bot's data directory."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description=(
            "Seconds to wait for the authority or Graph to connect and answer one request. "
            "A password change that is not answered in time is reported as failed, never "
            "as done; a mail that is not answered in time is counted as maybe sent."
        ),
    )
    max_retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description=(
            "How many times a directory request that Graph throttled (429) or found briefly "
            "unavailable (503) is sent again, after the wait Graph asks for in Retry-After. "
            "Mail is retried by the delivery's own retry policy instead."
        ),
    )
    max_retry_wait: float = Field(
        default=30.0,
        ge=0,
        description=(
            "The most seconds one request may spend waiting between retries in total. When "
            "Graph asks for a longer wait the request fails at once, so a person in the "
            "chat is not left waiting."
        ),
    )

    @field_validator("authority_host", "graph_url")
    @classmethod
    def _https_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError("must be an https:// URL")
        if parts.query or parts.fragment:
            raise ValueError("must not have a query or fragment")
        return value.rstrip("/")

    @field_validator("tenant_id")
    @classmethod
    def _not_a_common_endpoint(cls, value: str) -> str:
        if value.casefold() in {"common", "organizations", "consumers"}:
            raise ValueError("must name one tenant (app-only tokens need a tenant)")
        return value

    @model_validator(mode="after")
    def _authority_has_no_path(self) -> Self:
        if re.sub(r"^https://[^/]+", "", self.authority_host):
            raise ValueError("authority_host is a scheme and host only, without a path")
        return self

    @property
    def authority(self) -> str:
        """The tenant's authority URL, as msal takes it."""
        return f"{self.authority_host}/{self.tenant_id}"

    @property
    def scope(self) -> str:
        """The app-only scope for this Graph: its origin with `/.default`."""
        parts = urlsplit(self.graph_url)
        return f"{parts.scheme}://{parts.netloc}/.default"
