"""The `audit` section of the bot's configuration."""

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Sink = Literal["file", "stdout", "stream"]


class AuditSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    sinks: tuple[Sink, ...] = Field(
        default=("file", "stream"),
        min_length=1,
        description=(
            "Where every audit event goes, as one JSON object each: `file` (the JSON-lines "
            "file `path`), `stdout` (one line per event on standard output, for container "
            "log collectors) and `stream` (the Redis stream `stream`, which every bot "
            "instance writes, so there is one trail; used only when `state.backend` is "
            "`redis`, skipped otherwise). `sspr-bot audit` reads the stream when it is "
            "used, else the file."
        ),
    )
    path: str = Field(
        default="audit.jsonl",
        min_length=1,
        description=(
            "File that receives one JSON line per audit event (who, what, outcome; never a "
            "secret). A relative path is taken from the data directory."
        ),
    )
    stream: str = Field(
        default="sspr:audit",
        min_length=1,
        pattern=r"^[^\s]+$",
        description=(
            "The Redis key of the audit stream (its full name: `state.key_prefix` is not "
            "added). Used by the `stream` sink."
        ),
    )
    stream_max_length: int = Field(
        default=1_000_000,
        ge=1000,
        description=(
            "About how many events the stream keeps: older ones are trimmed as new ones "
            "arrive (XADD MAXLEN ~). Ship the file or stdout elsewhere for a longer history."
        ),
    )

    @field_validator("sinks")
    @classmethod
    def _each_once(cls, sinks: tuple[Sink, ...]) -> tuple[Sink, ...]:
        if len(set(sinks)) != len(sinks):
            raise ValueError("each sink is named once")
        return sinks
