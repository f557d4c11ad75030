"""The step after verification: how the new password comes (a page link, a temporary one,
typed in the chat) or whether a locked-out account is rather unlocked.

Nothing here writes to the directory: an accepted step only puts an `AccountChange` on the
session, and only when the machine's guard (what was proven) let the step happen; the
change itself waits for `settle`.
"""

import logging
from collections.abc import Callable
from typing import Any

from adapters.directory import Account
from dialogs.kit import DialogKit
from dialogs.password_link import link_key, new_token
from dialogs.password_policy import context_words
from dialogs.picking import pick
from dialogs.replies import Choice, LinkButton, Outcome, Reply
from dialogs.session import AccountChange, IssuedLink, ResetSession

log = logging.getLogger(__name__)


class PasswordStep:
    def __init__(self, kit: DialogKit, *, password_page: str) -> None:
        """`password_page`: the configured public address links are made from (the token
        is appended), never anything a request said about itself."""
        self._kit = kit
        self._settings = kit.settings.password
        self._password_page = password_page

    async def begin(self, session: ResetSession, account: Account) -> list[Reply]:
        """Verified. A locked-out account may rather be unlocked, keeping its password."""
        if self._kit.ports.directory.can_unlock and account.locked:
            session.offered = ["unlock", "reset"]
            return [self._unlock_menu(session)]
        return self._new_password(session)

    async def take(self, session: ResetSession, password: str) -> list[Reply]:
        """A message while choosing: the unlock-or-reset pick, or the password typed in
        the chat (unstripped: spaces at either end are part of it)."""
        if session.offered == ["unlock", "reset"]:
            labels = {choice.value: choice.label for choice in self._unlock_menu(session).choices}
            picked = pick(password, session.offered, labels)
            if picked is None:
                return [self._unlock_menu(session, "pick_one")]
            session.offered = []
            if picked == "reset":
                return self._new_password(session)
            return self._begin_change(session, session.start_unlock, AccountChange(unlock=True))
        if self._settings.entry != "chat":
            return self._new_password(session)
        account = await self._kit.account(session)
        assert account is not None
        refusal = await self._kit.passwords.refusal(password, context_words(account))
        if refusal is not None:
            return [self._kit.say(session, refusal.message, **refusal.values)]
        return self._begin_change(session, session.start_reset, AccountChange(password=password))

    async def awaiting_page(self, session: ResetSession) -> list[Reply]:
        """A chat message while the password page link is out."""
        if self._kit.ports.clock.now() >= session.link_expires_at:
            session.expire()
            await self._kit.record(session, "reset.expired")
            return [self._kit.say(session, "expired")]
        return [self._kit.say(session, "password_link_pending")]

    def usable_link(
        self, stored: dict[str, Any] | None, *, key: str, nonce: str, expires_at: float
    ) -> ResetSession | None:
        """The session a password page link belongs to, while the link may still be used:
        the same session (nonce and link), still waiting for the password, not expired."""
        if not stored:
            return None
        session = ResetSession.from_dict(stored)
        now = self._kit.ports.clock.now()
        usable = (
            session.state == "awaiting_password"
            and session.link_key == key
            and session.nonce == nonce
            and now < expires_at
            and now < session.link_expires_at
            and now < session.expires_at
        )
        return session if usable else None

    async def page_password(self, stored: dict[str, Any], password: str, confirm: str) -> Outcome:
        """A password posted on the page for a usable link (see `usable_link`).

        A refusal comes back as one reply and nothing to store; an accepted password as the
        session to store (moved on to `resetting`, so a second post finds the link used) and
        the change for `settle`, exactly as a chat turn would.
        """
        kit = self._kit
        session = ResetSession.from_dict(stored)
        if password != confirm:
            return Outcome([kit.say(session, "password_mismatch")], stored, changed=False)
        account = await kit.account(session)
        if account is None:
            return Outcome([kit.say(session, "password_link_used")], stored, changed=False)
        if await kit.locked(session):
            helpdesk = kit.settings.helpdesk.contact
            return Outcome([kit.say(session, "locked", helpdesk=helpdesk)], stored, changed=False)
        refusal = await self._kit.passwords.refusal(password, context_words(account))
        if refusal is not None:
            reply = kit.say(session, refusal.message, **refusal.values)
            return Outcome([reply], stored, changed=False)
        with kit.machine.attached(session):
            refused = self._begin_change(
                session, session.start_reset, AccountChange(password=password)
            )
        if refused:
            return Outcome(refused, stored, changed=False)
        await kit.record(session, "password.link_used")
        return Outcome(
            [],
            session.to_dict(),
            account_change=session.account_change,
            events=session.events,
        )

    def _new_password(self, session: ResetSession) -> list[Reply]:
        settings = self._settings
        if settings.entry == "link":
            return [self._issue_link(session)]
        if settings.entry == "chat":
            return [
                self._kit.say(
                    session, "ask_new_password", min=settings.min_length, max=settings.max_length
                )
            ]
        return self._begin_change(session, session.start_reset, AccountChange())

    def _begin_change(
        self, session: ResetSession, trigger: Callable[[], bool], change: AccountChange
    ) -> list[Reply]:
        """Only a step the machine allowed (its guard counts what was proven) carries a
        change to the directory."""
        if not trigger():
            log.error("the machine refused the password step", extra={"state": session.state})
            return [self._kit.say(session, "try_again")]
        session.account_change = change
        return []

    def _issue_link(self, session: ResetSession) -> Reply:
        """Verified: the password page link, for the caller to record (as a hash) once the
        turn is stored (`Outcome.issued_link`)."""
        catalog, now = self._kit.catalog, self._kit.ports.clock.now()
        token = new_token()
        expires_at = min(now + self._settings.link_lifetime, session.expires_at)
        session.send_link()
        session.link_key = link_key(token)
        session.link_expires_at = expires_at
        session.issued_link = IssuedLink(token, session.link_key, expires_at)
        session.note("password.link_sent")
        minutes = max(1, round((expires_at - self._kit.ports.clock.now()) / 60))
        url = f"{self._password_page}{token}"
        text = catalog.text("password_link", session.locale, url=url, minutes=minutes)
        label = catalog.text("password_link_button", session.locale)
        return Reply(text, link=LinkButton(label, url))

    def _unlock_menu(self, session: ResetSession, say: str = "unlock_or_reset") -> Reply:
        catalog = self._kit.catalog
        choices = tuple(
            Choice(name, catalog.text(f"label_{name}", session.locale)) for name in session.offered
        )
        return Reply(catalog.text(say, session.locale), choices)
