"""The `tickets` settings: which ticket system the bot writes to, and the environment
variables its credentials come from (never the YAML file)."""

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.addresses import protected_url_problem

WEBHOOK_SECRET_VARIABLE = "SSPR_TICKET_WEBHOOK_SECRET"  # noqa: S105 - the variable's name
HANDOFF_SECRET_VARIABLE = "SSPR_HANDOFF_SECRET"  # noqa: S105 - the variable's name
SERVICENOW_USER_VARIABLE = "SSPR_SERVICENOW_USER"
SERVICENOW_PASSWORD_VARIABLE = "SSPR_SERVICENOW_PASSWORD"  # noqa: S105 - the variable's name
SERVICENOW_TOKEN_VARIABLE = "SSPR_SERVICENOW_TOKEN"  # noqa: S105 - the variable's name
JIRA_EMAIL_VARIABLE = "SSPR_JIRA_EMAIL"
JIRA_API_TOKEN_VARIABLE = "SSPR_JIRA_API_TOKEN"  # noqa: S105 - the variable's name

_CA_FILE = (
    "PEM file of extra certificate authorities to trust besides the system's, for a proxy "
    "or a server with an internal CA. A relative path is taken from the data directory."
)
_TIMEOUT = "Seconds one request may take, connecting included."


class TicketConfigError(ValueError):
    """The ticket system cannot be set up (a credential not set, an unreadable CA file);
    the message names the variable or the file, never a value, so the bot refuses to
    start with one clear line."""


def _checked_url(value: str, what: str) -> str:
    """`value` when credentials may be sent to it and it carries none itself."""
    problem = protected_url_problem(value, what)
    if problem is not None:
        raise ValueError(problem)
    parts = urlsplit(value)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry credentials (they come from the environment)")
    if parts.query or parts.fragment:
        raise ValueError("must have no query or fragment")
    return value


class WebhookTicketSettings(BaseModel):
    """`kind: webhook`: signed JSON posts to the helpdesk's own receiver."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["webhook"] = Field(description="Selects the generic signed webhook.")
    url: str = Field(
        description=(
            "Where updates and new tickets are posted, signed with the secret in "
            f"{WEBHOOK_SECRET_VARIABLE} (or, when that is unset, {HANDOFF_SECRET_VARIABLE}). "
            "An update for a hand-off that named a callback goes to that callback instead. "
            "Must be https (http only to this machine)."
        )
    )
    ca_file: str | None = Field(default=None, min_length=1, description=_CA_FILE)
    timeout: float = Field(default=10.0, gt=0, description=_TIMEOUT)

    @field_validator("url")
    @classmethod
    def _protected(cls, value: str) -> str:
        return _checked_url(value, "the signed ticket")


class ServiceNowSettings(BaseModel):
    """`kind: servicenow`: incidents through ServiceNow's Table API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["servicenow"] = Field(description="Selects ServiceNow.")
    instance_url: str = Field(
        description=(
            "The instance, e.g. https://contoso.service-now.com. The bot logs in with "
            f"{SERVICENOW_TOKEN_VARIABLE} (an OAuth token) or with {SERVICENOW_USER_VARIABLE} "
            f"and {SERVICENOW_PASSWORD_VARIABLE}. Must be https (http only to this machine)."
        )
    )
    table: str = Field(
        default="incident",
        pattern=r"^[a-z][a-z0-9_]{0,79}$",
        description="The table of the tickets (incident, or a custom one).",
    )
    assignment_group: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "The group (its sys_id or name) a ticket is given to when the bot hands it "
            "back to people, and new tickets are assigned to. Unset: left as it is."
        ),
    )
    resolved_state: str = Field(
        default="6",
        min_length=1,
        description="The state value a solved ticket is set to (6 is Resolved).",
    )
    close_code: str = Field(
        default="Solved (Permanently)",
        min_length=1,
        description="The resolution code of a solved ticket.",
    )
    reassigned_state: str | None = Field(
        default="2",
        min_length=1,
        description=(
            "The state value of a ticket handed back to people (2 is In Progress). "
            "Unset: the state is left as it is."
        ),
    )
    category: str | None = Field(
        default="password",
        min_length=1,
        description="The category of new tickets. Unset: the table's default.",
    )
    caller_lookup: bool = Field(
        default=True,
        description=(
            "Set a new ticket's caller to the person: the sys_user with their email address "
            "(the integration user needs read on sys_user); none found, no caller."
        ),
    )
    ca_file: str | None = Field(default=None, min_length=1, description=_CA_FILE)
    timeout: float = Field(default=10.0, gt=0, description=_TIMEOUT)

    @field_validator("instance_url")
    @classmethod
    def _protected(cls, value: str) -> str:
        return _checked_url(value, "the ServiceNow credentials").rstrip("/")


class JiraSettings(BaseModel):
    """`kind: jira`: requests through Jira Service Management's REST API."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["jira"] = Field(description="Selects Jira Service Management.")
    base_url: str = Field(
        description=(
            "The site, e.g. https://contoso.atlassian.net. The bot logs in with "
            f"{JIRA_EMAIL_VARIABLE} and the API token in {JIRA_API_TOKEN_VARIABLE}. Must be "
            "https (http only to this machine)."
        )
    )
    service_desk_id: str = Field(
        pattern=r"^[0-9]+$", description="The id of the service desk new requests go to."
    )
    request_type_id: str = Field(
        pattern=r"^[0-9]+$", description="The id of the request type of new requests."
    )
    resolve_transition: str = Field(
        default="Resolve this issue",
        min_length=1,
        description="The name of the transition that closes a request the bot solved.",
    )
    reassign_transition: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "The name of the transition that hands a request back to people (e.g. "
            "Escalate). Unset: the request only gets the internal note."
        ),
    )
    raise_on_behalf: bool = Field(
        default=True,
        description="Raise new requests on behalf of the user instead of the bot's account.",
    )
    ca_file: str | None = Field(default=None, min_length=1, description=_CA_FILE)
    timeout: float = Field(default=10.0, gt=0, description=_TIMEOUT)

    @field_validator("base_url")
    @classmethod
    def _protected(cls, value: str) -> str:
        return _checked_url(value, "the Jira API token").rstrip("/")


TicketSettings = Annotated[
    WebhookTicketSettings | ServiceNowSettings | JiraSettings, Field(discriminator="kind")
]
