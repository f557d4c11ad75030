"""The one YAML file, composed from each part's own section.

The dialog's policy sections (access, verification, codes, ...) sit at the top level beside
the wiring of the service (server, state, directory, delivery, audit, logging). Every field
has a default, so the bot runs with no file at all on the embedded demo set-up. Secrets are
never read from here: they come from environment variables.
"""

import ipaddress
from pathlib import Path
from typing import Literal, Self
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from adapters.audit import AuditSettings
from adapters.directory.embedded import EmbeddedDirectorySettings
from adapters.directory.graph import GraphDirectorySettings
from adapters.directory.ldap import LdapDirectorySettings
from adapters.tickets.settings import TicketSettings
from bot.delivery import DeliverySection
from bot.metrics import MetricsSettings
from bot.report.settings import ReportSettings
from bot.slack.settings import SlackSettings
from bot.teams.settings import TeamsSettings
from bot.webchat.settings import WebChatSettings
from dialogs.catalog import Catalog
from dialogs.durations import Duration
from dialogs.settings import DialogSettings
from state.settings import StateSettings


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = Field("127.0.0.1", description="Address `sspr-bot serve` listens on.")
    port: int = Field(
        3978,
        ge=1,
        le=65535,
        description="Port (3978 is the Bot Framework habit); `serve --port 0` takes any free one.",
    )
    public_url: str | None = Field(
        None,
        description=(
            "The address people reach this bot at (https in production, e.g. "
            "https://sspr.contoso.com). Password page links are built from it, never from "
            "what a request says its host is. null: the address served, http://host:port "
            "(for `serve`, the --host and --port it was given and the port it actually got "
            "for port 0; for `chat`, host and port here); `serve` then listens on loopback "
            "addresses only, since a link carries a one-time secret."
        ),
    )
    max_connections: int = Field(
        512,
        ge=1,
        description=(
            "Open connections kept at most. Past it a new connection displaces the one that "
            "has waited longest for its client, or is refused with 503 when every open one is "
            "being served. Lowered, with a warning, to leave 256 file descriptors free under "
            "the process's open-file limit (ulimit -n)."
        ),
    )
    header_timeout: Duration = Field(
        5,
        description=(
            "A request line and its headers must arrive within this long, counted from the "
            "connection's opening or, on a kept-alive connection, from the request's first "
            "byte; else the bot answers 408 and closes the connection."
        ),
    )
    body_timeout: Duration = Field(
        10,
        description=(
            "A request body must arrive within this long after its headers; else the bot "
            "answers 408 and closes the connection."
        ),
    )
    idle_timeout: Duration = Field(
        75,
        description=(
            "A kept-alive connection with no request in progress is closed after this long "
            "(longer than a reverse proxy's own idle timeout, so the proxy closes first)."
        ),
    )
    event_loop: Literal["auto", "asyncio"] = Field(
        "auto",
        description=(
            "auto: uvloop when it is installed (`pip install 'sspr-bot[fast]'`), else "
            "asyncio's own loop; asyncio: always asyncio's own."
        ),
    )

    @field_validator("public_url")
    @classmethod
    def _absolute_http(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("must be an absolute http(s) URL, e.g. https://sspr.contoso.com")
        if parts.query or parts.fragment or parts.username or parts.password:
            raise ValueError("must not carry a query, fragment or user name")
        try:
            parts.port  # noqa: B018 (urlsplit checks the port when it is read)
        except ValueError:
            raise ValueError("its port must be a number from 0 to 65535") from None
        return value.rstrip("/")

    @property
    def base_url(self) -> str:
        """Where people reach the bot: `public_url`, else the address served."""
        return self.public_url or served_url(self.host, self.port)

    @property
    def password_page(self) -> str:
        """Where password page links point; the one-time token is appended."""
        return f"{self.base_url}/password/"


def served_url(host: str, port: int) -> str:
    """The http address of a server listening on host:port, as a browser on this machine
    types it: an IPv6 address in brackets, and a wildcard address (every interface) as the
    loopback address of its family, the one address certain to reach it."""
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return f"http://{host}:{port}"
    if address.is_unspecified:
        address = ipaddress.ip_address("::1" if address.version == 6 else "127.0.0.1")
    shown = f"[{address}]" if address.version == 6 else str(address)
    return f"http://{shown}:{port}"


class DirectorySection(_Section):
    kind: Literal["embedded", "graph", "ldap"] = Field(
        "embedded",
        description=(
            "Which directory holds the accounts: embedded (a local file, for trying the bot "
            "out), graph (Microsoft Entra ID through Microsoft Graph) or ldap (Active "
            "Directory or OpenLDAP)."
        ),
    )
    embedded: EmbeddedDirectorySettings = Field(default_factory=EmbeddedDirectorySettings)
    graph: GraphDirectorySettings | None = Field(
        None,
        description="Microsoft Entra ID: see config/examples/entra-id.yaml. Needed for kind graph.",
    )
    ldap: LdapDirectorySettings | None = Field(
        None,
        description=(
            "Active Directory or OpenLDAP: see config/examples/active-directory.yaml and "
            "openldap.yaml. Needed for kind ldap."
        ),
    )
    cache_seconds: float = Field(
        15,
        ge=0,
        le=300,
        description=(
            "How long what graph or ldap said of an account (found or not, its groups, the "
            "admins' addresses) is reused, so a conversation does not look it up at every "
            "step; what the bot changes itself is dropped at once. A change made in the "
            "directory shows within this delay. 0: ask every time."
        ),
    )

    @model_validator(mode="after")
    def _section_for_kind(self) -> Self:
        if self.kind != "embedded" and getattr(self, self.kind) is None:
            raise ValueError(f"kind {self.kind} needs the directory.{self.kind} section")
        return self


class LoggingSettings(_Section):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")
    format: Literal["json", "text"] = Field(
        "json", description="json: one JSON object per line (for log shippers); text: for humans."
    )


class Settings(DialogSettings):
    data_dir: str = Field(
        "sspr-data",
        description="Folder for local files (state, embedded directory, outbox, audit); "
        "relative paths elsewhere in this file are resolved against it.",
    )
    default_locale: str = Field(
        "en",
        pattern=r"^[A-Za-z]{2,8}(?:[-_][A-Za-z0-9]{1,8})*$",
        description="The language the bot speaks when the channel names none it has messages "
        "in (a browser or Teams client set to Swedish, say): en, de, fr, es, or a locale of "
        "`messages`.",
    )
    server: ServerSettings = Field(default_factory=ServerSettings)
    state: StateSettings = Field(default_factory=StateSettings)
    directory: DirectorySection = Field(default_factory=DirectorySection)
    delivery: DeliverySection = Field(default_factory=DeliverySection)
    audit: AuditSettings = Field(default_factory=AuditSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    report: ReportSettings = Field(default_factory=ReportSettings)
    slack: SlackSettings = Field(default_factory=SlackSettings)
    teams: TeamsSettings = Field(default_factory=TeamsSettings)
    webchat: WebChatSettings = Field(default_factory=WebChatSettings)
    tickets: TicketSettings | None = Field(
        None,
        description=(
            "The helpdesk's ticket system: the bot updates the tickets handed to it and "
            "opens one when it hands a person to the helpdesk. Unset: no tickets, people "
            "are given helpdesk.contact."
        ),
    )

    @model_validator(mode="after")
    def _default_locale_is_spoken(self) -> Self:
        if not Catalog(self.messages).speaks(self.default_locale):
            raise ValueError(
                f"default_locale {self.default_locale!r} has no messages: use en, de, fr, es "
                "or a locale given under `messages`"
            )
        return self

    @model_validator(mode="after")
    def _graph_mail_has_an_app(self) -> Self:
        if self.delivery.email.kind == "graph" and self.directory.graph is None:
            raise ValueError(
                "delivery.email kind graph sends with the directory's app registration: "
                "it needs the directory.graph section"
            )
        return self

    def dialog(self) -> DialogSettings:
        fields = set(DialogSettings.model_fields)
        return DialogSettings.model_validate(self.model_dump(include=fields))

    def local_path(self, path: str) -> Path:
        """A configured path, relative ones taken from the data folder."""
        candidate = Path(path).expanduser()
        return candidate if candidate.is_absolute() else Path(self.data_dir) / candidate
