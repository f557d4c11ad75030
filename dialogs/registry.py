"""The bot's own method registry: what a person registered in chat, for every directory.

Entra ID, Active Directory and OpenLDAP hold email addresses and phones but no place the bot
may keep an authenticator secret or security answers, so the bot keeps them itself, in the
state store, one record per account (`methods:<account id>`); this module is the only one
that knows that key and layout. The secret is encrypted with the bot's `EncryptionKey` (it
must be read back to check a code); answers are argon2id hashes (they only need checking).
Every method carries when it was registered and last confirmed, and the directory's own
contacts when they were last confirmed, for the re-confirmation an admin may ask for.

Writes read the record and write it back with its etag, again on a lost race, so two
instances registering for one account at once both land.
"""

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from adapters.directory import SecurityQuestion
from adapters.directory.at_rest import EncryptionKey, SecretUnreadable, is_argon2id_hash
from dialogs.proofs import Proof
from state import Clock, EtagMismatch, Store

log = logging.getLogger(__name__)

# The directory's own contacts, confirmed whenever a code sent to one comes back.
CONTACTS: frozenset[Proof] = frozenset({"email", "mobile_phone", "office_phone"})
_WRITE_ATTEMPTS = 8


@dataclass(frozen=True)
class Stamp:
    """When a method was registered and when its owner last showed they still have it."""

    registered_at: float
    confirmed_at: float


@dataclass(frozen=True)
class Registered:
    """One account's registered methods as the dialog may see them: never the secret (ask
    `MethodRegistry.authenticator_secret`), answers only as hashes."""

    authenticator: Stamp | None = None
    questions: tuple[SecurityQuestion, ...] = field(default=(), repr=False)
    questions_stamp: Stamp | None = None
    contacts_confirmed: dict[str, float] = field(default_factory=dict)

    def names(self) -> set[str]:
        """The methods held here by name: the app, the questions, the confirmed contacts."""
        names = set(self.contacts_confirmed)
        if self.authenticator is not None:
            names.add("authenticator")
        if self.questions:
            names.add("questions")
        return names

    def last_confirmed(self) -> float | None:
        """When the owner last showed they still have one of their methods, if ever."""
        stamps = [
            stamp.confirmed_at for stamp in (self.authenticator, self.questions_stamp) if stamp
        ]
        stamps.extend(self.contacts_confirmed.values())
        return max(stamps, default=None)

    def stale(self, now: float, reconfirm_days: int) -> bool:
        """Whether the methods are due to be confirmed again (`enrolment.reconfirm_days`,
        0 for never): nothing confirmed yet, or the last confirmation older than that."""
        if reconfirm_days <= 0:
            return False
        last = self.last_confirmed()
        return last is None or now - last > reconfirm_days * 86400


class RegistryError(ValueError):
    """A write the registry refuses (an answer that is not an argon2id hash); the message
    never carries the value."""


class MethodRegistry:
    def __init__(self, store: Store, key: EncryptionKey, clock: Clock) -> None:
        self._store = store
        self._key = key
        self._clock = clock

    async def read(self, account_id: str) -> Registered:
        record = await self._store.get(_key(account_id))
        return _registered(record.value if record else {})

    async def authenticator_secret(self, account_id: str) -> str | None:
        """The registered base32 secret, decrypted; None when there is none or it cannot be
        decrypted with this key (logged: the key was changed, the app must be set up again)."""
        record = await self._store.get(_key(account_id))
        sealed = ((record.value if record else {}).get("authenticator") or {}).get("sealed")
        if not sealed:
            return None
        try:
            return self._key.decrypt(sealed)
        except SecretUnreadable:
            log.error("a registered authenticator cannot be read with this encryption key")
            return None

    def seal(self, secret: str) -> str:
        """`secret` encrypted with the registry's key: how a secret still to be confirmed
        is kept in a conversation's session."""
        return self._key.encrypt(secret)

    def unseal(self, sealed: str) -> str | None:
        try:
            return self._key.decrypt(sealed)
        except SecretUnreadable:
            return None

    async def add_authenticator(self, account_id: str, secret: str) -> None:
        """Register (or replace) the account's authenticator app."""
        now = self._clock.now()
        sealed = self._key.encrypt(secret)

        def change(value: dict[str, Any]) -> None:
            value["authenticator"] = {"sealed": sealed, "registered_at": now, "confirmed_at": now}

        await self._update(account_id, change)

    async def set_questions(self, account_id: str, questions: list[SecurityQuestion]) -> None:
        """Replace the account's questions; each answer must already be an argon2id hash
        (`adapters.directory.answers.hash_answer`), so a clear answer can never be stored."""
        if not all(is_argon2id_hash(question.answer_hash) for question in questions):
            raise RegistryError("security answers must be stored as argon2id hashes")
        now = self._clock.now()
        items = [{"id": q.id, "text": q.text, "answer_hash": q.answer_hash} for q in questions]

        def change(value: dict[str, Any]) -> None:
            value["questions"] = {"items": items, "registered_at": now, "confirmed_at": now}

        await self._update(account_id, change)

    async def confirm(self, account_id: str, method: Proof) -> None:
        """The owner just passed `method`: it is confirmed as of now."""
        now = self._clock.now()

        def change(value: dict[str, Any]) -> None:
            if method in CONTACTS:
                value.setdefault("contacts", {})[method] = now
            elif value.get(method):
                value[method]["confirmed_at"] = now

        await self._update(account_id, change)

    async def remove(self, account_id: str, method: Proof | None = None) -> None:
        """Forget one method (a contact: its confirmation), or everything (None)."""
        if method is None:
            await self._store.delete(_key(account_id))
            return

        def change(value: dict[str, Any]) -> None:
            if method in CONTACTS:
                value.get("contacts", {}).pop(method, None)
            else:
                value.pop(method, None)

        await self._update(account_id, change)

    async def _update(self, account_id: str, change: Callable[[dict[str, Any]], None]) -> None:
        key = _key(account_id)
        for _ in range(_WRITE_ATTEMPTS):
            record = await self._store.get(key)
            value = copy.deepcopy(record.value) if record else {}
            change(value)
            if value == (record.value if record else {}):
                return
            try:
                await self._store.put(
                    key,
                    value,
                    if_match=record.etag if record else None,
                    if_none_match=record is None,
                )
            except EtagMismatch:
                continue
            return
        raise EtagMismatch(f"the method registry for one account kept changing: {key}")


def _key(account_id: str) -> str:
    return f"methods:{account_id}"


def _stamp(value: dict[str, Any] | None) -> Stamp | None:
    if not value:
        return None
    return Stamp(float(value["registered_at"]), float(value["confirmed_at"]))


def _registered(value: dict[str, Any]) -> Registered:
    questions = value.get("questions") or {}
    return Registered(
        authenticator=_stamp(value.get("authenticator")),
        questions=tuple(
            SecurityQuestion(item["id"], item["text"], item["answer_hash"])
            for item in questions.get("items", [])
        ),
        questions_stamp=_stamp(questions),
        contacts_confirmed={name: float(at) for name, at in value.get("contacts", {}).items()},
    )
