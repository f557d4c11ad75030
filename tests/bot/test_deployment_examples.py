"""The deployment examples in config/examples are valid and show every setting of the
directory or the providers they configure, so an admin can copy one and fill it in."""

import pytest
import yaml
from pydantic import BaseModel

from adapters.delivery.acs import AcsSettings
from adapters.delivery.graph_mail import GraphMailSettings
from adapters.delivery.smtp import SmtpSettings
from adapters.delivery.twilio_sender import TwilioSettings
from adapters.directory.graph import GraphDirectorySettings
from adapters.directory.ldap import LdapDirectorySettings
from adapters.tickets.settings import JiraSettings, ServiceNowSettings
from bot.config_file import load_settings
from tests.support.paths import CONFIG

EXAMPLES = CONFIG / "examples"
SECTIONS: dict[str, tuple[str, type[BaseModel]]] = {
    "entra-id.yaml": ("graph", GraphDirectorySettings),
    "active-directory.yaml": ("ldap", LdapDirectorySettings),
    "openldap.yaml": ("ldap", LdapDirectorySettings),
}

# Delivery examples: the media each one shows in full, and the provider it configures.
DELIVERY: dict[str, dict[str, type[BaseModel]]] = {
    "delivery-smtp-twilio.yaml": {
        "email": SmtpSettings,
        "sms": TwilioSettings,
        "voice": TwilioSettings,
    },
    "delivery-microsoft.yaml": {"email": GraphMailSettings, "sms": AcsSettings},
}


@pytest.mark.parametrize("name", sorted(SECTIONS))
def test_the_example_is_valid_and_shows_every_setting_of_its_directory(name: str) -> None:
    path = EXAMPLES / name
    settings = load_settings(path)
    kind, model = SECTIONS[name]
    assert settings.directory.kind == kind
    written = yaml.safe_load(path.read_text())["directory"][kind]
    assert set(written) == set(model.model_fields)


@pytest.mark.parametrize("name", sorted(DELIVERY))
def test_the_delivery_example_is_valid_and_shows_every_setting_of_its_providers(
    name: str,
) -> None:
    path = EXAMPLES / name
    settings = load_settings(path)
    written = yaml.safe_load(path.read_text())["delivery"]
    for medium, model in DELIVERY[name].items():
        assert isinstance(settings.delivery.provider(medium), model)  # type: ignore[arg-type]
        assert set(written[medium]) == set(model.model_fields), medium
    assert settings.delivery.on_outbox() == []


TICKETS: dict[str, type[BaseModel]] = {
    "helpdesk-servicenow.yaml": ServiceNowSettings,
    "helpdesk-jira.yaml": JiraSettings,
}


@pytest.mark.parametrize("name", sorted(TICKETS))
def test_the_ticket_example_is_valid_and_shows_every_setting_of_its_system(name: str) -> None:
    path = EXAMPLES / name
    settings = load_settings(path)
    assert isinstance(settings.tickets, TICKETS[name])
    written = yaml.safe_load(path.read_text())
    assert set(written["tickets"]) == set(TICKETS[name].model_fields)
    assert set(written["helpdesk"]) == set(type(settings.helpdesk).model_fields)


def test_every_example_is_checked() -> None:
    examples = {path.name for path in EXAMPLES.glob("*.yaml")}
    assert examples == set(SECTIONS) | set(DELIVERY) | set(TICKETS)
