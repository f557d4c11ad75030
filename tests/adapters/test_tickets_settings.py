"""The `tickets` settings and the credentials the systems are opened with: what an admin
can get wrong is refused at start, with the setting or variable named."""

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, TypeAdapter, ValidationError

from adapters.tickets.opening import open_ticket_system
from adapters.tickets.settings import (
    JiraSettings,
    ServiceNowSettings,
    TicketConfigError,
    TicketSettings,
    WebhookTicketSettings,
)

SECTIONS: TypeAdapter[Any] = TypeAdapter(TicketSettings)
WEBHOOK = {"kind": "webhook", "url": "https://helpdesk.contoso.example/sspr"}
SERVICENOW = {"kind": "servicenow", "instance_url": "https://contoso.service-now.com"}
JIRA = {
    "kind": "jira",
    "base_url": "https://contoso.atlassian.net",
    "service_desk_id": "3",
    "request_type_id": "17",
}
URL_FIELDS = [(WEBHOOK, "url"), (SERVICENOW, "instance_url"), (JIRA, "base_url")]
SERVICENOW_LOGIN = {"SSPR_SERVICENOW_USER": "sspr.bot", "SSPR_SERVICENOW_PASSWORD": "pw-123456"}
JIRA_LOGIN = {"SSPR_JIRA_EMAIL": "bot@contoso.example", "SSPR_JIRA_API_TOKEN": "ATATT-123456"}


def config_error(settings: Any, environ: dict[str, str], base_dir: Path) -> str:
    with pytest.raises(TicketConfigError) as raised:
        open_ticket_system(settings, environ, base_dir=base_dir)
    return str(raised.value)


def test_the_kind_picks_the_section() -> None:
    assert isinstance(SECTIONS.validate_python(WEBHOOK), WebhookTicketSettings)
    servicenow = SECTIONS.validate_python(SERVICENOW)
    assert isinstance(servicenow, ServiceNowSettings)
    assert (servicenow.table, servicenow.resolved_state, servicenow.reassigned_state) == (
        "incident",
        "6",
        "2",
    )
    assert (servicenow.category, servicenow.caller_lookup) == ("password", True)
    jira = SECTIONS.validate_python(JIRA)
    assert isinstance(jira, JiraSettings)
    assert (jira.resolve_transition, jira.reassign_transition) == ("Resolve this issue", None)
    assert jira.timeout == 10


def test_an_unknown_kind_or_key_is_refused() -> None:
    with pytest.raises(ValidationError):
        SECTIONS.validate_python({**WEBHOOK, "kind": "zendesk"})
    for section in (WEBHOOK, SERVICENOW, JIRA):
        with pytest.raises(ValidationError, match="extra"):
            SECTIONS.validate_python({**section, "password": "in the yaml"})


def test_settings_are_frozen() -> None:
    settings = SECTIONS.validate_python(SERVICENOW)
    with pytest.raises(ValidationError):
        settings.table = "problem"


@pytest.mark.parametrize(("section", "name"), URL_FIELDS)
def test_plain_http_is_refused_but_to_this_machine(section: dict[str, str], name: str) -> None:
    with pytest.raises(ValidationError, match="must use https"):
        SECTIONS.validate_python({**section, name: "http://helpdesk.contoso.example/x"})
    local = SECTIONS.validate_python({**section, name: "http://127.0.0.1:8080/x"})
    assert getattr(local, name).startswith("http://127.0.0.1:8080/x")


@pytest.mark.parametrize(("section", "name"), URL_FIELDS)
@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("https://bot:pw@helpdesk.contoso.example/", "credentials"),
        ("https://helpdesk.contoso.example/?token=abc", "no query"),
        ("https://helpdesk.contoso.example/#x", "no query or fragment"),
        ("helpdesk.contoso.example", "absolute https URL"),
    ],
)
def test_an_address_with_credentials_or_a_query_is_refused(
    section: dict[str, str], name: str, url: str, problem: str
) -> None:
    with pytest.raises(ValidationError, match=problem):
        SECTIONS.validate_python({**section, name: url})


