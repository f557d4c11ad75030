"""One conversation's state (a reset, or registering methods), as stored between turns.

Nothing secret is stored in clear: codes only as keyed hashes, answers only as pass/fail
marks (and, while being registered, as argon2id hashes), an authenticator secret still to be
confirmed only encrypted. What
a turn decided to do to the outside world (deliver a code, change the password or unlock
the account, write the audit trail) rides on
the session object for that turn only and is never stored: it happens after the session has
been written, so a turn that loses a race to another one has changed nothing.
"""

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field, fields
from functools import partial
from typing import TYPE_CHECKING, Any

from adapters.delivery import Message


@dataclass
class Challenge:
    """The check in progress. For an account that does not exist the same fields are set
    (with a hash nothing matches), so the conversation cannot tell the two apart."""

    method: str
    expires_at: float | None = None
    code_hash: str | None = None
    attempts_left: int = 0
    question_ids: list[str] = field(default_factory=list)
    answers_ok: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class Delivery:
    """A message to send once the turn is stored; `background` ones never delay the reply
    (a blind challenge must take as long whether or not anything is sent)."""

    message: Message
    background: bool


@dataclass(frozen=True)
class AccountChange:
    """What to change once the verified state is stored: unlock the account and keep its
    password, or set `password` (None: a generated temporary one)."""

    unlock: bool = False
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class IssuedLink:
    """A password page link to record once the turn is stored: only `key` (a hash of the
    token) is ever written; the token itself goes into the one reply that carries the link."""

    token: str = field(repr=False)
    key: str
    expires_at: float


@dataclass(frozen=True)
class AuditEvent:
    """An event for the audit trail, recorded once the turn that saw it is stored."""

    name: str
    fields: dict[str, Any]


# What each step of a conversation came to, for the trail's `outcome` (a step may name its
# own, as a delivery does). A name not here is its own outcome's only description.
OUTCOMES = {
    "reset.started": "requested",
    "reset.identified": "identified",
    "reset.refused_other_account": "refused",
    "methods.offered": "offered",
    "challenge.issued": "issued",
    "challenge.resent": "resent",
    "challenge.switched": "switched",
    "challenge.passed": "passed",
    "challenge.failed": "failed",
    "reset.locked": "locked",
    "reset.escalated": "handed_off",
    "reset.cancelled": "cancelled",
    "reset.expired": "expired",
    "password.link_sent": "link_sent",
    "password.link_used": "link_used",
    "password.refused_by_directory": "refused",
    "password.reset": "reset",
    "account.unlocked": "unlocked",
}


TRANSIENT = frozenset({"deliveries", "account_change", "events", "issued_link", "client"})


def correlation_of(nonce: str) -> str:
    """The audit trail's id of a conversation: a prefix of its session's nonce, the same on
    every turn and every instance."""
    return nonce[:12]


