"""Notices about an account in its owner's own chats, as Entra's reset notifies its users:
their Teams 1:1 chat with the bot (the reference kept under their Entra object id, or, when
`teams.proactive_service_url` is set, a chat the bot opens for someone who never wrote to it)
and their Slack direct message (found by the account's email), never on the channel the
conversation ran on, which has already said it.

The dialog holds the reach from the start, but the channels exist only once the served app
builds them, so they are attached then; a channel never attached reaches nobody.

`ChannelNotifier` is the other way a message the bot starts finds its way: into the
conversation it concerns, on whatever channel that conversation runs.
"""

import logging
import re
from typing import Any

from aiohttp import ClientResponseError
from microsoft_agents.hosting.aiohttp import CloudAdapter

from adapters.directory import Account
from bot.botframework.credentials import BotFrameworkAuth
from bot.botframework.new_chat import NewChats
from bot.botframework.proactive import BotFrameworkNotifier
from bot.conversations import slack_user
from bot.slack import SlackChannel
from bot.teams import TeamsSettings, allowed_tenants
from bot.teams.admission import ANY_TENANT
from bot.teams.references import keep as keep_reference
from bot.teams.references import reference_key
from dialogs import Reply
from state import Store, StoreUnavailable

log = logging.getLogger(__name__)

TEAMS = "msteams"
SLACK = "slack"
# An Entra object id's form. An account does not say which directory it came from, so only
# an id of this form (Graph's, the embedded directory's object_id) is offered to Teams as a
# user, never an LDAP entry's DN. An LDAP GUID (objectGUID, entryUUID) has the same form but
# is not the Entra object id: Teams answers 404 for it, and the user is not reached.
_OBJECT_ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
# What Teams answers when the app is not installed for the user (or they blocked the bot),
# and for a user it does not know: an expected outcome, not a fault.
_NOT_THERE = frozenset({403, 404})


def teams_new_chats(
    adapter: CloudAdapter, auth: BotFrameworkAuth, settings: TeamsSettings
) -> NewChats | None:
    """Opening Teams chats for people who never wrote to the bot, when
    `teams.proactive_service_url` is set and Teams users come from one tenant (the one
    the bot admits: the single allowed tenant, or the app's own); with several, a chat
    would be opened in a tenant that may not be the user's, so none is (said once, here)."""
    if settings.proactive_service_url is None:
        return None
    tenants = allowed_tenants(settings, auth.configuration.TENANT_ID, authenticated=False)
    if len(tenants) != 1 or ANY_TENANT in tenants:
        log.info(
            "Teams chats are opened only in the one tenant Teams users come from: list a "
            "single teams.allowed_tenant_ids entry (or set MicrosoftAppTenantId); people who "
            "never wrote to the bot are not reached on Teams"
        )
        return None
    [tenant] = tenants
    return NewChats(
        adapter,
        auth.app_id,
        channel_id=TEAMS,
        service_url=settings.proactive_service_url,
        tenant_id=tenant,
    )


class ChannelReach:
    """`ChatReach` over the served channels. A notice never fails what it reports, so no
    error leaves `tell`: each channel that cannot take it is logged and counts as not told."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._bot_framework: BotFrameworkNotifier | None = None
        self._new_chats: NewChats | None = None
        self._slack: SlackChannel | None = None

    def add_bot_framework(
        self, notifier: BotFrameworkNotifier, new_chats: NewChats | None = None
    ) -> None:
        """Reach Teams users through the kept references of their 1:1 chats, and with
        `new_chats` (`teams_new_chats`) also those who have none, in a chat opened for them."""
        self._bot_framework = notifier
        self._new_chats = new_chats

    def add_slack(self, slack: SlackChannel) -> None:
        """Reach Slack members by the account's email."""
        self._slack = slack

    async def tell(self, account: Account, text: str, *, besides: str) -> bool:
        reply = Reply(text)
        told = False
        if besides != TEAMS:
            told = await self._tell_teams(account, reply) or told
        if besides != SLACK:
            told = await self._tell_slack(account, reply) or told
        return told

    async def _tell_teams(self, account: Account, reply: Reply) -> bool:
        if self._bot_framework is None or not account.id:
            return False
        try:
            record = await self._store.get(reference_key(account.id))
            reference = record.value if record else await self._open_teams_chat(account.id)
            if reference is None:
                return False
            await self._bot_framework.send(reference, reply)
        except Exception as error:  # a refusing connector, the store, a token: all alike here
            log.warning("Teams notice not sent", extra={"error": type(error).__name__})
            return False
        return True

    async def _open_teams_chat(self, object_id: str) -> dict[str, Any] | None:
        """The reference of a chat opened for a user with none kept, kept in turn (as the
        Teams agent keeps one when the user writes) so the next notice goes straight there;
        None when no chat is opened for them."""
        if self._new_chats is None or not _OBJECT_ID.fullmatch(object_id):
            return None
        try:
            reference = await self._new_chats.open(object_id)
        except Exception as error:  # a refusal, a token, the network: not reached
            status = error.status if isinstance(error, ClientResponseError) else None
            level = logging.INFO if status in _NOT_THERE else logging.WARNING
            log.log(
                level,
                "Teams chat not opened",
                extra={"error": type(error).__name__, "status": status},
            )
            return None
        try:
            await keep_reference(self._store, object_id, reference)
        except StoreUnavailable:
            log.warning("conversation reference not stored")
        return reference

    async def _tell_slack(self, account: Account, reply: Reply) -> bool:
        if self._slack is None or not account.email:
            return False
        try:
            return await self._slack.send_by_email(account.email, [reply])
        except Exception as error:  # send_by_email answers False for Slack's own errors
            log.warning("Slack notice not sent", extra={"error": type(error).__name__})
            return False


class ChannelNotifier:
    """Routes a notice to the channel its conversation lives on."""

    def __init__(self, bot_framework: BotFrameworkNotifier, slack: SlackChannel | None) -> None:
        self._bot_framework = bot_framework
        self._slack = slack

    async def notify(self, conversation: str, reply: Reply) -> None:
        slack = slack_user(conversation)
        if slack is not None:
            if self._slack is not None:
                await self._slack.send_proactive(*slack, [reply])
            return
        await self._bot_framework.notify(conversation, reply)
