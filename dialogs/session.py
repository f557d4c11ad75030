"""One reset conversation's state, as stored between turns.

Nothing secret is kept here: codes only as keyed hashes, answers only as pass/fail marks.
"""

from dataclasses import asdict, dataclass, field, fields
from typing import TYPE_CHECKING, Any


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


@dataclass
class ResetSession:
    state: str = "idle"
    nonce: str = ""
    started_at: float = 0.0
    expires_at: float = 0.0
    locale: str = "en"
    typed: bool = False
    subject: str = ""
    account_id: str | None = None
    required: int = 1
    passed: list[str] = field(default_factory=list)
    offered: list[str] = field(default_factory=list)
    challenge: Challenge | None = None

    if TYPE_CHECKING:  # triggers that dialogs.machine binds while a session is attached

        def ask_account(self) -> bool: ...
        def issue_challenge(self) -> bool: ...
        def offer_methods(self) -> bool: ...
        def verified(self) -> bool: ...
        def start_reset(self) -> bool: ...
        def password_refused(self) -> bool: ...
        def finish(self) -> bool: ...
        def lock(self) -> bool: ...
        def cancel(self) -> bool: ...
        def escalate(self) -> bool: ...
        def expire(self) -> bool: ...

    def has_enough_verifications(self) -> bool:
        """The machine's guard: distinct passed methods, never a count of passes."""
        return len(set(self.passed)) >= self.required

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "ResetSession":
        known = {f.name for f in fields(cls)}
        values = {key: value for key, value in data.items() if key in known}
        challenge = values.pop("challenge", None)
        session = cls(**values)
        session.challenge = Challenge(**challenge) if challenge else None
        return session
