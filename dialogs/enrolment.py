"""Registering methods in chat: an authenticator app and security questions, kept in the
bot's registry (`dialogs.registry`) so that they verify a reset on every directory.

Only a channel that vouches for the user may register (the conversation refuses the others),
and an account that has any method must pass one of them first, through the reset's own
verification steps, limits and locks. The machine keeps a registering session away from the
password step. A new app's secret stays encrypted in the session until a first correct code,
whose time step is then spent, so that code can never also pass a reset; answers are hashed
as they arrive and never said back.
"""

import io
from collections.abc import Callable

import pyotp
import segno

from adapters.directory import Account, SecurityQuestion
from adapters.directory.answers import answer_matches, hash_answer, normalise_answer
from adapters.hashing import hashing
from dialogs.kit import DialogKit
from dialogs.methods.authenticator import claim_step, matching_step
from dialogs.methods.base import digits_of
from dialogs.notices import Notice
from dialogs.picking import pick, words
from dialogs.proofs import Proof
from dialogs.replies import Choice, Image, Inbound, Reply
from dialogs.session import ResetSession

Notify = Callable[[ResetSession, Account, Notice], None]

ALL_METHODS = ("email", "sms", "voice", "authenticator", "questions")
OWN_QUESTION_LENGTH = (10, 200)
_CODE_LENGTH = 6


def registrable(kit: DialogKit, account: Account) -> list[str]:
    """What this account may register here: the enabled methods the registry holds, and
    questions only for those who may be asked them (never an admin under the two-gate rule)."""
    enabled = kit.settings.verification.methods
    methods: list[str] = [name for name in ("authenticator", "questions") if name in enabled]
    if account.is_admin and kit.settings.verification.admin_two_gate:
        methods = [name for name in methods if name != "questions"]
    return methods


def missing(kit: DialogKit, account: Account) -> list[str]:
    """What the account could register and has not."""
    return [name for name in registrable(kit, account) if not kit.methods[name].available(account)]


def offer(kit: DialogKit, session: ResetSession, account: Account, key: str) -> list[Reply]:
    """The sentence offering to register (after a reset, or to someone with too few
    methods): only on a channel that vouches for the user, and only when it would add one."""
    if session.typed or not missing(kit, account):
        return []
    return [kit.say(session, key)]


