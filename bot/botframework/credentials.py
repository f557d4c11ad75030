"""Bot Framework authentication from the environment, in the names admins already use.

Azure Bot Service's classic names (`MicrosoftAppId`, `MicrosoftAppPassword`,
`MicrosoftAppTenantId`, `MicrosoftAppType`) and the Agents SDK's
`CONNECTIONS__SERVICE_CONNECTION__SETTINGS__*` both work; the SDK's names win when both are
set. With no app id at all the bot runs in development mode: no token is checked, which is
only allowed on a loopback address.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from microsoft_agents.activity import load_configuration_from_env
from microsoft_agents.authentication.msal import MsalConnectionManager
from microsoft_agents.hosting.core.authorization import AgentAuthConfiguration, Connections

_CLASSIC = {
    "MicrosoftAppId": "CLIENTID",
    "MicrosoftAppPassword": "CLIENTSECRET",
    "MicrosoftAppTenantId": "TENANTID",
}


@dataclass(frozen=True)
class BotFrameworkAuth:
    app_id: str | None
    configuration: AgentAuthConfiguration
    connections: Connections

    @property
    def development(self) -> bool:
        return self.app_id is None


def from_environment(environ: Mapping[str, str]) -> BotFrameworkAuth:
    sdk = load_configuration_from_env(
        {k: v for k, v in environ.items() if k.startswith(("CONNECTIONS__", "CONNECTIONSMAP__"))}
    )
    connections: dict[str, Any] = sdk["CONNECTIONS"]
    settings: dict[str, Any] = connections.setdefault("SERVICE_CONNECTION", {}).setdefault(
        "SETTINGS", {}
    )
    for classic, name in _CLASSIC.items():
        if environ.get(classic) and not settings.get(name):
            settings[name] = environ[classic]
    app_id = settings.get("CLIENTID") or None
    if app_id is None:
        manager = MsalConnectionManager(CONNECTIONS={"SERVICE_CONNECTION": {"SETTINGS": {}}})
        configuration = AgentAuthConfiguration(anonymous_allowed=True)
        return BotFrameworkAuth(None, configuration, manager)
    settings.setdefault("AUTHTYPE", "ClientSecret")
    settings.setdefault("VALIDATE_ISSUER", "true")
    if environ.get("MicrosoftAppType", "").casefold() == "multitenant":
        settings.pop("TENANTID", None)
    manager = MsalConnectionManager(CONNECTIONS=connections, CONNECTIONSMAP=sdk["CONNECTIONSMAP"])
    return BotFrameworkAuth(app_id, manager.get_default_connection_configuration(), manager)
