"""The reset policy admins tune: who may reset, how they prove it, and the limits.

Defaults follow Microsoft Entra SSPR where it states a number (codes live 5 minutes inside a
15-minute session; 5 failed checks in 24 hours lock the reset flow for 24 hours; admins need
two methods and never security questions) and NIST SP 800-63B sets the floor.
"""

import os
from pathlib import Path
from typing import Any, Literal, Self, get_args
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ModelWrapValidatorHandler,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError
from pydantic_core.core_schema import ErrorType

from adapters.pwned import PWNED_RANGE_URL
from dialogs.catalog import override_problems
from dialogs.durations import Duration, written
from dialogs.enrolment_settings import EnrolmentSettings
from dialogs.proofs import MethodName, shortfall

CODE_METHODS: tuple[MethodName, ...] = ("email", "sms", "voice")
DEFAULT_ORDER: tuple[MethodName, ...] = ("authenticator", "sms", "voice", "email", "questions")
_BUILT_IN_ERRORS = frozenset(get_args(ErrorType))
_LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


class OverrideProblems(ValueError):
    """Several message overrides are wrong at once; each is reported on its own."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def invalid_at(key: tuple[str, ...], reason: str, value: Any) -> ValidationError:
    """A problem that spans several settings, reported at the one it names (`key`, inside
    the model that raises it) rather than at the model, beside every other error."""
    detail = InitErrorDetails(type=PydanticCustomError("policy", reason), loc=key, input=value)
    return ValidationError.from_exception_data("settings", [detail])


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AccessSettings(_Section):
    mode: Literal["none", "all", "groups"] = Field(
        "groups",
        description="Who may reset: nobody, every enabled account, or members of `groups`.",
    )
    groups: list[str] = Field(
        default_factory=lambda: ["sspr-users"],
        description="Directory groups whose members (nested membership counts) may reset.",
    )
    excluded_users: list[str] = Field(
        default_factory=list,
        description="Usernames that may never reset here (break-glass and service accounts).",
    )


class VerificationSettings(_Section):
    methods: list[MethodName] = Field(
        default_factory=lambda: list(DEFAULT_ORDER),
        description=(
            "Enabled methods in the order they are offered. On a channel where the user "
            "types an account name, the first method here other than questions is the first "
            "challenge (questions are never a first factor)."
        ),
    )
    required: int = Field(
        1,
        ge=1,
        le=2,
        description=(
            "Different checks a user must pass: 1 or 2. Two checks must prove two different "
            "things (the mailbox, the mobile phone, the office phone, the app, the answers): a "
            "text and a call to the same phone count once."
        ),
    )
    admin_two_gate: bool = Field(
        True,
        description=(
            "Admins always need two different checks and are never offered security questions."
        ),
    )

    @field_validator("methods")
    @classmethod
    def _distinct_and_usable(cls, value: list[MethodName]) -> list[MethodName]:
        if len(set(value)) != len(value):
            raise ValueError("lists a method twice")
        if not any(method != "questions" for method in value):
            raise ValueError("needs at least one method besides questions")
        return value

    @model_validator(mode="after")
    def _someone_can_pass(self) -> Self:
        reason = shortfall(self.methods, self.required)
        if reason is not None:
            raise invalid_at(("required",), reason, self.required)
        return self


class CodeSettings(_Section):
    length: int = Field(6, ge=6, le=10, description="Digits in a one-time code (at least 6).")
    lifetime: Duration = Field(300, description="How long a code is valid (at most 10 minutes).")
    attempts: int = Field(3, ge=1, le=10, description="Wrong entries before a code is void.")

    @field_validator("lifetime")
    @classmethod
    def _nist_ceiling(cls, value: float) -> float:
        if value > 600:
            raise ValueError("must be at most 10m (NIST SP 800-63B)")
        return value


class QuestionSettings(_Section):
    asked: int = Field(3, ge=1, le=5, description="Questions asked per check, picked at random.")


class Window(_Section):
    count: int = Field(ge=1, description="Events allowed in the window.")
    window: Duration = Field(description="Length of the sliding window.")


class LimitSettings(_Section):
    failures: Window = Field(
        default_factory=lambda: Window(count=5, window=86400),
        description="Failed checks per account before the reset flow locks.",
    )
    email: Window = Field(
        default_factory=lambda: Window(count=10, window=600),
        description="Emailed codes per account before the reset flow locks.",
    )
    sms: Window = Field(
        default_factory=lambda: Window(count=5, window=3600),
        description="Texted codes per account before the reset flow locks.",
    )
    voice: Window = Field(
        default_factory=lambda: Window(count=5, window=3600),
        description="Voice calls per account before the reset flow locks.",
    )
    phone_budget: Window = Field(
        default_factory=lambda: Window(count=200, window=3600),
        description="Texts and calls for all accounts together (toll-fraud guard).",
    )
    typed_phone_budget: Window = Field(
        default_factory=lambda: Window(count=50, window=3600),
        description=(
            "The share of phone_budget that typed, unverified account names may spend, for "
            "all clients together, taken whether or not the name exists: a signed-out "
            "visitor can never use up what signed-in users get."
        ),
    )
    typed_per_client: Window = Field(
        default_factory=lambda: Window(count=10, window=3600),
        description=(
            "Codes (any medium) one client address may have sent to typed account names, "
            "taken whether or not the name exists."
        ),
    )
    lockout: Duration = Field(86400, description="How long the reset flow stays locked.")

    @model_validator(mode="after")
    def _typed_share_is_a_share(self) -> Self:
        if self.typed_phone_budget.count >= self.phone_budget.count:
            limit = self.phone_budget.count
            reason = f"must be below phone_budget.count ({limit})"
            raise invalid_at(("typed_phone_budget", "count"), reason, self.typed_phone_budget.count)
        return self


class SessionSettings(_Section):
    timeout: Duration = Field(900, description="A reset conversation ends after this long.")

    @property
    def kept_for(self) -> float:
        """How long a conversation's record is worth keeping: a little past the timeout, so
        a message just after it still finds the session and is told it expired."""
        return self.timeout + 60


class PwnedSettings(_Section):
    """Have I Been Pwned's range API: only five hex digits of a SHA-1 leave the bot."""

    enabled: bool = Field(
        False,
        description=(
            "Also refuse passwords Have I Been Pwned knows from breaches. When the service "
            "does not answer in time, the offline checks alone decide and a warning is logged."
        ),
    )
    url: str = Field(
        PWNED_RANGE_URL,
        description=(
            "The range API; the first five hex digits of the password's SHA-1 are appended. "
            "https, or http to a loopback address (a local mirror)."
        ),
    )
    timeout: float = Field(
        2.0, gt=0, le=10, description="Seconds to wait for the answer before going on without."
    )

    @field_validator("url")
    @classmethod
    def _https_or_loopback(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme == "https" and parts.hostname:
            return value
        if parts.scheme == "http" and parts.hostname in _LOOPBACK:
            return value
        raise ValueError("must be an https URL, or http to a loopback address")


class PasswordSettings(_Section):
    """The bot's own check of a new password (`dialogs.password_policy`)."""

    min_length: int = Field(
        12,
        ge=8,
        le=256,
        description=(
            "Shortest new password. 12 because the bot's check is often the only one (the "
            "embedded directory, LDAP servers without a password policy); NIST's floor of 8 "
            "is enough where the directory refuses weak passwords itself (Entra Password "
            "Protection)."
        ),
    )
    max_length: int = Field(256, ge=64, le=1024, description="Longest new password.")
    banned_words: list[str] = Field(
        default_factory=list,
        description=(
            "Words a new password may not contain (company, product, city names), also in "
            "other case, with letters doubled or with look-alike digits and symbols (C0nt0s0)."
        ),
    )
    common_lists: list[str] = Field(
        default_factory=list,
        description=(
            "Files of more passwords to refuse, one a line (UTF-8; lines starting with # are "
            "comments), added to the built-in lists of common and breached passwords. A "
            "relative path is taken from the folder the bot runs in."
        ),
    )
    pwned: PwnedSettings = Field(default_factory=PwnedSettings)
    entry: Literal["link", "temporary", "chat"] = Field(
        "link",
        description=(
            "link: the bot sends a one-time link to a password page it serves, and the new "
            "password never enters the chat. temporary: the bot sets a generated password "
            "that must be changed at next sign-in and shows it once. chat: the user types the "
            "new password into the chat (the chat history keeps it)."
        ),
    )
    link_lifetime: Duration = Field(
        600, description="How long a password page link works (single use; at most 1 hour)."
    )
    temporary_length: int = Field(16, ge=12, le=64, description="Length of generated passwords.")

    @field_validator("link_lifetime")
    @classmethod
    def _short_lived(cls, value: float) -> float:
        if not 60 <= value <= 3600:
            raise ValueError("must be between 1m and 1h")
        return value

    @field_validator("common_lists")
    @classmethod
    def _readable(cls, value: list[str]) -> list[str]:
        for name in value:
            path = Path(name).expanduser()
            if not path.is_file() or not os.access(path, os.R_OK):
                raise ValueError(f"{name}: not a readable file")
        return value

    @model_validator(mode="after")
    def _bounds(self) -> Self:
        if self.min_length > self.max_length:
            reason = f"must not exceed max_length ({self.max_length})"
            raise invalid_at(("min_length",), reason, self.min_length)
        return self


class HelpdeskSettings(_Section):
    contact: str = Field(
        "the IT helpdesk",
        description="How to reach a person, shown when the bot hands over (phone, URL).",
    )
    handoff_timeout: Duration = Field(
        86400.0,
        description=(
            "How long a ticket the helpdesk handed to the bot waits for its person to finish "
            "a reset before it is given back to the helpdesk (reassigned, with a note)."
        ),
    )


class NotificationSettings(_Section):
    """Who is told after a reset or an unlock, as Entra's two notification switches do."""

    users: bool = Field(
        True,
        description=(
            "Tell people whenever their own password is reset or their account unlocked: by "
            "email, and by a chat message on the other channels where the bot can reach them."
        ),
    )
    admins: bool = Field(
        True,
        description=(
            "Tell every administrator when an administrator's password is reset: the "
            "directory's admins (Entra Global Administrators, members of the AD admin "
            "groups, embedded accounts with `admin: true`) plus `admin_recipients`."
        ),
    )
    admin_recipients: list[str] = Field(
        default_factory=list,
        description=(
            "More addresses told when an administrator's password is reset (a security "
            "team's mailbox)."
        ),
    )

    @field_validator("admin_recipients")
    @classmethod
    def _addresses(cls, value: list[str]) -> list[str]:
        for address in value:
            if "@" not in address or any(ch in address for ch in " \r\n,;<>"):
                raise ValueError(f"{address!r} is not one email address")
        return value


class DialogSettings(_Section):
    """The dialog's part of the YAML file."""

    access: AccessSettings = Field(default_factory=AccessSettings)
    verification: VerificationSettings = Field(default_factory=VerificationSettings)
    codes: CodeSettings = Field(default_factory=CodeSettings)
    questions: QuestionSettings = Field(default_factory=QuestionSettings)
    enrolment: EnrolmentSettings = Field(default_factory=EnrolmentSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    session: SessionSettings = Field(default_factory=SessionSettings)
    password: PasswordSettings = Field(default_factory=PasswordSettings)
    helpdesk: HelpdeskSettings = Field(default_factory=HelpdeskSettings)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    messages: dict[str, dict[str, str]] = Field(
        default_factory=dict,
        description="Per-locale overrides of the bot's messages, e.g. {de: {welcome: ...}}.",
    )

    @field_validator("messages")
    @classmethod
    def _known_messages(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        problems = override_problems(value)
        if problems:
            raise OverrideProblems(problems)
        return value

    @model_validator(mode="after")
    def _registered_questions_can_be_asked(self) -> Self:
        registered = self.enrolment.questions_to_register
        if registered < self.questions.asked:
            reason = f"must be at least questions.asked ({self.questions.asked})"
            raise invalid_at(("enrolment", "questions_to_register"), reason, registered)
        return self

    @model_validator(mode="wrap")
    @classmethod
    def _session_outlives_codes(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        """Codes must not outlive the session. Checked also when other settings are wrong,
        from the two sections alone, so that every problem is reported at once."""
        try:
            settings = handler(data)
        except ValidationError as error:
            problem = _lifetime_problem_in(data)
            if problem is None:
                raise
            raise _together(error, problem) from None
        problem = _lifetime_problem(settings.codes, settings.session)
        if problem is not None:
            raise problem
        return settings


def _lifetime_problem(codes: CodeSettings, session: SessionSettings) -> ValidationError | None:
    if codes.lifetime <= session.timeout:
        return None
    reason = f"must not exceed session.timeout ({written(session.timeout)})"
    return invalid_at(("codes", "lifetime"), reason, codes.lifetime)


def _lifetime_problem_in(data: Any) -> ValidationError | None:
    """The lifetime problem in raw input whose other parts may be wrong; None when either
    section is itself wrong (its own errors say so) or they agree."""
    if not isinstance(data, dict):
        return None
    try:
        codes = CodeSettings.model_validate(data.get("codes") or {})
        session = SessionSettings.model_validate(data.get("session") or {})
    except ValidationError:
        return None
    return _lifetime_problem(codes, session)


def _together(first: ValidationError, second: ValidationError) -> ValidationError:
    """One error holding both lists, each detail kept with its type, place and context."""
    details: list[InitErrorDetails] = []
    for detail in [*first.errors(), *second.errors()]:
        if detail["type"] in _BUILT_IN_ERRORS:
            kind: str | PydanticCustomError = detail["type"]
            context = detail.get("ctx", {})
        else:
            kind, context = PydanticCustomError(detail["type"], detail["msg"]), {}
        details.append(
            InitErrorDetails(type=kind, loc=detail["loc"], input=detail["input"], ctx=context)
        )
    return ValidationError.from_exception_data(first.title, details)
