"""Notices about an account in its owner's own chats, as Entra's reset notifies its users:
their Teams 1:1 chat with the bot (the reference kept under their Entra object id) and
their Slack direct message (found by the account's email), never on the channel the
conversation ran on, which has already said it.

The dialog holds the reach from the start, but the channels exist only once the served app
builds them, so they are attached then; a channel never attached reaches nobody.

`ChannelNotifier` is the other way a message the bot starts finds its way: into the
conversation it concerns, on whatever channel that conversation runs.
"""

import logging

from adapters.directory import Account
from bot.botframework.proactive import BotFrameworkNotifier
from bot.conversations import slack_user
from bot.slack import SlackChannel
from bot.teams.references import reference_key
from dialogs import Reply
from state import Store

log = logging.getLogger(__name__)

TEAMS = "msteams"
SLACK = "slack"


class ChannelReach:
    """`ChatReach` over the served channels. A notice never fails what it reports, so no
    error leaves `tell`: each channel that cannot take it is logged and counts as not told."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._bot_framework: BotFrameworkNotifier | None = None
        self._slack: SlackChannel | None = None

    def add_bot_framework(self, notifier: BotFrameworkNotifier) -> None:
        """Reach Teams users through the kept references of their 1:1 chats."""
        self._bot_framework = notifier

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
            if record is None:
                return False
            await self._bot_framework.send(record.value, reply)
        except Exception as error:  # a refusing connector, the store, a token: all alike here
            log.warning("Teams notice not sent", extra={"error": type(error).__name__})
            return False
        return True

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