def test_a_trailing_slash_is_dropped_from_a_base_address() -> None:
    settings = SECTIONS.validate_python({**JIRA, "base_url": "https://contoso.atlassian.net/"})
    assert settings.base_url == "https://contoso.atlassian.net"


@pytest.mark.parametrize(
    ("section", "name", "value"),
    [
        (SERVICENOW, "table", "incident/../sys_user"),
        (JIRA, "service_desk_id", "HD"),
        (JIRA, "request_type_id", "1 2"),
        (WEBHOOK, "timeout", 0),
    ],
)
def test_values_that_would_change_the_request_are_refused(
    section: dict[str, str], name: str, value: object
) -> None:
    with pytest.raises(ValidationError):
        SECTIONS.validate_python({**section, name: value})


@pytest.mark.parametrize("model", [WebhookTicketSettings, ServiceNowSettings, JiraSettings])
def test_every_setting_is_described(model: type[BaseModel]) -> None:
    for name, field in model.model_fields.items():
        assert field.description, f"{model.__name__}.{name}"


def test_the_webhook_needs_a_secret(tmp_path: Path) -> None:
    message = config_error(SECTIONS.validate_python(WEBHOOK), {}, tmp_path)
    assert "SSPR_TICKET_WEBHOOK_SECRET" in message
    assert "SSPR_HANDOFF_SECRET" in message


def test_the_hand_off_secret_will_do_for_the_webhook(tmp_path: Path) -> None:
    environ = {"SSPR_HANDOFF_SECRET": "shared-secret-both-ways"}
    tickets = open_ticket_system(SECTIONS.validate_python(WEBHOOK), environ, base_dir=tmp_path)
    assert tickets.kind == "webhook"


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "SSPR_SERVICENOW_TOKEN"),
        ({"SSPR_SERVICENOW_USER": "sspr.bot"}, "SSPR_SERVICENOW_PASSWORD is not set"),
        ({"SSPR_SERVICENOW_PASSWORD": "pw-123456"}, "SSPR_SERVICENOW_USER is not set"),
        ({**SERVICENOW_LOGIN, "SSPR_SERVICENOW_TOKEN": "tok-123456"}, "set only one"),
        ({"SSPR_SERVICENOW_USER": "", "SSPR_SERVICENOW_PASSWORD": ""}, "SSPR_SERVICENOW_USER"),
    ],
)
def test_servicenow_names_the_missing_credential(
    environ: dict[str, str], named: str, tmp_path: Path
) -> None:
    message = config_error(SECTIONS.validate_python(SERVICENOW), environ, tmp_path)
    assert named in message
    for value in environ.values():
        if value:
            assert value not in message


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({}, "SSPR_JIRA_EMAIL and SSPR_JIRA_API_TOKEN not set"),
        ({"SSPR_JIRA_EMAIL": "bot@contoso.example"}, "SSPR_JIRA_API_TOKEN not set"),
        ({"SSPR_JIRA_API_TOKEN": "ATATT-123456"}, "SSPR_JIRA_EMAIL not set"),
    ],
)
def test_jira_names_the_missing_credential(
    environ: dict[str, str], named: str, tmp_path: Path
) -> None:
    message = config_error(SECTIONS.validate_python(JIRA), environ, tmp_path)
    assert named in message
    assert "ATATT-123456" not in message


def test_a_missing_ca_file_is_named(tmp_path: Path) -> None:
    settings = SECTIONS.validate_python({**JIRA, "ca_file": "certs/proxy.pem"})
    message = config_error(settings, JIRA_LOGIN, tmp_path)
    assert str(tmp_path / "certs" / "proxy.pem") in message
    assert "cannot be read" in message


def test_a_ca_file_that_is_no_certificate_is_named(tmp_path: Path) -> None:
    (tmp_path / "proxy.pem").write_text("not a certificate\n")
    settings = SECTIONS.validate_python({**SERVICENOW, "ca_file": "proxy.pem"})
    message = config_error(settings, SERVICENOW_LOGIN, tmp_path)
    assert "proxy.pem" in message
    assert "not a PEM certificate file" in message
