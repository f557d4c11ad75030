"""Re-confirmation: after `enrolment.reconfirm_days` without a confirmation, the next
conversation first checks that a person's sign-in methods still work (Entra's "number of
days before users are asked to reconfirm their authentication information").

Every passed check confirms what it proved (stamped in the registry once its turn is stored,
`dialogs.effects`), so a re-confirmation is one check. It never stands between a person and
their reset: a message that asks for a reset, or any message from an account the directory
says is locked out, starts the reset as before, and its check is the re-confirmation (said
so once the password is set). Any other first message ("hi") from someone whose methods are
stale gets the short registering flow instead: one existing method verifies, then the
registration menu, where `done` ends it. `skip` (or a reset request) at that first
menu turns the conversation into the reset it would have been, with nothing proven, and the
bot does not ask again in that conversation. Only channels that vouch for the user are
asked: the signed-out web chat never is, and reads exactly as before.

The first menu offers only checks whose pass the registry records (the directory's contacts,
an app registered in chat), so a confirmation can always land.
"""

from adapters.directory import Account
from dialogs.enrolment import offer
from dialogs.kit import DialogKit
from dialogs.picking import asks_to_start, words
from dialogs.proofs import Proof
from dialogs.registry import CONTACTS, Registered
from dialogs.replies import Reply
from dialogs.session import ResetSession

_DAY = 86400
# Putting it off, in any of the catalog's languages.
_PUT_OFF = (
    ["skip"],
    ["later"],
    ["not", "now"],
    ["skip", "it"],
    ["maybe", "later"],
    ["später"],
    ["überspringen"],
    ["plus", "tard"],
    ["passer"],
    ["más", "tarde"],
    ["omitir"],
)
# A reset that starts while the methods are stale, or after the re-confirmation was put off:
# its check confirms them.
_CONFIRMED_BY_RESET = frozenset({"due", "deferred"})


class Reconfirmation:
    def __init__(self, kit: DialogKit) -> None:
        self._kit = kit
        self._days = kit.settings.enrolment.reconfirm_days

    async def begin(self, session: ResetSession, account: Account, text: str) -> list[Reply] | None:
        """At the start of a conversation with a user the channel vouches for, whose account
        may reset: the re-confirmation's first menu when their methods are stale, the
        message is not a reset request and the directory does not say the account is locked
        out ("my account is locked" is a reset request however it is put); None to go on
        with the reset."""
        kit = self._kit
        if self._days <= 0 or session.typed or session.reconfirm:
            return None
        registered = await kit.ports.registry.read(account.id)
        now = kit.ports.clock.now()
        if not registered.stale(now, self._days):
            return None
        if asks_to_start(text) or account.locked:
            session.reconfirm = "due"
            return None
        offered = [
            name
            for name in kit.policy.choices(session, account)
            if _recorded(kit.policy.proof(name, session, account), registered)
        ]
        if not offered:
            return None
        session.purpose, session.required = "register", 1
        session.ask_to_reconfirm()
        session.reconfirm = "asking"
        session.offered = list(offered)
        last = registered.last_confirmed()
        await kit.record(session, "reconfirmation.asked", never=last is None)
        name = account.display_name
        if last is None:
            asked = kit.catalog.text("reconfirm_ask_first", session.locale, name=name)
        else:
            days = int((now - last) // _DAY)
            asked = kit.catalog.text("reconfirm_ask", session.locale, name=name, days=days)
        menu = kit.menu(session, account, None, say="choose_method")
        return [Reply(f"{asked}\n\n{menu.text}", menu.choices)]

    async def put_off(self, session: ResetSession, text: str) -> list[Reply] | None:
        """At the first menu: `skip` or `later` (said to be for this conversation), or a
        reset request, start the reset instead; None for anything else (a method picked)."""
        skipped = words(text) in _PUT_OFF
        if not skipped and not asks_to_start(text):
            return None
        kit = self._kit
        account = await kit.account(session)
        assert account is not None
        session.purpose, session.required = "reset", kit.policy.required(account)
        if not session.defer_reconfirmation():
            session.purpose, session.required = "register", 1
            return [kit.say(session, "try_again")]
        session.reconfirm = "deferred"
        await kit.record(session, "reconfirmation.deferred")
        greeting = kit.catalog.text("greeting", session.locale, name=account.display_name)
        menu = kit.menu(session, account, "choose_method")
        reset = Reply(f"{greeting}\n\n{menu.text}", menu.choices)
        return [kit.say(session, "reconfirm_deferred"), reset] if skipped else [reset]


async def after_reset(kit: DialogKit, session: ResetSession, account: Account) -> list[Reply]:
    """The line after a new password: that the reset's check confirmed methods that were
    due, or else the offer to register (see `dialogs.enrolment.offer`)."""
    if session.reconfirm in _CONFIRMED_BY_RESET and not session.typed:
        registered = await kit.ports.registry.read(account.id)
        days = kit.settings.enrolment.reconfirm_days
        if not registered.stale(kit.ports.clock.now(), days):
            return [kit.say(session, "reconfirm_after_reset")]
    return offer(kit, session, account, "enrol_offer_after_reset")


def _recorded(proof: Proof | None, registered: Registered) -> bool:
    """Whether passing a check proving `proof` is recorded as a confirmation: the
    directory's contacts always; an app or answers only when registered in chat (the demo
    directory's own are not the registry's to stamp)."""
    if proof in CONTACTS:
        return True
    if proof == "authenticator":
        return registered.authenticator is not None
    return proof == "questions" and bool(registered.questions)
