"""One turn: read the conversation's record, run the dialog, store what it decided.

The write is conditional on the etag that was read, so a turn racing another one (a second
message, another bot instance) never overwrites it: the loser runs again on fresh state.
The dialog's effects (codes, password changes, audit events) happen only after the write
has won (`Conversations.apply`). When the store or the directory fails, the user gets a
polite answer and nothing is written; a code the carrier would not take is the dialog's to
answer.

The record also remembers the last activity ids of the conversation: a delivery the channel
repeats (channels retry, sometimes to another instance) finds its id there and is answered
once. Being part of the same conditional write, this costs no extra round trip, and of two
copies processed at once only the one whose write wins has any effect.
"""

import logging
from collections.abc import Callable
from typing import Any

from adapters.directory import DirectoryUnavailable
from bot.conversations import Conversations, requester_of
from bot.dialog_versions import DialogVersions, stamped
from bot.logs import correlate, correlated
from bot.metrics import Metrics
from dialogs import Inbound, Reply
from dialogs.machine import ENDS
from dialogs.session import correlation_of
from state import EtagMismatch, StoreUnavailable

log = logging.getLogger(__name__)

ATTEMPTS = 3


class TurnRunner:
    def __init__(
        self,
        versions: DialogVersions,
        conversations: Conversations,
        message: Callable[[str, str], Reply],
        *,
        metrics: Metrics,
    ) -> None:
        """`versions`: the dialog by the rules each conversation began under. `message` is
        the catalog's, for what is answered without running a turn."""
        self._versions = versions
        self._conversations = conversations
        self.message = message
        self._metrics = metrics

    async def run(
        self,
        conversation: str,
        inbound: Inbound,
        activity_id: str | None = None,
        reference: dict[str, Any] | None = None,
    ) -> list[Reply]:
        """The replies to one message; none for a delivery already handled. `reference`
        (how to reach the conversation again) is kept with the session, at no extra cost."""
        with correlated(), self._metrics.turn(inbound.channel):
            return await self._attempts(conversation, inbound, activity_id, reference)

    async def _attempts(
        self,
        conversation: str,
        inbound: Inbound,
        activity_id: str | None,
        reference: dict[str, Any] | None,
    ) -> list[Reply]:
        for _ in range(ATTEMPTS):
            try:
                return await self._once(conversation, inbound, activity_id, reference)
            except EtagMismatch:
                log.info(
                    "session changed under this turn; retrying", extra={"session": conversation}
                )
            except (StoreUnavailable, DirectoryUnavailable) as error:
                log.error("dependency unavailable", extra={"error": type(error).__name__})
                self._metrics.unavailable(error, where="turn")
                return [self.message("unavailable", inbound.locale)]
        return [self.message("try_again", inbound.locale)]

    async def _once(
        self,
        conversation: str,
        inbound: Inbound,
        activity_id: str | None,
        reference: dict[str, Any] | None,
    ) -> list[Reply]:
        found = await self._conversations.read(conversation)
        if found.handled(activity_id):
            correlate(correlation_id(found.session))
            log.info("repeated delivery ignored", extra={"activity": activity_id})
            return []
        correlate(correlation_id(found.session, ongoing=True))
        requester = requester_of(conversation, inbound.client, reference)
        version = self._versions.for_turn(found.session)
        turned = await version.dialog.turn(found.session, inbound, requester=requester)
        outcome = stamped(turned, version)
        correlate(correlation_id(outcome.session))
        after = found.after_turn(outcome.session, activity_id, reference)
        write = outcome.changed or activity_id is not None
        settled = await self._conversations.apply(after, outcome, write=write)
        if settled.supersedes:
            return settled.replies
        return outcome.replies + settled.replies


def correlation_id(session: dict[str, Any] | None, *, ongoing: bool = False) -> str | None:
    """The id the audit trail gives a stored conversation; with `ongoing`, only while it is
    under way: a message after it ended may start another conversation, with its own id."""
    if not session or (ongoing and session.get("state") in ENDS):
        return None
    return correlation_of(str(session.get("nonce") or "")) or None
