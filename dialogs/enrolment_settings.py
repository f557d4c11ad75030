"""The `enrolment` section: registering an authenticator app and security questions in
chat (`dialogs.enrolment`), when registered methods must be confirmed again, and the
reminders that say so (`dialogs.reminders`)."""

from typing import Self

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from dialogs.durations import Duration

DEFAULT_QUESTIONS = (
    "What was the name of your first pet?",
    "In which city did your parents meet?",
    "What was the name of your primary school?",
    "Which street did you grow up on?",
    "What was the surname of your favourite teacher?",
    "What was the make of your first car?",
    "In which city were you born?",
    "What was your childhood nickname?",
)


class ReminderSettings(BaseModel):
    """Off unless an admin turns it on: enabled, the bot starts messaging the whole scope."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(
        False,
        description=(
            "Whether the bot reminds people in their own chats to register methods, or to "
            "confirm them again when they are due."
        ),
    )
    interval: Duration = Field(
        7 * 86400.0, description="How long after a reminder the same person is not reminded again."
    )
    per_round: int = Field(50, ge=1, le=10000, description="The most reminders sent in one round.")
    every: Duration = Field(
        3600.0, ge=60, description="How often a round runs (at least a minute)."
    )


class EnrolmentSettings(BaseModel):
    """Registering methods in chat, with Entra's numbers where it has them."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    issuer: str = Field(
        "sspr-bot",
        min_length=1,
        max_length=64,
        description="The name an authenticator app shows above the codes it makes for the bot.",
    )
    questions: list[str] = Field(
        default_factory=lambda: list(DEFAULT_QUESTIONS),
        description="The security questions people pick from when they register answers.",
    )
    own_questions: bool = Field(
        False, description="Whether people may write a question of their own instead."
    )
    questions_to_register: int = Field(
        3, ge=3, le=5, description="Questions a person answers to register (Entra: 3 to 5)."
    )
    answer_min: int = Field(3, ge=1, le=40, description="Shortest answer (Entra: 3 characters).")
    answer_max: int = Field(40, ge=3, le=200, description="Longest answer (Entra: 40 characters).")
    reconfirm_days: int = Field(
        0,
        ge=0,
        le=730,
        description=(
            "Days after which registered methods must be confirmed again (0: never; Entra "
            "allows up to 730)."
        ),
    )
    reminders: ReminderSettings = Field(
        default_factory=ReminderSettings,
        description="Reminders to register methods, or to confirm them again.",
    )

    @field_validator("questions")
    @classmethod
    def _distinct_questions(cls, value: list[str]) -> list[str]:
        if len({question.casefold().strip() for question in value}) != len(value):
            raise ValueError("lists a question twice")
        if any(not question.strip() for question in value):
            raise ValueError("has an empty question")
        return value

    @model_validator(mode="after")
    def _enough_to_pick_from(self) -> Self:
        if self.answer_min > self.answer_max:
            raise ValueError(f"answer_min must not exceed answer_max ({self.answer_max})")
        if not self.own_questions and len(self.questions) < self.questions_to_register:
            raise ValueError(
                f"questions lists fewer than questions_to_register "
                f"({self.questions_to_register}) while own_questions is off"
            )
        return self
