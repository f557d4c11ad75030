"""The `acs` settings section, and the credential the bot reads from the environment.

The access key comes either alone (with `endpoint` in the settings) or inside a connection
string; both are checked here, at start-up, so a wrong one stops the bot before the first
code. Messages name the variables, never their values.
"""

import base64
import binascii
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator

from adapters.addresses import protected_url_problem
from adapters.delivery.base import DeliveryUnavailable

ACCESS_KEY_VARIABLE = "SSPR_ACS_ACCESS_KEY"
CONNECTION_STRING_VARIABLE = "SSPR_ACS_CONNECTION_STRING"

# What Communication Services accepts as a sender: a phone number in E.164 form, a short
# code (5 or 6 digits, no "+"), or an alphanumeric sender id (up to 11 letters, digits
# and spaces, at least one letter).
_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{5,6}")
_ALPHANUMERIC = re.compile(r"(?=.*[A-Za-z])[A-Za-z0-9](?:[A-Za-z0-9 ]{0,9}[A-Za-z0-9])?")


def resource_origin(url: str) -> str:
    """The endpoint as the access key signs it: scheme and lower-case host, a port only
    when not the scheme's default, no path. ValueError says what is wrong (never quoting
    the URL: one from a connection string sits next to the key)."""
    problem = protected_url_problem(url, "the one-time code")
    if problem is not None:
        raise ValueError(problem)
    parts = urlsplit(url)
    if parts.username is not None or parts.password is not None:
        raise ValueError("must not carry a user name or password")
    if parts.path not in {"", "/"} or parts.query or parts.fragment:
        raise ValueError("must be the resource's address only, with no path or query")
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        raise ValueError("has an invalid port") from None
    if port is not None and port != (443 if parts.scheme == "https" else 80):
        host = f"{host}:{port}"
    return f"{parts.scheme}://{host}"


class AcsSettings(BaseModel):
    """The `acs` SMS delivery section: a Communication Services resource that sends texts."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: Literal["acs"] = Field(description="Selects Azure Communication Services for SMS.")
    endpoint: str | None = Field(
        default=None,
        description=(
            "The resource's https address, e.g. https://contoso.communication.azure.com. "
            f"Needed with {ACCESS_KEY_VARIABLE}; with {CONNECTION_STRING_VARIABLE} it may "
            "be left out, and when set must be the connection string's endpoint."
        ),
    )
    from_number: str = Field(
        description=(
            "Sender the resource owns: a phone number in E.164 form (+14255550123), a "
            "short code (5 or 6 digits), or an enabled alphanumeric sender id (up to 11 "
            "letters, digits and spaces, with at least one letter)."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "PEM file of extra certificate authorities to trust besides the system's, for "
            "a TLS-inspecting proxy. A relative path is taken from the data directory."
        ),
    )
    timeout: float = Field(
        default=10.0,
        gt=0,
        description="Seconds to wait for the connection and for each read of the answer.",
    )
    enable_delivery_report: bool = Field(
        default=False,
        description="Ask for a delivery report on the resource's Event Grid for every text.",
    )
    tag: str | None = Field(
        default=None,
        min_length=1,
        description=(
            "Text Communication Services returns in delivery reports, to tell the bot's "
            "texts apart."
        ),
    )

    @field_validator("endpoint")
    @classmethod
    def _endpoint_is_a_resource(cls, value: str | None) -> str | None:
        return None if value is None else resource_origin(value)

    @field_validator("from_number")
    @classmethod
    def _sender_is_usable(cls, value: str) -> str:
        if not any(form.fullmatch(value) for form in (_E164, _SHORT_CODE, _ALPHANUMERIC)):
            raise ValueError(
                "must be an E.164 phone number (+14255550123), a 5 or 6 digit short code, "
                "or an alphanumeric sender id of up to 11 letters, digits and spaces"
            )
        return value


def acs_credentials(settings: AcsSettings, environ: Mapping[str, str]) -> tuple[str, str]:
    """The endpoint and the access key; the messages name variables, never values."""
    access_key = environ.get(ACCESS_KEY_VARIABLE) or None
    connection_string = environ.get(CONNECTION_STRING_VARIABLE) or None
    if access_key is not None and connection_string is not None:
        raise DeliveryUnavailable(
            f"acs: both {ACCESS_KEY_VARIABLE} and {CONNECTION_STRING_VARIABLE} are set; "
            "set only one"
        )
    if connection_string is not None:
        endpoint, access_key = _parse_connection_string(connection_string)
        if settings.endpoint is not None and settings.endpoint != endpoint:
            raise DeliveryUnavailable(
                f"acs: the endpoint in {CONNECTION_STRING_VARIABLE} is not the configured "
                "endpoint; correct one of them, or leave endpoint out of the settings"
            )
        variable = CONNECTION_STRING_VARIABLE
    elif access_key is not None:
        if settings.endpoint is None:
            raise DeliveryUnavailable(
                f"acs: endpoint is not configured (it is needed with {ACCESS_KEY_VARIABLE})"
            )
        endpoint = settings.endpoint
        variable = ACCESS_KEY_VARIABLE
    else:
        raise DeliveryUnavailable(
            f"acs: neither {ACCESS_KEY_VARIABLE} nor {CONNECTION_STRING_VARIABLE} is set "
            "(one of them holds the resource's access key)"
        )
    try:
        base64.b64decode(access_key, validate=True)
    except binascii.Error:
        raise DeliveryUnavailable(
            f"acs: the access key in {variable} is not base64 (copy it from the resource's Keys)"
        ) from None
    return endpoint, access_key


def _parse_connection_string(text: str) -> tuple[str, str]:
    fields: dict[str, str] = {}
    for part in text.split(";"):
        name, _, value = part.partition("=")
        fields[name.strip().lower()] = value.strip()
    endpoint = fields.get("endpoint")
    access_key = fields.get("accesskey")
    if not endpoint or not access_key:
        raise DeliveryUnavailable(
            f"acs: {CONNECTION_STRING_VARIABLE} must read "
            "endpoint=https://<resource>.communication.azure.com/;accesskey=<key>"
        )
    try:
        return resource_origin(endpoint), access_key
    except ValueError as problem:
        raise DeliveryUnavailable(
            f"acs: the endpoint in {CONNECTION_STRING_VARIABLE} {problem}"
        ) from None