class Enrolment:
    def __init__(self, kit: DialogKit, notify: Notify) -> None:
        self._kit = kit
        self._notify = notify
        self._settings = kit.settings.enrolment

    async def begin(self, session: ResetSession, inbound: Inbound) -> list[Reply]:
        """`register` from a user the channel vouches for: their account, and first one of
        the methods it has (none to pass when it has none at all)."""
        kit = self._kit
        assert inbound.user is not None, "the conversation refuses unidentified channels"
        account = await kit.ports.directory.find(inbound.user)
        session.purpose = "register"
        session.subject = account.id if account else f"user:{inbound.user.casefold()}"
        await kit.record(session, "enrolment.started", channel=inbound.channel)
        if account is None or not await kit.policy.eligible(account):
            return await kit.escalate(session, "not_eligible", reason="not_eligible")
        if await kit.limits.is_locked(session.subject):
            return await kit.lock(session, already=True)
        session.account_id = account.id
        if not registrable(kit, account):
            return await kit.escalate(session, "enrol_nothing", reason="nothing_to_register")
        if not any(kit.methods[name].available(account) for name in ALL_METHODS):
            session.required = 0
            session.enrol()
            return [self._menu(session, account, "enrol_menu_first", name=account.display_name)]
        session.required = 1
        session.offer_methods()
        menu = kit.menu(session, account, "choose_method")
        if not session.offered:
            return await kit.escalate(session, "too_few_methods", reason="too_few_methods")
        first = kit.catalog.text("enrol_verify_first", session.locale, name=account.display_name)
        return [Reply(f"{first}\n\n{menu.text}", menu.choices)]

    async def verified(
        self, session: ResetSession, account: Account, proof: Proof | None
    ) -> list[Reply]:
        """A method passed (the first check, a re-confirmation's, or a contact confirmed
        from the menu; what it proved is confirmed once the turn is stored): the menu follows."""
        kit = self._kit
        if len(session.proven) > 1:
            await kit.record(session, "enrolment.confirmed", proof=proof)
            key = "enrol_confirmed"
        elif session.reconfirm == "asking":
            await kit.record(session, "reconfirmation.confirmed", proof=proof)
            key = "reconfirm_menu"
        else:
            key = "enrol_menu_verified"
        session.enrol()
        return [self._menu(session, account, key)]

    async def choose(self, session: ResetSession, text: str) -> list[Reply]:
        kit = self._kit
        account = await kit.account(session)
        assert account is not None
        picked = pick(text, session.offered, self._labels(session, account))
        if picked == "authenticator":
            return self._start_authenticator(session, account)
        if picked == "confirm":
            session.offer_methods()
            session.offered = self._unconfirmed(session, account)
            return [kit.menu(session, account, None, say="enrol_confirm_which")]
        if picked == "questions":
            session.add_questions()
            session.pending_questions, session.asking = [], ""
            return [self._question_menu(session)]
        if picked == "done" or (picked is None and said_done(text)):
            session.finish_enrolment()
            await kit.record(session, "enrolment.finished")
            return [kit.say(session, "enrol_finished")]
        return [self._menu(session, account, "pick_one")]

    async def take_code(self, session: ResetSession, text: str) -> list[Reply]:
        """The first code from the new app: saved only when it matches, and its time step
        spent like a code used for a reset."""
        kit = self._kit
        account = await kit.account(session)
        assert account is not None
        typed = digits_of(text)
        if typed is None:
            return [kit.say(session, "enrol_code_format", length=_CODE_LENGTH)]
        await kit.methods_kit.spend_attempt(session)
        secret = kit.ports.registry.unseal(session.pending_secret)
        step = matching_step(secret, typed, kit.ports.clock) if secret else None
        if secret and step is not None and await claim_step(kit.ports.store, account.id, step):
            await kit.methods_kit.refund_attempt(session)
            await kit.ports.registry.add_authenticator(account.id, secret)
            session.pending_secret = ""
            await kit.record(session, "enrolment.authenticator_added")
            self._notify(session, account, "enrolled_authenticator")
            return await self._registered(session, kit.say(session, "enrol_authenticator_done"))
        await kit.record(session, "enrolment.code_failed")
        if await kit.failures_exhausted(session):
            return await kit.lock(session)
        return [kit.say(session, "enrol_code_wrong", issuer=self._settings.issuer)]

    async def take_question(self, session: ResetSession, text: str) -> list[Reply]:
        """A question picked (or written), or the answer to the one picked."""
        if session.asking:
            return await self._take_answer(session, text)
        kit = self._kit
        remaining = self._remaining(session)
        numbers = [str(number) for number in range(1, len(remaining) + 1)]
        picked = pick(text, numbers, dict(zip(numbers, remaining, strict=True)))
        if picked is not None:
            question = remaining[int(picked) - 1]
        elif text.isdigit() or not self._settings.own_questions:
            key = "enrol_question_number" if text.isdigit() else "enrol_own_not_allowed"
            return [kit.say(session, key, count=len(remaining)), self._question_menu(session)]
        else:
            question = " ".join(text.split())
            shortest, longest = OWN_QUESTION_LENGTH
            if not shortest <= len(question) <= longest:
                return [kit.say(session, "enrol_own_length", min=shortest, max=longest)]
            if question.casefold() in {q["text"].casefold() for q in session.pending_questions}:
                return [kit.say(session, "enrol_question_taken")]
        session.asking = question
        return [self._answer_prompt(session)]

    async def _take_answer(self, session: ResetSession, text: str) -> list[Reply]:
        kit = self._kit
        settings = self._settings
        length = len(normalise_answer(text))
        if length < settings.answer_min:
            return [kit.say(session, "enrol_answer_short", min=settings.answer_min)]
        if length > settings.answer_max:
            return [kit.say(session, "enrol_answer_long", max=settings.answer_max)]
        for earlier in session.pending_questions:
            if await hashing(answer_matches, earlier["answer_hash"], text):
                return [kit.say(session, "enrol_answer_reused"), self._answer_prompt(session)]
        answer_hash: str = await hashing(hash_answer, text)
        session.pending_questions.append({"text": session.asking, "answer_hash": answer_hash})
        session.asking = ""
        if len(session.pending_questions) < settings.questions_to_register:
            return [self._question_menu(session)]
        return await self._save_questions(session)

    async def _save_questions(self, session: ResetSession) -> list[Reply]:
        kit = self._kit
        account = await kit.account(session)
        assert account is not None
        questions = [
            SecurityQuestion(f"q{number}", item["text"], item["answer_hash"])
            for number, item in enumerate(session.pending_questions, 1)
        ]
        await kit.ports.registry.set_questions(account.id, questions)
        session.pending_questions = []
        await kit.record(session, "enrolment.questions_set", count=len(questions))
        self._notify(session, account, "enrolled_questions")
        done = kit.say(session, "enrol_questions_done", count=len(questions))
        return await self._registered(session, done)

    async def _registered(self, session: ResetSession, done: Reply) -> list[Reply]:
        """Back to the menu, which now reads what was just registered."""
        account = await self._kit.account(session)
        assert account is not None
        session.enrol()
        return [done, self._menu(session, account, "enrol_menu_again")]

    def _start_authenticator(self, session: ResetSession, account: Account) -> list[Reply]:
        kit = self._kit
        secret = pyotp.random_base32()
        session.pending_secret = kit.ports.registry.seal(secret)
        session.add_authenticator()
        uri = pyotp.TOTP(secret).provisioning_uri(
            name=account.username, issuer_name=self._settings.issuer
        )
        key = " ".join(secret[start : start + 4] for start in range(0, len(secret), 4))
        text = kit.catalog.text(
            "enrol_authenticator", session.locale, uri=uri, key=key, length=_CODE_LENGTH
        )
        alt = kit.catalog.text("enrol_qr_alt", session.locale, username=account.username)
        return [Reply(text, image=Image(qr_png(uri), alt))]

    def _menu(self, session: ResetSession, account: Account, key: str, **values: str) -> Reply:
        """What may be registered now, the directory's contacts not confirmed yet in this
        conversation, and `done`."""
        confirm = ["confirm"] if self._unconfirmed(session, account) else []
        session.offered = [*registrable(self._kit, account), *confirm, "done"]
        labels = self._labels(session, account)
        choices = tuple(Choice(name, labels[name]) for name in session.offered)
        return Reply(self._kit.catalog.text(key, session.locale, **values), choices)

    def _labels(self, session: ResetSession, account: Account) -> dict[str, str]:
        kit = self._kit
        had = set(registrable(kit, account)) - set(missing(kit, account))
        return {
            name: kit.catalog.text(
                f"label_enrol_{name}_again" if name in had else f"label_enrol_{name}",
                session.locale,
            )
            for name in session.offered
        }

    def _unconfirmed(self, session: ResetSession, account: Account) -> list[str]:
        """The code methods that would prove a contact not proven in this conversation."""
        kit = self._kit
        return [name for name in kit.policy.choices(session, account) if name in kit.codes]

    def _remaining(self, session: ResetSession) -> list[str]:
        """The admins' questions not picked yet, in their order."""
        picked = {item["text"] for item in session.pending_questions}
        return [question for question in self._settings.questions if question not in picked]

    def _question_menu(self, session: ResetSession) -> Reply:
        remaining = self._remaining(session)
        key = "enrol_pick_question_own" if self._settings.own_questions else "enrol_pick_question"
        text = self._kit.catalog.text(
            key,
            session.locale,
            number=len(session.pending_questions) + 1,
            total=self._settings.questions_to_register,
        )
        choices = tuple(
            Choice(str(number), question) for number, question in enumerate(remaining, 1)
        )
        return Reply(text, choices)

    def _answer_prompt(self, session: ResetSession) -> Reply:
        settings = self._settings
        return self._kit.say(
            session,
            "enrol_answer",
            question=session.asking,
            min=settings.answer_min,
            max=settings.answer_max,
        )


def qr_png(uri: str) -> bytes:
    """`uri` as a QR code an app's camera reads from a phone held to a laptop screen."""
    buffer = io.BytesIO()
    segno.make(uri, error="m").save(buffer, kind="png", scale=6, border=4)
    return buffer.getvalue()


_DONE = (
    ["done"],
    ["finished"],
    ["nothing"],
    ["no"],
    ["that", "s", "all"],
    ["fertig"],
    ["nichts"],
    ["nein"],
    ["terminé"],
    ["fini"],
    ["rien"],
    ["non"],
    ["listo"],
    ["terminado"],
    ["nada"],
)


def said_done(text: str) -> bool:
    """Whether a message at the menu says the person has finished, in any of the
    catalog's languages."""
    return words(text) in _DONE
