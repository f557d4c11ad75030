"""The reset conversation: one message in, replies and the next session state out.

The dialog holds no per-conversation state itself; the caller loads the session, passes it
in and stores what comes back (with optimistic concurrency). What the turn does to the
outside world waits until that write has succeeded: the caller then calls `settle`, which
delivers codes and changes the password. Two turns racing on one session can therefore
both compute a pass, but only the one whose write wins ever resets the password.
It talks to the world only through the ports it was given, and never to a channel.

`ResetDialog` is what callers see; it wires the parts that do the work: the conversation
(`dialogs.conversation`), the password step (`dialogs.password_step`) and the effects of a
stored turn (`dialogs.effects`).
"""

from typing import Any

from dialogs.catalog import Catalog
from dialogs.conversation import Conversation
from dialogs.effects import Effects
from dialogs.enrolment import Enrolment
from dialogs.kit import DialogKit
from dialogs.password_step import PasswordStep
from dialogs.ports import DialogPorts
from dialogs.replies import Inbound, Outcome
from dialogs.session import ResetSession
from dialogs.settings import DialogSettings


class ResetDialog:
    def __init__(
        self, settings: DialogSettings, ports: DialogPorts, *, catalog: Catalog, password_page: str
    ) -> None:
        """`catalog`: the one the channels answer from too. `password_page`: the configured
        public address links are made from (the token is appended), never anything a
        request said about itself."""
        self._kit = DialogKit(settings, ports, catalog)
        self._password = PasswordStep(self._kit, password_page=password_page)
        self._effects = Effects(self._kit)
        enrolment = Enrolment(self._kit, self._effects.notify)
        self._conversation = Conversation(self._kit, self._password, enrolment)

    async def account_name(self, stored: dict[str, Any]) -> str:
        """The username a stored session resets (for the password page's heading)."""
        account = await self._kit.account(ResetSession.from_dict(stored))
        return account.username if account else ""

    async def turn(
        self, stored: dict[str, Any] | None, inbound: Inbound, *, requester: str | None = None
    ) -> Outcome:
        """One message: the replies, and the session to store before `settle`. `requester`:
        who sent it as the channel knows them (its user id, or the client's address), for
        the audit trail; never a name the person typed."""
        return await self._conversation.turn(stored, inbound, requester)

    async def settle(self, outcome: Outcome) -> Outcome:
        """Do what a stored turn decided: deliver its codes, change the password or unlock
        (its password link, `outcome.issued_link`, is the caller's to record).

        Call only after `outcome.session` was written. Returns the further replies and, when
        the password step ran, the session to write next.
        """
        return await self._effects.settle(outcome)

    def usable_link(
        self, stored: dict[str, Any] | None, *, key: str, nonce: str, expires_at: float
    ) -> ResetSession | None:
        """The session a password page link (stored under `key`, issued for the session
        `nonce`, good until `expires_at`) belongs to, while the link may still be used."""
        return self._password.usable_link(stored, key=key, nonce=nonce, expires_at=expires_at)

    async def page_password(
        self, stored: dict[str, Any], password: str, confirm: str, *, requester: str | None = None
    ) -> Outcome:
        """A password posted on the page for a usable link: see `PasswordStep`. `requester`:
        the client address the post came from, for the audit trail."""
        posted_by = {**stored, "requester": requester or ""}
        return await self._password.page_password(posted_by, password, confirm)