@dataclass(eq=False)
class ResetSession:
    """Compared by identity: the shared machine tells attached sessions apart by it, and two
    parallel turns may hold sessions with equal fields."""

    state: str = "idle"
    nonce: str = ""
    expires_at: float = 0.0
    locale: str = "en"
    channel: str = ""
    typed: bool = False
    subject: str = ""
    account_id: str | None = None
    required: int = 1
    passed: list[str] = field(default_factory=list)
    proven: list[str] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)
    unreachable: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # methods whose check failed, once each
    challenge: Challenge | None = None
    link_key: str = ""
    link_expires_at: float = 0.0
    finished: str = ""  # once done: "reset" or "unlock"
    finished_at: float = 0.0
    purpose: str = "reset"  # or "register": where a verified session may go
    pending_secret: str = field(default="", repr=False)  # an app to confirm, encrypted
    pending_questions: list[dict[str, str]] = field(default_factory=list, repr=False)
    asking: str = ""  # the question being registered whose answer comes next
    reconfirm: str = ""  # "asking", "deferred" or "due": see dialogs.reconfirmation
    deliveries: list[Delivery] = field(default_factory=list, repr=False)
    account_change: AccountChange | None = field(default=None, repr=False)
    events: list[AuditEvent] = field(default_factory=list, repr=False)
    issued_link: IssuedLink | None = field(default=None, repr=False)
    client: str | None = field(default=None, repr=False)  # this turn's client address
    requester: str = ""  # who sent the latest message: a chat user id, a client address
    # The account a name resolved to, for the audit trail alone: set even where the
    # conversation may not act for it (out of scope, locked, typed and not yet proven).
    audited_account: str | None = None
    # The fingerprint of the rules the conversation began under: every later turn runs
    # under those rules, whatever a reload of the config changed meanwhile.
    rules: str = ""

    if TYPE_CHECKING:  # triggers of dialogs.machine, there while a session is attached

        def ask_account(self) -> bool: ...
        def issue_challenge(self) -> bool: ...
        def offer_methods(self) -> bool: ...
        def verified(self) -> bool: ...
        def send_link(self) -> bool: ...
        def start_reset(self) -> bool: ...
        def start_unlock(self) -> bool: ...
        def change_failed(self) -> bool: ...
        def finish(self) -> bool: ...
        def lock(self) -> bool: ...
        def cancel(self) -> bool: ...
        def escalate(self) -> bool: ...
        def expire(self) -> bool: ...
        def enrol(self) -> bool: ...
        def add_authenticator(self) -> bool: ...
        def add_questions(self) -> bool: ...
        def finish_enrolment(self) -> bool: ...
        def ask_to_reconfirm(self) -> bool: ...
        def defer_reconfirmation(self) -> bool: ...

    else:

        def __getattr__(self, name: str) -> Callable[[], bool]:
            """A trigger of the machine the session is attached to, bound when it is
            fired (`dialogs.machine`); nothing else is looked up here."""
            events = self.__dict__.get("_triggers")
            if events is None or name not in events:
                raise AttributeError(name)
            return partial(events[name].trigger, self)

    def lend_triggers(self, events: Mapping[str, Any] | None) -> None:
        """The machine's events while the session is attached to it, None when it is not:
        kept beside the fields, never stored."""
        self.__dict__["_triggers"] = events

    def has_enough_verifications(self) -> bool:
        """The machine's guard: distinct proofs (the mailbox, a phone, the app, the
        answers), never a count of passes or of methods: a text and a call to the same
        phone are one."""
        return len(set(self.proven)) >= self.required

    def for_reset(self) -> bool:
        """The machine's guard: only a reset session may go toward a new password."""
        return self.purpose == "reset"

    def registering(self) -> bool:
        """The machine's guard: a re-confirmation's check serves a registration, never a
        reset."""
        return self.purpose == "register"

    def nothing_proven(self) -> bool:
        """The machine's guard: a re-confirmation put off becomes a reset only before any
        check, so nothing passed for registering ever counts toward a password."""
        return not self.passed and not self.proven

    def can_enrol(self) -> bool:
        """The machine's guard: only a registering session, verified as far as it must be
        (one check; none for an account that had no method at all), may register."""
        return self.purpose == "register" and self.has_enough_verifications()

    @property
    def blind(self) -> bool:
        """A typed account name with nothing verified yet: every answer must read the same
        whether or not the name exists."""
        return self.typed and not self.passed

    @property
    def account_key(self) -> str | None:
        """The account's own counters and lock, when the session's are keyed by the name
        that was typed (an account has many names; its limits hold across all of them)."""
        if self.account_id is None or self.account_id == self.subject:
            return None
        return self.account_id

    def audit_context(self) -> dict[str, Any]:
        """What every event of this conversation carries: which conversation (a prefix of
        the nonce, stable across turns and instances), who asked, where, about which
        account (once the bot knows it: never a name as typed), and the method at hand."""
        return {
            "correlation_id": correlation_of(self.nonce),
            "requester": self.requester or None,
            "channel": self.channel or None,
            "account": self.account_id or self.audited_account,
            "method": self.challenge.method if self.challenge else None,
            "state": self.state,
        }

    def note(self, event: str, **fields: Any) -> None:
        """Note an audit event for this turn; it is written once the turn is stored."""
        outcome = {"outcome": OUTCOMES.get(event, event.rpartition(".")[2])}
        self.events.append(AuditEvent(event, {**self.audit_context(), **outcome, **fields}))

    def has_link(self) -> bool:
        """The machine's guard: the new password comes from the password page."""
        return bool(self.link_key)

    def to_dict(self) -> dict[str, Any]:
        """What is stored: everything but this turn's pending work."""
        stored = {f.name: getattr(self, f.name) for f in fields(self) if f.name not in TRANSIENT}
        stored["challenge"] = asdict(self.challenge) if self.challenge else None
        return stored

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ResetSession":
        known = {f.name for f in fields(cls)} - TRANSIENT
        values = {key: value for key, value in data.items() if key in known}
        # Stored before proofs were kept: its passed methods were counted as proofs then.
        values.setdefault("proven", list(values.get("passed", [])))
        challenge = values.pop("challenge", None)
        session = cls(**values)
        session.challenge = Challenge(**challenge) if challenge else None
        return session
