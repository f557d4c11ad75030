"""The ticket system the settings name, with its credentials from the environment.

Everything that can be checked without a network is checked here (the credentials are
set, the CA file loads), so a wrong setup stops the bot at start rather than at the first
ticket, with a message naming the variable.
"""

import asyncio
from collections.abc import Mapping
from pathlib import Path

from adapters.tickets.base import TicketSystem
from adapters.tickets.http import Sleep, TicketHttp, basic_authorization, trusting
from adapters.tickets.jira import JiraTickets
from adapters.tickets.servicenow import ServiceNowTickets
from adapters.tickets.settings import (
    HANDOFF_SECRET_VARIABLE,
    JIRA_API_TOKEN_VARIABLE,
    JIRA_EMAIL_VARIABLE,
    SERVICENOW_PASSWORD_VARIABLE,
    SERVICENOW_TOKEN_VARIABLE,
    SERVICENOW_USER_VARIABLE,
    WEBHOOK_SECRET_VARIABLE,
    ServiceNowSettings,
    TicketConfigError,
    TicketSettings,
    WebhookTicketSettings,
)
from adapters.tickets.webhook import WebhookTickets


def open_ticket_system(
    settings: TicketSettings,
    environ: Mapping[str, str],
    *,
    base_dir: Path,
    sleep: Sleep = asyncio.sleep,
) -> TicketSystem:
    """The system for `settings`; TicketConfigError naming what is missing. `base_dir` is
    what a relative ca_file is taken from; `sleep` is how the one retry waits."""
    tls_context = trusting(settings.ca_file, base_dir, settings.kind)

    def http(headers: Mapping[str, str]) -> TicketHttp:
        return TicketHttp(
            timeout=settings.timeout, tls_context=tls_context, headers=headers, sleep=sleep
        )

    if isinstance(settings, WebhookTicketSettings):
        return WebhookTickets(settings.url, webhook_secret(environ), http=http({}))
    if isinstance(settings, ServiceNowSettings):
        authorization = servicenow_authorization(environ)
        return ServiceNowTickets(settings, http=http({"Authorization": authorization}))
    return JiraTickets(settings, http=http({"Authorization": jira_authorization(environ)}))


def webhook_secret(environ: Mapping[str, str]) -> str:
    """The webhook's own secret, else the hand-off's: one shared secret both ways is the
    simple setup."""
    secret = environ.get(WEBHOOK_SECRET_VARIABLE) or environ.get(HANDOFF_SECRET_VARIABLE)
    if not secret:
        raise TicketConfigError(
            f"tickets webhook: neither {WEBHOOK_SECRET_VARIABLE} nor {HANDOFF_SECRET_VARIABLE} "
            "is set (one of them holds the secret the webhook calls are signed with)"
        )
    return secret


def servicenow_authorization(environ: Mapping[str, str]) -> str:
    """Bearer with an OAuth token, or Basic with a user and password; never both."""
    token = environ.get(SERVICENOW_TOKEN_VARIABLE) or None
    user = environ.get(SERVICENOW_USER_VARIABLE) or None
    password = environ.get(SERVICENOW_PASSWORD_VARIABLE) or None
    if token is not None:
        if user is not None or password is not None:
            raise TicketConfigError(
                f"tickets servicenow: {SERVICENOW_TOKEN_VARIABLE} is set, and so is "
                f"{SERVICENOW_USER_VARIABLE} or {SERVICENOW_PASSWORD_VARIABLE}; set only one way "
                "to log in"
            )
        return f"Bearer {token}"
    if user is None and password is None:
        raise TicketConfigError(
            f"tickets servicenow: set {SERVICENOW_TOKEN_VARIABLE} (an OAuth token), or "
            f"{SERVICENOW_USER_VARIABLE} and {SERVICENOW_PASSWORD_VARIABLE}"
        )
    missing = SERVICENOW_PASSWORD_VARIABLE if password is None else SERVICENOW_USER_VARIABLE
    if user is None or password is None:
        raise TicketConfigError(f"tickets servicenow: {missing} is not set")
    return basic_authorization(user, password)


def jira_authorization(environ: Mapping[str, str]) -> str:
    """Basic with the account's email and an API token, Atlassian's scheme for scripts."""
    missing = [
        name for name in (JIRA_EMAIL_VARIABLE, JIRA_API_TOKEN_VARIABLE) if not environ.get(name)
    ]
    if missing:
        raise TicketConfigError(f"tickets jira: {' and '.join(missing)} not set")
    return basic_authorization(environ[JIRA_EMAIL_VARIABLE], environ[JIRA_API_TOKEN_VARIABLE])
